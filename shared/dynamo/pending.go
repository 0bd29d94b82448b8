package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Pending is the messaging.PendingStore on the bridge table: the events of
// a number no tenant owns yet, one item each, until the number connects.
//
//	PENDING#<phone number id> / <event id>   received_at, raw (binary)
//
// A number's events list in event id order. A kept event is dropped once
// applied, or expires with the message retention (expires_at: its receipt
// plus Retention) when one is set. Reads are strongly consistent,
// because the drain that follows a number's connection must see every event
// kept before it.
type Pending struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
	// Retention, when set, expires each kept event with the messages.
	Retention messaging.Retention
}

var _ messaging.PendingStore = (*Pending)(nil)

// maxPendingBytes keeps an item, its keys and attributes under DynamoDB's
// 400 KB item limit.
const maxPendingBytes = 350 * 1024

// defaultPendingLimit is the page size when the caller gives none.
const defaultPendingLimit = 100

// KeepPending implements messaging.PendingStore.
func (s *Pending) KeepPending(ctx context.Context, phoneNumberID, eventID string, receivedAt time.Time, raw []byte) error {
	wrap := func(err error) error {
		return fmt.Errorf("keep pending event %s of %s: %w", eventID, phoneNumberID, refused(err))
	}
	switch {
	case phoneNumberID == "" || eventID == "":
		return wrap(errs.E(errs.Invalid, "pending event without number or id", nil))
	case len(raw) > maxPendingBytes:
		return wrap(errs.E(errs.TooLarge, fmt.Sprintf("event of %d bytes, above the %d kept", len(raw), maxPendingBytes), nil))
	}
	if receivedAt.IsZero() {
		receivedAt = utcNow(s.Now)
	}
	item := pendingKey(phoneNumberID, eventID)
	item["event_id"] = str(eventID)
	item["received_at"] = str(stamp(receivedAt))
	expireItem(s.Retention, item, receivedAt, receivedAt)
	if len(raw) > 0 {
		item["raw"] = &types.AttributeValueMemberB{Value: raw}
	}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return wrap(err)
	}
	return nil
}

// Pending implements messaging.PendingStore.
func (s *Pending) Pending(ctx context.Context, phoneNumberID, after string, limit int) ([]messaging.PendingEvent, error) {
	if limit <= 0 {
		limit = defaultPendingLimit
	}
	cond := "pk = :p"
	vals := map[string]types.AttributeValue{":p": str(pendingPK(phoneNumberID))}
	if after != "" {
		cond += " AND sk > :a"
		vals[":a"] = str(after)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: aws.String(cond),
		ExpressionAttributeValues: vals, ConsistentRead: aws.Bool(true),
	}
	var out []messaging.PendingEvent
	for len(out) < limit {
		in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list pending events of %s: %w", phoneNumberID, err)
		}
		for _, it := range page.Items {
			out = append(out, messaging.PendingEvent{ID: stringAttr(it[schema.AttrSK]),
				ReceivedAt: parseStamp(stringAttr(it["received_at"])), Raw: bytesAttr(it["raw"])})
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}

// DropPending implements messaging.PendingStore.
func (s *Pending) DropPending(ctx context.Context, phoneNumberID, eventID string) error {
	if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: pendingKey(phoneNumberID, eventID),
	}); err != nil {
		return fmt.Errorf("drop pending event %s of %s: %w", eventID, phoneNumberID, err)
	}
	return nil
}
