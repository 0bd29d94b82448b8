package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo/streams"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// streamed is what a table's stream told, read by the poller with the
// publisher's decoding: each record's key and what it decoded to.
type streamed struct {
	mu      sync.Mutex
	records []events.DynamoDBEventRecord
	events  []bridgeevents.Event
}

// readStream polls the table's stream until the record of the marker item
// write arrives, and returns every record before it.
func readStream(t *testing.T, db *dynamodb.Client, table string, mark func()) *streamed {
	t.Helper()
	out := &streamed{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	markerKey := "MARKER#" + table
	p := &streams.Poller{DB: db, Streams: awstest.DynamoDBStreams(t), Table: table, Interval: 20 * time.Millisecond,
		Handler: func(_ context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			out.mu.Lock()
			defer out.mu.Unlock()
			for _, r := range batch.Records {
				if r.Change.Keys["pk"].String() == markerKey {
					cancel()
					return events.DynamoDBEventResponse{}, nil
				}
				c, err := dynamo.StreamChanges{}.Change(r)
				if err != nil {
					t.Errorf("decode %s: %v", r.Change.SequenceNumber, err)
					continue
				}
				evs, err := eventing.Derive(c)
				if err != nil {
					t.Errorf("derive %s: %v", r.Change.SequenceNumber, err)
				}
				out.records = append(out.records, r)
				out.events = append(out.events, evs...)
			}
			return events.DynamoDBEventResponse{}, nil
		}}
	mark()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: markerKey}, "sk": &types.AttributeValueMemberS{Value: "MARKER"}}}); err != nil {
		t.Fatal(err)
	}
	p.Run(ctx)
	if ctx.Err() != context.Canceled {
		t.Fatalf("the marker's record never came: %d records read", len(out.records))
	}
	return out
}

// recordsOf counts the records of the item under pk.
func (s *streamed) recordsOf(pk string) int {
	n := 0
	for _, r := range s.records {
		if r.Change.Keys["pk"].String() == pk {
			n++
		}
	}
	return n
}

// told is each event as "type status|change (source)".
func (s *streamed) told() []string {
	var out []string
	for _, e := range s.events {
		rec, _ := e.Record()
		what := ""
		switch d := rec.(type) {
		case *bridgeevents.TenantStatus:
			what = d.Status
		case *bridgeevents.MessageReceivedData:
			what = d.Message.ID
		case *bridgeevents.MessageStatus:
			what = d.MessageID + " " + d.Status
		case *bridgeevents.ConversationStatus:
			what = d.Status
		case *bridgeevents.ContactChange:
			what = d.Change
		case *bridgeevents.TemplateStatus:
			what = d.Name + " " + d.Status
		}
		out = append(out, fmt.Sprintf("%s %s (%s)", e.Type, what, e.Source))
	}
	return out
}

