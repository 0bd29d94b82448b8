package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/jsonscan"
)

// texts are message bodies as people write them: mostly ASCII, with accents,
// other scripts and emoji.
var texts = []string{
	"Oi! Vocês entregam hoje?",
	"Bom dia, vocês têm pão sem glúten?",
	"Olá 🌎",
	"Can you send me the invoice for order 4417? Thanks",
	"Preço: 12,50 € — pode ser amanhã às 9h?",
	"ok",
	"¿Tienen envío a Bogotá? Necesito 3 unidades 🙏",
	"配達は何時ですか？",
	"Perfect, see you at the store at 5pm. I'll bring the receipt.",
	"Obrigado!! 👍👍",
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// kapsoMessage is one whatsapp.message.received event, compact, shaped like
// events/kapso/whatsapp.message.received.json.
func kapsoMessage(i int) string {
	text := jsonString(texts[i%len(texts)])
	return fmt.Sprintf(`{"message":{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDMDAwMDAwMDAw%010dQA=","timestamp":"%d","type":"text",`+
		`"from":"16505551234","from_user_id":"US.13491208655302741918","from_parent_user_id":"US.ENT.11815799212886844830",`+
		`"to":"15550783881","username":"@maria.souza","text":{"body":%s},`+
		`"kapso":{"direction":"inbound","status":"received","processing_status":"pending","origin":"cloud_api","has_media":false,`+
		`"content":%s,"whatsapp_conversation_id":"0b8e3f2a-6c1d-4e59-a7b3-4d2f8c9e1a70","contact_name":"Maria Souza"}},`+
		`"conversation":{"id":"0b8e3f2a-6c1d-4e59-a7b3-4d2f8c9e1a70","phone_number":"+16505551234",`+
		`"business_scoped_user_id":"US.13491208655302741918","parent_business_scoped_user_id":"US.ENT.11815799212886844830",`+
		`"username":"@maria.souza","status":"active","last_active_at":"2026-03-10T14:02:00Z","created_at":"2026-03-10T14:02:00Z",`+
		`"updated_at":"2026-03-10T14:02:00Z","metadata":{},"phone_number_id":"106540352242922",`+
		`"kapso":{"contact_name":"Maria Souza","messages_count":%d,"last_message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDMDAwMDAwMDAw%010dQA=",`+
		`"last_message_type":"text","last_message_timestamp":"2026-03-10T14:02:00Z","last_inbound_at":"2026-03-10T14:05:00Z",`+
		`"last_outbound_at":"2026-03-10T14:06:00Z"}},"is_new_conversation":%t,"phone_number_id":"106540352242922"}`,
		i, 1773151320+i, text, text, 4+i, i, i == 0)
}

// kapsoEvent is a single delivery, indented as the samples are.
func kapsoEvent(i int) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(kapsoMessage(i)), "", "  "); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// kapsoBatch is a buffered delivery of n messages.
func kapsoBatch(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"type":"whatsapp.message.received","batch":true,"data":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(kapsoMessage(i))
	}
	fmt.Fprintf(&buf, `],"batch_info":{"size":%d,"window_ms":5000,"first_sequence":101,"last_sequence":%d,"conversation_id":"0b8e3f2a-6c1d-4e59-a7b3-4d2f8c9e1a70"}}`, n, 100+n)
	return buf.Bytes()
}

func metaContact(i int) string {
	return fmt.Sprintf(`{"profile":{"name":%s,"username":"@user.%d","country_code":"BR"},"wa_id":"55619%08d","user_id":"BR.7721093847561%07d"}`,
		jsonString([]string{"Maria Souza", "João", "Zoë Müller", "李雷"}[i%4]), i, i, i)
}

func metaMessage(i int) string {
	return fmt.Sprintf(`{"from":"55619%08d","from_user_id":"BR.7721093847561%07d","from_parent_user_id":"BR.ENT.55120938476650192837","id":"wamid.HBgLNTU2MTkwMDAwMDAwFQIAEhgUM0FCQzAwMDAw%010dAA==","timestamp":"%d","type":"text","text":{"body":%s}}`,
		i, i, i, 1773151320+i, jsonString(texts[i%len(texts)]))
}

func metaStatus(i int) string {
	status := []string{"sent", "delivered", "read"}[i%3]
	return fmt.Sprintf(`{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5%010d==","status":%q,"timestamp":"%d","recipient_id":"16505551%03d","recipient_user_id":"US.1349120865530%07d","pricing":{"billable":true,"pricing_model":"PMP","category":"utility"}}`,
		i, status, 1773151320+i, i%1000, i)
}

func join(n int, item func(int) string) string {
	var buf bytes.Buffer
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(item(i))
	}
	return buf.String()
}

// metaBody is a Meta Cloud API payload with one change carrying the given
// numbers of messages, statuses and contacts.
func metaBody(messages, statuses, contacts int) []byte {
	value := `"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}`
	if contacts > 0 {
		value += `,"contacts":[` + join(contacts, metaContact) + `]`
	}
	if messages > 0 {
		value += `,"messages":[` + join(messages, metaMessage) + `]`
	}
	if statuses > 0 {
		value += `,"statuses":[` + join(statuses, metaStatus) + `]`
	}
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{` + value + `}}]}]}`)
}

var bodies = []struct {
	name  string
	shape jsonscan.Shape
	body  []byte
}{
	{"kapso-message", jsonscan.Object, kapsoEvent(0)},
	{"kapso-batch-50", jsonscan.Object, kapsoBatch(50)},
	{"meta-50-50-50", jsonscan.Meta, metaBody(50, 50, 50)},
	{"meta-statuses-1000", jsonscan.Meta, metaBody(0, 1000, 0)},
}

func TestBenchBodies(t *testing.T) {
	for _, c := range bodies {
		if _, err := jsonscan.Scan(c.body, c.shape); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		t.Logf("%s: %d bytes", c.name, len(c.body))
	}
}

func BenchmarkScan(b *testing.B) {
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jsonscan.Scan(c.body, c.shape); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScanBaseline is what Scan replaces, without even the shape check.
func BenchmarkScanBaseline(b *testing.B) {
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(c.body) || !utf8.Valid(c.body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
