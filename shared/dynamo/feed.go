package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Feed is eventing.Feed on the events table. Each event is two items with
// the same sort key, its position: one in its tenant's partition and one
// in the whole stack's. Both feeds are then read from the table itself,
// with consistent reads: an item is listed as soon as the write that made
// it returned, which is what the Settle delay counts on. Keeping the
// stack's copy in gsi1 instead would cost the same (an index write is
// billed as a table write, and the index keeps its own copy), but an index
// is updated after the write returns, with no bound on the lag: an event
// could then appear behind a cursor already handed out.
//
// Every event of the stack lands in one partition, so the stack feed
// takes at most 1,000 write units a second, as any DynamoDB partition:
// about 1,000 events a second of up to 1 KB each, fewer when larger. Past
// it DynamoDB throttles the appends, which retry until AppendDeadline and
// then fail, for the caller to append again later.
type Feed struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
	// Retention is how long an event is kept and listed (eventing.Retention
	// when zero): its item expires then.
	Retention time.Duration

	// scanBudget bounds the items one List reads (feedScanBudget when zero).
	scanBudget int
}

var _ eventing.Feed = (*Feed)(nil)

// Attributes of a feed item besides its key and expiry.
const (
	attrFeedType  = "type"
	attrFeedEvent = "event"
)

// feedScanBudget bounds the items one List reads: a type filter skips the
// others, and a feed holding few events of the types asked for must not
// make one request read all of it. A page that hit it may hold fewer
// events than its limit while more follow; its cursor goes on from the
// last item read.
const feedScanBudget = 1000

// feedBatch is BatchWriteItem's limit of items per call.
const feedBatch = 25

func (f *Feed) now() time.Time { return utcNow(f.Now) }

// Append implements eventing.Feed: two items per event, in BatchWriteItem
// calls of up to 25, each event a nanosecond after the one before it so a
// batch lists in the order given. The items a call leaves unprocessed are
// written again until AppendDeadline, which bounds the whole append. An
// event without an id, a type or a valid tenant id is refused before
// anything is written.
func (f *Feed) Append(ctx context.Context, events []bridgeevents.Event) error {
	wrap := func(err error) error { return fmt.Errorf("append %d events to the feed: %w", len(events), err) }
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		if e.ID == "" || e.Type == "" || !onboarding.ValidTenantID(e.TenantID) {
			return wrap(invalid(fmt.Sprintf("event %q: no id, no type or an invalid tenant", e.ID)))
		}
	}
	// The positions are taken once the deadline runs, so every write ends
	// within AppendDeadline of its position's time.
	ctx, cancel := context.WithTimeout(ctx, eventing.AppendDeadline)
	defer cancel()
	at := f.now()
	retention := f.Retention
	if retention <= 0 {
		retention = eventing.Retention
	}
	expires := numberAttr(at.Add(retention).Unix())
	writes := make([]types.WriteRequest, 0, 2*len(events))
	for i, e := range events {
		body, err := json.Marshal(e)
		if err != nil {
			return wrap(fmt.Errorf("event %s: %w", e.ID, err))
		}
		pos := feedPosition(at.Add(time.Duration(i)), e.ID)
		for _, pk := range []string{feedPK(e.TenantID), feedPK("")} {
			item := key(pk, pos)
			item[attrFeedType] = str(e.Type)
			item[attrFeedEvent] = str(string(body))
			item[schema.AttrTTL] = expires
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
	}
	for chunk := range slices.Chunk(writes, feedBatch) {
		if err := f.write(ctx, chunk); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// write puts one batch, and again what DynamoDB left unprocessed (it
// throttled part of it), backing off until ctx ends.
func (f *Feed) write(ctx context.Context, writes []types.WriteRequest) error {
	for attempt := 0; ; attempt++ {
		out, err := f.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{f.Table: writes},
		})
		if err != nil {
			return refused(err)
		}
		if writes = out.UnprocessedItems[f.Table]; len(writes) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d items still unprocessed: %w", len(writes), ctx.Err())
		case <-time.After(time.Duration(25<<min(attempt, 4)) * time.Millisecond):
		}
	}
}

// feedCursor is a position in one feed: the feed's name (feedName) and the
// position of the last item read, "" for the start.
type feedCursor struct {
	Feed string `json:"f"`
	Pos  string `json:"p"`
}

// maxFeedCursorBytes bounds a cursor: larger is none List handed out.
const maxFeedCursorBytes = 1024

