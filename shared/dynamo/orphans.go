package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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
