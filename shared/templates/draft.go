package templates

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Draft is a template to create: what POST /v1/tenants/{id}/templates takes
// and what Kapso's create call sends on.
type Draft struct {
	Name                string          `json:"name"`
	Language            string          `json:"language"`
	Category            string          `json:"category"`
	ParameterFormat     string          `json:"parameter_format,omitempty"`
	AllowCategoryChange bool            `json:"allow_category_change,omitempty"`
	Components          json.RawMessage `json:"components"`
}

// Meta's limits on a template (WhatsApp Business Management API, message
// templates), checked before Kapso is called.
const (
	MaxNameChars       = 512
	MaxComponentsBytes = 32 << 10
	MaxBodyChars       = 1024
	MaxHeaderChars     = 60
	MaxFooterChars     = 60
	MaxButtons         = 10
	MaxButtonTextChars = 25
	MaxButtonURLChars  = 2000
	MaxPhoneChars      = 20
	MaxCouponChars     = 15
	MaxURLButtons      = 2
	MaxPhoneButtons    = 1
	MaxCopyCodeButtons = 1
)

var (
	namePattern     = regexp.MustCompile(`^[a-z0-9_]+$`)
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}(?:_[A-Za-z]{2,4})?$`)
)

// Check is the first of Meta's rules the draft breaks, or nil.
func (d Draft) Check() *errs.FieldError {
	switch {
	case d.Name == "":
		return errs.Field("name", "is required")
	case utf8.RuneCountInString(d.Name) > MaxNameChars || !namePattern.MatchString(d.Name):
		return errs.Field("name", fmt.Sprintf("must be 1..%d lowercase letters, digits and underscores", MaxNameChars))
	case d.Language == "":
		return errs.Field("language", "is required")
	case len(d.Language) > 16 || !languagePattern.MatchString(d.Language):
		return errs.Field("language", "must be a language code such as en_US or pt_BR")
	case d.Category != Authentication && d.Category != Marketing && d.Category != Utility:
		return errs.Field("category", "must be AUTHENTICATION, MARKETING or UTILITY")
	case d.ParameterFormat != "" && d.ParameterFormat != Positional && d.ParameterFormat != Named:
		return errs.Field("parameter_format", "must be POSITIONAL or NAMED when set")
	case len(d.Components) == 0:
		return errs.Field("components", "is required")
	case len(d.Components) > MaxComponentsBytes:
		return errs.Field("components", fmt.Sprintf("must be at most %d bytes of JSON", MaxComponentsBytes))
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(d.Components, &raw); err != nil || len(raw) == 0 {
		return errs.Field("components", "must be a non-empty array of components")
	}
	seen := map[string]bool{}
	for i, r := range raw {
		field := fmt.Sprintf("components[%d]", i)
		var c component
		if err := json.Unmarshal(r, &c); err != nil {
			return errs.Field(field, "must be a component: an object with type and, by type, format, text, example or buttons")
		}
		if c.Type != Header && c.Type != Body && c.Type != Footer && c.Type != Buttons {
			return errs.Field(field+".type", "must be HEADER, BODY, FOOTER or BUTTONS")
		}
		if seen[c.Type] {
			return errs.Field(field+".type", fmt.Sprintf("a template has at most one %s", c.Type))
		}
		seen[c.Type] = true
		if ferr := d.checkComponent(field, c); ferr != nil {
			return ferr
		}
	}
	if !seen[Body] {
		return errs.Field("components", "a BODY component is required")
	}
	if d.Category == Authentication && (seen[Header] || !seen[Buttons]) {
		return errs.Field("components", "an AUTHENTICATION template has a BODY, an optional FOOTER and a BUTTONS component with one OTP button, and no HEADER")
	}
	return nil
}

func (d Draft) checkComponent(field string, c component) *errs.FieldError {
	switch c.Type {
	case Header:
		return d.checkHeader(field, c)
	case Body:
		if d.Category == Authentication {
			return metaSetText(field, c)
		}
		if ferr := textChars(field+".text", c.text(), MaxBodyChars); ferr != nil {
			return ferr
		}
		ps := params(c.text())
		if ferr := d.checkParams(field+".text", ps); ferr != nil {
			return ferr
		}
		if len(ps) > 0 {
			if t := strings.TrimSpace(c.text()); strings.HasPrefix(t, "{{") || strings.HasSuffix(t, "}}") {
				return errs.Field(field+".text", "must not start or end with a parameter")
			}
		}
		return d.checkExample(field, c.Example, "body", ps)
	case Footer:
		if d.Category == Authentication {
			return metaSetText(field, c)
		}
		if ferr := textChars(field+".text", c.text(), MaxFooterChars); ferr != nil {
			return ferr
		}
		if len(params(c.text())) > 0 {
			return errs.Field(field+".text", "a footer takes no parameters")
		}
		return nil
	default:
		return d.checkButtons(field, c.Buttons)
	}
}

// metaSetText: Meta writes the body and footer texts of an AUTHENTICATION
// template itself.
func metaSetText(field string, c component) *errs.FieldError {
	if c.Text != nil {
		return errs.Field(field+".text", "is set by Meta for an AUTHENTICATION template; leave it out")
	}
	return nil
}

func (d Draft) checkHeader(field string, c component) *errs.FieldError {
	switch c.Format {
	case FormatText:
		if ferr := textChars(field+".text", c.text(), MaxHeaderChars); ferr != nil {
			return ferr
		}
		ps := params(c.text())
		if len(ps) > 1 {
			return errs.Field(field+".text", "a header takes at most one parameter")
		}
		if ferr := d.checkParams(field+".text", ps); ferr != nil {
			return ferr
		}
		return d.checkExample(field, c.Example, "header", ps)
	case FormatImage, FormatVideo, FormatDocument:
		var ex struct {
			HeaderHandle []string `json:"header_handle"`
		}
		if json.Unmarshal(c.Example, &ex) != nil || len(ex.HeaderHandle) != 1 || ex.HeaderHandle[0] == "" {
			return errs.Field(field+".example.header_handle", "a media header needs one example: the handle of a sample file")
		}
		return nil
	case FormatLocation:
		return nil
	}
	return errs.Field(field+".format", "must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION")
}

// checkParams: positional parameters are {{1}}..{{n}}, each number used;
// named ones are lowercase names; one template does not mix the two, and
// keeps to its parameter_format.
func (d Draft) checkParams(field string, ps []string) *errs.FieldError {
	named := 0
	for _, p := range ps {
		switch {
		case positional(p):
		case namedParam.MatchString(p):
			named++
		default:
			return errs.Field(field, fmt.Sprintf("parameter {{%s}}: must be {{1}}, {{2}}… or a lowercase name such as {{first_name}}", p))
		}
	}
	switch {
	case named > 0 && named < len(ps):
		return errs.Field(field, "must not mix numbered and named parameters")
	case named > 0 && d.ParameterFormat != Named:
		return errs.Field(field, `named parameters need "parameter_format": "NAMED"`)
	case named == 0 && len(ps) > 0 && d.ParameterFormat == Named:
		return errs.Field(field, `numbered parameters need "parameter_format": "POSITIONAL" or none`)
	}
	if named == 0 {
		for i := range ps {
			if !slices.Contains(ps, strconv.Itoa(i+1)) {
				return errs.Field(field, fmt.Sprintf("numbered parameters must be {{1}} to {{%d}} with none missing", len(ps)))
			}
		}
	}
	return nil
}

// checkExample: Meta reviews a template with parameters only with an
// example value for each (header_text / body_text, or their _named_params
// forms).
func (d Draft) checkExample(field string, raw json.RawMessage, part string, ps []string) *errs.FieldError {
	if len(ps) == 0 {
		return nil
	}
	exField := field + ".example"
	var ex map[string]json.RawMessage
	if json.Unmarshal(raw, &ex) != nil {
		return errs.Field(exField, fmt.Sprintf("is required: one example value for each parameter of the %s", part))
	}
	if d.ParameterFormat == Named {
		var named []struct {
			ParamName string `json:"param_name"`
			Example   string `json:"example"`
		}
		key := part + "_text_named_params"
		if json.Unmarshal(ex[key], &named) != nil || len(named) != len(ps) {
			return errs.Field(exField+"."+key, fmt.Sprintf("must give one {param_name, example} for each of the %d parameters", len(ps)))
		}
		for _, n := range named {
			if !slices.Contains(ps, n.ParamName) || n.Example == "" {
				return errs.Field(exField+"."+key, fmt.Sprintf("%q: not a parameter of the text, or no example", n.ParamName))
			}
		}
		return nil
	}
	key := part + "_text"
	var values []string
	if part == "body" {
		var rows [][]string
		if json.Unmarshal(ex[key], &rows) != nil || len(rows) != 1 {
			return errs.Field(exField+"."+key, fmt.Sprintf("must be one list of %d example values", len(ps)))
		}
		values = rows[0]
	} else if json.Unmarshal(ex[key], &values) != nil {
		return errs.Field(exField+"."+key, fmt.Sprintf("must be a list of %d example values", len(ps)))
	}
	if len(values) != len(ps) || slices.Contains(values, "") {
		return errs.Field(exField+"."+key, fmt.Sprintf("must give %d non-empty example values, one per parameter", len(ps)))
	}
	return nil
}

func (d Draft) checkButtons(field string, bs []button) *errs.FieldError {
	if len(bs) == 0 || len(bs) > MaxButtons {
		return errs.Field(field+".buttons", fmt.Sprintf("must hold 1..%d buttons", MaxButtons))
	}
	counts := map[string]int{}
	for i, b := range bs {
		bf := fmt.Sprintf("%s.buttons[%d]", field, i)
		counts[b.Type]++
		if d.Category == Authentication && b.Type != ButtonOTP {
			return errs.Field(bf+".type", "an AUTHENTICATION template's button is OTP")
		}
		switch b.Type {
		case ButtonQuickReply, ButtonURL, ButtonPhone, ButtonFlow:
			if ferr := textChars(bf+".text", deref(b.Text), MaxButtonTextChars); ferr != nil {
				return ferr
			}
		}
		switch b.Type {
		case ButtonQuickReply, ButtonFlow:
		case ButtonURL:
			if ferr := checkButtonURL(bf, b); ferr != nil {
				return ferr
			}
		case ButtonPhone:
			if ferr := textChars(bf+".phone_number", deref(b.PhoneNumber), MaxPhoneChars); ferr != nil {
				return ferr
			}
		case ButtonCopyCode:
			var ex string
			if json.Unmarshal(b.Example, &ex) != nil || ex == "" || utf8.RuneCountInString(ex) > MaxCouponChars {
				return errs.Field(bf+".example", fmt.Sprintf("must be an example code of 1..%d characters", MaxCouponChars))
			}
		case ButtonOTP:
			if b.OTPType != "COPY_CODE" && b.OTPType != "ONE_TAP" && b.OTPType != "ZERO_TAP" {
				return errs.Field(bf+".otp_type", "must be COPY_CODE, ONE_TAP or ZERO_TAP")
			}
		default:
			return errs.Field(bf+".type", "must be QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP or FLOW")
		}
	}
	for typ, limit := range map[string]int{ButtonURL: MaxURLButtons, ButtonPhone: MaxPhoneButtons, ButtonCopyCode: MaxCopyCodeButtons, ButtonOTP: 1} {
		if counts[typ] > limit {
			return errs.Field(field+".buttons", fmt.Sprintf("at most %d %s button%s", limit, typ, plural(limit)))
		}
	}
	return nil
}

func checkButtonURL(bf string, b button) *errs.FieldError {
	raw := b.url()
	if ferr := textChars(bf+".url", raw, MaxButtonURLChars); ferr != nil {
		return ferr
	}
	ps := params(raw)
	u, err := url.Parse(placeholder.ReplaceAllString(raw, "x"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errs.Field(bf+".url", "must be an absolute http or https URL")
	}
	switch {
	case len(ps) > 1:
		return errs.Field(bf+".url", "takes at most one parameter, {{1}}, at its end")
	case len(ps) == 1 && (ps[0] != "1" || !strings.HasSuffix(strings.TrimSpace(raw), "}}")):
		return errs.Field(bf+".url", "takes its one parameter as {{1}} at its end")
	case len(ps) == 1:
		var ex []string
		if json.Unmarshal(b.Example, &ex) != nil || len(ex) != 1 || ex[0] == "" {
			return errs.Field(bf+".example", "must be a list holding one example URL")
		}
	}
	return nil
}

func textChars(field, s string, maximum int) *errs.FieldError {
	n := utf8.RuneCountInString(s)
	switch {
	case strings.TrimSpace(s) == "":
		return errs.Field(field, "is required")
	case n > maximum:
		return errs.Field(field, fmt.Sprintf("must be at most %d characters, got %d", maximum, n))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
