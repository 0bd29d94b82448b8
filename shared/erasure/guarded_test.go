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

// Once a person is erased from a number, nothing of theirs dated at or
// before the erasure is stored again there, whatever way it comes; what
// they send after is stored; other people, and other numbers, are not
// touched.
func TestGuardedDropsWhatTheTombstoneCovers(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(t0)
	h, _ := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	jobs := &memstore.Erasures{}
	msgs := &memstore.Messages{}
	g := &erasure.Guarded{Store: msgs, Marks: jobs, Guard: erasure.Guard{Hasher: h, Tombstones: jobs}, Now: clock.Now}
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
	ids := erasure.Identities{Phone: ana.Phone, BSUIDs: []string{"MX.2", "MX.1"}}
	j, err := erasure.NewJob("era_1", "acme", number, "h", ids, t0)
	must(err)
	var stones []erasure.Tombstone
	for _, hash := range h.Hashes("acme", number, ids) {
		stones = append(stones, erasure.Tombstone{TenantID: "acme", PhoneNumberID: number, Hash: hash, ErasedAt: t0, JobID: j.ID})
	}
	_, _, err = jobs.Open(ctx, j, stones)
	must(err)
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
