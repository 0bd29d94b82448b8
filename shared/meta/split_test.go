package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantNames []string
		wantPNIDs []string
		wantWABAs []string
	}{
		{
			name: "messages and statuses of one change",
			body: `{"object":"whatsapp_business_account","entry":[{"id":"W1","changes":[{"field":"messages","value":{
				"metadata":{"phone_number_id":"P1"},"contacts":[{"wa_id":"1"}],
				"messages":[{"id":"m1"},{"id":"m2"}],"statuses":[{"id":"s1"}]}}]}]}`,
			wantNames: []string{NameMessage, NameMessage, NameStatus},
			wantPNIDs: []string{"P1", "P1", "P1"},
			wantWABAs: []string{"W1", "W1", "W1"},
		},
		{
			name: "two entries, other fields, errors",
			body: `{"object":"whatsapp_business_account","entry":[
				{"id":"W1","changes":[{"field":"account_update","value":{"event":"X"}},
					{"field":"messages","value":{"metadata":{"phone_number_id":"P1"},"errors":[{"code":1}]}}]},
				{"id":"W2","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"P2"},"statuses":[{"id":"s"}]}}]}]}`,
			wantNames: []string{"meta.account_update", NameErrors, NameStatus},
			wantPNIDs: []string{"", "P1", "P2"},
			wantWABAs: []string{"W1", "W1", "W2"},
		},
		{
			name:      "numeric ids kept as digits",
			body:      `{"entry":[{"id":102290129340398,"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":106540352242922},"messages":[{}]}}]}]}`,
			wantNames: []string{NameMessage},
			wantPNIDs: []string{"106540352242922"},
			wantWABAs: []string{"102290129340398"},
		},
		{
			name:      "messages change with nothing known is kept whole",
			body:      `{"entry":[{"id":"W","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"P"},"calls":[{}]}}]}]}`,
			wantNames: []string{"meta.messages"},
			wantPNIDs: []string{""},
			wantWABAs: []string{"W"},
		},
		{
			name:      "change without field or value",
			body:      `{"entry":[{"id":"W","changes":[{}]}]}`,
			wantNames: []string{"meta.unknown"},
			wantPNIDs: []string{""},
			wantWABAs: []string{"W"},
		},
		{
			name:      "another object type is still read",
			body:      `{"object":"page","entry":[{"id":"W","changes":[{"field":"feed","value":{}}]}]}`,
			wantNames: []string{"meta.feed"},
			wantPNIDs: []string{""},
			wantWABAs: []string{"W"},
		},
		{
			name: "odd shapes inside are skipped",
			body: `{"entry":[1,"x",null,{"id":"W","changes":"nope"},{"id":"W2","changes":[7,{"field":"messages","value":{
				"metadata":"odd","contacts":{},"messages":[1,{"id":"m"},null],"statuses":"no","errors":{}}}]}]}`,
			wantNames: []string{NameMessage},
			wantPNIDs: []string{""},
			wantWABAs: []string{"W2"},
		},
		{
			name:      "no entry",
			body:      `{"object":"whatsapp_business_account"}`,
			wantNames: []string{},
			wantPNIDs: []string{},
			wantWABAs: []string{},
		},
		{
			name:      "entry not an array",
			body:      `{"entry":{"id":"W"}}`,
			wantNames: []string{},
			wantPNIDs: []string{},
			wantWABAs: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Split([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			names, pnids, wabas := []string{}, []string{}, []string{}
			for _, it := range items {
				names = append(names, it.Name)
				pnids = append(pnids, it.PhoneNumberID)
				wabas = append(wabas, it.WABAID)
				if !json.Valid(it.Payload) {
					t.Errorf("%s payload %q is not JSON", it.Name, it.Payload)
				}
			}
			if !slices.Equal(names, tt.wantNames) || !slices.Equal(pnids, tt.wantPNIDs) || !slices.Equal(wabas, tt.wantWABAs) {
				t.Errorf("names %q pnids %q wabas %q\nwant  %q      %q      %q", names, pnids, wabas, tt.wantNames, tt.wantPNIDs, tt.wantWABAs)
			}
		})
	}
}

