package messaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
)

// OutboundRequest is the body of a send request: one message to send from a
// tenant's number. It carries no HTTP or AWS concern; MetaMessage turns it
// into the Meta Cloud API message object Kapso's proxy forwards.
type OutboundRequest struct {
	PhoneNumberID string `json:"phone_number_id,omitempty"` // optional when the tenant has exactly one connected number
	To            string `json:"to,omitempty"`              // E.164 digits (a leading + accepted and dropped), 7..15 digits
	Recipient     string `json:"recipient,omitempty"`       // a BSUID instead of to
	Type          string `json:"type"`                      // one of the Out* type names
	OutContent
}

// OutContent is the message itself: the object of its type, the one set.
// The request and the Meta body both carry it.
type OutContent struct {
	Text        *OutText        `json:"text,omitempty"`
	Template    *OutTemplate    `json:"template,omitempty"`
	Image       *OutMedia       `json:"image,omitempty"`
	Document    *OutMedia       `json:"document,omitempty"`
	Audio       *OutMedia       `json:"audio,omitempty"`
	Video       *OutMedia       `json:"video,omitempty"`
	Interactive *OutInteractive `json:"interactive,omitempty"`
	Reaction    *OutReaction    `json:"reaction,omitempty"`
	Location    *OutLocation    `json:"location,omitempty"`
	Contacts    []OutContact    `json:"contacts,omitempty"`
}

// Message types a send request may carry.
const (
	OutTypeText        = "text"
	OutTypeTemplate    = "template"
	OutTypeImage       = "image"
	OutTypeDocument    = "document"
	OutTypeAudio       = "audio"
	OutTypeVideo       = "video"
	OutTypeInteractive = "interactive"
	OutTypeReaction    = "reaction"
	OutTypeLocation    = "location"
	OutTypeContacts    = "contacts"
)

// Interactive message types a send request may carry.
const (
	InteractiveButton = "button" // up to three reply buttons
	InteractiveList   = "list"   // a menu of rows in sections
)

// OutText is a text message.
type OutText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// OutTemplate is a template message. Components are passed to Meta as given
// (in canonical JSON form); only their size is bounded here.
type OutTemplate struct {
	Name       string               `json:"name"`
	Language   *OutTemplateLanguage `json:"language,omitempty"`
	Components json.RawMessage      `json:"components,omitempty"`
}

// OutTemplateLanguage is a template's language.
type OutTemplateLanguage struct {
	Policy string `json:"policy,omitempty"` // Meta accepts only "deterministic"
	Code   string `json:"code"`             // e.g. en_US, pt_BR, es
}

// OutMedia is an image, document, audio or video message: the media by
// exactly one of Link or ID.
type OutMedia struct {
	ID       string `json:"id,omitempty"`       // a media id from Meta's media upload
	Link     string `json:"link,omitempty"`     // an absolute https URL Meta downloads
	Caption  string `json:"caption,omitempty"`  // not for audio
	Filename string `json:"filename,omitempty"` // documents only
}

// OutInteractive is an interactive message: reply buttons or a list.
type OutInteractive struct {
	Type   string                `json:"type"`
	Header *OutInteractiveHeader `json:"header,omitempty"`
	Body   *OutInteractiveText   `json:"body,omitempty"`
	Footer *OutInteractiveText   `json:"footer,omitempty"`
	Action *OutInteractiveAction `json:"action,omitempty"`
}

// OutInteractiveHeader is an interactive message's header; only text
// headers are supported.
type OutInteractiveHeader struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

// OutInteractiveText is an interactive message's body or footer.
type OutInteractiveText struct {
	Text string `json:"text"`
}

// OutInteractiveAction is what the person can do: Buttons for a button
// message, Button (the text of the button opening the list) and Sections
// for a list message.
type OutInteractiveAction struct {
	Button   string           `json:"button,omitempty"`
	Buttons  []OutReplyButton `json:"buttons,omitempty"`
	Sections []OutListSection `json:"sections,omitempty"`
}

// OutReplyButton is one reply button; Type is "reply" (filled in when
// omitted).
type OutReplyButton struct {
	Type  string    `json:"type"`
	Reply *OutReply `json:"reply,omitempty"`
}

// OutReply is a reply button's id and title.
type OutReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// OutListSection is a section of a list message.
type OutListSection struct {
	Title string       `json:"title,omitempty"`
	Rows  []OutListRow `json:"rows"`
}

