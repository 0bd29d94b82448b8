package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Rejects keeps what a worker can never apply (a malformed event, a queue
// message in no known format) with the reason, so an operator can see it and
// the rest of its delivery goes on. One partition per UTC day, newest last.
type Rejects struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

const (
	// maxRejectedBytes keeps the item under DynamoDB's 400 KB limit.
	maxRejectedBytes = 300 * 1024
	rejectRetention  = 30 * 24 * time.Hour
)

func (r *Rejects) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func rejectedDay(t time.Time) string { return rejectedPrefix + t.UTC().Format(time.DateOnly) }

// Keep records raw under id, cut to maxRejectedBytes. Keeping the same id
// twice overwrites it, so a redelivered message does not multiply its record.
func (r *Rejects) Keep(ctx context.Context, id, reason string, receivedAt time.Time, raw []byte) error {
	now := r.now()
	if receivedAt.IsZero() {
		receivedAt = now
	}
	truncated := len(raw) > maxRejectedBytes
	if truncated {
		raw = raw[:maxRejectedBytes]
	}
	// A fixed-width time sorts the day's items in arrival order.
	item := key(rejectedDay(receivedAt), receivedAt.UTC().Format("15:04:05.000000000")+"#"+id)
	item["id"] = str(id)
	item["received_at"] = str(stamp(receivedAt))
	item["reason"] = str(reason)
	item["raw"] = &types.AttributeValueMemberB{Value: raw}
	item["truncated"] = &types.AttributeValueMemberBOOL{Value: truncated}
	item["kept_at"] = str(stamp(now))
	item[schema.AttrTTL] = numberAttr(now.Add(rejectRetention).Unix())
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("keep rejected %s: %w", id, err)
	}
	return nil
}

// List returns the items kept for the UTC day of day, oldest first.
func (r *Rejects) List(ctx context.Context, day time.Time) ([]envelope.Rejected, error) {
	var out []envelope.Rejected
	p := dynamodb.NewQueryPaginator(r.DB, &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(rejectedDay(day))},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list rejected of %s: %w", day.Format(time.DateOnly), err)
		}
		for _, it := range page.Items {
			out = append(out, envelope.Rejected{ID: stringAttr(it["id"]), Reason: stringAttr(it["reason"]),
				ReceivedAt: parseStamp(stringAttr(it["received_at"])),
				Raw:        bytesAttr(it["raw"]), Truncated: boolAttr(it["truncated"])})
		}
	}
	return out, nil
}
