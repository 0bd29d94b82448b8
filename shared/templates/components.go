package templates

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Component types and header formats of a template, as Meta spells them.
const (
	Header  = "HEADER"
	Body    = "BODY"
	Footer  = "FOOTER"
	Buttons = "BUTTONS"

	FormatText     = "TEXT"
	FormatImage    = "IMAGE"
	FormatVideo    = "VIDEO"
	FormatDocument = "DOCUMENT"
	FormatLocation = "LOCATION"
)

// Button types of a template.
const (
	ButtonQuickReply = "QUICK_REPLY"
	ButtonURL        = "URL"
	ButtonPhone      = "PHONE_NUMBER"
	ButtonCopyCode   = "COPY_CODE"
	ButtonOTP        = "OTP"
	ButtonFlow       = "FLOW"
)

// Parameter formats of a template.
const (
	Positional = "POSITIONAL"
	Named      = "NAMED"
)

// component is one component of a template as Meta describes it. Fields
// whose shape Meta varies stay raw, so a stored template always reads.
type component struct {
	Type                      string          `json:"type"`
	Format                    string          `json:"format,omitempty"`
	Text                      *string         `json:"text,omitempty"`
	Example                   json.RawMessage `json:"example,omitempty"`
	Buttons                   []button        `json:"buttons,omitempty"`
	AddSecurityRecommendation json.RawMessage `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     json.RawMessage `json:"code_expiration_minutes,omitempty"`
}

type button struct {
	Type        string          `json:"type"`
	Text        *string         `json:"text,omitempty"`
	URL         *string         `json:"url,omitempty"`
	PhoneNumber *string         `json:"phone_number,omitempty"`
	OTPType     string          `json:"otp_type,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
}

func (c component) text() string {
	if c.Text == nil {
		return ""
	}
	return *c.Text
}

func (b button) url() string {
	if b.URL == nil {
		return ""
	}
	return *b.URL
}

// components decodes a template's components; ok is false when they are
// not an array of objects of the shape Meta describes.
func parseComponents(raw json.RawMessage) ([]component, bool) {
	var cs []component
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, false
	}
	return cs, true
}

// placeholder is a parameter in a template's text: {{1}} or {{name}}.
var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// params are the distinct parameter names in text, in order of first use.
func params(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

func positional(name string) bool {
	n, err := strconv.Atoi(name)
	return err == nil && n >= 1 && strconv.Itoa(n) == name
}

var namedParam = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// headerParams is how many parameters a send gives the template's header:
// one for a header with a parameter in its text, or a media or location
// header; none for a plain text header or none at all.
func headerParams(c component) int {
	switch strings.ToUpper(c.Format) {
	case FormatImage, FormatVideo, FormatDocument, FormatLocation:
		return 1
	}
	return len(params(c.text()))
}

// buttonParams is how many parameters a send must give a button: a URL
// with a parameter, a coupon code and a one-time password take one; a
// quick reply's payload or a flow's token may be given and is not needed.
func buttonParams(b button) (needed, allowed int) {
	switch strings.ToUpper(b.Type) {
	case ButtonURL:
		n := len(params(b.url()))
		return n, n
	case ButtonCopyCode, ButtonOTP:
		return 1, 1
	case ButtonQuickReply, ButtonFlow:
		return 0, 1
	}
	return 0, 0
}
