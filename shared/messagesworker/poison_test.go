package messagesworker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

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

// Events dated far ahead of their receipt (Meta's "timestamp":"99999999999"
// is the year 5138) are kept aside as suspicious and move nothing: not the
// conversation's last activity, not the person's last sighting, not the
// customer service window. One within five minutes of its receipt is fine.
func TestEventsFromTheFutureAreSuspicious(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		ctx := context.Background()
		at := int64(1773151320) // 14:02, the delivery is received at 15:00
		r.handle(r.kapso(numberA, "whatsapp.message.received", mustJSON(t, kapsoInbound("wamid.now", "conv-1", "hi", at))))
		other := kapsoInbound("wamid.other", "conv-2", "hi", at+60)
		other["message"].(map[string]any)["from"] = "15550001111"
		other["conversation"].(map[string]any)["phone_number"] = "+15550001111"
		delete(other["message"].(map[string]any), "from_user_id")
		delete(other["conversation"].(map[string]any), "business_scoped_user_id")
		r.handle(r.kapso(numberA, "whatsapp.message.received", mustJSON(t, other)))
		before, _, err := r.store.Contact(ctx, tenantA, numberA, maria.phone)
		if err != nil {
			t.Fatal(err)
		}
		convsBefore, _, err := r.store.Conversations(ctx, tenantA, messaging.Page{})
		if err != nil {
			t.Fatal(err)
		}

		const year5138 = 99999999999
		future := time.Unix(year5138, 0).UTC().Format(time.RFC3339)
		outbound := kapsoInbound("wamid.fut-out", "conv-1", "sent later", at)
		outbound["message"].(map[string]any)["kapso"] = map[string]any{"direction": "outbound", "content": "sent later",
			"statuses": []any{map[string]any{"id": "wamid.fut-out", "status": "read", "timestamp": fmt.Sprint(year5138)}}}
		conv := map[string]any{"conversation": map[string]any{"id": "conv-1", "phone_number": "+" + maria.phone,
			"status": "active", "last_active_at": future, "phone_number_id": numberA}, "phone_number_id": numberA}
		marketing := map[string]any{"contact": map[string]any{"wa_id": maria.phone, "business_scoped_user_id": maria.bsuid},
			"marketing_preference": map[string]any{"status": "opted_out", "sequence": 9, "occurred_at": future},
			"phone_number_id":      numberA}
		userIDUpdate := mustJSON(t, map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "1",
			"changes": []any{map[string]any{"field": "user_id_update", "value": map[string]any{
				"metadata": map[string]any{"phone_number_id": numberA},
				"user_id_update": []any{map[string]any{"wa_id": maria.phone, "user_id": "US.99887766554433221100",
					"previous_user_id": maria.bsuid, "timestamp": fmt.Sprint(year5138)}}}}}}}})
		soon := kapsoInbound("wamid.soon", "conv-1", "clock a bit ahead", time.Date(2026, 3, 10, 15, 4, 0, 0, time.UTC).Unix())
		r.handle(
			r.kapso(numberA, "whatsapp.message.received", mustJSON(t, kapsoInbound("wamid.fut-in", "conv-1", "from 5138", year5138))),
			r.kapso(numberA, "whatsapp.message.sent", mustJSON(t, outbound)),
			r.kapso(numberA, "whatsapp.conversation.created", mustJSON(t, conv)),
			r.kapso(numberA, "whatsapp.contact.marketing_preference_changed", mustJSON(t, marketing)),
			r.meta(numberA, metaText(numberA, "wamid.fut-meta", year5138)),
			r.meta(numberA, metaStatus(numberA, "wamid.now", "read", year5138)),
			r.meta(numberA, userIDUpdate),
		)

		for _, id := range []string{"wamid.fut-in", "wamid.fut-out", "wamid.fut-meta"} {
			if _, ok := r.get(tenantA, id); ok {
				t.Errorf("%s stored", id)
			}
		}
		if m, _ := r.get(tenantA, "wamid.now"); m.Delivery.Status != "" {
			t.Errorf("a status from the future applied: %+v", m.Delivery)
		}
		reasons := r.reasons()
		if len(reasons["suspicious"]) != 7 || len(r.kept()) != 7 {
			t.Fatalf("kept aside: %v", reasons)
		}
		for _, reason := range reasons["suspicious"] {
			if !strings.Contains(reason, "after the delivery was received at 2026-03-10T15:00:00Z") {
				t.Errorf("reason %q", reason)
			}
		}
		after, _, err := r.store.Contact(ctx, tenantA, numberA, maria.phone)
		if err != nil {
			t.Fatal(err)
		}
		if !after.LastSeenAt.Equal(before.LastSeenAt) || !after.LastInboundAt.Equal(before.LastInboundAt) ||
			after.Marketing != nil || after.Person.BSUID != maria.bsuid {
			t.Errorf("the contact moved: %+v, was %+v", after, before)
		}
		convs, _, err := r.store.Conversations(ctx, tenantA, messaging.Page{})
		if err != nil || len(convs) != 2 || convs[0].ID != convsBefore[0].ID ||
			!convs[1].LastActiveAt.Equal(convsBefore[1].LastActiveAt) {
			t.Errorf("conversations moved: %+v, were %+v (%v)", convs, convsBefore, err)
		}

		// Four minutes ahead is a clock a little fast: stored.
		r.handle(r.kapso(numberA, "whatsapp.message.received", mustJSON(t, soon)))
		if _, ok := r.get(tenantA, "wamid.soon"); !ok {
			t.Error("a message four minutes ahead was not stored")
		}
	})
}

// A delivery redriven from the DLQ days later is judged by when it was
// received, not by when the worker applies it: a message dated after its
// receipt stays suspicious however late the worker runs.
func TestRedriveIsJudgedByItsReceipt(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		r.worker.Now = func() time.Time { return time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC) }
		ahead := time.Date(2026, 3, 10, 15, 10, 0, 0, time.UTC).Unix() // received at 15:00
		r.handle(r.kapso(numberA, "whatsapp.message.received", mustJSON(t, kapsoInbound("wamid.ahead", "conv-1", "hi", ahead))))
		if _, ok := r.get(tenantA, "wamid.ahead"); ok {
			t.Error("a message ten minutes after its receipt was stored")
		}
		if reasons := r.reasons(); len(reasons["suspicious"]) != 1 {
			t.Errorf("kept aside: %v", reasons)
		}
	})
}
