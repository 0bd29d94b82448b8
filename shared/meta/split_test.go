package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
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
			name:      "messages change with nothing known is kept whole, with its number",
			body:      `{"entry":[{"id":"W","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"P"},"calls":[{}]}}]}]}`,
			wantNames: []string{"meta.messages"},
			wantPNIDs: []string{"P"},
			wantWABAs: []string{"W"},
		},
		{
			name:      "another field's change carries its number",
			body:      `{"entry":[{"id":"W","changes":[{"value":{"metadata":{"phone_number_id":"P"},"calls":[{}]},"field":"calls"}]}]}`,
			wantNames: []string{"meta.calls"},
			wantPNIDs: []string{"P"},
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
			name: "keys in any order: id after changes, field after value, statuses before messages",
			body: `{"entry":[{"changes":[{"value":{"errors":[],"statuses":[{"id":"s"}],"messages":[{"id":"m"}],
				"metadata":{"phone_number_id":"P"}},"field":"messages"}],"id":"W"}]}`,
			wantNames: []string{NameMessage, NameStatus, NameErrors},
			wantPNIDs: []string{"P", "P", "P"},
			wantWABAs: []string{"W", "W", "W"},
		},
		{
			name: "the last of duplicate keys wins",
			body: `{"entry":[{"id":"X","changes":[{"field":"account_update","value":{}}]}],"entry":[{"id":"W","id":"V",
				"changes":[{"field":"messages","value":{"messages":[{"id":"a"},{"id":"b"}],"messages":[{"id":"c"}],
				"statuses":[{"id":"s"}],"metadata":{"phone_number_id":"P"},"metadata":{"phone_number_id":"Q"}}}]}]}`,
			wantNames: []string{NameMessage, NameStatus},
			wantPNIDs: []string{"Q", "Q"},
			wantWABAs: []string{"V", "V"},
		},
		{
			name:      "keys match case-insensitively, as encoding/json's fields do",
			body:      `{"Entry":[{"ID":"W","Changes":[{"FIELD":"messages","Value":{"Metadata":{"Phone_Number_ID":"P"},"Statuses":[{}]}}]}]}`,
			wantNames: []string{NameStatus},
			wantPNIDs: []string{"P"},
			wantWABAs: []string{"W"},
		},
		{
			name:      "a field that is not messages drops what its value looked like",
			body:      `{"entry":[{"id":"W","changes":[{"value":{"messages":[{"id":"m"}]},"field":"message_echoes"}]}]}`,
			wantNames: []string{"meta.message_echoes"},
			wantPNIDs: []string{""},
			wantWABAs: []string{"W"},
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
			body := []byte(tt.body)
			events, err := Split(body)
			if err != nil {
				t.Fatal(err)
			}
			names, pnids, wabas := []string{}, []string{}, []string{}
			for _, e := range events {
				names = append(names, e.Name())
				pnids = append(pnids, e.PhoneNumberID)
				wabas = append(wabas, e.WABAID)
				checkEvent(t, body, e)
			}
			if !slices.Equal(names, tt.wantNames) || !slices.Equal(pnids, tt.wantPNIDs) || !slices.Equal(wabas, tt.wantWABAs) {
				t.Errorf("names %q pnids %q wabas %q\nwant  %q      %q      %q", names, pnids, wabas, tt.wantNames, tt.wantPNIDs, tt.wantWABAs)
			}
		})
	}
}

