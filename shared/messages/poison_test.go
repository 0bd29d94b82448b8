package messages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// kapsoInbound is one whatsapp.message.received payload: maria writes text
// in conversation conv.
func kapsoInbound(wamid, conv, text string, at int64) map[string]any {
	return map[string]any{
		"message": map[string]any{"id": wamid, "timestamp": fmt.Sprint(at), "type": "text", "from": maria.phone,
			"from_user_id": maria.bsuid, "to": "15550783881", "text": map[string]any{"body": text},
			"kapso": map[string]any{"direction": "inbound", "content": text, "contact_name": maria.name}},
		"conversation": map[string]any{"id": conv, "phone_number": "+" + maria.phone, "business_scoped_user_id": maria.bsuid,
			"status": "active", "phone_number_id": numberA},
		"phone_number_id": numberA,
	}
}

// kapsoBatch is a batch delivery of the payloads.
func kapsoBatch(t *testing.T, payloads ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": "whatsapp.message.received", "batch": true, "data": payloads})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reasons lists the reasons of what was kept aside, by the word before the
// colon.
func (r *rig) reasons() map[string][]string {
	out := map[string][]string{}
	for _, k := range r.kept() {
		word, _, _ := strings.Cut(k.Reason, ":")
		out[word] = append(out[word], k.Reason)
	}
	return out
}

// One signed batch carries a 3,000-byte WAMID, a 2,000-byte conversation
// id and a 300 KB text among good messages: the good ones are stored, the
// bad ones kept aside as unusable with the field they break, and the queue
// message succeeds (nothing for SQS to retry, nothing for the DLQ).
func TestOverLongFieldsAreKeptAside(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		at := int64(1773151320)
		body := kapsoBatch(t,
			kapsoInbound("wamid.good1", "conv-good", "hello", at),
			kapsoInbound("wamid."+strings.Repeat("w", 3000), "conv-good", "long id", at+1),
			kapsoInbound("wamid.longconv", strings.Repeat("c", 2000), "long conversation", at+2),
			kapsoInbound("wamid.longtext", "conv-good", strings.Repeat("t", 300<<10), at+3),
			kapsoInbound("wamid.good2", "conv-good", "bye", at+4),
		)
		r.handle(r.kapso(numberA, "whatsapp.message.received", body))

		for _, id := range []string{"wamid.good1", "wamid.good2"} {
			if m, ok := r.get(tenantA, id); !ok || !m.Known || m.ConversationID != "conv-good" {
				t.Errorf("%s: ok %v %+v", id, ok, m)
			}
		}
		for _, id := range []string{"wamid.longconv", "wamid.longtext"} {
			if _, ok := r.get(tenantA, id); ok {
				t.Errorf("%s stored", id)
			}
		}
		got, _, err := r.store.ConversationMessages(context.Background(), tenantA, "conv-good", messaging.Page{})
		if err != nil || len(got) != 2 {
			t.Fatalf("conv-good lists %d messages, %v", len(got), err)
		}
		convs, _, err := r.store.Conversations(context.Background(), tenantA, messaging.Page{})
		if err != nil || len(convs) != 1 || convs[0].ID != "conv-good" {
			t.Fatalf("conversations %+v, %v", convs, err)
		}
		reasons := r.reasons()
		if len(reasons["unusable"]) != 3 || len(r.kept()) != 3 {
			t.Fatalf("kept aside: %v", reasons)
		}
		joined := strings.Join(reasons["unusable"], "\n")
		for _, field := range []string{"wamid: 3006 bytes", "conversation_id: 2000 bytes", "text: 307200 characters"} {
			if !strings.Contains(joined, field) {
				t.Errorf("no reason names %q:\n%s", field, joined)
			}
		}
		for _, k := range r.kept() {
			if len(k.Reason) > 1100 {
				t.Errorf("a reason of %d bytes", len(k.Reason))
			}
		}
	})
}

// DynamoDB refuses an item above 400 KB: a message whose history of
// failures grows past it. The adapter classifies the refusal as invalid, so
// the statuses that no longer fit are kept aside as unusable instead of
// failing the queue message five times into the DLQ.
func TestStoreRefusalIsKeptAside(t *testing.T) {
	r := newRig(t, backends["dynamodb"](t))
	r.worker.Concurrency = 4
	long := strings.Repeat("e", messaging.MaxErrorChars)
	var statuses []any
	for i := range 150 {
		statuses = append(statuses, map[string]any{"id": "wamid.heavy", "status": "failed", "timestamp": fmt.Sprint(1773151000 + i),
			"recipient_id": maria.phone, "errors": []any{map[string]any{"code": 131026, "title": long, "message": long,
				"error_data": map[string]any{"details": long}}}})
	}
	body := mustJSON(t, map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "1",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"phone_number_id": numberA}, "statuses": statuses}}}}}})
	r.handle(r.meta(numberA, body))

	m, ok := r.get(tenantA, "wamid.heavy")
	if !ok || m.Delivery.Status != messaging.Failed {
		t.Fatalf("ok %v %+v", ok, m.Delivery.Status)
	}
	reasons := r.reasons()
	if n := len(m.Delivery.History) + len(reasons["unusable"]); n != 150 || len(reasons["unusable"]) == 0 {
		t.Fatalf("%d statuses stored and %d kept aside, want 150 together, some kept", len(m.Delivery.History), len(reasons["unusable"]))
	}
	if !strings.Contains(reasons["unusable"][0], "DynamoDB refused the write") {
		t.Errorf("reason %q", reasons["unusable"][0])
	}
}
