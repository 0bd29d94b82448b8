package dynamo_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// An erasure deletes, on DynamoDB Local, everything of the person on the
// number: messages both ways with their media objects and sends,
// conversations (Kapso's and the derived one), kept and told events, the
// contact under every identity; and nothing of anyone else. Run again, it
// deletes and counts nothing more.
func TestEraserDeletesThePersonAndNoOneElse(t *testing.T) {
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	tables := awstest.Tables(t)
	bridge, events := awstest.Bridge(tables), awstest.Events(tables)
	msgs := &dynamo.Messages{DB: db, Table: bridge}
	objects := &memstore.Objects{}
	clock := testclock.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	feed := &dynamo.Feed{DB: db, Table: events, Now: clock.Now}
	const tenant, number = "acme", "106540352242922"
	ana := messaging.Person{BSUID: "MX.2", Phone: "5215512345678", Name: "Ana"}
	bob := messaging.Person{Phone: "5215599999999", Name: "Bob"}
	biz := messaging.Person{Phone: "15550001111"}
	t0 := clock.Now().Add(-time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	put := func(wamid, conv string, dir messaging.Direction, from, to messaging.Person, at time.Time, typ string) {
		t.Helper()
		m := messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: dir, Type: typ, Text: wamid, Timestamp: at,
			From: from, To: to, ConversationID: conv}
		if typ == "image" {
			m.Media = &messaging.Media{ID: "media-" + wamid, MIMEType: "image/png"}
		}
		must(msgs.PutMessage(ctx, tenant, m, nil))
		p := from
		if dir == messaging.Outbound {
			p = to
		}
		must(msgs.PutConversation(ctx, tenant, messaging.Conversation{ID: conv, PhoneNumberID: number, Person: p,
			Status: messaging.ConversationActive, LastActiveAt: at}))
		must(msgs.PutContact(ctx, tenant, number, p, messaging.Sighting{At: at, Inbound: dir == messaging.Inbound, ConversationID: conv}))
	}
	// Ana wrote by phone, then under a BSUID she had before this one.
	must(msgs.PutContact(ctx, tenant, number, messaging.Person{Phone: ana.Phone}, messaging.Sighting{At: t0}))
	put("wamid.a1", "conv-ana", messaging.Inbound, messaging.Person{BSUID: "MX.1", Phone: ana.Phone}, biz, t0.Add(time.Minute), "text")
	must(msgs.ChangeIdentity(ctx, tenant, number, messaging.Person{BSUID: "MX.1"}, ana, t0.Add(2*time.Minute)))
	put("wamid.a2", "conv-ana", messaging.Inbound, ana, biz, t0.Add(3*time.Minute), "image")
	put("wamid.a3", "conv-ana", messaging.Outbound, biz, ana, t0.Add(4*time.Minute), "text")
	must(msgs.ApplyStatus(ctx, tenant, messaging.StatusUpdate{WAMID: "wamid.a3", PhoneNumberID: number, Status: messaging.Read,
		At: t0.Add(5 * time.Minute), Recipient: ana}))
	derived := messaging.MetaConversationID(number, messaging.Person{BSUID: "MX.2"})
	put("wamid.a4", derived, messaging.Inbound, ana, biz, t0.Add(6*time.Minute), "text")
	put("wamid.b1", "conv-bob", messaging.Inbound, bob, biz, t0.Add(7*time.Minute), "image")
	for _, w := range []string{"wamid.a2", "wamid.b1"} {
		k := media.ObjectKey(tenant, number, "media-"+w)
		_, err := objects.Put(ctx, k, "image/png", strings.NewReader("png"), 10)
		must(err)
		must(msgs.SetMedia(ctx, tenant, w, media.Info{State: media.Stored, Key: k, MIMEType: "image/png", Size: 3, At: t0}, time.Time{}))
	}
	pending := &dynamo.Pending{DB: db, Table: bridge}
	must(pending.KeepPending(ctx, number, "k1#0", t0, []byte(`{"message":{"from":"5215512345678"}}`)))
	must(pending.KeepPending(ctx, number, "k2#0", t0, []byte(`{"message":{"from":"5215599999999"}}`)))
	event := func(id, data string) bridgeevents.Event {
		return bridgeevents.Event{ID: id, Type: bridgeevents.MessageReceived, TenantID: tenant, Timestamp: t0, Source: "webhook",
			Subject: "message:" + id, Version: 1, Data: json.RawMessage(data)}
	}
	must(feed.Append(ctx, []bridgeevents.Event{
		event("evt_a", `{"message":{"phone_number_id":"`+number+`","from":{"business_scoped_user_id":"MX.2"}}}`),
		event("evt_b", `{"message":{"phone_number_id":"`+number+`","from":{"phone_number":"5215599999999"}}}`),
		event("evt_other_number", `{"message":{"phone_number_id":"999","from":{"business_scoped_user_id":"MX.2"}}}`),
		// A send's status names its conversation, not the person.
		event("evt_a_status", `{"message_id":"out_1","phone_number_id":"`+number+`","conversation_id":"conv-ana","status":"read"}`),
		event("evt_b_status", `{"message_id":"out_2","phone_number_id":"`+number+`","conversation_id":"conv-bob","status":"read"}`),
	}))

	c, ok, err := msgs.Contact(ctx, tenant, number, "MX.1")
	if err != nil || !ok {
		t.Fatalf("contact: %v %v", ok, err)
	}
	ids := erasure.IdentitiesOf(c)
	if !slices.Equal(ids.BSUIDs, []string{"MX.2", "MX.1"}) || ids.Phone != ana.Phone {
		t.Fatalf("identities %+v", ids)
	}
	j, err := erasure.NewJob("era_1", tenant, number, "h", ids, clock.Now())
	must(err)
	jobs := &dynamo.Erasures{DB: db, Table: bridge}
	_, _, err = jobs.Open(ctx, j, nil)
	must(err)
	r := erasure.Runner{Jobs: jobs, Eraser: &dynamo.Eraser{DB: db, Table: bridge, Feed: &dynamo.FeedEraser{DB: db, Table: events, Stored: msgs}, Objects: objects},
		Now: clock.Now, PageSize: 2}
	j, err = r.Run(ctx, j, 200)
	must(err)
	clock.Advance(erasure.SweepDelay)
	j, err = r.Run(ctx, j, 200)
	must(err)
	want := erasure.Progress{Messages: 4, MediaObjects: 1, Conversations: 2, PendingEvents: 1, FeedEvents: 2, Contacts: 3}
	if j.State != erasure.Done || j.Progress != want {
		t.Fatalf("job %s %+v, want %+v", j.State, j.Progress, want)
	}

	for _, id := range []string{"MX.1", "MX.2", ana.Phone} {
		if _, ok, err := msgs.Contact(ctx, tenant, number, id); ok || err != nil {
			t.Errorf("contact %s: %v %v", id, ok, err)
		}
	}
	for _, w := range []string{"wamid.a1", "wamid.a2", "wamid.a3", "wamid.a4"} {
		if _, ok, err := msgs.Message(ctx, tenant, w); ok || err != nil {
			t.Errorf("message %s: %v %v", w, ok, err)
		}
	}
	convs, _, err := msgs.Conversations(ctx, tenant, messaging.Page{})
	must(err)
	if len(convs) != 1 || convs[0].ID != "conv-bob" {
		t.Errorf("conversations left: %+v", convs)
	}
	if _, ok, _ := msgs.Message(ctx, tenant, "wamid.b1"); !ok {
		t.Error("Bob's message went")
	}
	if _, ok, _ := msgs.Contact(ctx, tenant, number, bob.Phone); !ok {
		t.Error("Bob's contact went")
	}
	if keys := objects.Keys(); !slices.Equal(keys, []string{media.ObjectKey(tenant, number, "media-wamid.b1")}) {
		t.Errorf("objects left: %v", keys)
	}
	kept, err := pending.Pending(ctx, number, "", 10)
	must(err)
	if len(kept) != 1 || kept[0].ID != "k2#0" {
		t.Errorf("kept events left: %+v", kept)
	}
	clock.Advance(time.Minute) // past the feed's settling
	told, err := feed.List(ctx, eventing.FeedQuery{TenantID: tenant})
	must(err)
	var names []string
	for _, e := range told.Events {
		names = append(names, e.ID)
	}
	if !slices.Equal(names, []string{"evt_b", "evt_other_number", "evt_b_status"}) {
		t.Errorf("events left: %v", names)
	}
	stack, err := feed.List(ctx, eventing.FeedQuery{})
	must(err)
	if len(stack.Events) != 3 {
		t.Errorf("the stack's feed keeps %d events, want 3", len(stack.Events))
	}

	// Every step again deletes nothing and fails on nothing.
	again, err := erasure.NewJob("era_2", tenant, number, "h2", ids, clock.Now())
	must(err)
	_, _, err = jobs.Open(ctx, again, nil)
	must(err)
	clock.Advance(erasure.SweepDelay)
	again, err = r.Run(ctx, again, 200)
	must(err)
	if again.State != erasure.Done || again.Progress != (erasure.Progress{}) {
		t.Fatalf("again: %s %+v", again.State, again.Progress)
	}

	// A person known by phone alone is found through the same lists.
	bobJob, err := erasure.NewJob("era_3", tenant, number, "h3", erasure.Identities{Phone: bob.Phone}, clock.Now())
	must(err)
	_, _, err = jobs.Open(ctx, bobJob, nil)
	must(err)
	clock.Advance(erasure.SweepDelay)
	bobJob, err = r.Run(ctx, bobJob, 200)
	must(err)
	if bobJob.State != erasure.Done || bobJob.Progress.Messages != 1 || bobJob.Progress.Conversations != 1 {
		t.Fatalf("phone only: %s %+v", bobJob.State, bobJob.Progress)
	}
	if _, ok, _ := msgs.Message(ctx, tenant, "wamid.b1"); ok {
		t.Error("Bob's message stayed")
	}
}