// Every change the stores make reaches the stream from the write that
// made it, and tells its events once: a write that changes nothing writes
// no record (DynamoDB Local, as DynamoDB), and one that changes only what
// no event reports tells nothing.
func TestTheStreamTellsEveryChangeOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	table := awstest.Bridge(awstest.Tables(t))
	on := &dynamo.Onboarding{DB: db, Table: table}
	ms := &dynamo.Messages{DB: db, Table: table}
	const tenant, number = "acme", "106540352242922"
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	ana := messaging.Person{BSUID: "US.13491208655302741918", Phone: "16505551234", Name: "Ana"}
	webhook, reconciler := messaging.WithOrigin(ctx, messaging.OriginWebhook), messaging.WithOrigin(ctx, messaging.OriginReconciler)
	inbound := messaging.Message{WAMID: "wamid.in", PhoneNumberID: number, Direction: messaging.Inbound, Type: "text",
		Text: "Oi!", Timestamp: at, From: ana, ConversationID: "conv-1"}
	out := messaging.OutboundMessage{ID: messaging.OutboundID(tenant, "key-1"), TenantID: tenant, IdempotencyKey: "key-1",
		PhoneNumberID: number, To: ana, Type: "text", Text: "Olá!", Body: []byte(`{}`), ConversationID: "conv-1", CreatedAt: at,
		UpdatedAt: at}
	status := func(s messaging.Status, minute int) messaging.StatusUpdate {
		return messaging.StatusUpdate{WAMID: "wamid.out", PhoneNumberID: number, Status: s, At: at.Add(time.Duration(minute) * time.Minute)}
	}
	conv := messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: ana, Status: messaging.ConversationActive, LastActiveAt: at}
	quiet := conv
	quiet.InactiveSince, quiet.InactivityMinutes = at, 60
	again := conv
	again.LastActiveAt = at.Add(2 * time.Hour)
	anaB := ana
	anaB.BSUID = "US.55501234567890123456"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	move := func(from messaging.OutboundState, tr messaging.Transition) {
		tr.From, tr.At = []messaging.OutboundState{from}, at
		_, err := ms.MoveOutbound(ctx, tenant, out.ID, tr)
		must(err)
	}
	link := onboarding.LinkDetails{SetupLinkID: "sl_1", URL: "https://app.kapso.ai/setup/sl_1", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	got := readStream(t, db, table, func() {
		must(on.EnsureTenant(ctx, tenant, "Acme"))
		_, err := on.RecordLink(ctx, tenant, link)
		must(err)
		_, err = on.RecordLink(ctx, tenant, link) // a retried request
		must(err)
		must(ms.PutMessage(reconciler, tenant, inbound, nil)) // caught up first
		must(ms.PutMessage(webhook, tenant, inbound, nil))    // then its webhook: only its origin changes
		must(ms.PutMessage(webhook, tenant, inbound, nil))    // and again: no change at all
		_, _, err = ms.CreateOutbound(ctx, out)
		must(err)
		move(messaging.OutQueued, messaging.Transition{To: messaging.OutSending, Claim: "c1"})
		move(messaging.OutSending, messaging.Transition{To: messaging.OutAccepted, WAMID: "wamid.out"})
		for _, u := range []messaging.StatusUpdate{status(messaging.Sent, 1), status(messaging.Sent, 1),
			status(messaging.Delivered, 2), status(messaging.Read, 3), status(messaging.Delivered, 2),
			status(messaging.Delivered, 1)} {
			must(ms.ApplyStatus(webhook, tenant, u))
		}
		for _, c := range []messaging.Conversation{conv, conv, quiet, again} {
			must(ms.PutConversation(webhook, tenant, c))
		}
		must(ms.PutContact(webhook, tenant, number, ana, messaging.Sighting{At: at}))
		must(ms.PutContact(webhook, tenant, number, ana, messaging.Sighting{At: at}))
		pref := messaging.MarketingPreference{Status: "opted_in", Sequence: 1, OccurredAt: at}
		must(ms.SetMarketingPreference(webhook, tenant, number, ana, pref))
		must(ms.SetMarketingPreference(reconciler, tenant, number, ana, pref))
		must(ms.ChangeIdentity(webhook, tenant, number, ana, anaB, at.Add(time.Minute)))
	})
	outID := out.ID
	want := []string{
		"tenant.status_changed link_active (api)",
		"message.received wamid.in (reconciler)",
		"message.status_changed " + outID + " queued (api)",
		"message.status_changed " + outID + " sending (api)",
		"message.status_changed " + outID + " accepted (api)",
		"message.status_changed " + outID + " sent (webhook)",
		"message.status_changed " + outID + " delivered (webhook)",
		"message.status_changed " + outID + " read (webhook)",
		"conversation.status_changed created (webhook)",
		"conversation.status_changed inactive (webhook)",
		"conversation.status_changed active (webhook)",
		"contact.changed marketing_preference (webhook)",
		"contact.changed identity (webhook)",
	}
	if told := got.told(); !slices.Equal(told, want) {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(told, "\n"), strings.Join(want, "\n"))
	}
	// A write of the same values writes no record.
	for pk, n := range map[string]int{
		"MSG#acme#wamid.in": 2, // caught up, then its origin
		"CONV#acme#conv-1":  3, // created, inactive, active again
		// queued, sending, accepted, then nothing the message item's
		// statuses did.
		"OUT#acme#" + outID: 3,
		// accepted, sent, delivered, read; the same delivered again writes
		// nothing, and one more delivered, late, only adds to its history.
		"MSG#acme#wamid.out": 5,
	} {
		if got := got.recordsOf(pk); got != n {
			t.Errorf("%s: %d records, want %d", pk, got, n)
		}
	}
	for _, e := range got.events {
		if e.Timestamp.IsZero() || e.TenantID != tenant {
			t.Errorf("event %+v", e)
		}
	}
}

