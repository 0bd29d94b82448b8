package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// KeepOrphan implements onboarding.Store.
func (s *Onboarding) KeepOrphan(ctx context.Context, customerID, eventID string, receivedAt time.Time, envelopeJSON []byte) error {
	item := key(orphanPrefix+customerID, sortKeyTime(receivedAt)+"#"+eventID)
	item["kapso_customer_id"] = str(customerID)
	item["envelope"] = str(string(envelopeJSON))
	item["kept_at"] = str(stamp(s.now()))
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("keep orphan event %s of customer %s: %w", eventID, customerID, err)
	}
	return nil
}

// Orphans implements onboarding.Store.
func (s *Onboarding) Orphans(ctx context.Context, customerID string) ([][]byte, error) {
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(orphanPrefix + customerID)},
	})
	if err != nil {
		return nil, fmt.Errorf("list orphans of customer %s: %w", customerID, err)
	}
	var bodies [][]byte
	for _, it := range out.Items {
		bodies = append(bodies, []byte(stringAttr(it["envelope"])))
	}
	return bodies, nil
}
