package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// ErrNoSecret: no webhook secret is stored for the number. Its code is
// errs.NotFound, which callers test for without importing this package.
var ErrNoSecret = errs.E(errs.NotFound, "no webhook secret for phone number", nil)

// WebhookSecrets reads the per-number webhook secrets the lifecycle worker
// stores when it registers a number's webhook.
type WebhookSecrets struct {
	DB    *dynamodb.Client
	Table string
}

// Secret returns the number's webhook secret, or ErrNoSecret.
func (s *WebhookSecrets) Secret(ctx context.Context, phoneNumberID string) (string, error) {
	pk, sk := PhoneNumberKey(phoneNumberID)
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.Table),
		Key:                      key(pk, sk),
		ProjectionExpression:     aws.String("#s"),
		ExpressionAttributeNames: map[string]string{"#s": AttrWebhookSecret},
		// The secret is written just before Kapso learns it; a strongly
		// consistent read makes sure the first delivery can be verified.
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("read webhook secret of %s: %w", phoneNumberID, err)
	}
	secret := stringAttr(out.Item[AttrWebhookSecret])
	if secret == "" {
		return "", fmt.Errorf("%s: %w", phoneNumberID, ErrNoSecret)
	}
	return secret, nil
}

// PutSecret stores a number's webhook secret, keeping the item's other attributes.
func (s *WebhookSecrets) PutSecret(ctx context.Context, phoneNumberID, secret string) error {
	pk, sk := PhoneNumberKey(phoneNumberID)
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(pk, sk),
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": AttrWebhookSecret},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: secret}},
	})
	if err != nil {
		return fmt.Errorf("store webhook secret of %s: %w", phoneNumberID, err)
	}
	return nil
}