// image is an item as a stream record carries it.
func image(attrs map[string]string) map[string]events.DynamoDBAttributeValue {
	out := map[string]events.DynamoDBAttributeValue{}
	for k, v := range attrs {
		out[k] = events.NewStringAttribute(v)
	}
	return out
}

// eventItem reports whether a change may be read from the item of these
// keys: its sort key is one of EventSortKeys, or its keys begin as one of
// EventKeyPrefixes says.
func eventItem(pk, sk string) bool {
	return slices.Contains(dynamo.EventSortKeys, sk) || slices.ContainsFunc(dynamo.EventKeyPrefixes, func(p dynamo.KeyPrefix) bool {
		return strings.HasPrefix(pk, p.PK) && strings.HasPrefix(sk, p.SK)
	})
}

// A change is read from the items of EventSortKeys and EventKeyPrefixes,
// each kind of change from one of them, and from no other item: a
// consumer handed only their records misses no event.
func TestEventSortKeysAreTheItemsChangesAreReadFrom(t *testing.T) {
	// An item of each kind a change holds, by the Change field it fills.
	items := map[string][2]string{
		"Tenant":       {"TENANT#acme", "TENANT"},
		"Message":      {"MSG#acme#wamid.1", "MSG"},
		"Outbound":     {"OUT#acme#out-1", "OUT"},
		"Conversation": {"CONV#acme#conv-1", "CONV"},
		"Contact":      {"CONTACT#acme#106540352242922#US.13491208655302741918", "CONTACT"},
		"Template":     {"TEMPLATES#acme", "TPL#102290129340398#order_shipped#en_US"},
		"Offboarding":  {"OFFBOARD#acme", "OFFBOARD"},
		"Erasure":      {"ERASURE#acme#era_1", "ERASURE"},
	}
	kinds := reflect.TypeOf(eventing.Change{})
	filled := map[string]bool{}
	for i := range kinds.NumField() {
		if f := kinds.Field(i); f.Type.Kind() == reflect.Pointer {
			if _, ok := items[f.Name]; !ok {
				t.Errorf("eventing.Change holds %s, of an item this test does not know", f.Name)
			}
		}
	}
	for field, key := range items {
		newImage := image(map[string]string{"pk": key[0], "sk": key[1]})
		newImage["version"] = events.NewNumberAttribute("1")                                                      // a template has one
		newImage["job"] = events.NewStringAttribute(`{"tenant_id":"acme","phase":"kapso"}`)                       // an offboarding has one
		for k, v := range map[string]string{"erasure_id": "era_1", "tenant_id": "acme", "phone_number_id": "111", // an erasure these
			"state": "done", "identities": "{}", "progress": "{}", "position": `{"round":2}`} {
			newImage[k] = events.NewStringAttribute(v)
		}
		rec := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			Keys: image(map[string]string{"pk": key[0], "sk": key[1]}), NewImage: newImage}}
		c, err := dynamo.StreamChanges{}.Change(rec)
		if err != nil {
			t.Errorf("%s %v: %v", field, key, err)
			continue
		}
		if reflect.ValueOf(c).FieldByName(field).IsNil() {
			t.Errorf("%v is read as no %s", key, field)
		}
		if !eventItem(key[0], key[1]) {
			t.Errorf("a %s is read from %v, whose keys are neither in EventSortKeys %v nor in EventKeyPrefixes %v", field, key,
				dynamo.EventSortKeys, dynamo.EventKeyPrefixes)
		}
		filled[key[1]] = true
		for _, p := range dynamo.EventKeyPrefixes {
			if strings.HasPrefix(key[0], p.PK) && strings.HasPrefix(key[1], p.SK) {
				filled[p.PK+" "+p.SK] = true
			}
		}
	}
	for _, sk := range dynamo.EventSortKeys {
		if !filled[sk] {
			t.Errorf("EventSortKeys holds %s, of no item a change is read from", sk)
		}
	}
	for _, p := range dynamo.EventKeyPrefixes {
		if !filled[p.PK+" "+p.SK] {
			t.Errorf("EventKeyPrefixes holds %+v, of no item a change is read from", p)
		}
	}
}

