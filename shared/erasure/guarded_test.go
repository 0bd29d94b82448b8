package erasure_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// The reconciler's catch-up, right after an erasure, hands on the
// person's messages it deleted: their writes read the number's mark
// afresh, not the one remembered from before the erasure; a webhook's
// write within MarkTTL still trusts the remembered one (the final sweep
// deletes what it lets through).
func TestGuardedReadsTheMarkAfreshForTheCatchUp(t *testing.T) {
	ctx := context.Background()
	g, h, jobs, msgs, _ := newGuarded()
	const number = "111"
	ana := messaging.Person{Phone: "5215512345678"}
	biz := messaging.Person{Phone: "15550001111"}
	put := func(ctx context.Context, wamid string) {
		t.Helper()
		m := messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound, Type: "text", Text: "hi",
			Timestamp: t0.Add(-time.Hour), From: ana, To: biz, ConversationID: "conv-1"}
		if err := g.PutMessage(ctx, "acme", m, nil); err != nil {
			t.Fatal(err)
		}
	}
	put(ctx, "wamid.first") // the number read as never marked, and remembered
	openJob(t, h, jobs, number, erasure.Identities{Phone: ana.Phone})
	put(messaging.WithOrigin(ctx, messaging.OriginWebhook), "wamid.webhook")
	if _, ok, _ := msgs.Message(ctx, "acme", "wamid.webhook"); !ok {
		t.Error("a webhook's write read the mark afresh: the cache is not used")
	}
	put(messaging.WithOrigin(ctx, messaging.OriginReconciler), "wamid.caught-up")
	if _, ok, _ := msgs.Message(ctx, "acme", "wamid.caught-up"); ok {
		t.Error("the catch-up's write went through on the remembered mark")
	}
	// The fresh read is remembered.
	put(messaging.WithOrigin(ctx, messaging.OriginWebhook), "wamid.webhook-2")
	if _, ok, _ := msgs.Message(ctx, "acme", "wamid.webhook-2"); ok {
		t.Error("the mark read afresh was not remembered")
	}
}

// Once a person is erased from a number, nothing of theirs dated at or
// before the erasure is stored again there, whatever way it comes; what
// they send after is stored; other people, and other numbers, are not
// touched.
func TestGuardedDropsWhatTheTombstoneCovers(t *testing.T) {
	ctx := context.Background()
	g, h, jobs, msgs, clock := newGuarded()
	const number = "111"
	ana := messaging.Person{BSUID: "MX.2", Phone: "5215512345678"}
	biz := messaging.Person{Phone: "15550001111"}
	text := func(wamid string, from, to messaging.Person, at time.Time) messaging.Message {
		return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound, Type: "text", Text: "hi",
			Timestamp: at, From: from, To: to, ConversationID: "conv-1"}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Before any erasure the number is read once, then remembered.
	must(g.PutMessage(ctx, "acme", text("wamid.before", ana, biz, t0.Add(-time.Hour)), nil))
	openJob(t, h, jobs, number, erasure.Identities{Phone: ana.Phone, BSUIDs: []string{"MX.2", "MX.1"}})
	clock.Advance(erasure.MarkTTL)

	late := t0.Add(-time.Minute)
	must(g.PutMessage(ctx, "acme", text("wamid.late", ana, biz, late), nil))
	must(g.PutMessage(ctx, "acme", text("wamid.old-bsuid", messaging.Person{BSUID: "MX.1"}, biz, t0), nil))
	must(g.ApplyStatus(ctx, "acme", messaging.StatusUpdate{WAMID: "wamid.out", PhoneNumberID: number, Status: messaging.Read,
		At: late, Recipient: messaging.Person{Phone: ana.Phone}}))
	must(g.PutConversation(ctx, "acme", messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: ana, LastActiveAt: late}))
	must(g.PutContact(ctx, "acme", number, ana, messaging.Sighting{At: late, Inbound: true}))
	must(g.SetMarketingPreference(ctx, "acme", number, ana, messaging.MarketingPreference{Status: "opted_in", Sequence: 1, OccurredAt: late}))
	must(g.ChangeIdentity(ctx, "acme", number, messaging.Person{BSUID: "MX.2"}, messaging.Person{BSUID: "MX.3"}, late))
	for _, w := range []string{"wamid.late", "wamid.old-bsuid", "wamid.out"} {
		if _, ok, _ := msgs.Message(ctx, "acme", w); ok {
			t.Errorf("%s was stored", w)
		}
	}
	for _, id := range []string{"MX.2", "MX.3", ana.Phone} {
		if _, ok, _ := msgs.Contact(ctx, "acme", number, id); ok {
			t.Errorf("contact %s was stored", id)
		}
	}
	if convs, _, _ := msgs.Conversations(ctx, "acme", messaging.Page{}); len(convs) != 0 {
		t.Errorf("conversations stored: %+v", convs)
	}

	// Someone else, another number, and the person writing again are stored.
	bob := messaging.Person{Phone: "5215599999999"}
	must(g.PutMessage(ctx, "acme", text("wamid.bob", bob, biz, late), nil))
	other := text("wamid.other-number", ana, biz, late)
	other.PhoneNumberID = "222"
	must(g.PutMessage(ctx, "acme", other, nil))
	after := t0.Add(time.Second)
	must(g.PutMessage(ctx, "acme", text("wamid.after", ana, biz, after), nil))
	must(g.PutContact(ctx, "acme", number, ana, messaging.Sighting{At: after, Inbound: true}))
	for _, w := range []string{"wamid.bob", "wamid.other-number", "wamid.after"} {
		if _, ok, _ := msgs.Message(ctx, "acme", w); !ok {
			t.Errorf("%s was dropped", w)
		}
	}
	if _, ok, _ := msgs.Contact(ctx, "acme", number, ana.Phone); !ok {
		t.Error("the person writing again has no contact")
	}
}

