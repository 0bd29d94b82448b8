package kapso

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeMessageEventTolerance(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		check func(t *testing.T, ev MessageEvent)
	}{
		{"all identity fields null", `{"message":{"id":"w1","from":null,"from_user_id":null,"to":null,"username":null,"text":null,"kapso":null},"conversation":{"phone_number":null,"metadata":null}}`,
			func(t *testing.T, ev MessageEvent) {
				if ev.Message.ID != "w1" || ev.Message.From != "" || ev.Message.Text != nil || ev.Conversation.PhoneNumber != "" {
					t.Errorf("got %+v", ev)
				}
			}},
		{"unknown fields ignored", `{"message":{"id":"w2","brand_new":{"x":1},"kapso":{"future":true,"status":"sent"}},"extra":[1]}`,
			func(t *testing.T, ev MessageEvent) {
				if ev.Message.ID != "w2" || ev.Message.Kapso.Status != "sent" {
					t.Errorf("got %+v", ev)
				}
			}},
		{"phone_number_id from conversation", `{"conversation":{"phone_number_id":"99"}}`,
			func(t *testing.T, ev MessageEvent) {
				if ev.PhoneNumberID != "99" {
					t.Errorf("phone_number_id %q", ev.PhoneNumberID)
				}
			}},
		{"top-level phone_number_id kept", `{"phone_number_id":"1","conversation":{"phone_number_id":"2"}}`,
			func(t *testing.T, ev MessageEvent) {
				if ev.PhoneNumberID != "1" {
					t.Errorf("phone_number_id %q", ev.PhoneNumberID)
				}
			}},
		{"type-specific object kept raw", `{"message":{"type":"location","location":{"latitude":-23.5,"longitude":-46.6}}}`,
			func(t *testing.T, ev MessageEvent) {
				var loc struct{ Latitude float64 }
				if err := json.Unmarshal(ev.Message.Location, &loc); err != nil || loc.Latitude != -23.5 {
					t.Errorf("location %s: %v", ev.Message.Location, err)
				}
			}},
		{"context of a reply", `{"message":{"context":{"from":"15550783881","id":"wamid.prev"}}}`,
			func(t *testing.T, ev MessageEvent) {
				if ev.Message.Context == nil || ev.Message.Context.ID != "wamid.prev" {
					t.Errorf("context %+v", ev.Message.Context)
				}
			}},
		{"empty object", `{}`,
			func(t *testing.T, ev MessageEvent) {
				if !reflect.DeepEqual(ev, MessageEvent{}) {
					t.Errorf("got %+v", ev)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := DecodeMessageEvent(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}

func TestDecodeRejectsNonObjects(t *testing.T) {
	decoders := map[string]func(json.RawMessage) error{
		"message":      func(r json.RawMessage) error { _, err := DecodeMessageEvent(r); return err },
		"conversation": func(r json.RawMessage) error { _, err := DecodeConversationEvent(r); return err },
		"identity":     func(r json.RawMessage) error { _, err := DecodeContactIdentityChanged(r); return err },
		"marketing":    func(r json.RawMessage) error { _, err := DecodeMarketingPreferenceChanged(r); return err },
		"created":      func(r json.RawMessage) error { _, err := decodePhoneNumberCreated(r); return err },
		"config":       func(r json.RawMessage) error { _, err := decodeConfigCreated(r); return err },
		"connection":   func(r json.RawMessage) error { _, err := DecodeConnectionCreated(EventConfigCreated, r); return err },
		"lifecycle":    func(r json.RawMessage) error { _, err := DecodePhoneNumberLifecycle(r); return err },
		"workflow":     func(r json.RawMessage) error { _, err := decodeWorkflowEvent(r); return err },
	}
	for name, decode := range decoders {
		for _, raw := range []string{"", "null", "[]", `"x"`, "{", `{"message":"text"}`[:5]} {
			if err := decode(json.RawMessage(raw)); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s(%q): err = %v, want ErrMalformed", name, raw, err)
			}
		}
	}
}

func TestDecodeWrongTypeReturnsZero(t *testing.T) {
	ev, err := DecodeMessageEvent(json.RawMessage(`{"phone_number_id":"1","message":{"id":"w","kapso":{"has_media":"yes"}}}`))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if !reflect.DeepEqual(ev, MessageEvent{}) {
		t.Errorf("half-decoded event returned: %+v", ev)
	}
}

// TestStatusHistoryErrors checks that each status of a message's status
// history keeps its own errors, with their details.
func TestStatusHistoryErrors(t *testing.T) {
	tests := []struct {
		name      string
		statuses  string
		wantCodes [][]int // per status
	}{
		{"no statuses", `[]`, nil},
		{"last has errors", `[{"status":"sent"},{"status":"failed","errors":[{"code":131047,"title":"Re-engagement message","error_data":{"details":"24h"}},{"code":131026}]}]`, [][]int{nil, {131047, 131026}}},
		{"an earlier status's errors stay with it", `[{"status":"failed","errors":[{"code":1}]},{"status":"delivered"}]`, [][]int{{1}, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := json.Unmarshal([]byte(`{"kapso":{"statuses":`+tt.statuses+`}}`), &m); err != nil {
				t.Fatal(err)
			}
			var codes [][]int
			for _, s := range m.Kapso.Statuses {
				var c []int
				for _, e := range s.Errors {
					c = append(c, e.Code)
				}
				codes = append(codes, c)
			}
			if !reflect.DeepEqual(codes, tt.wantCodes) {
				t.Errorf("codes %v, want %v", codes, tt.wantCodes)
			}
		})
	}
	var m Message
	_ = json.Unmarshal([]byte(`{"kapso":{"statuses":[{"errors":[{"code":5,"message":"m","error_data":{"details":"d"}}]}]}}`), &m)
	if s := m.Kapso.Statuses; len(s) != 1 || len(s[0].Errors) != 1 || s[0].Errors[0].Details() != "d" || s[0].Errors[0].Message != "m" {
		t.Errorf("statuses %+v", s)
	}
}

func TestReactionRemoval(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{`{"type":"reaction","reaction":{"message_id":"w"}}`, true},
		{`{"type":"reaction","reaction":{"message_id":"w","emoji":null}}`, true},
		{`{"type":"reaction","reaction":{"message_id":"w","emoji":""}}`, true},
		{`{"type":"reaction"}`, true},
		{`{"type":"reaction","reaction":{"message_id":"w","emoji":"👍"}}`, false},
		{`{"type":"text","text":{"body":"hi"}}`, false},
	}
	for _, tt := range tests {
		var m Message
		if err := json.Unmarshal([]byte(tt.raw), &m); err != nil {
			t.Fatal(err)
		}
		if got := m.IsReactionRemoval(); got != tt.want {
			t.Errorf("%s: IsReactionRemoval = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

func TestTranscriptText(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`{}`, ""},
		{`{"transcript":null}`, ""},
		{`{"transcript":"olá"}`, "olá"},
		{`{"transcript":{"text":"bom dia","language":"pt"}}`, "bom dia"},
		{`{"transcript":42}`, ""},
	}
	for _, tt := range tests {
		var k MessageKapso
		if err := json.Unmarshal([]byte(tt.raw), &k); err != nil {
			t.Fatal(err)
		}
		if got := k.TranscriptText(); got != tt.want {
			t.Errorf("%s: TranscriptText = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestConfigCreatedAsPhoneNumberCreated(t *testing.T) {
	tests := []struct {
		name             string
		raw              string
		wantCustomer     string
		wantCoexistence  bool
		wantSetupLinkSet bool
	}{
		{"customer object", `{"whatsapp_config":{"phone_number_id":"1","customer_id":"from-config"},"customer":{"id":"c1"}}`, "c1", false, false},
		{"customer id from config", `{"whatsapp_config":{"phone_number_id":"1","customer_id":"from-config"}}`, "from-config", false, false},
		{"coexistence from config", `{"whatsapp_config":{"is_coexistence":true},"setup_link":{"id":"l"}}`, "", true, true},
		{"coexistence from context", `{"creation_context":{"coexistence":true}}`, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := decodeConfigCreated(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			got := c.asPhoneNumberCreated()
			if got.Customer.ID != tt.wantCustomer || got.IsCoexistence == nil || *got.IsCoexistence != tt.wantCoexistence || (got.SetupLink != nil) != tt.wantSetupLinkSet {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestDecodePhoneNumberLifecycleFallsBackToConfig(t *testing.T) {
	ev, err := DecodePhoneNumberLifecycle(json.RawMessage(`{"whatsapp_config":{"phone_number_id":"77","business_account_id":"w"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.PhoneNumberID != "77" || ev.Customer != nil || ev.Project != nil {
		t.Errorf("got %+v", ev)
	}
}
