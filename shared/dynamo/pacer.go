package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// SendPacer is the messaging.SendPacer on the bridge table: one counter item per
// number and second (PACE#<number>#<unix second> / PACE), incremented with a
// conditional write while it is below Rate. Every sender, in every Lambda
// instance, shares the counters, so a number's rate holds however many run.
// A send costs one UpdateItem, one more for each full second it skips.
type SendPacer struct {
	DB    *dynamodb.Client
	Table string
	// Rate is the most sends per second of one number.
	Rate int
	// Horizon is how many seconds ahead a slot is looked for before
	// ErrBusy (default 3).
	Horizon int
}

var _ messaging.SendPacer = (*SendPacer)(nil)

// paceKey is a number's counter of one second.
func paceKey(phoneNumberID string, second int64) map[string]types.AttributeValue {
	return key("PACE#"+phoneNumberID+"#"+strconv.FormatInt(second, 10), "PACE")
}

// Reserve implements messaging.SendPacer.
func (p *SendPacer) Reserve(ctx context.Context, phoneNumberID string, now time.Time) (time.Duration, error) {
	if p.Rate <= 0 {
		return 0, nil
	}
	horizon := p.Horizon
	if horizon <= 0 {
		horizon = 3
	}
	first := now.Unix()
	for s := first; s < first+int64(horizon); s++ {
		_, err := p.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(p.Table),
			Key:                 paceKey(phoneNumberID, s),
			UpdateExpression:    aws.String("ADD #n :one SET #ttl = :ttl"),
			ConditionExpression: aws.String("attribute_not_exists(#n) OR #n < :rate"),
			ExpressionAttributeNames: map[string]string{
				"#n": "n", "#ttl": schema.AttrTTL,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": numberAttr(1), ":rate": numberAttr(int64(p.Rate)), ":ttl": numberAttr(s + 120),
			},
		})
		if _, full := conditionFailedItem(err); full {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("pace sends of %s: %w", phoneNumberID, err)
		}
		return max(time.Unix(s, 0).Sub(now), 0), nil
	}
	return 0, messaging.ErrSlotsTaken
}
