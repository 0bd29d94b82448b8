package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RetentionStores are a messages store under a retention, its reader and
// its outbox.
type RetentionStores struct {
	Store    messaging.Store
	Reader   MessagesReader
	Outbox   messaging.Outbox
	Backfill messaging.RetentionBackfill
}

// NewRetention makes a fresh, empty messages store keeping messages for r,
// reading the clock now.
type NewRetention func(t *testing.T, now func() time.Time, r messaging.Retention) RetentionStores

// RunRetention is the contract of MESSAGE_RETENTION_DAYS on the read side:
// a message expires at its own time plus the retention, a send at its
// creation plus it, a conversation and a contact at their last activity
// plus it, moved on by each newer one; no read shows what has expired;
// without a retention nothing expires.
func RunRetention(t *testing.T, newStore NewRetention) {
	ctx := context.Background()
	// DynamoDB Local deletes what expired by the machine's clock, as
	// DynamoDB does: the suite's times are far ahead of it, so only the
	// reads' own check at the suite's clock hides an item.
	epoch := time.Date(2100, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	const conv = "conv-r"
	seen := func(t *testing.T, s messaging.Store, at time.Time) {
		t.Helper()
		must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: conv, PhoneNumberID: number, Person: ana,
			Status: messaging.ConversationActive, LastActiveAt: at}))
		must(t, s.PutContact(ctx, tenantA, number, ana, messaging.Sighting{At: at, Inbound: true, ConversationID: conv}))
	}
	inbound := func(wamid string, ts time.Time) messaging.Message {
		return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound, Type: "text",
			Text: "hi " + wamid, Timestamp: ts, From: ana, ConversationID: conv}
	}
	// visible lists what each read shows.
	visible := func(t *testing.T, r MessagesReader, wamids ...string) (msgs map[string]bool, listed []string, conversation, contact bool) {
		t.Helper()
		msgs = map[string]bool{}
		for _, w := range wamids {
			_, ok, err := r.Message(ctx, tenantA, w)
			must(t, err)
			msgs[w] = ok
		}
		page, _, err := r.ConversationMessages(ctx, tenantA, conv, messaging.Page{Limit: 50})
		must(t, err)
		for _, m := range page {
			id := m.WAMID
			if id == "" && m.Outbound != nil {
				id = m.Outbound.ID
			}
			listed = append(listed, id)
		}
		_, conversation, err = r.Conversation(ctx, tenantA, conv)
		must(t, err)
		convs, _, err := r.Conversations(ctx, tenantA, messaging.Page{Limit: 50})
		must(t, err)
		if conversation != (len(convs) == 1) {
			t.Errorf("conversation by id shown %v, in the list %d times", conversation, len(convs))
		}
		_, contact, err = r.Contact(ctx, tenantA, number, phoneAna)
		must(t, err)
		// A conversation shows its stored contact (with its last sighting)
		// only while that has not expired.
		if len(convs) == 1 && convs[0].Contact.LastSeenAt.IsZero() == contact {
			t.Errorf("the listed conversation shows its stored contact %v, the contact read %v", !convs[0].Contact.LastSeenAt.IsZero(), contact)
		}
		return msgs, listed, conversation, contact
	}
	cases := map[string]func(t *testing.T, s RetentionStores, clk *testclock.Clock){
		"a message expires at its own time plus the retention": func(t *testing.T, s RetentionStores, clk *testclock.Clock) {
			// Stored an hour after its own time: it expires from that time.
			clk.Advance(time.Hour)
			must(t, s.Store.PutMessage(ctx, tenantA, inbound("wamid.r1", epoch), nil))
			must(t, s.Store.ApplyStatus(ctx, tenantA, status("wamid.r1", messaging.Read, epoch.Add(2*time.Hour))))
			seen(t, s.Store, epoch)
			clk.Advance(day - time.Hour - time.Second) // a second before epoch + 1 day
			msgs, listed, conversation, contact := visible(t, s.Reader, "wamid.r1")
			if !msgs["wamid.r1"] || len(listed) != 1 || !conversation || !contact {
				t.Fatalf("before expiry: message %v listed %v conversation %v contact %v, want all shown", msgs, listed, conversation, contact)
			}
			clk.Advance(time.Second)
			msgs, listed, conversation, contact = visible(t, s.Reader, "wamid.r1")
			if msgs["wamid.r1"] || len(listed) != 0 || conversation || contact {
				t.Errorf("at expiry: message %v listed %v conversation %v contact %v, want none shown", msgs, listed, conversation, contact)
			}
		},
		"new activity keeps the conversation and the contact": func(t *testing.T, s RetentionStores, clk *testclock.Clock) {
			must(t, s.Store.PutMessage(ctx, tenantA, inbound("wamid.old", epoch), nil))
			seen(t, s.Store, epoch)
			clk.Advance(20 * time.Hour)
			must(t, s.Store.PutMessage(ctx, tenantA, inbound("wamid.new", epoch.Add(20*time.Hour)), nil))
			seen(t, s.Store, epoch.Add(20*time.Hour))
			// A late copy of older activity does not move them back.
			seen(t, s.Store, epoch.Add(time.Hour))
			clk.Advance(5 * time.Hour)
			msgs, listed, conversation, contact := visible(t, s.Reader, "wamid.old", "wamid.new")
			if msgs["wamid.old"] || !msgs["wamid.new"] || len(listed) != 1 || listed[0] != "wamid.new" || !conversation || !contact {
				t.Errorf("a day after the first activity: messages %v listed %v conversation %v contact %v; want the newer message, the conversation and the contact",
					msgs, listed, conversation, contact)
			}
			clk.Advance(day)
			msgs, listed, conversation, contact = visible(t, s.Reader, "wamid.old", "wamid.new")
			if msgs["wamid.new"] || len(listed) != 0 || conversation || contact {
				t.Errorf("a day after the last activity: messages %v listed %v conversation %v contact %v; want none",
					msgs, listed, conversation, contact)
			}
		},
		"a send expires at its creation plus the retention": func(t *testing.T, s RetentionStores, clk *testclock.Clock) {
			m := created(t, s.Outbox, queued(tenantA, "kr", conv, epoch))
			if _, listed, _, _ := visible(t, s.Reader); len(listed) != 1 {
				t.Fatalf("the send is not listed in its conversation: %v", listed)
			}
			if _, ok, err := s.Reader.Message(ctx, tenantA, m.ID); err != nil || !ok {
				t.Fatalf("the send by its id: ok %v err %v", ok, err)
			}
			clk.Advance(day)
			if _, listed, _, _ := visible(t, s.Reader); len(listed) != 0 {
				t.Errorf("an expired send is listed: %v", listed)
			}
			if _, ok, err := s.Reader.Message(ctx, tenantA, m.ID); err != nil || ok {
				t.Errorf("an expired send by its id: ok %v err %v, want not found", ok, err)
			}
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(epoch)
			c(t, newStore(t, clk.Now, messaging.Retention{Days: 1}), clk)
		})
	}
	// The backfill: what was stored without a retention gets the one set
	// later, pass by pass from where the last one stopped.
	passes := func(t *testing.T, b messaging.RetentionBackfill, days, limit int) messaging.RetentionPass {
		t.Helper()
		var sum messaging.RetentionPass
		position := ""
		for range 100 {
			p, err := b.ApplyRetention(ctx, messaging.Retention{Days: days}, position, limit)
			must(t, err)
			if p.Scanned > limit {
				t.Fatalf("a pass read %d items, over its %d", p.Scanned, limit)
			}
			sum.Scanned, sum.Stale, sum.Updated = sum.Scanned+p.Scanned, sum.Stale+p.Stale, sum.Updated+p.Updated
			if p.Next == "" {
				return sum
			}
			position = p.Next
		}
		t.Fatal("the backfill never reached the end")
		return sum
	}
	storedBefore := func(t *testing.T, s RetentionStores) {
		t.Helper()
		must(t, s.Store.PutMessage(ctx, tenantA, inbound("wamid.b1", epoch), nil))
		must(t, s.Store.PutMessage(ctx, tenantA, inbound("wamid.b2", epoch.Add(time.Hour)), nil))
		seen(t, s.Store, epoch.Add(time.Hour))
		created(t, s.Outbox, queued(tenantA, "kb", conv, epoch.Add(time.Hour)))
	}
	t.Run("the backfill gives what was stored before the retention its expiry", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(epoch)
		s := newStore(t, clk.Now, messaging.Retention{})
		storedBefore(t, s)
		// Two messages, a conversation, a contact, a send.
		if sum := passes(t, s.Backfill, 1, 2); sum.Stale < 5 || sum.Updated != sum.Stale {
			t.Fatalf("first pass %+v: want every item found and given its expiry", sum)
		}
		if sum := passes(t, s.Backfill, 1, 2); sum.Stale != 0 || sum.Updated != 0 {
			t.Errorf("a second pass %+v: want nothing stale", sum)
		}
		clk.Advance(24*time.Hour - time.Second)
		msgs, listed, conversation, contact := visible(t, s.Reader, "wamid.b1", "wamid.b2")
		if !msgs["wamid.b1"] || !msgs["wamid.b2"] || len(listed) != 3 || !conversation || !contact {
			t.Errorf("before the first expiry: messages %v listed %v conversation %v contact %v", msgs, listed, conversation, contact)
		}
		clk.Advance(time.Second)
		if msgs, listed, _, _ := visible(t, s.Reader, "wamid.b1", "wamid.b2"); msgs["wamid.b1"] || !msgs["wamid.b2"] || len(listed) != 2 {
			t.Errorf("a day after the first message: messages %v listed %v; want it gone, the rest kept", msgs, listed)
		}
		clk.Advance(time.Hour)
		msgs, listed, conversation, contact = visible(t, s.Reader, "wamid.b1", "wamid.b2")
		if msgs["wamid.b2"] || len(listed) != 0 || conversation || contact {
			t.Errorf("a day after the last activity: messages %v listed %v conversation %v contact %v; want none",
				msgs, listed, conversation, contact)
		}
		// A longer retention set now brings nothing back.
		if sum := passes(t, s.Backfill, 30, 100); sum.Updated != 0 {
			t.Errorf("a longer retention over expired items updated %d", sum.Updated)
		}
		if msgs, listed, conversation, contact := visible(t, s.Reader, "wamid.b1", "wamid.b2"); msgs["wamid.b2"] || len(listed) != 0 || conversation || contact {
			t.Errorf("after a longer retention: messages %v listed %v conversation %v contact %v; want none", msgs, listed, conversation, contact)
		}
	})
	t.Run("the backfill finds nothing stale under the retention its writes used", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(epoch)
		s := newStore(t, clk.Now, messaging.Retention{Days: 1})
		storedBefore(t, s)
		if sum := passes(t, s.Backfill, 1, 3); sum.Stale != 0 || sum.Updated != 0 {
			t.Errorf("a pass %+v: want nothing stale", sum)
		}
		// Another retention: every item again, and its reads follow it.
		if sum := passes(t, s.Backfill, 2, 3); sum.Stale < 5 || sum.Updated != sum.Stale {
			t.Errorf("a longer retention %+v: want every item given it", sum)
		}
		clk.Advance(36 * time.Hour)
		if msgs, _, conversation, contact := visible(t, s.Reader, "wamid.b1"); !msgs["wamid.b1"] || !conversation || !contact {
			t.Errorf("within the longer retention: message %v conversation %v contact %v; want all kept", msgs, conversation, contact)
		}
	})
	t.Run("without a retention nothing expires", func(t *testing.T) {
		t.Parallel()
		clk := testclock.New(epoch)
		s := newStore(t, clk.Now, messaging.Retention{})
		must(t, s.Store.PutMessage(ctx, tenantA, inbound("wamid.kept", epoch), nil))
		seen(t, s.Store, epoch)
		m := created(t, s.Outbox, queued(tenantA, "kk", conv, epoch))
		clk.Advance(10 * 365 * day)
		msgs, listed, conversation, contact := visible(t, s.Reader, "wamid.kept", m.ID)
		if !msgs["wamid.kept"] || !msgs[m.ID] || len(listed) != 2 || !conversation || !contact {
			t.Errorf("ten years on: messages %v listed %v conversation %v contact %v; want all kept", msgs, listed, conversation, contact)
		}
	})
}