func TestSplitPayloads(t *testing.T) {
	body := `{"entry":[{"id":"W","changes":[{"field":"messages","value":{
		"metadata":{"display_phone_number":"15550783881","phone_number_id":"P"},
		"contacts":[{"profile":{"name":"A"},"wa_id":"1","user_id":"US.1"}],
		"messages":[{"from":"1","id":"m1","type":"text","text":{"body":"hi"},"future_field":{"kept":true}}],
		"statuses":[{"id":"s1","status":"failed","errors":[{"code":131047,"error_data":{"details":"d"}}]}],
		"errors":[{"code":131000,"title":"t"}]}},
		{"field":"account_update","value":{"event":"ACCOUNT_RESTRICTION"}}]}]}`
	items, err := Split([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}

	m, err := DecodeMessageItem(items[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if m.WABAID != "W" || m.Metadata.PhoneNumberID != "P" || len(m.Contacts) != 1 || m.Message.Text.Body != "hi" {
		t.Errorf("message item %+v", m)
	}
	if !strings.Contains(string(items[0].Payload), `"future_field":{"kept":true}`) {
		t.Errorf("unknown message field dropped: %s", items[0].Payload)
	}

	s, err := DecodeStatusItem(items[1].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status.ID != "s1" || len(s.Status.Errors) != 1 || s.Status.Errors[0].Details() != "d" || s.Metadata.DisplayPhoneNumber != "15550783881" {
		t.Errorf("status item %+v", s)
	}
	if strings.Contains(string(items[1].Payload), `"contacts"`) || strings.Contains(string(items[1].Payload), `"message"`) {
		t.Errorf("status payload carries message parts: %s", items[1].Payload)
	}

	e, err := DecodeErrorsItem(items[2].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Errors) != 1 || e.Errors[0].Code != 131000 || e.Metadata.PhoneNumberID != "P" {
		t.Errorf("errors item %+v", e)
	}

	c, err := DecodeChangeItem(items[3].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if c.Field != "account_update" || c.WABAID != "W" || !strings.Contains(string(c.Value), "ACCOUNT_RESTRICTION") {
		t.Errorf("change item %+v", c)
	}
}

func TestSplitMalformed(t *testing.T) {
	for _, body := range []string{"", "  ", "not json", `[{"object":"whatsapp_business_account"}]`, `null`, `"x"`, `{"entry":[`, `{"a":1}x`} {
		items, err := Split([]byte(body))
		if !errors.Is(err, ErrMalformed) || items != nil {
			t.Errorf("Split(%q) = %v, %v; want ErrMalformed", body, items, err)
		}
	}
}

func TestSender(t *testing.T) {
	contacts := []Contact{{WaID: "1", UserID: "US.1"}, {UserID: "BR.2"}}
	tests := []struct {
		name     string
		contacts []Contact
		msg      Message
		wantUser string
		wantOK   bool
	}{
		{"by wa_id", contacts, Message{From: "1"}, "US.1", true},
		{"by user_id when from is empty", contacts, Message{FromUserID: "BR.2"}, "BR.2", true},
		{"empty from does not match an empty wa_id", contacts, Message{From: "", FromUserID: "XX.9"}, "", false},
		{"single contact", contacts[1:], Message{From: "999"}, "BR.2", true},
		{"system message, no contacts", nil, Message{Type: "system"}, "", false},
	}
	for _, tt := range tests {
		c, ok := MessageItem{Contacts: tt.contacts, Message: tt.msg}.Sender()
		if ok != tt.wantOK || c.UserID != tt.wantUser {
			t.Errorf("%s: Sender = %+v, %v; want user %q, %v", tt.name, c, ok, tt.wantUser, tt.wantOK)
		}
	}
}

func TestDecodeItemsRejectNonObjects(t *testing.T) {
	for _, raw := range []string{"", "null", "[]", "{"} {
		_, e1 := DecodeMessageItem(json.RawMessage(raw))
		_, e2 := DecodeStatusItem(json.RawMessage(raw))
		_, e3 := DecodeErrorsItem(json.RawMessage(raw))
		_, e4 := DecodeChangeItem(json.RawMessage(raw))
		for i, err := range []error{e1, e2, e3, e4} {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("decoder %d on %q: err = %v, want ErrMalformed", i, raw, err)
			}
		}
	}
}

// statusesPayload builds one change carrying n statuses, as Meta batches them.
func statusesPayload(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI%06d","status":"delivered","timestamp":"1773151560","recipient_id":"16505551234","recipient_user_id":"US.13491208655302741918","pricing":{"billable":true,"pricing_model":"PMP","category":"utility"}}`, i)
	}
	b.WriteString(`]}}]}]}`)
	return []byte(b.String())
}

func TestSplitThousandStatuses(t *testing.T) {
	items, err := Split(statusesPayload(1000))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1000 || items[999].Name != NameStatus || !strings.Contains(string(items[999].Payload), "000999") {
		t.Errorf("%d items, last %+v", len(items), items[len(items)-1])
	}
}

func BenchmarkSplit(b *testing.B) {
	body := statusesPayload(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := Split(body)
		if err != nil || len(items) != 1000 {
			b.Fatalf("%d items, %v", len(items), err)
		}
	}
}

// BenchmarkSplitBaseline decodes the same body into untyped JSON: the least
// any reader of it must do. make bench reports Split as a ratio to it.
func BenchmarkSplitBaseline(b *testing.B) {
	body := statusesPayload(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}
