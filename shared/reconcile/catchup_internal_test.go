package reconcile

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// conversationStored says a listing is stored exactly when the messages
// worker, storing it, would change nothing: checked against the store's
// own rule by storing each listing after asking.
func TestConversationStoredIsWhatStoringWouldNotChange(t *testing.T) {
	ctx := context.Background()
	const tenant, number = "acme", "106540352242922"
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	stored := messaging.Conversation{ID: "conv-1", PhoneNumberID: number,
		Person: messaging.Person{BSUID: "US.13491208655302741918", Phone: "15550001111"},
		Status: messaging.ConversationActive, LastActiveAt: t0}
	listing := func(status string, at time.Time, fields map[string]any) map[string]any {
		c := map[string]any{"id": "conv-1", "status": status, "phone_number": "+15550001111",
			"business_scoped_user_id": "US.13491208655302741918", "phone_number_id": number}
		if !at.IsZero() {
			c["last_active_at"] = at.Format(time.RFC3339Nano)
		}
		for k, v := range fields {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name   string
		stored *messaging.Conversation
		listed map[string]any
		want   bool
	}{
		{"nothing stored", nil, listing("active", t0, nil), false},
		{"stored as listed", &stored, listing("active", t0, nil), true},
		{"later active", &stored, listing("active", t0.Add(time.Millisecond), nil), false},
		{"ended earlier", &stored, listing("ended", t0.Add(-time.Minute), nil), true},
		{"ended at the same time", &stored, listing("ended", t0, nil), false},
		{"listed active, stored ended", ended(stored), listing("active", t0, nil), true},
		{"listed ended, stored ended", ended(stored), listing("ended", t0, nil), true},
		{"a field stored lacks", &stored, listing("active", t0, map[string]any{"username": "@ana"}), false},
		{"a field stored lacks, earlier", &stored, listing("active", t0.Add(-time.Minute), map[string]any{"username": "@ana"}), false},
		{"another phone at the same time", &stored, listing("active", t0, map[string]any{"phone_number": "+15550009999"}), false},
		{"another phone, earlier", &stored, listing("active", t0.Add(-time.Minute), map[string]any{"phone_number": "+15550009999"}), true},
		{"no last activity", &stored, listing("active", time.Time{}, nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memstore.Messages{}
			if tt.stored != nil {
				if err := store.PutConversation(ctx, tenant, *tt.stored); err != nil {
					t.Fatal(err)
				}
			}
			body, err := json.Marshal(map[string]any{"conversation": tt.listed, "phone_number_id": number})
			if err != nil {
				t.Fatal(err)
			}
			name := kapso.EventConversationCreated
			if tt.listed["status"] == "ended" {
				name = kapso.EventConversationEnded
			}
			r := &run{Reconciler: &Reconciler{Messages: store}}
			got, err := r.conversationStored(ctx, tenant, "conv-1", name, body)
			if err != nil || got != tt.want {
				t.Fatalf("stored %v, %v; want %v", got, err, tt.want)
			}

			before, _, _ := store.Conversation(ctx, tenant, "conv-1")
			p, err := kapso.DecodeConversationEvent(body)
			if err != nil {
				t.Fatal(err)
			}
			c, err := messaging.FromKapsoConversation(name, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.PutConversation(ctx, tenant, c); err != nil {
				t.Fatal(err)
			}
			after, _, _ := store.Conversation(ctx, tenant, "conv-1")
			if unchanged := tt.stored != nil && after == before; unchanged != tt.want {
				t.Fatalf("storing the listing changed the conversation: %v\nbefore %+v\nafter  %+v", !unchanged, before, after)
			}
		})
	}
}

func ended(c messaging.Conversation) *messaging.Conversation {
	c.Status = messaging.ConversationEnded
	return &c
}