// What the person sends after the erasure is theirs anew: the final sweep,
// minutes later, deletes what is dated at or before the erasure (a stale
// write let through meanwhile) and leaves their new message and its
// event, the conversation and the contact they made active again.
func TestEraserLeavesWhatCameAfterTheErasure(t *testing.T) {
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	tables := awstest.Tables(t)
	bridge, events := awstest.Bridge(tables), awstest.Events(tables)
	msgs := &dynamo.Messages{DB: db, Table: bridge}
	clock := testclock.New(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	feed := &dynamo.Feed{DB: db, Table: events, Now: clock.Now}
	const tenant, number = "acme", "106540352242922"
	ana := messaging.Person{Phone: "5215512345678", Name: "Ana"}
	biz := messaging.Person{Phone: "15550001111"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	put := func(wamid string, at time.Time) {
		t.Helper()
		must(msgs.PutMessage(ctx, tenant, messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound,
			Type: "text", Text: wamid, Timestamp: at, From: ana, To: biz, ConversationID: "conv-ana"}, nil))
		must(msgs.PutConversation(ctx, tenant, messaging.Conversation{ID: "conv-ana", PhoneNumberID: number, Person: ana,
			Status: messaging.ConversationActive, LastActiveAt: at}))
		must(msgs.PutContact(ctx, tenant, number, ana, messaging.Sighting{At: at, Inbound: true, ConversationID: "conv-ana"}))
		must(feed.Append(ctx, []bridgeevents.Event{{ID: "evt-" + wamid, Type: bridgeevents.MessageReceived, TenantID: tenant,
			Timestamp: at, Source: "webhook", Subject: "message:" + wamid, Version: 1,
			Data: json.RawMessage(`{"message":{"phone_number_id":"` + number + `","from":{"phone_number":"` + ana.Phone + `"}}}`)}}))
	}
	put("wamid.before", clock.Now().Add(-time.Hour))
	j, err := erasure.NewJob("era_1", tenant, number, "h", erasure.Identities{Phone: ana.Phone}, clock.Now())
	must(err)
	jobs := &dynamo.Erasures{DB: db, Table: bridge}
	_, _, err = jobs.Open(ctx, j, nil)
	must(err)
	r := erasure.Runner{Jobs: jobs, Now: clock.Now,
		Eraser: &dynamo.Eraser{DB: db, Table: bridge, Feed: &dynamo.FeedEraser{DB: db, Table: events, Stored: msgs}, Objects: &memstore.Objects{}}}
	j, err = r.Run(ctx, j, 200)
	must(err)
	// Before the sweep: a stale write of an old message slips through, and
	// Ana writes again.
	clock.Advance(time.Minute)
	put("wamid.stale", j.RequestedAt.Add(-time.Minute))
	put("wamid.after", clock.Now())
	clock.Advance(erasure.SweepDelay)
	j, err = r.Run(ctx, j, 200)
	must(err)
	if j.State != erasure.Done {
		t.Fatalf("job %s", j.State)
	}
	for w, want := range map[string]bool{"wamid.before": false, "wamid.stale": false, "wamid.after": true} {
		if _, ok, err := msgs.Message(ctx, tenant, w); ok != want || err != nil {
			t.Errorf("message %s stored %v, want %v (%v)", w, ok, want, err)
		}
	}
	if _, ok, _ := msgs.Conversation(ctx, tenant, "conv-ana"); !ok {
		t.Error("the conversation she made active again went")
	}
	if c, ok, _ := msgs.Contact(ctx, tenant, number, ana.Phone); !ok || !c.LastSeenAt.Equal(clock.Now().Add(-erasure.SweepDelay)) {
		t.Errorf("her contact after: %v %+v", ok, c)
	}
	clock.Advance(time.Minute) // past the feed's settling
	told, err := feed.List(ctx, eventing.FeedQuery{TenantID: tenant})
	must(err)
	var names []string
	for _, e := range told.Events {
		names = append(names, e.ID)
	}
	if !slices.Equal(names, []string{"evt-wamid.after"}) {
		t.Errorf("events left: %v", names)
	}
}
