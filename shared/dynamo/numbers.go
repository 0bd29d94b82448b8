package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Numbers is the onboarding.NumberStore on the bridge table, and the only
// writer of its PHONE# items:
//
//	PHONE#<id> / PHONE   tenant, webhook secret, registration lease and
//	                     webhook_recorded (gsi1: NUMBER_WEBHOOK_MISSING until recorded)
type Numbers struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

// Attributes of a PHONE# item.
const (
	attrWebhookSecret   = "webhook_secret"
	attrWebhookRecorded = "webhook_recorded"
	registrationLease   = "webhook"
)

func (s *Numbers) now() time.Time { return utcNow(s.Now) }

// AddNumber implements onboarding.NumberStore.
func (s *Numbers) AddNumber(ctx context.Context, tenantID, phoneNumberID string) error {
	at := s.now()
	now := stamp(at)
	if _, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression: aws.String("SET tenant_id = :t, phone_number_id = :id, updated_at = :u REMOVE " + attrOffboarding),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": str(tenantID), ":id": str(phoneNumberID), ":u": str(now),
		},
	}); err != nil {
		return fmt.Errorf("record phone number %s of tenant %s: %w", phoneNumberID, tenantID, err)
	}
	// Separate and conditional, so a number whose webhook is recorded is
	// never listed again.
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression:    aws.String("SET gsi1pk = :p, gsi1sk = :s"),
		ConditionExpression: aws.String(notRecorded),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": str(numberWebhookMissingIndex), ":s": str(sortKeyTime(at) + "#" + phoneNumberID), ":f": falseAttr,
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("index phone number %s: %w", phoneNumberID, err)
	}
	return nil
}

// notRecorded holds while the number's webhook is not recorded (:f is false).
const notRecorded = "(attribute_not_exists(" + attrWebhookRecorded + ") OR " + attrWebhookRecorded + " = :f)"

var falseAttr = &types.AttributeValueMemberBOOL{Value: false}

// TenantOfPhoneNumber implements onboarding.NumberStore.
func (s *Numbers) TenantOfPhoneNumber(ctx context.Context, phoneNumberID string) (string, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("tenant_id, " + attrOffboarding),
	})
	if err != nil {
		return "", false, fmt.Errorf("look up %s: %w", phoneNumberID, err)
	}
	if boolAttr(out.Item[attrOffboarding]) {
		return "", false, fmt.Errorf("%s: %w", phoneNumberID, onboarding.ErrNumberOffboarded)
	}
	t := stringAttr(out.Item["tenant_id"])
	return t, t != "", nil
}

// attrOffboarding marks a number whose tenant is being offboarded.
const attrOffboarding = "offboarding"

// OffboardNumber implements onboarding.NumberStore: one conditional update,
// which also takes the number out of the missing-webhook index.
func (s *Numbers) OffboardNumber(ctx context.Context, phoneNumberID, tenantID string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression:          aws.String("SET " + attrOffboarding + " = :on REMOVE gsi1pk, gsi1sk"),
		ConditionExpression:       aws.String("tenant_id = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":on": &types.AttributeValueMemberBOOL{Value: true}, ":t": str(tenantID)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark %s offboarding: %w", phoneNumberID, err)
	}
	return nil
}

func numberFrom(it map[string]types.AttributeValue) onboarding.Number {
	return onboarding.Number{
		PhoneNumberID:   stringAttr(it["phone_number_id"]),
		TenantID:        stringAttr(it["tenant_id"]),
		WebhookSecret:   stringAttr(it[attrWebhookSecret]),
		Registration:    leaseFrom(it, registrationLease),
		WebhookRecorded: boolAttr(it[attrWebhookRecorded]),
	}
}

