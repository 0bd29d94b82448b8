package messaging

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Limits of a send request. Character counts are Unicode code points.
const (
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

// OutboundTextProblem says what in a string of a send has no place in text
// sent to a person, or "" for text that has none: control characters (C0,
// DEL, C1: NUL, escapes, the bell...), but for tab, line feed and carriage
// return, which multi-line text holds (a body typed in a browser on Windows
// comes with CR LF). The send body's reader asks it about every string.
func OutboundTextProblem(s string) string {
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
			if ferr := checkContactStrings(jsonPath(path, name), v.Field(i)); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}

// jsonPath names key inside path as the send body's reader names members
// (strictjson.Join), so a rule's error and the reader's name a field alike:
// "text.body", `components[0]["a b"]`. The domain keeps its own copy so as
// not to link the body reader.
func jsonPath(path, key string) string {
	plain := key != "" && !strings.ContainsFunc(key, func(c rune) bool {
		return c <= ' ' || c >= 0x7f || strings.ContainsRune(`."[]\`, c)
	})
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}
