package reconcile

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// retentionRig is a bridge table holding a tenant's messaging stored
// before any retention was set, and the backfill step over it.
type retentionRig struct {
	t     *testing.T
	db    *dynamodb.Client
	table string
	clk   *testclock.Clock
	cps   *dynamo.Checkpoints
	// before is every retained item's key with the time its expiry counts
	// from.
	before map[[2]string]time.Time
}

// The suite's times are ahead of the machine's clock, by which DynamoDB
// Local deletes what expired.
var retentionEpoch = time.Date(2100, 3, 1, 12, 0, 0, 0, time.UTC)

func newRetentionRig(t *testing.T, opts ...func(*dynamodb.Options)) *retentionRig {
	t.Helper()
	ctx := context.Background()
	db := awstest.DynamoDB(t, opts...)
	table := awstest.Bridge(awstest.Tables(t))
	clk := testclock.New(retentionEpoch)
	r := &retentionRig{t: t, db: db, table: table, clk: clk, cps: &dynamo.Checkpoints{DB: db, Table: table},
		before: map[[2]string]time.Time{}}
	// Written with no retention: none of it has an expiry.
	plain := &dynamo.Messages{DB: db, Table: table, Now: clk.Now}
	const tenant, number, conv = "acme", "106540352242922", "conv-1"
	ana := messaging.Person{Phone: "16505551234", Name: "Ana"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		ts := retentionEpoch.Add(time.Duration(i) * time.Hour)
		w := "wamid." + strconv.Itoa(i)
		must(plain.PutMessage(ctx, tenant, messaging.Message{WAMID: w, PhoneNumberID: number, Direction: messaging.Inbound,
			Type: "text", Text: "hi", Timestamp: ts, From: ana, ConversationID: conv}, nil))
		r.before[[2]string{"MSG#acme#" + w, "MSG"}] = ts
	}
	last := retentionEpoch.Add(4 * time.Hour)
	must(plain.PutConversation(ctx, tenant, messaging.Conversation{ID: conv, PhoneNumberID: number, Person: ana,
		Status: messaging.ConversationActive, LastActiveAt: last}))
	r.before[[2]string{"CONV#acme#" + conv, "CONV"}] = last
	must(plain.PutContact(ctx, tenant, number, ana, messaging.Sighting{At: last, Inbound: true}))
	r.before[[2]string{"CONTACT#acme#" + number + "#" + ana.Key(), "CONTACT"}] = last
	out := messaging.OutboundMessage{ID: messaging.OutboundID(tenant, "k1"), TenantID: tenant, IdempotencyKey: "k1",
		PhoneNumberID: number, To: ana, Type: "text", Text: "hello", Body: []byte(`{}`), ConversationID: conv,
		State: messaging.OutQueued, CreatedAt: last, UpdatedAt: last}
	if _, _, err := plain.CreateOutbound(ctx, out); err != nil {
		t.Fatal(err)
	}
	r.before[[2]string{"OUT#acme#" + out.ID, "OUT"}] = last
	must((&dynamo.Pending{DB: db, Table: table, Now: clk.Now}).KeepPending(ctx, "999", "ev-1", last, []byte(`{}`)))
	r.before[[2]string{"PENDING#999", "ev-1"}] = last
	// What the retention never touches: the tenant.
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		schema.AttrPK: &types.AttributeValueMemberS{Value: "TENANT#acme"}, schema.AttrSK: &types.AttributeValueMemberS{Value: "TENANT"},
	}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// run is one reconciler run's backfill step under days, reading at most
