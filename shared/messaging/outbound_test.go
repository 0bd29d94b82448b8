package messaging

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

const outHead = `"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234"`

func TestOutboundValidMetaMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"text",
			`{"to":"+16505551234","type":"text","text":{"body":"Olá <b> & 🌎","preview_url":true}}`,
			`{` + outHead + `,"type":"text","text":{"body":"Olá <b> & 🌎","preview_url":true}}`},
		{"text to a BSUID",
			`{"recipient":"US.13491208655302741918","type":"text","text":{"body":"hi"}}`,
			`{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918","type":"text","text":{"body":"hi"}}`},
		{"template",
			`{"phone_number_id":"106540352242922","to":"16505551234","type":"template","template":{"name":"order_update_2","language":{"code":"pt_BR","policy":"deterministic"},
			  "components":[ {"type":"body","parameters":[{"type":"text","text":"4417"},{"type":"currency","currency":{"amount_1000":12500,"code":"BRL","fallback_value":"R$12,50"}}]} ]}}`,
			`{` + outHead + `,"type":"template","template":{"name":"order_update_2","language":{"policy":"deterministic","code":"pt_BR"},"components":[{"parameters":[{"text":"4417","type":"text"},{"currency":{"amount_1000":12500,"code":"BRL","fallback_value":"R$12,50"},"type":"currency"}],"type":"body"}]}}`},
		{"image by link",
			`{"to":"16505551234","type":"image","image":{"link":"https://example.com/a.jpg?x=1&y=2","caption":"Pão"}}`,
			`{` + outHead + `,"type":"image","image":{"link":"https://example.com/a.jpg?x=1&y=2","caption":"Pão"}}`},
		{"document by id",
			`{"to":"16505551234","type":"document","document":{"id":"1013859600285441","caption":"Invoice","filename":"invoice-4417.pdf"}}`,
			`{` + outHead + `,"type":"document","document":{"id":"1013859600285441","caption":"Invoice","filename":"invoice-4417.pdf"}}`},
		{"audio",
			`{"to":"16505551234","type":"audio","audio":{"id":"1013859600285442"}}`,
			`{` + outHead + `,"type":"audio","audio":{"id":"1013859600285442"}}`},
		{"video",
			`{"to":"16505551234","type":"video","video":{"link":"https://cdn.example.com/v.mp4","caption":"demo"}}`,
			`{` + outHead + `,"type":"video","video":{"link":"https://cdn.example.com/v.mp4","caption":"demo"}}`},
		{"interactive button",
			`{"to":"16505551234","type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Order 4417"},"body":{"text":"Confirm?"},"footer":{"text":"Padaria"},
			  "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"reply":{"id":"no","title":"No"}}]}}}`,
			`{` + outHead + `,"type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Order 4417"},"body":{"text":"Confirm?"},"footer":{"text":"Padaria"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}}`},
		{"interactive list",
			`{"to":"16505551234","type":"interactive","interactive":{"type":"list","body":{"text":"Pick a bread"},
			  "action":{"button":"Menu","sections":[{"title":"Breads","rows":[{"id":"b1","title":"Sourdough","description":"Naturally leavened"},{"id":"b2","title":"Rye"}]},{"title":"Cakes","rows":[{"id":"c1","title":"Carrot"}]}]}}}`,
			`{` + outHead + `,"type":"interactive","interactive":{"type":"list","body":{"text":"Pick a bread"},"action":{"button":"Menu","sections":[{"title":"Breads","rows":[{"id":"b1","title":"Sourdough","description":"Naturally leavened"},{"id":"b2","title":"Rye"}]},{"title":"Cakes","rows":[{"id":"c1","title":"Carrot"}]}]}}}`},
		{"reaction",
			`{"to":"16505551234","type":"reaction","reaction":{"message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","emoji":"👍🏽"}}`,
			`{` + outHead + `,"type":"reaction","reaction":{"message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","emoji":"👍🏽"}}`},
		{"reaction removed",
			`{"to":"16505551234","type":"reaction","reaction":{"message_id":"wamid.X1","emoji":""}}`,
			`{` + outHead + `,"type":"reaction","reaction":{"message_id":"wamid.X1","emoji":""}}`},
		{"location",
			`{"to":"16505551234","type":"location","location":{"latitude":-23.5505,"longitude":0,"name":"Padaria","address":"Rua A, 1"}}`,
			`{` + outHead + `,"type":"location","location":{"latitude":-23.5505,"longitude":0,"name":"Padaria","address":"Rua A, 1"}}`},
		{"contacts",
			`{"to":"16505551234","type":"contacts","contacts":[{"name":{"formatted_name":"Maria Souza","first_name":"Maria"},"phones":[{"phone":"+1 650 555 1234","type":"CELL","wa_id":"16505551234"}],"emails":[{"email":"m@example.com"}],"birthday":"1990-04-01"}]}`,
			`{` + outHead + `,"type":"contacts","contacts":[{"name":{"formatted_name":"Maria Souza","first_name":"Maria"},"birthday":"1990-04-01","phones":[{"phone":"+1 650 555 1234","type":"CELL","wa_id":"16505551234"}],"emails":[{"email":"m@example.com"}]}]}`},
		{"emoji flag, keycap and ZWJ sequence",
			`{"to":"16505551234","type":"reaction","reaction":{"message_id":"wamid.X1","emoji":"👩‍❤️‍👨"}}`,
			`{` + outHead + `,"type":"reaction","reaction":{"message_id":"wamid.X1","emoji":"👩‍❤️‍👨"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseOutboundRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseOutboundRequest() = %v", err)
			}
			got, err := r.MetaMessage()
			if err != nil {
				t.Fatalf("MetaMessage() = %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("MetaMessage()\n got %s\nwant %s", got, tt.want)
			}
			again, _ := r.MetaMessage()
			if string(again) != string(got) {
				t.Errorf("MetaMessage() not deterministic")
			}
		})
	}
}

func TestOneEmoji(t *testing.T) {
	for _, e := range []string{"👍", "❤️", "🇧🇷", "1️⃣", "#⃣", "👍🏽", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👨‍👩‍👧‍👦"} {
		if !oneEmoji(e) {
			t.Errorf("oneEmoji(%q) = false", e)
		}
	}
	for _, e := range []string{"a", "👍👍", "🇧", "🇧🇷🇧🇷", "1", "👍 ", "\u200d👍", "👍\u200d"} {
		if oneEmoji(e) {
			t.Errorf("oneEmoji(%q) = true", e)
		}
	}
}

func TestOutboundInvalid(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	to := `"to":"16505551234",`
	inter := func(action string) string {
		return `{` + to + `"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":` + action + `}}`
	}
	list := func(action string) string {
		return `{` + to + `"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":` + action + `}}`
	}
	tests := []struct {
		name, body, field string
	}{
		{"not an object", `[1]`, ""},
		{"two objects", `{"to":"16505551234","type":"text","text":{"body":"a"}} {}`, ""},
		{"invalid UTF-8", "{\"to\":\"16505551234\",\"type\":\"text\",\"text\":{\"body\":\"\xff\"}}", ""},
		{"too large", `{` + to + `"type":"text","text":{"body":"` + strings.Repeat("a", MaxOutboundBodyBytes) + `"}}`, ""},
		{"unknown top-level field", `{` + to + `"type":"text","text":{"body":"a"},"context":{}}`, "context"},
		{"unknown nested field", `{` + to + `"type":"text","text":{"body":"a","bodyy":"b"}}`, "text.bodyy"},
		{"repeated field", `{` + to + `"type":"text","text":{"body":"a","body":"b"}}`, "text.body"},
		{"wrong JSON type", `{` + to + `"type":"text","text":{"body":"a","preview_url":"yes"}}`, "text.preview_url"},
		{"wrong type in array", inter(`{"buttons":[{"reply":{"id":"a","title":"A"}},{"reply":{"id":"b","title":7}}]}`), "interactive.action.buttons[1].reply.title"},
		{"no recipient", `{"type":"text","text":{"body":"a"}}`, "to"},
		{"both to and recipient", `{` + to + `"recipient":"US.1349","type":"text","text":{"body":"a"}}`, "recipient"},
		{"short phone", `{"to":"+123456","type":"text","text":{"body":"a"}}`, "to"},
		{"phone with spaces", `{"to":"+1 650 555 1234","type":"text","text":{"body":"a"}}`, "to"},
		{"bad BSUID", `{"recipient":"us.1349","type":"text","text":{"body":"a"}}`, "recipient"},
		{"bad phone_number_id", `{"phone_number_id":"abc",` + to + `"type":"text","text":{"body":"a"}}`, "phone_number_id"},
		{"unknown type", `{` + to + `"type":"sticker","text":{"body":"a"}}`, "type"},
		{"missing type object", `{` + to + `"type":"image","text":{"body":"a"}}`, "image"},
		{"other type object", `{` + to + `"type":"text","text":{"body":"a"},"image":{"id":"1"}}`, "image"},
		{"empty text body", `{` + to + `"type":"text","text":{"body":""}}`, "text.body"},
		{"text body too long", `{` + to + `"type":"text","text":{"body":"` + long(MaxTextBodyChars+1) + `"}}`, "text.body"},
		{"template name case", `{` + to + `"type":"template","template":{"name":"Order","language":{"code":"en_US"}}}`, "template.name"},
		{"template without language", `{` + to + `"type":"template","template":{"name":"order"}}`, "template.language"},
		{"template language code missing", `{` + to + `"type":"template","template":{"name":"order","language":{}}}`, "template.language.code"},
		{"template components not array", `{` + to + `"type":"template","template":{"name":"order","language":{"code":"en"},"components":{"type":"body"}}}`, "template.components"},
		{"template components too large", `{` + to + `"type":"template","template":{"name":"order","language":{"code":"en"},"components":[{"t":"` + strings.Repeat("a", MaxTemplateComponentsBytes) + `"}]}}`, "template.components"},
		{"media without link or id", `{` + to + `"type":"image","image":{"caption":"c"}}`, "image.link"},
		{"media with link and id", `{` + to + `"type":"image","image":{"id":"1","link":"https://e.com/a"}}`, "image.id"},
		{"media http link", `{` + to + `"type":"video","video":{"link":"http://e.com/a.mp4"}}`, "video.link"},
		{"media relative link", `{` + to + `"type":"image","image":{"link":"/a.jpg"}}`, "image.link"},
		{"audio caption", `{` + to + `"type":"audio","audio":{"id":"1","caption":"c"}}`, "audio.caption"},
		{"caption too long", `{` + to + `"type":"image","image":{"id":"1","caption":"` + long(MaxMediaCaptionChars+1) + `"}}`, "image.caption"},
		{"filename too long", `{` + to + `"type":"document","document":{"id":"1","filename":"` + long(MaxMediaFilenameChars+1) + `"}}`, "document.filename"},
		{"filename on image", `{` + to + `"type":"image","image":{"id":"1","filename":"a.jpg"}}`, "image.filename"},
		{"interactive unknown type", `{` + to + `"type":"interactive","interactive":{"type":"product","body":{"text":"b"},"action":{}}}`, "interactive.type"},
		{"interactive body missing", `{` + to + `"type":"interactive","interactive":{"type":"button","action":{"buttons":[{"reply":{"id":"a","title":"A"}}]}}}`, "interactive.body"},
		{"interactive body too long", `{` + to + `"type":"interactive","interactive":{"type":"button","body":{"text":"` + long(MaxInteractiveBodyChars+1) + `"},"action":{"buttons":[{"reply":{"id":"a","title":"A"}}]}}}`, "interactive.body.text"},
		{"interactive header too long", `{` + to + `"type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"` + long(MaxInteractiveHeaderChars+1) + `"},"body":{"text":"b"},"action":{"buttons":[{"reply":{"id":"a","title":"A"}}]}}}`, "interactive.header.text"},
		{"interactive footer too long", `{` + to + `"type":"interactive","interactive":{"type":"button","footer":{"text":"` + long(MaxInteractiveFooterChars+1) + `"},"body":{"text":"b"},"action":{"buttons":[{"reply":{"id":"a","title":"A"}}]}}}`, "interactive.footer.text"},
		{"no buttons", inter(`{"buttons":[]}`), "interactive.action.buttons"},
		{"four buttons", inter(`{"buttons":[{"reply":{"id":"a","title":"A"}},{"reply":{"id":"b","title":"B"}},{"reply":{"id":"c","title":"C"}},{"reply":{"id":"d","title":"D"}}]}`), "interactive.action.buttons"},
		{"button title too long", inter(`{"buttons":[{"reply":{"id":"a","title":"A"}},{"reply":{"id":"b","title":"` + long(MaxReplyButtonTitleChars+1) + `"}}]}`), "interactive.action.buttons[1].reply.title"},
		{"button title empty", inter(`{"buttons":[{"reply":{"id":"a","title":""}}]}`), "interactive.action.buttons[0].reply.title"},
		{"button id too long", inter(`{"buttons":[{"reply":{"id":"` + long(MaxReplyButtonIDChars+1) + `","title":"A"}}]}`), "interactive.action.buttons[0].reply.id"},
		{"button ids repeated", inter(`{"buttons":[{"reply":{"id":"a","title":"A"}},{"reply":{"id":"a","title":"B"}}]}`), "interactive.action.buttons[1].reply.id"},
		{"button type", inter(`{"buttons":[{"type":"url","reply":{"id":"a","title":"A"}}]}`), "interactive.action.buttons[0].type"},
		{"list button missing", list(`{"sections":[{"rows":[{"id":"r","title":"R"}]}]}`), "interactive.action.button"},
		{"list button too long", list(`{"button":"` + long(MaxListButtonChars+1) + `","sections":[{"rows":[{"id":"r","title":"R"}]}]}`), "interactive.action.button"},
		{"list no sections", list(`{"button":"M","sections":[]}`), "interactive.action.sections"},
		{"list eleven rows", list(`{"button":"M","sections":[{"title":"A","rows":[` + rows("a", 6) + `]},{"title":"B","rows":[` + rows("b", 5) + `]}]}`), "interactive.action.sections[1].rows[4]"},
		{"list row title too long", list(`{"button":"M","sections":[{"rows":[{"id":"r","title":"` + long(MaxListRowTitleChars+1) + `"}]}]}`), "interactive.action.sections[0].rows[0].title"},
		{"list row id too long", list(`{"button":"M","sections":[{"rows":[{"id":"` + long(MaxListRowIDChars+1) + `","title":"R"}]}]}`), "interactive.action.sections[0].rows[0].id"},
		{"list row description too long", list(`{"button":"M","sections":[{"rows":[{"id":"r","title":"R","description":"` + long(MaxListRowDescChars+1) + `"}]}]}`), "interactive.action.sections[0].rows[0].description"},
		{"list section title too long", list(`{"button":"M","sections":[{"title":"` + long(MaxListSectionTitleChars+1) + `","rows":[{"id":"r","title":"R"}]}]}`), "interactive.action.sections[0].title"},
		{"list section title missing", list(`{"button":"M","sections":[{"title":"A","rows":[{"id":"r","title":"R"}]},{"rows":[{"id":"s","title":"S"}]}]}`), "interactive.action.sections[1].title"},
		{"list with buttons", list(`{"button":"M","buttons":[{"reply":{"id":"a","title":"A"}}],"sections":[{"rows":[{"id":"r","title":"R"}]}]}`), "interactive.action.buttons"},
		{"reaction without message_id", `{` + to + `"type":"reaction","reaction":{"emoji":"👍"}}`, "reaction.message_id"},
		{"reaction not a WAMID", `{` + to + `"type":"reaction","reaction":{"message_id":"abc","emoji":"👍"}}`, "reaction.message_id"},
		{"reaction two emoji", `{` + to + `"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍👍"}}`, "reaction.emoji"},
		{"reaction text", `{` + to + `"type":"reaction","reaction":{"message_id":"wamid.X","emoji":"ok"}}`, "reaction.emoji"},
		{"latitude missing", `{` + to + `"type":"location","location":{"longitude":1}}`, "location.latitude"},
		{"latitude out of range", `{` + to + `"type":"location","location":{"latitude":90.5,"longitude":1}}`, "location.latitude"},
		{"longitude out of range", `{` + to + `"type":"location","location":{"latitude":1,"longitude":-180.01}}`, "location.longitude"},
		{"latitude a string", `{` + to + `"type":"location","location":{"latitude":"1","longitude":1}}`, "location.latitude"},
		{"location name too long", `{` + to + `"type":"location","location":{"latitude":1,"longitude":1,"name":"` + long(MaxLocationNameChars+1) + `"}}`, "location.name"},
		{"contacts empty", `{` + to + `"type":"contacts","contacts":[]}`, "contacts"},
		{"contact without formatted_name", `{` + to + `"type":"contacts","contacts":[{"name":{"formatted_name":"A"}},{"name":{"first_name":"B"}}]}`, "contacts[1].name.formatted_name"},
		{"contact without name", `{` + to + `"type":"contacts","contacts":[{"phones":[{"phone":"1"}]}]}`, "contacts[0].name"},
		{"contact org too long", `{` + to + `"type":"contacts","contacts":[{"name":{"formatted_name":"A"},"org":{"company":"` + long(MaxContactTextChars+1) + `"}}]}`, "contacts[0].org.company"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOutboundRequest([]byte(tt.body))
			var fe *errs.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseOutboundRequest() = %v, want a *errs.FieldError for %q", err, tt.field)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q (%v), want %q", fe.Field, fe, tt.field)
			}
			if fe.Message == "" {
				t.Errorf("empty message")
			}
		})
	}
}

