package kapso

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name      string
		header    string
		body      string
		wantNames []string
		wantPNIDs []string
		// wantPayloads, when set, is each item's payload compared as JSON.
		wantPayloads []string
	}{
		{
			name:         "bare v2 payload named by header",
			header:       EventMessageReceived,
			body:         `{"message":{"id":"wamid.1"},"phone_number_id":"111"}`,
			wantNames:    []string{EventMessageReceived},
			wantPNIDs:    []string{"111"},
			wantPayloads: []string{`{"message":{"id":"wamid.1"},"phone_number_id":"111"}`},
		},
		{
			name:      "header is trimmed",
			header:    "  " + EventMessageSent + "\t",
			body:      `{}`,
			wantNames: []string{EventMessageSent},
			wantPNIDs: []string{""},
		},
		{
			name:      "phone_number_id from conversation",
			header:    EventConversationEnded,
			body:      `{"conversation":{"id":"c1","phone_number_id":"222"}}`,
			wantNames: []string{EventConversationEnded},
			wantPNIDs: []string{"222"},
		},
		{
			name:      "phone_number_id from whatsapp_config",
			header:    EventConfigCreated,
			body:      `{"whatsapp_config":{"phone_number_id":"333"},"phone_number":null}`,
			wantNames: []string{EventConfigCreated},
			wantPNIDs: []string{"333"},
		},
		{
			name:      "top-level phone_number_id wins over conversation",
			header:    EventMessageRead,
			body:      `{"phone_number_id":"444","conversation":{"phone_number_id":"555"}}`,
			wantNames: []string{EventMessageRead},
			wantPNIDs: []string{"444"},
		},
		{
			name:      "null and empty phone_number_id fall through",
			header:    EventMessageRead,
			body:      `{"phone_number_id":null,"conversation":{"phone_number_id":""},"whatsapp_config":{"phone_number_id":"666"}}`,
			wantNames: []string{EventMessageRead},
			wantPNIDs: []string{"666"},
		},
		{
			name:      "numeric phone_number_id kept as digits",
			header:    EventPhoneNumberCreated,
			body:      `{"phone_number_id":106540352242922}`,
			wantNames: []string{EventPhoneNumberCreated},
			wantPNIDs: []string{"106540352242922"},
		},
		{
			name:      "phone_number_id of the wrong type is ignored",
			header:    EventPhoneNumberCreated,
			body:      `{"phone_number_id":{"id":"1"},"conversation":"c"}`,
			wantNames: []string{EventPhoneNumberCreated},
			wantPNIDs: []string{""},
		},
		{
			name:         "legacy wrapper, no header",
			body:         `{"event":"whatsapp.message.delivered","data":{"message":{"id":"wamid.2"},"phone_number_id":"777"}}`,
			wantNames:    []string{EventMessageDelivered},
			wantPNIDs:    []string{"777"},
			wantPayloads: []string{`{"message":{"id":"wamid.2"},"phone_number_id":"777"}`},
		},
		{
			name:         "legacy wrapper, its signed name wins over a different header",
			header:       EventMessageFailed,
			body:         `{"event":"whatsapp.message.sent","data":{"phone_number_id":"888"}}`,
			wantNames:    []string{EventMessageSent},
			wantPNIDs:    []string{"888"},
			wantPayloads: []string{`{"phone_number_id":"888"}`},
		},
		{
			name:         "workflow event carries event but is not a wrapper",
			body:         `{"event":"workflow.execution.failed","workflow_id":"wf1","error":{"message":"x"}}`,
			wantNames:    []string{EventWorkflowExecutionFailed},
			wantPNIDs:    []string{""},
			wantPayloads: []string{`{"event":"workflow.execution.failed","workflow_id":"wf1","error":{"message":"x"}}`},
		},
		{
			name:         "event with non-object data is not a wrapper",
			header:       EventProjectEvent,
			body:         `{"event":"project.event","data":[1,2]}`,
			wantNames:    []string{EventProjectEvent},
			wantPNIDs:    []string{""},
			wantPayloads: []string{`{"event":"project.event","data":[1,2]}`},
		},
		{
			name:         "data object without event is not a wrapper",
			header:       EventProjectEvent,
			body:         `{"data":{"phone_number_id":"1"}}`,
			wantNames:    []string{EventProjectEvent},
			wantPNIDs:    []string{""},
			wantPayloads: []string{`{"data":{"phone_number_id":"1"}}`},
		},
		{
			name:      "batch named by type",
			body:      `{"type":"whatsapp.message.received","batch":true,"data":[{"phone_number_id":"1","message":{"id":"a"}},{"conversation":{"phone_number_id":"2"}},{}],"batch_info":{"size":3}}`,
			wantNames: []string{EventMessageReceived, EventMessageReceived, EventMessageReceived},
			wantPNIDs: []string{"1", "2", ""},
			wantPayloads: []string{
				`{"phone_number_id":"1","message":{"id":"a"}}`,
				`{"conversation":{"phone_number_id":"2"}}`,
				`{}`,
			},
		},
		{
			name:      "batch, its signed type wins over a different header",
			header:    "whatsapp.message.failed",
			body:      `{"type":"whatsapp.message.received","batch":true,"data":[{"phone_number_id":"9"}]}`,
			wantNames: []string{EventMessageReceived},
			wantPNIDs: []string{"9"},
		},
		{
			name:      "empty batch is zero items",
			header:    EventMessageReceived,
			body:      `{"type":"whatsapp.message.received","batch":true,"data":[],"batch_info":{"size":0}}`,
			wantNames: []string{},
			wantPNIDs: []string{},
		},
		{
			name:      "batch:false is a bare payload",
			header:    EventMessageReceived,
			body:      `{"batch":false,"data":[1],"phone_number_id":"5"}`,
			wantNames: []string{EventMessageReceived},
			wantPNIDs: []string{"5"},
		},
		{
			name:      "unknown event name returned as is",
			header:    "whatsapp.phone_number.quality_changed",
			body:      `{"phone_number_id":"42"}`,
			wantNames: []string{"whatsapp.phone_number.quality_changed"},
			wantPNIDs: []string{"42"},
		},
		{
			name:      "no name anywhere",
			body:      `{"phone_number_id":"42"}`,
			wantNames: []string{EventUnknown},
			wantPNIDs: []string{"42"},
		},
		{
			name:      "no header, name from type",
			body:      `{"type":"whatsapp.message.received"}`,
			wantNames: []string{EventMessageReceived},
			wantPNIDs: []string{""},
		},
		{
			name:      "non-string event is ignored",
			body:      `{"event":7,"data":{"phone_number_id":"3"}}`,
			wantNames: []string{EventUnknown},
			wantPNIDs: []string{""},
		},
		{
			name:      "whitespace around the body",
			header:    EventMessageReceived,
			body:      " \r\n{\"phone_number_id\":\"12\"}\r\n",
			wantNames: []string{EventMessageReceived},
			wantPNIDs: []string{"12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			items, err := Split(tt.header, body)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			for i, it := range items {
				if offset(body, it.Payload) < 0 {
					t.Errorf("item %d payload %q is not a sub-slice of the body", i, it.Payload)
				}
			}
			names, pnids := namesAndIDs(items)
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("names = %q, want %q", names, tt.wantNames)
			}
			if !slices.Equal(pnids, tt.wantPNIDs) {
				t.Errorf("phone_number_ids = %q, want %q", pnids, tt.wantPNIDs)
			}
			for i, want := range tt.wantPayloads {
				if i >= len(items) {
					break
				}
				assertJSONEqual(t, items[i].Payload, want)
			}
		})
	}
}

