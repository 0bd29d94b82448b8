package messaging

import (
	"errors"
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
			r := decodeSend(t, tt.body)
			if err := r.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
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

func TestOutboundFingerprint(t *testing.T) {
	parse := func(body string) OutboundRequest {
		t.Helper()
		r := decodeSend(t, body)
		if err := r.Validate(); err != nil {
			t.Fatalf("Validate(%s) = %v", body, err)
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

func TestOutboundMetaMessageValidates(t *testing.T) {
	r := OutboundRequest{To: "16505551234", Type: OutTypeText, OutContent: OutContent{Text: &OutText{}}}
	_, err := r.MetaMessage()
	var fe *errs.FieldError
	if !errors.As(err, &fe) || fe.Field != "text.body" {
		t.Errorf("MetaMessage() = %v, want a text.body error", err)
	}
}