// OutListRow is a row of a list message.
type OutListRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// OutReaction reacts to a message; an empty Emoji removes the reaction.
type OutReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// OutLocation is a location message. Latitude and longitude are pointers
// so that a missing coordinate is told apart from 0.
type OutLocation struct {
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
}

// OutContact is one contact card of a contacts message.
type OutContact struct {
	Name      *OutContactName     `json:"name,omitempty"`
	Birthday  string              `json:"birthday,omitempty"` // YYYY-MM-DD
	Org       *OutContactOrg      `json:"org,omitempty"`
	Phones    []OutContactPhone   `json:"phones,omitempty"`
	Emails    []OutContactEmail   `json:"emails,omitempty"`
	URLs      []OutContactURL     `json:"urls,omitempty"`
	Addresses []OutContactAddress `json:"addresses,omitempty"`
}

// OutContactName is a contact's name; FormattedName is required.
type OutContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// OutContactOrg is a contact's organisation.
type OutContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// OutContactPhone is a contact's phone number.
type OutContactPhone struct {
	Phone string `json:"phone"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

// OutContactEmail is a contact's email address.
type OutContactEmail struct {
	Email string `json:"email"`
	Type  string `json:"type,omitempty"`
}

// OutContactURL is a contact's web address.
type OutContactURL struct {
	URL  string `json:"url"`
	Type string `json:"type,omitempty"`
}

// OutContactAddress is a contact's postal address.
type OutContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Limits of a send request. Character counts are Unicode code points.
const (
	MaxOutboundBodyBytes = 64 << 10 // the request body as received

	MinPhoneDigits        = 7    // shortest E.164 number accepted in to
	MaxPhoneDigits        = 15   // E.164: at most 15 digits, country code included
	MaxPhoneNumberIDChars = 32   // Meta's phone number ids are numeric, about 15 digits
	MaxTextBodyChars      = 4096 // Meta: text.body is 1..4096 characters

	MaxTemplateNameChars       = 512      // Meta: template names are 1..512 characters
	MaxTemplateLanguageChars   = 16       // language codes such as en_US, pt_BR, zh_HK
	MaxTemplateComponentsBytes = 16 << 10 // passed through to Meta; bounded so one request stays small

	MaxMediaCaptionChars  = 1024 // Meta: image, video and document captions
	MaxMediaFilenameChars = 240  // Meta: document filename
	MaxMediaLinkChars     = 2048 // not published by Meta; a common URL bound
	MaxMediaIDChars       = 128  // Meta's media ids are numeric, well below this

	MaxInteractiveBodyChars   = 1024 // Meta: interactive body.text
	MaxInteractiveHeaderChars = 60   // Meta: interactive header.text
	MaxInteractiveFooterChars = 60   // Meta: interactive footer.text
	MaxReplyButtons           = 3    // Meta: 1..3 reply buttons
	MaxReplyButtonIDChars     = 256  // Meta: reply.id
	MaxReplyButtonTitleChars  = 20   // Meta: reply.title
	MaxListButtonChars        = 20   // Meta: action.button, the text opening the list
	MaxListSections           = 10   // Meta: 1..10 sections
	MaxListRows               = 10   // Meta: at most 10 rows over all sections
	MaxListSectionTitleChars  = 24   // Meta: sections[].title
	MaxListRowIDChars         = 200  // Meta: rows[].id
	MaxListRowTitleChars      = 24   // Meta: rows[].title
	MaxListRowDescChars       = 72   // Meta: rows[].description

	MaxWAMIDChars         = 256 // WAMIDs are base64 text of about 60 characters
	MaxReactionEmojiRunes = 16  // one emoji: the longest ZWJ sequences are about 10 code points

	MaxLocationNameChars    = 1000 // not published by Meta; assumed
	MaxLocationAddressChars = 1000 // not published by Meta; assumed

	MaxContacts         = 10   // not published by Meta; a conservative bound
	MaxContactItems     = 20   // phones, emails, urls or addresses of one contact
	MaxContactTextChars = 1000 // any one string of a contact card; assumed
)

var (
	bsuidPattern        = regexp.MustCompile(`^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$`)
	templateNamePattern = regexp.MustCompile(`^[a-z0-9_]+$`)
	languagePattern     = regexp.MustCompile(`^[a-z]{2,3}(?:_[A-Za-z]{2,4})?$`)
	birthdayPattern     = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// ParseOutboundRequest reads a send request strictly: the body is at most
// MaxOutboundBodyBytes of valid UTF-8 holding exactly one JSON object, with
// no unknown or repeated field, every value of the expected JSON type, and
// every string text a person may be sent (see outboundText). The request is
// then validated. Every error is a *errs.FieldError naming the field's JSON
// path.
func ParseOutboundRequest(body []byte) (OutboundRequest, error) {
	var r OutboundRequest
	if len(body) > MaxOutboundBodyBytes {
		return r, errs.Field("", fmt.Sprintf("body must be at most %d bytes, got %d", MaxOutboundBodyBytes, len(body)))
	}
	if !utf8.Valid(body) {
		return r, errs.Field("", "body must be valid UTF-8")
	}
	if err := strictjson.Decode(body, &r, strictjson.Options{Text: outboundText}); err != nil {
		return OutboundRequest{}, bodyError(err)
	}
	if err := r.Validate(); err != nil {
		return OutboundRequest{}, err
	}
	return r, nil
}

// bodyError words a refused body as a send request's field error.
func bodyError(err error) *errs.FieldError {
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return errs.Field("", "body is not a valid send request")
	}
	switch e.Kind {
	case strictjson.NotObject:
		return errs.Field("", "body must be a JSON object")
	case strictjson.Trailing:
		return errs.Field("", "body must hold exactly one JSON object")
	case strictjson.Syntax, strictjson.Truncated:
		return errs.Field(e.Path, "is not valid JSON")
	case strictjson.Repeated:
		return errs.Field(e.Path, "is repeated")
	}
	return errs.Field(e.Path, e.Problem)
}

// outboundText refuses in any string of a send what has no place in text
// sent to a person: control characters (C0, DEL, C1: NUL, escapes, the
// bell...), but for tab, line feed and carriage return, which multi-line
// text holds (a body typed in a browser on Windows comes with CR LF).
func outboundText(s string) string {
	for i, c := range []rune(s) {
		if unicode.IsControl(c) && c != '\t' && c != '\n' && c != '\r' {
			return fmt.Sprintf("must not contain control characters (U+%04X at character %d)", c, i+1)
		}
	}
	return ""
}

// Validate checks the request against Meta's limits and returns the first
// problem as a *errs.FieldError: exactly one of to and recipient, a known type,
// the object for the type present and no other.
func (r OutboundRequest) Validate() error {
	if ferr := r.check(); ferr != nil {
		return ferr
	}
	return nil
}

func (r OutboundRequest) check() *errs.FieldError {
	if r.PhoneNumberID != "" && (!allDigits(r.PhoneNumberID) || len(r.PhoneNumberID) > MaxPhoneNumberIDChars) {
		return errs.Field("phone_number_id", fmt.Sprintf("must be 1..%d digits", MaxPhoneNumberIDChars))
	}
	switch {
	case r.To == "" && r.Recipient == "":
		return errs.Field("to", "to or recipient is required")
	case r.To != "" && r.Recipient != "":
		return errs.Field("recipient", "must not be set together with to")
	case r.To != "":
		d := strings.TrimPrefix(r.To, "+")
		if !allDigits(d) || len(d) < MinPhoneDigits || len(d) > MaxPhoneDigits || d[0] == '0' {
			return errs.Field("to", fmt.Sprintf("must be an E.164 number of %d..%d digits, optionally starting with +", MinPhoneDigits, MaxPhoneDigits))
		}
	default:
		if !bsuidPattern.MatchString(r.Recipient) {
			return errs.Field("recipient", "must be a business-scoped user id such as US.13491208655302741918")
		}
	}
	present := r.present()
	if _, known := present[r.Type]; !known {
		if r.Type == "" {
			return errs.Field("type", "is required")
		}
		return errs.Field("type", "must be one of "+strings.Join(outTypes, ", "))
	}
	if !present[r.Type] {
		return errs.Field(r.Type, fmt.Sprintf("is required when type is %s", r.Type))
	}
	for _, t := range outTypes {
		if t != r.Type && present[t] {
			return errs.Field(t, fmt.Sprintf("must not be set when type is %s", r.Type))
		}
	}
	switch r.Type {
	case OutTypeText:
		return checkText(r.Text)
	case OutTypeTemplate:
		return checkTemplate(r.Template)
	case OutTypeImage, OutTypeDocument, OutTypeAudio, OutTypeVideo:
		return checkMedia(r.Type, r.media())
	case OutTypeInteractive:
		return checkInteractive(r.Interactive)
	case OutTypeReaction:
		return checkReaction(r.Reaction)
	case OutTypeLocation:
		return checkLocation(r.Location)
	default:
		return checkContacts(r.Contacts)
	}
}

var outTypes = []string{OutTypeText, OutTypeTemplate, OutTypeImage, OutTypeDocument, OutTypeAudio, OutTypeVideo, OutTypeInteractive, OutTypeReaction, OutTypeLocation, OutTypeContacts}

func (r OutboundRequest) present() map[string]bool {
	return map[string]bool{
		OutTypeText:        r.Text != nil,
		OutTypeTemplate:    r.Template != nil,
		OutTypeImage:       r.Image != nil,
		OutTypeDocument:    r.Document != nil,
		OutTypeAudio:       r.Audio != nil,
		OutTypeVideo:       r.Video != nil,
		OutTypeInteractive: r.Interactive != nil,
		OutTypeReaction:    r.Reaction != nil,
		OutTypeLocation:    r.Location != nil,
		OutTypeContacts:    r.Contacts != nil,
	}
}

func (r OutboundRequest) media() *OutMedia {
	switch r.Type {
	case OutTypeImage:
		return r.Image
	case OutTypeDocument:
		return r.Document
	case OutTypeAudio:
		return r.Audio
	case OutTypeVideo:
		return r.Video
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// chars checks a string's length in code points: min..max.
func chars(field, s string, minimum, maximum int) *errs.FieldError {
	n := utf8.RuneCountInString(s)
	switch {
	case n < minimum && minimum == 1:
		return errs.Field(field, "is required")
	case n < minimum || n > maximum:
		return errs.Field(field, fmt.Sprintf("must be %d..%d characters, got %d", minimum, maximum, n))
	}
	return nil
}

func checkText(t *OutText) *errs.FieldError {
	return chars("text.body", t.Body, 1, MaxTextBodyChars)
}

func checkTemplate(t *OutTemplate) *errs.FieldError {
	if ferr := chars("template.name", t.Name, 1, MaxTemplateNameChars); ferr != nil {
		return ferr
	}
	if !templateNamePattern.MatchString(t.Name) {
		return errs.Field("template.name", "must hold only lowercase letters, digits and underscores")
	}
	if t.Language == nil {
		return errs.Field("template.language", "is required")
	}
	if t.Language.Code == "" {
		return errs.Field("template.language.code", "is required")
	}
	if len(t.Language.Code) > MaxTemplateLanguageChars || !languagePattern.MatchString(t.Language.Code) {
		return errs.Field("template.language.code", "must be a language code such as en_US or pt_BR")
	}
	if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
		return errs.Field("template.language.policy", `must be "deterministic" when set`)
	}
	if len(t.Components) > 0 {
		if len(t.Components) > MaxTemplateComponentsBytes {
			return errs.Field("template.components", fmt.Sprintf("must be at most %d bytes of JSON, got %d", MaxTemplateComponentsBytes, len(t.Components)))
		}
		var arr []any
		if err := json.Unmarshal(t.Components, &arr); err != nil || arr == nil {
			return errs.Field("template.components", "must be a JSON array")
		}
		return checkComponentLinks("template.components", arr)
	}
	return nil
}

func checkMedia(kind string, m *OutMedia) *errs.FieldError {
	switch {
	case m.ID == "" && m.Link == "":
		return errs.Field(kind+".link", "link or id is required")
	case m.ID != "" && m.Link != "":
		return errs.Field(kind+".id", "must not be set together with link")
	case m.ID != "":
		if !allDigits(m.ID) || len(m.ID) > MaxMediaIDChars {
			return errs.Field(kind+".id", fmt.Sprintf("must be a media id of 1..%d digits", MaxMediaIDChars))
		}
	default:
		if ferr := checkMediaLink(kind+".link", m.Link); ferr != nil {
			return ferr
		}
	}
	if m.Caption != "" {
		if kind == OutTypeAudio {
			return errs.Field(kind+".caption", "is not allowed for audio")
		}
		if ferr := chars(kind+".caption", m.Caption, 0, MaxMediaCaptionChars); ferr != nil {
			return ferr
		}
	}
	if m.Filename != "" {
		if kind != OutTypeDocument {
			return errs.Field(kind+".filename", "is allowed only for documents")
		}
		if ferr := chars(kind+".filename", m.Filename, 0, MaxMediaFilenameChars); ferr != nil {
			return ferr
		}
	}
	return nil
}

func checkInteractive(in *OutInteractive) *errs.FieldError {
	if in.Type != InteractiveButton && in.Type != InteractiveList {
		return errs.Field("interactive.type", `must be "button" or "list"`)
	}
	if in.Header != nil {
		if in.Header.Type != "text" {
			return errs.Field("interactive.header.type", `must be "text"`)
		}
		if ferr := chars("interactive.header.text", in.Header.Text, 1, MaxInteractiveHeaderChars); ferr != nil {
			return ferr
		}
	}
	if in.Body == nil {
		return errs.Field("interactive.body", "is required")
	}
	if ferr := chars("interactive.body.text", in.Body.Text, 1, MaxInteractiveBodyChars); ferr != nil {
		return ferr
	}
	if in.Footer != nil {
		if ferr := chars("interactive.footer.text", in.Footer.Text, 1, MaxInteractiveFooterChars); ferr != nil {
			return ferr
		}
	}
	if in.Action == nil {
		return errs.Field("interactive.action", "is required")
	}
	if in.Type == InteractiveButton {
		return checkButtons(in.Action)
	}
	return checkList(in.Action)
}

func checkButtons(a *OutInteractiveAction) *errs.FieldError {
	if a.Button != "" {
		return errs.Field("interactive.action.button", "is only for list messages")
	}
	if a.Sections != nil {
		return errs.Field("interactive.action.sections", "are only for list messages")
	}
	if len(a.Buttons) == 0 || len(a.Buttons) > MaxReplyButtons {
		return errs.Field("interactive.action.buttons", fmt.Sprintf("must hold 1..%d buttons, got %d", MaxReplyButtons, len(a.Buttons)))
	}
	seen := map[string]bool{}
	for i, b := range a.Buttons {
		p := fmt.Sprintf("interactive.action.buttons[%d]", i)
		if b.Type != "" && b.Type != "reply" {
			return errs.Field(p+".type", `must be "reply"`)
		}
		if b.Reply == nil {
			return errs.Field(p+".reply", "is required")
		}
		if ferr := chars(p+".reply.id", b.Reply.ID, 1, MaxReplyButtonIDChars); ferr != nil {
			return ferr
		}
		if seen[b.Reply.ID] {
			return errs.Field(p+".reply.id", "must be unique among the buttons")
		}
		seen[b.Reply.ID] = true
		if ferr := chars(p+".reply.title", b.Reply.Title, 1, MaxReplyButtonTitleChars); ferr != nil {
			return ferr
		}
	}
	return nil
}

func checkList(a *OutInteractiveAction) *errs.FieldError {
	if a.Buttons != nil {
		return errs.Field("interactive.action.buttons", "are only for button messages")
	}
	if ferr := chars("interactive.action.button", a.Button, 1, MaxListButtonChars); ferr != nil {
		return ferr
	}
	if len(a.Sections) == 0 || len(a.Sections) > MaxListSections {
		return errs.Field("interactive.action.sections", fmt.Sprintf("must hold 1..%d sections, got %d", MaxListSections, len(a.Sections)))
	}
	rows := 0
	seen := map[string]bool{}
	for i, s := range a.Sections {
		p := fmt.Sprintf("interactive.action.sections[%d]", i)
		if s.Title == "" && len(a.Sections) > 1 {
			return errs.Field(p+".title", "is required when there is more than one section")
		}
		if ferr := chars(p+".title", s.Title, 0, MaxListSectionTitleChars); ferr != nil {
			return ferr
		}
		if len(s.Rows) == 0 {
			return errs.Field(p+".rows", "must hold at least one row")
		}
		for j, row := range s.Rows {
			rp := fmt.Sprintf("%s.rows[%d]", p, j)
			if rows++; rows > MaxListRows {
				return errs.Field(rp, fmt.Sprintf("a list holds at most %d rows over all sections", MaxListRows))
			}
			if ferr := chars(rp+".id", row.ID, 1, MaxListRowIDChars); ferr != nil {
				return ferr
			}
			if seen[row.ID] {
				return errs.Field(rp+".id", "must be unique among the rows")
			}
			seen[row.ID] = true
			if ferr := chars(rp+".title", row.Title, 1, MaxListRowTitleChars); ferr != nil {
				return ferr
			}
			if ferr := chars(rp+".description", row.Description, 0, MaxListRowDescChars); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}

func checkReaction(re *OutReaction) *errs.FieldError {
	if re.MessageID == "" {
		return errs.Field("reaction.message_id", "is required")
	}
	if !strings.HasPrefix(re.MessageID, "wamid.") || len(re.MessageID) > MaxWAMIDChars || strings.ContainsFunc(re.MessageID, func(c rune) bool { return c > unicode.MaxASCII || unicode.IsSpace(c) || unicode.IsControl(c) }) {
		return errs.Field("reaction.message_id", "must be a WhatsApp message id (wamid.…)")
	}
	if re.Emoji != "" && !oneEmoji(re.Emoji) {
		return errs.Field("reaction.emoji", `must be one emoji, or "" to remove the reaction`)
	}
	return nil
}

// oneEmoji is a structural check, not a full Unicode emoji table: one or
// more ZWJ-joined parts, each a symbol (general category So) with optional
// variation selector, skin-tone modifiers and tag characters, or a keycap
// (#, * or a digit, optional U+FE0F, U+20E3), or a single flag (a pair of
// regional indicators).
func oneEmoji(s string) bool {
	rs := []rune(s)
	if len(rs) > MaxReactionEmojiRunes {
		return false
	}
	isRI := func(c rune) bool { return c >= 0x1F1E6 && c <= 0x1F1FF }
	if isRI(rs[0]) {
		return len(rs) == 2 && isRI(rs[1])
	}
	if strings.ContainsRune("#*0123456789", rs[0]) {
		return (len(rs) == 2 && rs[1] == 0x20E3) || (len(rs) == 3 && rs[1] == 0xFE0F && rs[2] == 0x20E3)
	}
	for part := range strings.SplitSeq(s, "\u200d") {
		pr := []rune(part)
		if len(pr) == 0 || !unicode.Is(unicode.So, pr[0]) || isRI(pr[0]) {
			return false
		}
		for _, c := range pr[1:] {
			modifier := c == 0xFE0F || (c >= 0x1F3FB && c <= 0x1F3FF) || (c >= 0xE0020 && c <= 0xE007F)
			if !modifier {
				return false
			}
		}
	}
	return true
}

func checkLocation(l *OutLocation) *errs.FieldError {
	if l.Latitude == nil {
		return errs.Field("location.latitude", "is required")
	}
	if *l.Latitude < -90 || *l.Latitude > 90 {
		return errs.Field("location.latitude", "must be between -90 and 90")
	}
	if l.Longitude == nil {
		return errs.Field("location.longitude", "is required")
	}
	if *l.Longitude < -180 || *l.Longitude > 180 {
		return errs.Field("location.longitude", "must be between -180 and 180")
	}
	if ferr := chars("location.name", l.Name, 0, MaxLocationNameChars); ferr != nil {
		return ferr
	}
	return chars("location.address", l.Address, 0, MaxLocationAddressChars)
}

func checkContacts(cs []OutContact) *errs.FieldError {
	if len(cs) == 0 || len(cs) > MaxContacts {
		return errs.Field("contacts", fmt.Sprintf("must hold 1..%d contacts, got %d", MaxContacts, len(cs)))
	}
	for i, c := range cs {
		p := fmt.Sprintf("contacts[%d]", i)
		if c.Name == nil {
			return errs.Field(p+".name", "is required")
		}
		if ferr := chars(p+".name.formatted_name", c.Name.FormattedName, 1, MaxContactTextChars); ferr != nil {
			return ferr
		}
		if c.Birthday != "" && !birthdayPattern.MatchString(c.Birthday) {
			return errs.Field(p+".birthday", "must be YYYY-MM-DD")
		}
		for _, list := range []struct {
			name string
			n    int
		}{{"phones", len(c.Phones)}, {"emails", len(c.Emails)}, {"urls", len(c.URLs)}, {"addresses", len(c.Addresses)}} {
			if list.n > MaxContactItems {
				return errs.Field(p+"."+list.name, fmt.Sprintf("must hold at most %d entries", MaxContactItems))
			}
		}
		for j, ph := range c.Phones {
			if ferr := chars(fmt.Sprintf("%s.phones[%d].phone", p, j), ph.Phone, 1, MaxContactTextChars); ferr != nil {
				return ferr
			}
		}
		for j, e := range c.Emails {
			if ferr := chars(fmt.Sprintf("%s.emails[%d].email", p, j), e.Email, 1, MaxContactTextChars); ferr != nil {
				return ferr
			}
		}
		for j, u := range c.URLs {
			if ferr := chars(fmt.Sprintf("%s.urls[%d].url", p, j), u.URL, 1, MaxContactTextChars); ferr != nil {
				return ferr
			}
		}
		if ferr := checkContactStrings(p, reflect.ValueOf(c)); ferr != nil {
			return ferr
		}
	}
	return nil
}

// checkContactStrings bounds every string of a contact card.
func checkContactStrings(path string, v reflect.Value) *errs.FieldError {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return checkContactStrings(path, v.Elem())
	case reflect.String:
		return chars(path, v.String(), 0, MaxContactTextChars)
	case reflect.Slice:
		for i := range v.Len() {
			if ferr := checkContactStrings(fmt.Sprintf("%s[%d]", path, i), v.Index(i)); ferr != nil {
				return ferr
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if ferr := checkContactStrings(strictjson.Join(path, name), v.Field(i)); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}

// FreeForm is false only for templates: free-form messages may be sent only
// within 24 hours of the person's last inbound message (the customer
// service window); outside it Meta answers 131047.
func (r OutboundRequest) FreeForm() bool { return r.Type != OutTypeTemplate }

// metaSendBody is Meta's Cloud API message object; field order is the
// order of the bytes.
type metaSendBody struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to,omitempty"`
	Recipient        string `json:"recipient,omitempty"`
	Type             string `json:"type"`
	OutContent
}