func rows(prefix string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `{"id":"` + prefix + string(rune('0'+i)) + `","title":"R"}`
	}
	return strings.Join(parts, ",")
}

func TestOutboundFingerprint(t *testing.T) {
	parse := func(body string) OutboundRequest {
		t.Helper()
		r, err := ParseOutboundRequest([]byte(body))
		if err != nil {
			t.Fatalf("ParseOutboundRequest(%s) = %v", body, err)
		}
		return r
	}
	a := parse(`{"to":"+16505551234","type":"template","template":{"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"1"}]}]}}`)
	b := parse(`{
		"template": {"components": [ {"parameters": [ {"text": "1", "type": "text"} ], "type": "body"} ],
		             "language": {"code": "en_US"}, "name": "order"},
		"type": "template",
		"to": "16505551234"
	}`)
	if a.Fingerprint() != b.Fingerprint() {
		t.Errorf("fingerprints differ across key order and white space:\n%s\n%s", a.Fingerprint(), b.Fingerprint())
	}
	if !strings.HasPrefix(a.Fingerprint(), "sha256:") || len(a.Fingerprint()) != len("sha256:")+64 {
		t.Errorf("Fingerprint() = %q", a.Fingerprint())
	}
	ma, _ := a.MetaMessage()
	mb, _ := b.MetaMessage()
	if string(ma) != string(mb) {
		t.Errorf("MetaMessage differs across key order:\n%s\n%s", ma, mb)
	}
	for _, changed := range []string{
		`{"to":"16505551234","type":"template","template":{"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"2"}]}]}}`,
		`{"to":"16505551235","type":"template","template":{"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"1"}]}]}}`,
		`{"phone_number_id":"1","to":"16505551234","type":"template","template":{"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"1"}]}]}}`,
		`{"to":"16505551234","type":"template","template":{"name":"order","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"1"}]}]}}`,
	} {
		if c := parse(changed); c.Fingerprint() == a.Fingerprint() {
			t.Errorf("same fingerprint for a changed request: %s", changed)
		}
	}
	btn := parse(`{"to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"reply":{"id":"a","title":"A"}}]}}}`)
	typed := parse(`{"to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}`)
	if btn.Fingerprint() != typed.Fingerprint() {
		t.Errorf("an omitted button type and \"reply\" give different fingerprints")
	}
	if btn.Interactive.Action.Buttons[0].Type != "" {
		t.Errorf("normalising changed the request it was called on")
	}
}