func TestSplitPayloads(t *testing.T) {
	body := []byte(`{"entry":[{"id":"W","changes":[{"field":"messages","value":{
		"metadata":{"display_phone_number":"15550783881","phone_number_id":"P"},
		"contacts":[{"profile":{"name":"A"},"wa_id":"1","user_id":"US.1"}],
		"messages":[{"from":"1","id":"m1","type":"text","text":{"body":"hi"},"future_field":{"kept":true}}],
		"statuses":[{"id":"s1","status":"failed","errors":[{"code":131047,"error_data":{"details":"d"}}]}],
		"errors":[{"code":131000,"title":"t"}]}},
		{"field":"account_update","value":{"event":"ACCOUNT_RESTRICTION"}}]}]}`)
	events, err := Split(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 {
		t.Fatalf("%d events, want 4", len(events))
	}
	for _, e := range events {
		checkEvent(t, body, e)
	}

	m, err := DecodeMessage(events[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.WABAID != "W" || m.Metadata.PhoneNumberID != "P" || m.Contact == nil || m.Contact.UserID != "US.1" || m.Contact.Profile.Name != "A" || m.Message.Text.Body != "hi" {
		t.Errorf("message event %+v", m)
	}
	if want := `{"from":"1","id":"m1","type":"text","text":{"body":"hi"},"future_field":{"kept":true}}`; string(events[0].Raw) != want {
		t.Errorf("message raw %s, want %s", events[0].Raw, want)
	}
	if want := `{"display_phone_number":"15550783881","phone_number_id":"P"}`; string(events[0].Metadata) != want {
		t.Errorf("metadata raw %s, want %s", events[0].Metadata, want)
	}

	s, err := DecodeStatus(events[1])
	if err != nil {
		t.Fatal(err)
	}
	if s.Status.ID != "s1" || len(s.Status.Errors) != 1 || s.Status.Errors[0].Details() != "d" || s.Metadata.DisplayPhoneNumber != "15550783881" || s.WABAID != "W" {
		t.Errorf("status event %+v", s)
	}
	if events[1].Contact != nil || strings.Contains(string(events[1].Raw), `"contacts"`) {
		t.Errorf("status event carries message parts: %+v", events[1])
	}

	e, err := DecodeErrors(events[2])
	if err != nil {
		t.Fatal(err)
	}
	if len(e) != 1 || e[0].Code != 131000 || events[2].PhoneNumberID != "P" {
		t.Errorf("errors event %+v", e)
	}

	c := events[3]
	if c.Kind != KindChange || c.Field != "account_update" || c.WABAID != "W" || string(c.Raw) != `{"event":"ACCOUNT_RESTRICTION"}` || !rawjson.Valid(c.Raw) {
		t.Errorf("change event %+v", c)
	}
}

func TestSplitMalformed(t *testing.T) {
	for _, body := range []string{"", "  ", "not json", `[{"object":"whatsapp_business_account"}]`, `null`, `"x"`, `{"entry":[`, `{"a":1}x`,
		`{"entry":[{"id":"W","changes":[{"field":"messages","value":{"messages":[{"id":"m",}]}}]}]}`, "{\"a\":\"\x01\"}"} {
		events, err := Split([]byte(body))
		if !errors.Is(err, ErrMalformed) || events != nil {
			t.Errorf("Split(%q) = %v, %v; want ErrMalformed", body, events, err)
		}
	}
}

// TestSender checks that each message event carries its own sender's
// contact, and only that one.
func TestSender(t *testing.T) {
	const contacts = `[{"wa_id":"1","user_id":"US.1"},{"user_id":"BR.2"},{"wa_id":"3"}]`
	tests := []struct {
		name     string
		contacts string
		message  string
		want     string // the contact's raw JSON; "" for none
	}{
		{"by wa_id", contacts, `{"from":"1"}`, `{"wa_id":"1","user_id":"US.1"}`},
		{"by wa_id, not the first", contacts, `{"from":"3","from_user_id":"XX.9"}`, `{"wa_id":"3"}`},
		{"by user_id when from is empty", contacts, `{"from_user_id":"BR.2"}`, `{"user_id":"BR.2"}`},
		{"the first contact matching either id", contacts, `{"from":"3","from_user_id":"US.1"}`, `{"wa_id":"1","user_id":"US.1"}`},
		{"empty from does not match an empty wa_id", contacts, `{"from":"","from_user_id":"XX.9"}`, ""},
		{"an escaped id still matches", contacts, `{"from":"\u0033"}`, `{"wa_id":"3"}`},
		{"an id of another type matches nothing", `[{"wa_id":1},{"wa_id":"2"}]`, `{"from":1}`, ""},
		{"single contact", `[{"user_id":"BR.2"}]`, `{"from":"999"}`, `{"user_id":"BR.2"}`},
		{"single contact among odd elements", `[7,{"user_id":"BR.2"},null]`, `{"from":"999"}`, `{"user_id":"BR.2"}`},
		{"system message, no contacts", ``, `{"type":"system","system":{"body":"b"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := `"messages":[` + tt.message + `]`
			if tt.contacts != "" {
				value = `"contacts":` + tt.contacts + `,` + value
			}
			body := []byte(`{"entry":[{"id":"W","changes":[{"field":"messages","value":{` + value + `}}]}]}`)
			events, err := Split(body)
			if err != nil || len(events) != 1 {
				t.Fatalf("%d events, %v", len(events), err)
			}
			if got := string(events[0].Contact); got != tt.want {
				t.Errorf("Contact = %s, want %s", got, tt.want)
			}
			m, err := DecodeMessage(events[0])
			if err != nil && tt.name != "an id of another type matches nothing" {
				t.Fatal(err)
			}
			if err == nil && (m.Contact != nil) != (tt.want != "") {
				t.Errorf("decoded contact %+v", m.Contact)
			}
		})
	}
}

// TestSenderOfEachMessage gives every message of a change a contact of its
// own, as Meta does when it batches messages from several people, and
// checks each event carries its sender's contact alone, for a change small
// enough to be scanned and one large enough to be indexed.
func TestSenderOfEachMessage(t *testing.T) {
	for _, n := range []int{3, indexThreshold + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var contacts, messages []string
			for i := range n {
				// Half the people have a phone number, all have a BSUID;
				// the messages come in the reverse order of the contacts.
				wa := ""
				if i%2 == 0 {
					wa = fmt.Sprintf(`"wa_id":"%d",`, 1000+i)
				}
				contacts = append(contacts, fmt.Sprintf(`{"profile":{"name":"P%d"},%s"user_id":"US.%d"}`, i, wa, i))
				from := ""
				if i%2 == 0 {
					from = fmt.Sprintf(`"from":"%d",`, 1000+i)
				}
				messages = append([]string{fmt.Sprintf(`{%s"from_user_id":"US.%d","id":"m%d","type":"text","text":{"body":"b"}}`, from, i, i)}, messages...)
			}
			body := []byte(`{"entry":[{"id":"W","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"P"},"contacts":[` +
				strings.Join(contacts, ",") + `],"messages":[` + strings.Join(messages, ",") + `]}}]}]}`)
			events, err := Split(body)
			if err != nil || len(events) != n {
				t.Fatalf("%d events, %v", len(events), err)
			}
			for _, e := range events {
				checkEvent(t, body, e)
				m, err := DecodeMessage(e)
				if err != nil {
					t.Fatal(err)
				}
				i := strings.TrimPrefix(m.Message.ID, "m")
				if m.Contact == nil || m.Contact.UserID != "US."+i || m.Contact.Profile.Name != "P"+i {
					t.Errorf("message %s: contact %+v", m.Message.ID, m.Contact)
				}
				if strings.Count(string(e.Contact), "user_id") != 1 {
					t.Errorf("message %s: contact %s is not one contact", m.Message.ID, e.Contact)
				}
			}
		})
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, raw := range []string{"", "null", "[]", "{", `{"id":5,"wa_id":5,"phone_number_id":5}`, `{"id":"x"} x`} {
		_, e1 := DecodeMessage(Event{Kind: KindMessage, Raw: []byte(raw)})
		_, e2 := DecodeStatus(Event{Kind: KindStatus, Raw: []byte(raw)})
		_, e3 := DecodeMessage(Event{Kind: KindMessage, Raw: []byte(`{}`), Contact: []byte(raw)})
		_, e4 := DecodeStatus(Event{Kind: KindStatus, Raw: []byte(`{}`), Metadata: []byte(raw)})
		for i, err := range []error{e1, e2, e3, e4} {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("decoder %d on %q: err = %v, want ErrMalformed", i, raw, err)
			}
		}
	}
	for _, raw := range []string{"", "{}", "null", "[", `[{"code":"x"}]`, `[1]`} {
		if _, err := DecodeErrors(Event{Kind: KindErrors, Raw: []byte(raw)}); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeErrors(%q): err = %v, want ErrMalformed", raw, err)
		}
	}
	// An event of another kind is not decoded as this one.
	if _, err := DecodeMessage(Event{Kind: KindStatus, Raw: []byte(`{}`)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("status decoded as a message: %v", err)
	}
}

// TestSplitChangeValue checks that a change event's Raw, which consumers
// read as is, is always valid JSON: a malformed value fails the whole
// delivery, and a value of any JSON type is kept verbatim.
func TestSplitChangeValue(t *testing.T) {
	body := func(value string) []byte {
		return []byte(`{"entry":[{"id":"W","changes":[{"field":"f","value":` + value + `}]}]}`)
	}
	for _, raw := range []string{"", "{", "nul"} {
		if events, err := Split(body(raw)); !errors.Is(err, ErrMalformed) || events != nil {
			t.Errorf("value %q: Split = %v, %v; want ErrMalformed", raw, events, err)
		}
	}
	for _, raw := range []string{"null", "[]", `"x"`, "{}"} {
		events, err := Split(body(raw))
		if err != nil || len(events) != 1 {
			t.Fatalf("value %q: %d events, %v", raw, len(events), err)
		}
		e := events[0]
		if e.Kind != KindChange || e.Field != "f" || e.WABAID != "W" || string(e.Raw) != raw || !rawjson.Valid(e.Raw) {
			t.Errorf("value %q: event %+v", raw, e)
		}
	}
}

func TestEmptyErrorsArray(t *testing.T) {
	errs, err := DecodeErrors(Event{Kind: KindErrors, Raw: []byte(`[]`)})
	if err != nil || errs == nil || len(errs) != 0 {
		t.Errorf("DecodeErrors([]) = %#v, %v; want an empty slice", errs, err)
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
	body := statusesPayload(1000)
	events, err := Split(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1000 {
		t.Fatalf("%d events, want 1000", len(events))
	}
	for i, e := range events {
		checkEvent(t, body, e)
		s, err := DecodeStatus(e)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI%06d", i); e.Kind != KindStatus || s.Status.ID != want ||
			s.Metadata.PhoneNumberID != "106540352242922" || s.WABAID != "102290129340398" || s.Status.Pricing == nil || !*s.Status.Pricing.Billable {
			t.Fatalf("event %d: %+v", i, s)
		}
	}
}

// checkEvent checks what holds for every event: its byte fields are valid
// JSON cut out of body, not copies.
func checkEvent(t testing.TB, body []byte, e Event) {
	t.Helper()
	if e.Kind < KindMessage || e.Kind > KindChange || !strings.HasPrefix(e.Name(), NamePrefix) {
		t.Fatalf("event %+v: kind %d, name %q", e, e.Kind, e.Name())
	}
	if e.Kind != KindChange && e.Field != FieldMessages {
		t.Fatalf("%s event of field %q", e.Name(), e.Field)
	}
	for _, part := range []struct {
		name string
		raw  []byte
	}{{"raw", e.Raw}, {"metadata", e.Metadata}, {"contact", e.Contact}} {
		if part.raw == nil && part.name != "raw" {
			continue
		}
		if !json.Valid(part.raw) {
			t.Fatalf("%s %s %q is not valid JSON", e.Name(), part.name, part.raw)
		}
		if part.name == "raw" && e.Kind == KindChange && string(part.raw) == "null" && offset(body, part.raw) < 0 {
			continue // a change without a value
		}
		if offset(body, part.raw) < 0 {
			t.Fatalf("%s %s %q is not a sub-slice of the body", e.Name(), part.name, part.raw)
		}
		if (part.name != "raw" || e.Kind <= KindStatus) && part.raw[0] != '{' {
			t.Fatalf("%s %s %q is not an object", e.Name(), part.name, part.raw)
		}
	}
	if e.Kind == KindErrors && e.Raw[0] != '[' {
		t.Fatalf("errors %q is not an array", e.Raw)
	}
	if e.Kind != KindMessage && e.Contact != nil {
		t.Fatalf("%s event has a contact", e.Name())
	}
}

// offset returns where sub starts in body when it is a slice of body's own
// memory (not merely equal bytes), else -1.
func offset(body, sub []byte) int {
	if len(sub) == 0 || len(sub) > len(body) {
		return -1
	}
	for i := 0; i+len(sub) <= len(body); i++ {
		if &body[i] == &sub[0] {
			return i
		}
	}
	return -1
}