// MetaMessage is the Meta Cloud API message object for the request, the
// body Kapso's proxy forwards to Meta. A BSUID recipient goes in
// "recipient" instead of "to". The bytes are deterministic: the same
// request, however its JSON was laid out, always gives the same body.
func (r OutboundRequest) MetaMessage() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	n := r.normalised()
	return marshalCanonical(metaSendBody{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               n.To,
		Recipient:        n.Recipient,
		Type:             n.Type,
		OutContent:       n.OutContent,
	})
}

// Fingerprint is a stable hash of the normalised request, for telling a
// retry with the same idempotency key and the same body from one with a
// different body: JSON key order and white space do not change it, a
// changed value does. It is "sha256:" and 64 hex digits.
func (r OutboundRequest) Fingerprint() string {
	b, err := marshalCanonical(r.normalised())
	if err != nil && r.Template != nil {
		// Only components that are not JSON get here; hash them as text.
		n := r.normalised()
		n.Template.Components, _ = json.Marshal(string(n.Template.Components))
		b, _ = marshalCanonical(n)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normalised is the request with its equivalent forms made one: the
// leading + of to dropped, reply buttons typed, template components in
// canonical JSON (keys sorted, no white space). Nested values are copied
// where they change, so r is left as it was.
func (r OutboundRequest) normalised() OutboundRequest {
	r.To = strings.TrimPrefix(r.To, "+")
	if r.Interactive != nil && r.Interactive.Action != nil && len(r.Interactive.Action.Buttons) > 0 {
		in := *r.Interactive
		a := *in.Action
		a.Buttons = slices.Clone(a.Buttons)
		for i := range a.Buttons {
			if a.Buttons[i].Type == "" {
				a.Buttons[i].Type = "reply"
			}
		}
		in.Action = &a
		r.Interactive = &in
	}
	if r.Template != nil && len(r.Template.Components) > 0 {
		t := *r.Template
		if c, err := canonicalJSON(t.Components); err == nil {
			t.Components = c
		}
		r.Template = &t
	}
	return r
}

// canonicalJSON rewrites a JSON value with object keys sorted and no
// insignificant white space; numbers keep their text.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return marshalCanonical(v)
}

// marshalCanonical is json.Marshal without HTML escaping: struct fields in
// declaration order, map keys sorted, so equal values give equal bytes.
func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