func TestOutboundFreeForm(t *testing.T) {
	for _, typ := range outTypes {
		r := OutboundRequest{Type: typ}
		if got, want := r.FreeForm(), typ != OutTypeTemplate; got != want {
			t.Errorf("FreeForm() for %s = %v, want %v", typ, got, want)
		}
	}
}

func TestOutboundMetaMessageValidates(t *testing.T) {
	r := OutboundRequest{To: "16505551234", Type: OutTypeText, OutContent: OutContent{Text: &OutText{}}}
	_, err := r.MetaMessage()
	var fe *errs.FieldError
	if !errors.As(err, &fe) || fe.Field != "text.body" {
		t.Errorf("MetaMessage() = %v, want a text.body error", err)
	}
}

// Every string of a send request reaches Meta: one that is not text (an
// unpaired surrogate escape, which encoding/json would turn into U+FFFD) or
// holds a control character other than tab, line feed and carriage return
// is refused, naming its field.
func TestOutboundRefusesBadText(t *testing.T) {
	to := `"to":"16505551234",`
	fields := []struct {
		field string
		body  func(s string) string
	}{
		{"text.body", func(s string) string { return `{` + to + `"type":"text","text":{"body":"a` + s + `b"}}` }},
		{"image.caption", func(s string) string {
			return `{` + to + `"type":"image","image":{"id":"1","caption":"` + s + `"}}`
		}},
		{"document.filename", func(s string) string {
			return `{` + to + `"type":"document","document":{"id":"1","filename":"a` + s + `.pdf"}}`
		}},
		{"interactive.action.buttons[0].reply.title", func(s string) string {
			return `{` + to + `"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"reply":{"id":"a","title":"A` + s + `"}}]}}}`
		}},
		{"location.address", func(s string) string {
			return `{` + to + `"type":"location","location":{"latitude":1,"longitude":1,"address":"Rua ` + s + `"}}`
		}},
		{"contacts[0].org.company", func(s string) string {
			return `{` + to + `"type":"contacts","contacts":[{"name":{"formatted_name":"A"},"org":{"company":"` + s + `"}}]}`
		}},
		{"template.components[0].parameters[0].text", func(s string) string {
			return `{` + to + `"type":"template","template":{"name":"order","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"` + s + `"}]}]}}`
		}},
	}
	bad := []string{`\ud800`, `\udc00`, `\udc00\ud800`, `\ud800x`}
	for c := rune(0); c <= 0x9f; c++ {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= 0x7f {
			bad = append(bad, fmt.Sprintf(`\u%04x`, c))
		}
	}
	for _, f := range fields {
		if _, err := ParseOutboundRequest([]byte(f.body("ok"))); err != nil {
			t.Fatalf("%s: the valid request is refused: %v", f.field, err)
		}
		for _, s := range bad {
			_, err := ParseOutboundRequest([]byte(f.body(s)))
			var fe *errs.FieldError
			if !errors.As(err, &fe) || fe.Field != f.field || fe.Message == "" {
				t.Errorf("%s with %s: %v, want an error naming the field", f.field, s, err)
			}
		}
	}
	// Lines and tabs are text.
	for _, s := range []string{`\n`, `\t`, `\r\n`, "\\u2028", "\\ud83e\\udd56"} {
		if _, err := ParseOutboundRequest([]byte(fields[0].body(s))); err != nil {
			t.Errorf("text.body with %s: %v", s, err)
		}
	}
}

// to takes phone digits only; a BSUID goes in recipient.
func TestOutboundToTakesAPhoneAndRecipientABSUID(t *testing.T) {
	const bsuid = "US.13491208655302741918"
	if _, err := ParseOutboundRequest([]byte(`{"to":"` + bsuid + `","type":"text","text":{"body":"hi"}}`)); !isFieldError(err, "to") {
		t.Errorf("a BSUID in to: %v, want an error naming to", err)
	}
	r, err := ParseOutboundRequest([]byte(`{"recipient":"` + bsuid + `","type":"text","text":{"body":"hi"}}`))
	if err != nil || r.Recipient != bsuid {
		t.Errorf("a BSUID in recipient: %+v, %v", r, err)
	}
}

func isFieldError(err error, field string) bool {
	var fe *errs.FieldError
	return errors.As(err, &fe) && fe.Field == field
}
