package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

func feedEvent(tenant, typ string, i int) bridgeevents.Event {
	return bridgeevents.Event{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Type: typ, TenantID: tenant,
		Timestamp: time.Unix(1765000000, 0).UTC(), Source: bridgeevents.SourceAPI, Subject: "message:m",
		Version: int64(i), Data: json.RawMessage(`{"tenant_id":"` + tenant + `"}`)}
}

// An event is two small items with one position: its JSON whole in one
// attribute, its type beside it, and its expiry; nothing in the index.
func TestFeedItems(t *testing.T) {
	ctx := context.Background()
	db := awstest.DynamoDB(t)
	table := awstest.Events(awstest.Tables(t))
	at := time.Now().UTC().Truncate(time.Second)
	f := &dynamo.Feed{DB: db, Table: table, Now: func() time.Time { return at }, Retention: 48 * time.Hour}
	e := feedEvent("acme", bridgeevents.MessageReceived, 1)
	if err := f.Append(ctx, []bridgeevents.Event{e}); err != nil {
		t.Fatal(err)
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var pks []string
	for _, it := range out.Items {
		pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
		var names []string
		for k := range it {
			names = append(names, k)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"event", "expires_at", "pk", "sk", "type"}) {
			t.Errorf("item attributes %v", names)
		}
		if sk := it["sk"].(*types.AttributeValueMemberS).Value; sk != at.Format("2006-01-02T15:04:05.000000000Z")+"#"+e.ID {
			t.Errorf("position %q", sk)
		}
		if x := it["expires_at"].(*types.AttributeValueMemberN).Value; x != fmt.Sprint(at.Add(48*time.Hour).Unix()) {
			t.Errorf("expires_at %s", x)
		}
		var got bridgeevents.Event
		if err := json.Unmarshal([]byte(it["event"].(*types.AttributeValueMemberS).Value), &got); err != nil || got.ID != e.ID ||
			string(got.Data) != string(e.Data) {
			t.Errorf("event %+v %v", got, err)
		}
	}
	slices.Sort(pks)
	if !slices.Equal(pks, []string{"FEED#*", "FEED#acme"}) {
		t.Errorf("partitions %v", pks)
	}
}

// A type filter over many events of other types reads a bounded number of
// items per page: the page may come back short, even empty, with a cursor
// that has moved on, and the events asked for come on later pages.
func TestFeedScanIsBounded(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Now().UTC())
	full := &dynamo.Feed{DB: awstest.DynamoDB(t), Table: awstest.Events(awstest.Tables(t)), Now: clk.Now}
	f := full.WithScanBudget(4)
	var evs []bridgeevents.Event
	for i := range 9 {
		evs = append(evs, feedEvent("acme", bridgeevents.MessageReceived, i))
	}
	evs = append(evs, feedEvent("acme", bridgeevents.ContactChanged, 9), feedEvent("acme", bridgeevents.ContactChanged, 10))
	if err := f.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	clk.Advance(eventing.Settle + time.Second)
	q := eventing.FeedQuery{TenantID: "acme", Types: []string{bridgeevents.ContactChanged}}
	var got []string
	var sizes []int
	for range 5 {
		p, err := f.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.Events))
		for _, e := range p.Events {
			got = append(got, e.ID)
		}
		if p.Cursor == q.Cursor && len(p.Events) == 0 {
			break
		}
		q.Cursor = p.Cursor
	}
	if !slices.Equal(got, []string{"evt_acme_9", "evt_acme_10"}) || !slices.Equal(sizes[:3], []int{0, 0, 2}) {
		t.Errorf("listed %v in pages of %v", got, sizes)
	}
	// Unfiltered, the budget never shortens a page below its limit.
	p, err := full.WithScanBudget(4).List(ctx, eventing.FeedQuery{TenantID: "acme", Limit: 3})
	if err != nil || len(p.Events) != 3 {
		t.Errorf("page of %d: %v", len(p.Events), err)
	}
}

// A cursor whose position is past the reader's horizon (a writer's clock
// ahead of the reader's) lists nothing yet, keeps its place, and is no
// error.
func TestFeedCursorPastTheHorizon(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Now().UTC())
	table := awstest.Events(awstest.Tables(t))
	ahead := &dynamo.Feed{DB: awstest.DynamoDB(t), Table: table, Now: func() time.Time { return clk.Now().Add(time.Minute) }}
	f := &dynamo.Feed{DB: awstest.DynamoDB(t), Table: table, Now: clk.Now}
	if err := ahead.Append(ctx, []bridgeevents.Event{feedEvent("acme", bridgeevents.MessageReceived, 1)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(eventing.Settle + time.Second)
	p, err := ahead.List(ctx, eventing.FeedQuery{TenantID: "acme"})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
	again, err := f.List(ctx, eventing.FeedQuery{TenantID: "acme", Cursor: p.Cursor})
	if err != nil || len(again.Events) != 0 || again.Cursor != p.Cursor {
		t.Errorf("%+v %v", again, err)
	}
}

// An event DynamoDB can never store (an item over 400 KB) is refused as
// invalid, not as an outage to retry.
func TestFeedRefusesAnEventTooLarge(t *testing.T) {
	f := &dynamo.Feed{DB: awstest.DynamoDB(t), Table: awstest.Events(awstest.Tables(t))}
	e := feedEvent("acme", bridgeevents.MessageReceived, 1)
	e.Data = json.RawMessage(`{"text":"` + strings.Repeat("a", 500<<10) + `"}`)
	if err := f.Append(context.Background(), []bridgeevents.Event{e}); errs.CodeOf(err) != errs.Invalid {
		t.Errorf("appended: %v", err)
	}
}