func TestSplitMalformed(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"whitespace", " \n"},
		{"not JSON", "event=whatsapp.message.received"},
		{"JSON array", `[{"message":{}}]`},
		{"JSON string", `"hello"`},
		{"JSON null", `null`},
		{"JSON number", `42`},
		{"truncated", `{"message":{"id":"wamid.1"`},
		{"trailing garbage", `{"a":1} {"b":2}`},
		{"batch data object", `{"type":"t","batch":true,"data":{"message":{}}}`},
		{"batch data null", `{"type":"t","batch":true,"data":null}`},
		{"batch data missing", `{"type":"t","batch":true}`},
		{"batch data string", `{"type":"t","batch":true,"data":"[]"}`},
		{"batch element not an object", `{"type":"t","batch":true,"data":[{},"x"]}`},
		{"batch element null", `{"type":"t","batch":true,"data":[null]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := Split(EventMessageReceived, []byte(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Split(%q) = %d items, err %v; want ErrMalformed", tt.body, len(items), err)
			}
			if items != nil {
				t.Errorf("items = %v, want nil on error", items)
			}
		})
	}
}

func TestSplitBatchItemErrorNamesTheItem(t *testing.T) {
	_, err := Split("", []byte(`{"batch":true,"data":[{},{},7]}`))
	if err == nil || !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if got := err.Error(); !strings.Contains(got, "batch item 2") {
		t.Errorf("error %q does not name the item", got)
	}
}

func namesAndIDs(items []Item) (names, pnids []string) {
	names, pnids = []string{}, []string{}
	for _, it := range items {
		names = append(names, it.Name)
		pnids = append(pnids, it.PhoneNumberID)
	}
	return names, pnids
}

func assertJSONEqual(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("payload %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("payload = %s, want %s", gb, wb)
	}
}

// offset returns where sub starts in body when it is a slice of body's own
// memory (not merely equal bytes), else -1.
func offset(body, sub []byte) int {
	if len(sub) == 0 {
		return -1
	}
	for i := 0; i+len(sub) <= len(body); i++ {
		if &body[i] == &sub[0] {
			return i
		}
	}
	return -1
}

func TestSplitBenchBatch(t *testing.T) {
	body := benchPayload(t, "kapso-batch-50")
	items, err := Split("", body)
	if err != nil || len(items) != 50 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	for i, it := range items {
		if it.Name != EventMessageReceived || it.PhoneNumberID == "" || offset(body, it.Payload) < 0 || !json.Valid(it.Payload) {
			t.Errorf("item %d: %s %q", i, it.Name, it.PhoneNumberID)
		}
		if _, err := DecodeMessageEvent(it.Payload); err != nil {
			t.Errorf("item %d: %v", i, err)
		}
	}
}