// Items no event tells of decode to no change; an image that is no item
// of the table, or one of its attributes unreadable, is an error that
// says so.
func TestStreamChangesOfOtherItemsAndUnreadableOnes(t *testing.T) {
	for _, key := range [][2]string{
		{"TENANT#acme", "FACT#link_created#sl_1#abc"}, {"LINK#sl_1", "LINK"}, {"CUSTOMER#cus_1", "CUSTOMER"},
		{"CONV#acme#conv-1", "ALIAS"}, {"PENDING#106540352242922", "evt-1"}, {"CHECKPOINT#catchup", "CHECKPOINT"},
		{"LEASE#reconcile", "LEASE"}, {"PHONE#106540352242922", "PHONE"}, {"REJECTED#2026-03-10", "x"},
		{"EVENT#acme", "0001"}, {"kapso_number#1#key", "CLAIM"},
		{"ERASURE_OPEN#acme#111#h", "LOCK"}, {"TOMB#acme#111#h", "TOMB"}, {"ERASURE_MARK#acme#111", "MARK"},
		{"TEMPLATES#acme", "SYNC#102290129340398"}, {"TENANT#acme", "TPL#102290129340398#order_shipped#en_US"},
	} {
		rec := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			Keys: image(map[string]string{"pk": key[0], "sk": key[1]}), NewImage: image(map[string]string{"pk": key[0], "sk": key[1]})}}
		c, err := dynamo.StreamChanges{}.Change(rec)
		if err != nil || c.Tenant != nil || c.Message != nil || c.Outbound != nil || c.Conversation != nil || c.Contact != nil ||
			c.Template != nil || c.Offboarding != nil || c.Erasure != nil {
			t.Errorf("%v: %+v %v", key, c, err)
		}
		if eventItem(key[0], key[1]) {
			t.Errorf("%v: its keys are in EventSortKeys or EventKeyPrefixes, yet it tells no change", key)
		}
	}
	for name, rec := range map[string]events.DynamoDBEventRecord{
		"a message whose history is not JSON": {Change: events.DynamoDBStreamRecord{NewImage: map[string]events.DynamoDBAttributeValue{
			"pk": events.NewStringAttribute("MSG#acme#wamid.1"), "sk": events.NewStringAttribute("MSG"),
			"hist": events.NewStringSetAttribute([]string{"{not json"})}}},
		"a message key without its WAMID": {Change: events.DynamoDBStreamRecord{
			NewImage: image(map[string]string{"pk": "MSG#acme", "sk": "MSG"})}},
		"a contact key without its person": {Change: events.DynamoDBStreamRecord{
			NewImage: image(map[string]string{"pk": "CONTACT#acme#106540352242922", "sk": "CONTACT"})}},
		"a template key without its tenant": {Change: events.DynamoDBStreamRecord{NewImage: map[string]events.DynamoDBAttributeValue{
			"pk": events.NewStringAttribute("TEMPLATES#"), "sk": events.NewStringAttribute("TPL#1#a#en"),
			"version": events.NewNumberAttribute("1")}}},
		"a template without its version": {Change: events.DynamoDBStreamRecord{
			OldImage: image(map[string]string{"pk": "TEMPLATES#acme", "sk": "TPL#1#a#en", "status": "PENDING"})}},
		"a template whose history is not a list": {Change: events.DynamoDBStreamRecord{NewImage: map[string]events.DynamoDBAttributeValue{
			"pk": events.NewStringAttribute("TEMPLATES#acme"), "sk": events.NewStringAttribute("TPL#1#a#en"),
			"version": events.NewNumberAttribute("2"), "history": events.NewStringAttribute("APPROVED")}}},
	} {
		if _, err := (dynamo.StreamChanges{}).Change(rec); !errors.Is(err, dynamo.ErrStreamRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// listing is Kapso's list of a WABA's templates, as the test sets it.
type listing struct{ reads []templates.Read }

func (l *listing) ListTemplates(context.Context, string) ([]templates.Read, error) {
	return l.reads, nil
}

func (l *listing) CreateTemplate(context.Context, string, templates.Draft) (templates.Created, error) {
	return templates.Created{}, errors.New("not here")
}

// A template's stored changes reach the stream and tell
// template.status_changed each time its status moves, from the same
// decoding the store reads with; its first status, a change of its quality
// alone, a sync that found nothing new and the sync marks tell nothing.
func TestTheStreamTellsTemplateStatusChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	table := awstest.Bridge(awstest.Tables(t))
	s := &dynamo.Templates{DB: db, Table: table}
	const tenant, waba = "acme", "102290129340398"
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	read := templates.Read{ID: "1234", Name: "order_shipped", Language: "en_US", Category: templates.Utility,
		Status: templates.Pending, RejectedReason: "NONE", QualityScore: "UNKNOWN",
		Components: json.RawMessage(`[{"type":"BODY","text":"Your order {{1}} has shipped"}]`)}
	kapso := &listing{}
	sync := func(src string, minute int, reads ...templates.Read) {
		t.Helper()
		kapso.reads = reads
		if _, err := templates.Sync(ctx, kapso, s, tenant, waba, src, at.Add(time.Duration(minute)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var approved templates.Template
	got := readStream(t, db, table, func() {
		sync(templates.SourceAPI, 1, read) // created PENDING
		approvedRead := read
		approvedRead.Status = templates.Approved
		sync(templates.SourceReconciler, 2, approvedRead)
		var err error
		if approved, _, err = s.Template(ctx, tenant, templates.Key{BusinessAccountID: waba, Name: read.Name, Language: read.Language}); err != nil {
			t.Fatal(err)
		}
		sync(templates.SourceReconciler, 3, approvedRead) // nothing new: the mark alone
		green := approvedRead
		green.QualityScore = "GREEN"
		sync(templates.SourceReconciler, 4, green)
		sync(templates.SourceReconciler, 5) // no longer listed
		// Another tenant's, created approved.
		if err := s.SaveTemplates(ctx, "globex", []templates.Template{{BusinessAccountID: waba, Read: approvedRead, Version: 1}}, nil); err != nil {
			t.Fatal(err)
		}
	})
	want := []string{
		"template.status_changed order_shipped APPROVED (reconciler)",
		"template.status_changed order_shipped DELETED (reconciler)",
	}
	if told := got.told(); !slices.Equal(told, want) {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(told, "\n"), strings.Join(want, "\n"))
	}
	subject := "template:" + waba + ":order_shipped:en_US"
	for i, v := range []int64{2, 4} {
		if i < len(got.events) && (got.events[i].Subject != subject || got.events[i].Version != v || got.events[i].TenantID != tenant) {
			t.Errorf("event %d: %+v", i, got.events[i])
		}
	}
	// Created, approved, its quality, deleted; a sync mark for each of the
	// five syncs, though the third wrote nothing else.
	if n := got.recordsOf("TEMPLATES#" + tenant); n != 4+5 {
		t.Errorf("%d records of the tenant's templates, want 9", n)
	}
	// The record of the approval holds the template as the store reads it.
	for _, r := range got.records {
		c, err := dynamo.StreamChanges{}.Change(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(r.Change.Keys["sk"].String(), "SYNC#") != (c.Template == nil) {
			t.Errorf("record of %s decoded to %+v", r.Change.Keys["sk"].String(), c)
		}
		if c.Template != nil && c.Template.After != nil && c.Template.After.Version == 2 && !reflect.DeepEqual(*c.Template.After, approved) {
			t.Errorf("the approval's record holds\n%+v\nthe store reads\n%+v", *c.Template.After, approved)
		}
	}
}