// items items.
func (r *retentionRig) run(days, items int) Report {
	r.t.Helper()
	rec := &Reconciler{Checkpoints: r.cps, Now: r.clk.Now, Retention: messaging.Retention{Days: days},
		Backfill: &dynamo.Messages{DB: r.db, Table: r.table, Now: r.clk.Now}}
	var rep Report
	ru := &run{Reconciler: rec, lim: Limits{RetentionItems: items}.withDefaults(), rep: &rep, meter: unmetered{}, now: r.clk.Now()}
	if err := ru.backfillRetention(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// untilDone runs the step until its checkpoint says the pass is done, and
// returns the runs it took and their summed counts.
func (r *retentionRig) untilDone(days, items int) (int, Counts) {
	r.t.Helper()
	var sum Counts
	for n := 1; n <= 50; n++ {
		c := r.run(days, items).Retention
		if c.Checked > items {
			r.t.Fatalf("run %d read %d items, over its %d", n, c.Checked, items)
		}
		sum.Checked, sum.Found, sum.Fixed = sum.Checked+c.Checked, sum.Found+c.Found, sum.Fixed+c.Fixed
		cp, err := r.cps.Checkpoint(context.Background(), retentionCheckpoint)
		if err != nil {
			r.t.Fatal(err)
		}
		if cp == strconv.Itoa(days)+":"+retentionDone {
			return n, sum
		}
	}
	r.t.Fatal("the backfill never finished its pass")
	return 0, sum
}

// expiry is an item's expires_at and retention_days (0 when absent).
func (r *retentionRig) expiry(k [2]string) (int64, int64) {
	r.t.Helper()
	out, err := r.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(r.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{schema.AttrPK: &types.AttributeValueMemberS{Value: k[0]}, schema.AttrSK: &types.AttributeValueMemberS{Value: k[1]}}})
	if err != nil || out.Item == nil {
		r.t.Fatalf("read %v: %v", k, err)
	}
	n := func(a string) int64 {
		v, _ := out.Item[a].(*types.AttributeValueMemberN)
		if v == nil {
			return 0
		}
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	return n(schema.AttrTTL), n("retention_days")
}

// every checks each retained item expires days after its time.
func (r *retentionRig) every(days int) {
	r.t.Helper()
	for k, at := range r.before {
		exp, d := r.expiry(k)
		if want := at.Add(time.Duration(days) * 24 * time.Hour).Unix(); exp != want || d != int64(days) {
			r.t.Errorf("%v: expires_at %s retention_days %d, want %s and %d", k, time.Unix(exp, 0).UTC(), d, time.Unix(want, 0).UTC(), days)
		}
	}
	if exp, d := r.expiry([2]string{"TENANT#acme", "TENANT"}); exp != 0 || d != 0 {
		r.t.Errorf("the tenant was given an expiry: %d, %d days", exp, d)
	}
}

// Setting a retention later gives what is stored its expiry, a bounded
// number of items a run, each run going on from the last one's checkpoint;
// a finished pass is not done again; a changed setting is a new pass.
func TestRetentionBackfillResumesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	r := newRetentionRig(t)
	retained := len(r.before)
	runs, sum := r.untilDone(1, 3)
	// The table also holds the tenant and the checkpoint: more than
	// retained items, 3 at most a run.
	if runs < (retained+2)/3 || sum.Found != retained || sum.Fixed != retained || sum.Checked < retained {
		t.Errorf("first pass: %d runs, %+v; want at least %d runs finding and fixing %d items", runs, sum, (retained+2)/3, retained)
	}
	r.every(1)
	// Done: a run does nothing more.
	if c := r.run(1, 3).Retention; c != (Counts{}) {
		t.Errorf("a run after the pass: %+v, want nothing", c)
	}
	// And a pass over it all again finds nothing stale.
	pass, err := (&dynamo.Messages{DB: r.db, Table: r.table, Now: r.clk.Now}).ApplyRetention(context.Background(), messaging.Retention{Days: 1}, "", 100)
	if err != nil || pass.Stale != 0 || pass.Updated != 0 || pass.Next != "" {
		t.Errorf("a second pass: %+v, %v; want nothing stale", pass, err)
	}
	// Another retention: a new pass from the start.
	if _, sum := r.untilDone(2, 4); sum.Fixed != retained {
		t.Errorf("a longer retention: fixed %d, want %d", sum.Fixed, retained)
	}
	r.every(2)
	// Unset: the step does nothing, and what has an expiry keeps it.
	if c := r.run(0, 4).Retention; c != (Counts{}) {
		t.Errorf("unset: %+v, want nothing", c)
	}
	r.every(2)
}

// An item already past its expiry is never given a later one: a longer
// retention set afterwards does not bring it back.
func TestRetentionBackfillNeverResurrects(t *testing.T) {
	t.Parallel()
	r := newRetentionRig(t)
	r.untilDone(1, 100)
	r.clk.Advance(3 * 24 * time.Hour) // every item is past its day
	_, sum := r.untilDone(30, 100)
	if sum.Found != len(r.before) || sum.Fixed != 0 {
		t.Errorf("a longer retention over expired items: %+v, want all found, none given an expiry", sum)
	}
	r.every(1)
	read := &dynamo.Messages{DB: r.db, Table: r.table, Now: r.clk.Now}
	if _, ok, err := read.Message(context.Background(), "acme", "wamid.0"); ok || err != nil {
		t.Errorf("an expired message read back: %v %v", ok, err)
	}
}

// A newer activity written between the backfill's read and its write
// wins: the backfill's conditional write fails and leaves the item to it.
func TestRetentionBackfillYieldsToANewerWrite(t *testing.T) {
	t.Parallel()
	var once sync.Once
	var writer *dynamo.Messages
	newer := retentionEpoch.Add(10 * time.Hour)
	race := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("race", func(ctx context.Context, in middleware.InitializeInput,
				next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if u, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok && writer != nil {
					pk, _ := u.Key[schema.AttrPK].(*types.AttributeValueMemberS)
					if pk != nil && strings.HasPrefix(pk.Value, "CONV#") && slices.Contains(slices.Collect(maps.Values(u.ExpressionAttributeNames)), "retention_days") {
						once.Do(func() {
							// A newer message's conversation update, by a function
							// still without the retention.
							_ = writer.PutConversation(context.WithoutCancel(ctx), "acme", messaging.Conversation{ID: "conv-1",
								PhoneNumberID: "106540352242922", Status: messaging.ConversationActive, LastActiveAt: newer})
						})
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
		})
	}
	r := newRetentionRig(t, race)
	writer = &dynamo.Messages{DB: awstest.DynamoDB(t), Table: r.table, Now: r.clk.Now}
	conv := [2]string{"CONV#acme#conv-1", "CONV"}
	first := r.run(1, 100).Retention
	if first.Fixed != len(r.before)-1 {
		t.Errorf("the pass fixed %d, want all but the conversation written meanwhile (%d)", first.Fixed, len(r.before)-1)
	}
	if exp, d := r.expiry(conv); exp != 0 || d != 0 {
		t.Errorf("the conversation written meanwhile got the backfill's expiry %s (%d days)", time.Unix(exp, 0).UTC(), d)
	}
	// The next pass gives it the expiry of its newer activity.
	r.untilDone(2, 100)
	r.before[conv] = newer
	r.every(2)
}
