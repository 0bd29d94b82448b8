package dynamo_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

func TestRetentionContract(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T, now func() time.Time, r messaging.Retention) storetest.RetentionStores {
		s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Retention: r, Now: now}
		return storetest.RetentionStores{Store: s, Reader: s, Outbox: s, Backfill: s}
	})
}

// expiryOf is the item's expires_at and retention_days; 0 for none.
func expiryOf(t *testing.T, db *dynamodb.Client, table, pk, sk string) (expires, days int64) {
	t.Helper()
	k := map[string]types.AttributeValue{schema.AttrPK: &types.AttributeValueMemberS{Value: pk}}
	if sk != "" {
		k[schema.AttrSK] = &types.AttributeValueMemberS{Value: sk}
	}
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("read %s/%s: %v (found %v)", pk, sk, err, out != nil && out.Item != nil)
	}
	n := func(a string) int64 {
		v, ok := out.Item[a].(*types.AttributeValueMemberN)
		if !ok {
			return 0
		}
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	return n(schema.AttrTTL), n("retention_days")
}

// Under a retention, every messaging item carries its TTL attribute and
// the days it was computed with, written by the write that stores it: a
// message from its own time (a status before it from the status's), a
// send from its creation, a conversation and a contact from their newest
// activity, a pending event from its receipt. Without one, none does.
func TestRetentionWrittenWithTheItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, table := awstest.DynamoDB(t), awstest.Bridge(awstest.Tables(t))
	// Ahead of the machine's clock, by which DynamoDB Local deletes what
	// expired.
	epoch := time.Date(2100, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := testclock.New(epoch.Add(time.Hour))
	s := &dynamo.Messages{DB: db, Table: table, Retention: messaging.Retention{Days: 7}, Now: clk.Now}
	week := int64(7 * 24 * 3600)
	const tenant, number, conv = "acme", "106540352242922", "conv-1"
	ana := messaging.Person{Phone: "16505551234", Name: "Ana"}
	check := func(what, pk, sk string, want int64) {
		t.Helper()
		if exp, days := expiryOf(t, db, table, pk, sk); exp != want || days != 7 {
			t.Errorf("%s: expires_at %d retention_days %d, want %d (%s) and 7", what, exp, days, want, time.Unix(want, 0).UTC())
		}
	}

	// A status before its message counts from its own time; the message's
	// own copy then sets the expiry from the message's time.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.ApplyStatus(ctx, tenant, messaging.StatusUpdate{WAMID: "wamid.1", PhoneNumberID: number, Status: messaging.Delivered,
		At: epoch.Add(30 * time.Minute), Recipient: ana}))
	check("a status before its message", "MSG#acme#wamid.1", "MSG", epoch.Add(30*time.Minute).Unix()+week)
	must(s.PutMessage(ctx, tenant, messaging.Message{WAMID: "wamid.1", PhoneNumberID: number, Direction: messaging.Inbound,
		Type: "text", Text: "hi", Timestamp: epoch, From: ana, ConversationID: conv}, nil))
	check("the message", "MSG#acme#wamid.1", "MSG", epoch.Unix()+week)

	must(s.PutConversation(ctx, tenant, messaging.Conversation{ID: conv, PhoneNumberID: number, Person: ana,
		Status: messaging.ConversationActive, LastActiveAt: epoch}))
	must(s.PutConversation(ctx, tenant, messaging.Conversation{ID: conv, PhoneNumberID: number, Person: ana,
		Status: messaging.ConversationActive, LastActiveAt: epoch.Add(3 * time.Hour)}))
	// An older report only fills.
	must(s.PutConversation(ctx, tenant, messaging.Conversation{ID: conv, PhoneNumberID: number, Person: ana,
		Status: messaging.ConversationActive, LastActiveAt: epoch.Add(time.Hour)}))
	check("the conversation, moved by its newest activity", "CONV#acme#"+conv, "CONV", epoch.Add(3*time.Hour).Unix()+week)

	must(s.PutContact(ctx, tenant, number, ana, messaging.Sighting{At: epoch.Add(2 * time.Hour), Inbound: true}))
	must(s.PutContact(ctx, tenant, number, ana, messaging.Sighting{At: epoch.Add(time.Hour)}))
	check("the contact, by its newest sighting", "CONTACT#acme#"+number+"#"+ana.Key(), "CONTACT", epoch.Add(2*time.Hour).Unix()+week)

	out := messaging.OutboundMessage{ID: messaging.OutboundID(tenant, "k1"), TenantID: tenant, IdempotencyKey: "k1",
		PhoneNumberID: number, To: ana, Type: "text", Text: "hello", Body: []byte(`{}`), ConversationID: conv,
		State: messaging.OutQueued, CreatedAt: epoch.Add(4 * time.Hour), UpdatedAt: epoch.Add(4 * time.Hour)}
	if _, ok, err := s.CreateOutbound(ctx, out); err != nil || !ok {
		t.Fatalf("create outbound: %v %v", ok, err)
	}
	check("the send", "OUT#acme#"+out.ID, "OUT", epoch.Add(4*time.Hour).Unix()+week)
	for _, tr := range []messaging.Transition{{From: []messaging.OutboundState{messaging.OutQueued}, To: messaging.OutSending},
		{From: []messaging.OutboundState{messaging.OutSending}, To: messaging.OutAccepted, WAMID: "wamid.2", At: epoch.Add(5 * time.Hour)}} {
		if _, err := s.MoveOutbound(ctx, tenant, out.ID, tr); err != nil {
			t.Fatalf("move to %s: %v", tr.To, err)
		}
	}
	check("the message a send was accepted as", "MSG#acme#wamid.2", "MSG", epoch.Add(4*time.Hour).Unix()+week)

	p := &dynamo.Pending{DB: db, Table: table, Now: clk.Now, Retention: messaging.Retention{Days: 7}}
	must(p.KeepPending(ctx, "999", "ev-1", epoch.Add(6*time.Hour), []byte(`{}`)))
	check("a pending event", "PENDING#999", "ev-1", epoch.Add(6*time.Hour).Unix()+week)

	// Without a retention nothing gets an expiry.
	kept := &dynamo.Messages{DB: db, Table: table, Now: clk.Now}
	must(kept.PutMessage(ctx, tenant, messaging.Message{WAMID: "wamid.3", PhoneNumberID: number, Direction: messaging.Inbound,
		Type: "text", Text: "kept", Timestamp: epoch, From: ana}, nil))
	if exp, days := expiryOf(t, db, table, "MSG#acme#wamid.3", "MSG"); exp != 0 || days != 0 {
		t.Errorf("without a retention: expires_at %d retention_days %d, want none", exp, days)
	}
}

// A body kept aside expires with the retention when it is shorter than the
// DLQs' 14 days and one; with a longer one or none, as before.
func TestPayloadsExpireWithTheRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, table := awstest.DynamoDB(t), awstest.Idempotency(awstest.Tables(t))
	now := time.Date(2100, 3, 1, 12, 0, 0, 0, time.UTC)
	usual := now.Add(schema.DLQRetention + 24*time.Hour).Unix()
	for days, want := range map[int]int64{0: usual, 3: now.Add(3 * 24 * time.Hour).Unix(), 60: usual} {
		p := &dynamo.Payloads{DB: db, Table: table, Now: func() time.Time { return now }, Retention: messaging.Retention{Days: days}}
		ref := "ref-" + strconv.Itoa(days)
		if err := p.Put(ctx, ref, []byte("body")); err != nil {
			t.Fatal(err)
		}
		if exp, _ := expiryOf(t, db, table, "payload#"+ref+"#0", ""); exp != want {
			t.Errorf("retention %d days: the body expires at %s, want %s", days, time.Unix(exp, 0).UTC(), time.Unix(want, 0).UTC())
		}
	}
}