// A status to an erased person of a message no longer stored is dropped
// whatever its date, in Meta's format (a status alone) as in Kapso's (the
// message with its status, dated by the message): a status is never new
// content from the person, and stored alone it would keep their identity.
// A status of their message sent after the erasure, and one to someone
// else of a message not stored yet, are stored.
func TestGuardedDropsAStatusOfAnErasedMessageWhateverItsDate(t *testing.T) {
	ctx := context.Background()
	g, h, jobs, msgs, _ := newGuarded()
	const number = "111"
	ana := messaging.Person{BSUID: "MX.2", Phone: "5215512345678"}
	biz := messaging.Person{Phone: "15550001111"}
	openJob(t, h, jobs, number, erasure.Identities{Phone: ana.Phone, BSUIDs: []string{"MX.2"}})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	later := t0.Add(time.Hour)
	status := func(wamid string, to messaging.Person, at time.Time) messaging.StatusUpdate {
		return messaging.StatusUpdate{WAMID: wamid, PhoneNumberID: number, Status: messaging.Read, At: at, Recipient: to}
	}
	sent := func(wamid string, to messaging.Person, at time.Time) messaging.Message {
		return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound, Type: "text", Text: "hello",
			Timestamp: at, From: biz, To: to, ConversationID: "conv-1"}
	}
	// Meta's format, by phone and by BSUID, dated after the erasure.
	must(g.ApplyStatus(ctx, "acme", status("wamid.erased", messaging.Person{Phone: ana.Phone}, later)))
	must(g.ApplyStatus(ctx, "acme", status("wamid.erased-2", messaging.Person{BSUID: "MX.2"}, later)))
	// Kapso's: the message sent before the erasure, its status after.
	must(g.PutMessage(ctx, "acme", sent("wamid.erased-3", ana, t0.Add(-time.Hour)),
		[]messaging.StatusUpdate{status("wamid.erased-3", ana, later)}))
	for _, w := range []string{"wamid.erased", "wamid.erased-2", "wamid.erased-3"} {
		if m, ok, _ := msgs.Message(ctx, "acme", w); ok {
			t.Errorf("%s was stored: %+v", w, m)
		}
	}

	// Sent to her after the erasure: the message and its status stay.
	must(g.PutMessage(ctx, "acme", sent("wamid.new", ana, t0.Add(time.Minute)), nil))
	must(g.ApplyStatus(ctx, "acme", status("wamid.new", messaging.Person{Phone: ana.Phone}, later)))
	if m, ok, _ := msgs.Message(ctx, "acme", "wamid.new"); !ok || m.Delivery.Status != messaging.Read {
		t.Errorf("the status of a message sent after the erasure was dropped: %+v", m)
	}
	// Someone else's status before its message: kept until the message comes.
	bob := messaging.Person{Phone: "5215599999999"}
	must(g.ApplyStatus(ctx, "acme", status("wamid.bob", bob, later)))
	if _, ok, _ := msgs.Message(ctx, "acme", "wamid.bob"); !ok {
		t.Error("someone else's status was dropped")
	}
}

// openJob erases the person ids names from acme's number at t0: the job
// and a tombstone of each identity.
// newGuarded is a guarded in-memory store at t0, with its hasher, jobs,
// messages and clock.
func newGuarded() (*erasure.Guarded, erasure.Hasher, *memstore.Erasures, *memstore.Messages, *testclock.Clock) {
	clock := testclock.New(t0)
	h, _ := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	jobs, msgs := &memstore.Erasures{}, &memstore.Messages{}
	g := &erasure.Guarded{Store: msgs, Marks: jobs, Guard: erasure.Guard{Hasher: h, Tombstones: jobs}, Messages: msgs, Now: clock.Now}
	return g, h, jobs, msgs, clock
}

func openJob(t *testing.T, h erasure.Hasher, jobs *memstore.Erasures, number string, ids erasure.Identities) {
	t.Helper()
	j, err := erasure.NewJob("era_1", "acme", number, "h", ids, t0)
	if err != nil {
		t.Fatal(err)
	}
	var stones []erasure.Tombstone
	for _, hash := range h.Hashes("acme", number, ids) {
		stones = append(stones, erasure.Tombstone{TenantID: "acme", PhoneNumberID: number, Hash: hash, ErasedAt: t0, JobID: j.ID})
	}
	if _, _, err := jobs.Open(context.Background(), j, stones); err != nil {
		t.Fatal(err)
	}
}
