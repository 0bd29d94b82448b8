package reconcile_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

// countingQueue counts the catch-up's hand-offs to the messages worker.
type countingQueue struct {
	envelope.Enqueuer
	sent atomic.Int64
}

func (q *countingQueue) Send(ctx context.Context, url string, d envelope.Delivery, body []byte, aside bool) error {
	q.sent.Add(1)
	return q.Enqueuer.Send(ctx, url, d, body, aside)
}

// writes is the number of DynamoDB writes the messages stores made since
// the last reset; -1 in memory, where nothing counts them.
func (r *rig) writes() int {
	if r.calls == nil {
		return -1
	}
	n := 0
	for op, c := range r.calls.Counts() {
		switch op {
		case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems":
			n += c
		}
	}
	return n
}

// storedAsListed reports whether every conversation the reconciler's
// Kapso lists for the number is stored at its status and last activity.
func (r *rig) storedAsListed(t *testing.T, tenantID, number string) bool {
	t.Helper()
	page, err := r.rec.Kapso.ListConversations(context.Background(), number, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Items {
		got, ok, err := r.messages.Conversation(context.Background(), tenantID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || string(got.Status) != c.Status || !got.LastActiveAt.Equal(c.LastActiveAt) {
			return false
		}
	}
	return len(page.Items) > 0
}

// caughtUp leaves two conversations of the number, one with an inbound
// message and one with an outbound message since delivered, whose webhooks
// Kapso dropped, caught up by a run and applied by the messages worker.
// The catch-up's hand-offs go through the returned queue.
func caughtUp(t *testing.T, r *rig) (string, *countingQueue) {
	t.Helper()
	ctx := context.Background()
	r.worker.PublicBaseURL = downIngest(t)
	number := r.connected(t, "acme")
	r.run(t, ctx) // the number's marks are set
	if err := r.sim.SetNumberWebhookMode(number, "drop"); err != nil {
		t.Fatal(err)
	}
	in, err := r.sim.SendInbound(ctx, number, kapsosim.Inbound{Text: "is my order on its way?", FromPhone: "15550001111", Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.sim.SendOutbound(ctx, number, kapsosim.Outbound{Text: "your code is 1234", ToPhone: "15550002222"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.sim.SetMessageStatus(ctx, out.WAMID, kapsosim.StatusChange{Status: "delivered"}); err != nil {
		t.Fatal(err)
	}
	q := &countingQueue{Enqueuer: r.rec.Queue}
	r.rec.Queue = q
	if r.calls != nil {
		r.calls.Reset()
	}
	rep := r.run(t, ctx)
	if rep.Messages.Fixed != 2 || rep.Conversations.Found != 2 || rep.Conversations.Fixed != 2 {
		t.Fatalf("first pass: messages %+v, conversations %+v", rep.Messages, rep.Conversations)
	}
	eventually(t, "what the first pass handed on is stored", func() bool {
		return r.message(t, "acme", in.WAMID).Known && r.message(t, "acme", out.WAMID).Delivery.Status == messaging.Delivered &&
			r.storedAsListed(t, "acme", number)
	})
	if q.sent.Load() != 4 || r.writes() == 0 {
		t.Fatalf("first pass: %d hand-offs, %d writes", q.sent.Load(), r.writes())
	}
	return number, q
}

// A second pass over what the first stored, with nothing new at Kapso,
// finds nothing, hands nothing on and writes nothing: each listed message
// and conversation costs one read.
func TestSecondCatchUpOverUnchangedStateWritesNothing(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		_, q := caughtUp(t, r)
		q.sent.Store(0)
		if r.calls != nil {
			r.calls.Reset()
		}
		rep := r.run(t, context.Background())
		if rep.Messages.Checked < 2 || rep.Conversations.Checked < 2 {
			t.Fatalf("second pass read too little: messages %+v, conversations %+v", rep.Messages, rep.Conversations)
		}
		if rep.Messages.Found != 0 || rep.Messages.Fixed != 0 || rep.Conversations.Found != 0 || rep.Conversations.Fixed != 0 {
			t.Fatalf("second pass: messages %+v, conversations %+v", rep.Messages, rep.Conversations)
		}
		r.settled(t) // what it queued, if anything, is applied
		if n := q.sent.Load(); n != 0 {
			t.Fatalf("second pass handed %d items on", n)
		}
		if w := r.writes(); w > 0 {
			t.Fatalf("second pass: %d DynamoDB writes to the messages stores (%v)", w, r.calls.Counts())
		}
	})
}

// relisted is Kapso listing every conversation later active or at
// another status than the simulator has it, as Kapso does after activity
// whose messages it keeps to itself, or once the conversations end.
type relisted struct {
	reconcile.KapsoClient
	later  time.Duration // added to each conversation's last activity and update
	status string        // when set, each conversation's status
}

func (k relisted) ListConversations(ctx context.Context, number, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error) {
	p, err := k.KapsoClient.ListConversations(ctx, number, after, limit)
	for i := range p.Items {
		c := &p.Items[i]
		var raw map[string]any
		if err := json.Unmarshal(c.Raw, &raw); err != nil {
			return p, err
		}
		c.LastActiveAt, c.UpdatedAt = c.LastActiveAt.Add(k.later), c.UpdatedAt.Add(k.later)
		raw["last_active_at"], raw["updated_at"] = c.LastActiveAt.Format(time.RFC3339Nano), c.UpdatedAt.Format(time.RFC3339Nano)
		if k.status != "" {
			c.Status, raw["status"] = k.status, k.status
		}
		if c.Raw, err = json.Marshal(raw); err != nil {
			return p, err
		}
	}
	return p, err
}

// A conversation Kapso lists newer than stored is still handed on: later
// active, then ended; and once stored as listed, no more.
func TestCatchUpHandsOnConversationsNewerThanStored(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		number, q := caughtUp(t, r)
		// A new message brings its conversation's activity with it.
		if _, err := r.sim.SendInbound(ctx, number, kapsosim.Inbound{Text: "and the invoice?", FromPhone: "15550001111"}); err != nil {
			t.Fatal(err)
		}
		if rep := r.run(t, ctx); rep.Messages.Found != 1 {
			t.Fatalf("after a new message: messages %+v", rep.Messages)
		}
		eventually(t, "the new activity stored", func() bool { return r.storedAsListed(t, "acme", number) })

		for _, k := range []relisted{{KapsoClient: r.rec.Kapso, later: time.Minute},
			{KapsoClient: r.rec.Kapso, later: time.Minute, status: "ended"}} {
			r.rec.Kapso = k
			rep := r.run(t, ctx)
			if rep.Conversations.Found != 2 || rep.Conversations.Fixed != 2 || rep.Messages.Found != 0 {
				t.Fatalf("listed %+v: messages %+v, conversations %+v", k, rep.Messages, rep.Conversations)
			}
			eventually(t, "the conversations stored as listed", func() bool { return r.storedAsListed(t, "acme", number) })
		}
		q.sent.Store(0)
		if rep := r.run(t, ctx); rep.Conversations.Found != 0 || q.sent.Load() != 0 {
			t.Fatalf("ended conversations handed on again: %+v, %d hand-offs", rep.Conversations, q.sent.Load())
		}
	})
}