// ClaimWebhookRegistration implements onboarding.NumberStore. The condition
// is Number.Next being LeaseTake; DynamoDB returns the item with the answer,
// so the caller needs no second read.
func (s *Numbers) ClaimWebhookRegistration(ctx context.Context, phoneNumberID string, d time.Duration) (onboarding.Number, string, bool, error) {
	token := randomToken()
	vals := leaseValues(s.now(), d, token)
	vals[":f"] = falseAttr
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression:                    aws.String("SET webhook_lock_until = :until, webhook_lock = :tok"),
		ConditionExpression:                 aws.String("attribute_exists(pk) AND " + notRecorded + " AND " + leaseFree(registrationLease)),
		ExpressionAttributeValues:           vals,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return s.number(phoneNumberID, out.Attributes), token, true, nil
	}
	wrap := func(err error) error { return fmt.Errorf("claim webhook registration of %s: %w", phoneNumberID, err) }
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		return onboarding.Number{}, "", false, wrap(err)
	}
	if len(failed.Item) == 0 {
		return onboarding.Number{}, "", false, wrap(onboarding.ErrUnknownNumber)
	}
	n := s.number(phoneNumberID, failed.Item)
	if n.Registration.HeldBy(token) {
		// The SDK retried an update whose first attempt was applied.
		return n, token, true, nil
	}
	if n.WebhookRecorded {
		return n, "", false, nil
	}
	// A lease our clock finds free was live at DynamoDB's check: busy too.
	return n, "", false, wrap(onboarding.ErrRegistrationBusy)
}

// number reads a PHONE# item; one holding only a secret has no phone_number_id yet.
func (s *Numbers) number(phoneNumberID string, item map[string]types.AttributeValue) onboarding.Number {
	n := numberFrom(item)
	n.PhoneNumberID = phoneNumberID
	return n
}

// ReleaseWebhookRegistration implements onboarding.NumberStore.
func (s *Numbers) ReleaseWebhookRegistration(ctx context.Context, phoneNumberID, token string) error {
	if err := releaseLease(ctx, s.DB, s.Table, phoneKey(phoneNumberID), registrationLease, token); err != nil {
		return fmt.Errorf("release webhook registration of %s: %w", phoneNumberID, err)
	}
	return nil
}

// WebhookRecorded implements onboarding.NumberStore.
func (s *Numbers) WebhookRecorded(ctx context.Context, phoneNumberID string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression: aws.String("SET " + attrWebhookRecorded + " = :t " +
			"REMOVE webhook_lock_until, webhook_lock, gsi1pk, gsi1sk"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("record webhook of %s: %w", phoneNumberID, err)
	}
	return nil
}

// NumbersMissingWebhook implements onboarding.NumberStore.
func (s *Numbers) NumbersMissingWebhook(ctx context.Context, limit int) ([]onboarding.Number, error) {
	items, err := queryIndex(ctx, s.DB, s.Table, numberWebhookMissingIndex, "", limit)
	if err != nil {
		return nil, fmt.Errorf("list numbers without webhook: %w", err)
	}
	out := make([]onboarding.Number, 0, len(items))
	for _, it := range items {
		out = append(out, numberFrom(it))
	}
	return out, nil
}

// Secret implements onboarding.NumberStore; the ingest reads it through its cache.
func (s *Numbers) Secret(ctx context.Context, phoneNumberID string) (string, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.Table),
		Key:                      phoneKey(phoneNumberID),
		ProjectionExpression:     aws.String("#s, #o"),
		ExpressionAttributeNames: map[string]string{"#s": attrWebhookSecret, "#o": attrOffboarding},
		// The secret is written just before Kapso learns it; a strongly
		// consistent read makes sure the first delivery can be verified.
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("read webhook secret of %s: %w", phoneNumberID, err)
	}
	if boolAttr(out.Item[attrOffboarding]) {
		return "", fmt.Errorf("%s: %w", phoneNumberID, onboarding.ErrNumberOffboarded)
	}
	secret := stringAttr(out.Item[attrWebhookSecret])
	if secret == "" {
		return "", fmt.Errorf("%s: %w", phoneNumberID, onboarding.ErrNoSecret)
	}
	return secret, nil
}

// PutSecret implements onboarding.NumberStore.
func (s *Numbers) PutSecret(ctx context.Context, phoneNumberID, secret string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       phoneKey(phoneNumberID),
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": attrWebhookSecret},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(secret)},
	})
	if err != nil {
		return fmt.Errorf("store webhook secret of %s: %w", phoneNumberID, err)
	}
	return nil
}
