package tenantapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// A body the strict reader refuses is a field error naming the member at
// fault, or "" for the body as a whole; the request's own rules are the
// messaging domain's, checked in its tests.
func TestSendBodyInvalid(t *testing.T) {
	to := `"to":"16505551234",`
	tests := []struct {
		name, body, field string
	}{
		{"not an object", `[1]`, ""},
		{"two objects", `{"to":"16505551234","type":"text","text":{"body":"a"}} {}`, ""},
		{"invalid UTF-8", "{\"to\":\"16505551234\",\"type\":\"text\",\"text\":{\"body\":\"\xff\"}}", ""},
		{"too large", `{` + to + `"type":"text","text":{"body":"` + strings.Repeat("a", MaxSendBodyBytes) + `"}}`, ""},
		{"unknown top-level field", `{` + to + `"type":"text","text":{"body":"a"},"context":{}}`, "context"},
		{"unknown nested field", `{` + to + `"type":"text","text":{"body":"a","bodyy":"b"}}`, "text.bodyy"},
		{"repeated field", `{` + to + `"type":"text","text":{"body":"a","body":"b"}}`, "text.body"},
		{"wrong JSON type", `{` + to + `"type":"text","text":{"body":"a","preview_url":"yes"}}`, "text.preview_url"},
		{"wrong type in array", `{` + to + `"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":` +
			`{"buttons":[{"reply":{"id":"a","title":"A"}},{"reply":{"id":"b","title":7}}]}}}`, "interactive.action.buttons[1].reply.title"},
		{"latitude a string", `{` + to + `"type":"location","location":{"latitude":"1","longitude":1}}`, "location.latitude"},
		// The reader goes on to the request's rules.
		{"no recipient", `{"type":"text","text":{"body":"a"}}`, "to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSendRequest([]byte(tt.body))
			var fe *errs.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("parseSendRequest() = %v, want a *errs.FieldError for %q", err, tt.field)
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

// Every string of a send request reaches Meta: one that is not text (an
// unpaired surrogate escape, which encoding/json would turn into U+FFFD) or
// holds a control character other than tab, line feed and carriage return
// is refused, naming its field.
func TestSendBodyRefusesBadText(t *testing.T) {
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
		if _, err := parseSendRequest([]byte(f.body("ok"))); err != nil {
			t.Fatalf("%s: the valid request is refused: %v", f.field, err)
		}
		for _, s := range bad {
			_, err := parseSendRequest([]byte(f.body(s)))
			var fe *errs.FieldError
			if !errors.As(err, &fe) || fe.Field != f.field || fe.Message == "" {
				t.Errorf("%s with %s: %v, want an error naming the field", f.field, s, err)
			}
		}
	}
	// Lines and tabs are text.
	for _, s := range []string{`\n`, `\t`, `\r\n`, "\\u2028", "\\ud83e\\udd56"} {
		if _, err := parseSendRequest([]byte(fields[0].body(s))); err != nil {
			t.Errorf("text.body with %s: %v", s, err)
		}
	}
}

// to takes phone digits only; a BSUID goes in recipient.
func TestSendBodyToTakesAPhoneAndRecipientABSUID(t *testing.T) {
	const bsuid = "US.13491208655302741918"
	var fe *errs.FieldError
	if _, err := parseSendRequest([]byte(`{"to":"` + bsuid + `","type":"text","text":{"body":"hi"}}`)); !errors.As(err, &fe) || fe.Field != "to" {
		t.Errorf("a BSUID in to: %v, want an error naming to", err)
	}
	r, err := parseSendRequest([]byte(`{"recipient":"` + bsuid + `","type":"text","text":{"body":"hi"}}`))
	if err != nil || r.Recipient != bsuid {
		t.Errorf("a BSUID in recipient: %+v, %v", r, err)
	}
}
