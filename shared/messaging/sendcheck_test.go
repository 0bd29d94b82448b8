package messaging

import (
	"errors"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
)

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
		{"location name too long", `{` + to + `"type":"location","location":{"latitude":1,"longitude":1,"name":"` + long(MaxLocationNameChars+1) + `"}}`, "location.name"},
		{"contacts empty", `{` + to + `"type":"contacts","contacts":[]}`, "contacts"},
		{"contact without formatted_name", `{` + to + `"type":"contacts","contacts":[{"name":{"formatted_name":"A"}},{"name":{"first_name":"B"}}]}`, "contacts[1].name.formatted_name"},
		{"contact without name", `{` + to + `"type":"contacts","contacts":[{"phones":[{"phone":"1"}]}]}`, "contacts[0].name"},
		{"contact org too long", `{` + to + `"type":"contacts","contacts":[{"name":{"formatted_name":"A"},"org":{"company":"` + long(MaxContactTextChars+1) + `"}}]}`, "contacts[0].org.company"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeSend(t, tt.body).Validate()
			var fe *errs.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *errs.FieldError for %q", err, tt.field)
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

// The domain names its fields as the body reader names members, so that an
// error names a field the same way whichever of the two found it.
func TestJSONPathIsTheBodyReadersNotation(t *testing.T) {
	for _, c := range []struct{ path, key string }{
		{"", "text"}, {"text", "body"}, {"components[0]", "a b"}, {"components[0]", ""}, {"", "a.b"},
		{"x", `q"`}, {"x", "[0]"}, {"x", `\`}, {"x", "é"}, {"x", "\x7f"}, {"x", "tab\t"}, {"x", "under_score-1"},
	} {
		if got, want := jsonPath(c.path, c.key), strictjson.Join(c.path, c.key); got != want {
			t.Errorf("jsonPath(%q, %q) = %q, strictjson.Join gives %q", c.path, c.key, got, want)
		}
	}
}