func badFeedCursor() error { return errs.E(errs.Invalid, "invalid cursor", eventing.ErrBadCursor) }

// decodeFeedCursor reads a cursor of the feed named feed: the position it
// holds, or "" for the start.
func decodeFeedCursor(cursor, feed string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	if len(cursor) > maxFeedCursorBytes {
		return "", badFeedCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", badFeedCursor()
	}
	var c feedCursor
	if err := json.Unmarshal(b, &c); err != nil || c.Feed != feed || (c.Pos != "" && !validFeedPosition(c.Pos)) {
		return "", badFeedCursor()
	}
	return c.Pos, nil
}

func encodeFeedCursor(feed, pos string) string {
	b, _ := json.Marshal(feedCursor{Feed: feed, Pos: pos})
	return base64.RawURLEncoding.EncodeToString(b)
}

// List implements eventing.Feed: Query calls of the feed's partition,
// consistent, below the settled horizon, from the cursor's position on. A
// type filter is applied to the items read, so the cursor moves past the
// events it skips; at most feedScanBudget items are read per List.
func (f *Feed) List(ctx context.Context, q eventing.FeedQuery) (eventing.FeedPage, error) {
	wrap := func(err error) error { return fmt.Errorf("list the feed of %q: %w", feedName(q.TenantID), err) }
	feed := feedName(q.TenantID)
	pos, err := decodeFeedCursor(q.Cursor, feed)
	if err != nil {
		return eventing.FeedPage{}, wrap(err)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = eventing.DefaultFeedLimit
	case limit > eventing.MaxFeedLimit:
		limit = eventing.MaxFeedLimit
	}
	budget := f.scanBudget
	if budget <= 0 {
		budget = feedScanBudget
	}
	now := f.now()
	horizon := sortKeyTime(now.Add(-eventing.Settle))
	page := eventing.FeedPage{Events: []bridgeevents.Event{}}
	// A cursor at or past the horizon (another clock's) has nothing settled
	// after it yet; DynamoDB would refuse it as a start outside the range.
	if pos >= horizon {
		page.Cursor = encodeFeedCursor(feed, pos)
		return page, nil
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(f.Table),
		KeyConditionExpression:   aws.String("pk = :pk AND sk < :h"),
		ExpressionAttributeNames: map[string]string{"#ty": attrFeedType, "#ev": attrFeedEvent, "#x": schema.AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(feedPK(q.TenantID)), ":h": str(horizon),
		},
		ProjectionExpression: aws.String("sk, #ty, #ev, #x"),
		ConsistentRead:       aws.Bool(true),
	}
	if pos != "" {
		in.ExclusiveStartKey = key(feedPK(q.TenantID), pos)
	}
	read := 0
	for len(page.Events) < limit && read < budget {
		// Without a filter every item read is listed: read no more than the
		// page needs. With one, read in larger steps.
		n := limit - len(page.Events)
		if len(q.Types) > 0 {
			n = eventing.MaxFeedLimit
		}
		in.Limit = aws.Int32(int32(min(n, budget-read)))
		out, err := f.DB.Query(ctx, in)
		if err != nil {
			return eventing.FeedPage{}, wrap(err)
		}
		for _, it := range out.Items {
			if len(page.Events) == limit {
				break
			}
			read++
			pos = stringAttr(it[schema.AttrSK])
			if feedItemExpired(it, now) || len(q.Types) > 0 && !slices.Contains(q.Types, stringAttr(it[attrFeedType])) {
				continue
			}
			var e bridgeevents.Event
			if err := json.Unmarshal([]byte(stringAttr(it[attrFeedEvent])), &e); err != nil {
				return eventing.FeedPage{}, wrap(fmt.Errorf("event at %s: %w", pos, err))
			}
			page.Events = append(page.Events, e)
		}
		if out.LastEvaluatedKey == nil || len(out.Items) == 0 {
			break
		}
		in.ExclusiveStartKey = key(feedPK(q.TenantID), pos)
	}
	page.Cursor = encodeFeedCursor(feed, pos)
	return page, nil
}

// feedItemExpired: DynamoDB deletes an expired item some time after its
// expiry; until then the feed skips it.
func feedItemExpired(it map[string]types.AttributeValue, now time.Time) bool {
	n, ok := it[schema.AttrTTL].(*types.AttributeValueMemberN)
	if !ok {
		return false
	}
	at, err := strconv.ParseInt(n.Value, 10, 64)
	return err == nil && at <= now.Unix()
}
