package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// PhoneDetails are what the phone number item records about a number.
type PhoneDetails struct {
	PhoneNumberID, BusinessAccountID, DisplayPhoneNumber, ConnectionType string
}

// PhoneItem is the stored phone number item.
type PhoneItem struct {
	TenantID string
	PhoneDetails
	WebhookRegistered bool
	WebhookID         string
	// Secret is the number's webhook secret, "" while none is stored.
	Secret       string
	RegisteredAt time.Time
}

func phoneKey(id string) map[string]types.AttributeValue { return key(PhoneNumberKey(id)) }

// PutPhoneNumber records that a number is connected for the tenant, with its
// details, keeping its webhook state and secret. A number without a
// registered webhook is put in the NUMBER_WEBHOOK_MISSING index for the
// reconciler.
func (s *Onboarding) PutPhoneNumber(ctx context.Context, tenantID string, d PhoneDetails) error {
	now := stamp(s.now())
	set := "SET tenant_id = :t, phone_number_id = :id, updated_at = :u"
	vals := map[string]types.AttributeValue{":t": str(tenantID), ":id": str(d.PhoneNumberID), ":u": str(now)}
	for attr, v := range map[string]string{"business_account_id": d.BusinessAccountID,
		"display_phone_number": d.DisplayPhoneNumber, "connection_type": d.ConnectionType} {
		if v != "" {
			set += ", " + attr + " = :" + attr
			vals[":"+attr] = str(v)
		}
	}
	if _, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(d.PhoneNumberID),
		UpdateExpression: aws.String(set), ExpressionAttributeValues: vals,
	}); err != nil {
		return fmt.Errorf("record phone number %s of tenant %s: %w", d.PhoneNumberID, tenantID, err)
	}
	// Separate and conditional, so a registration that completed meanwhile
	// is never put back in the index.
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(d.PhoneNumberID),
		UpdateExpression:    aws.String("SET gsi1pk = :p, gsi1sk = :s"),
		ConditionExpression: aws.String("attribute_not_exists(webhook_registered) OR webhook_registered = :f"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": str(numberWebhookMissingIndex), ":s": str(now + "#" + d.PhoneNumberID),
			":f": &types.AttributeValueMemberBOOL{Value: false},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("index phone number %s: %w", d.PhoneNumberID, err)
	}
	return nil
}

// PhoneNumber reads a number's item.
func (s *Onboarding) PhoneNumber(ctx context.Context, phoneNumberID string) (PhoneItem, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return PhoneItem{}, false, fmt.Errorf("read phone number %s: %w", phoneNumberID, err)
	}
	if out.Item == nil {
		return PhoneItem{}, false, nil
	}
	return phoneFrom(out.Item), true, nil
}

func phoneFrom(it map[string]types.AttributeValue) PhoneItem {
	return PhoneItem{
		TenantID: stringAttr(it["tenant_id"]),
		PhoneDetails: PhoneDetails{PhoneNumberID: stringAttr(it["phone_number_id"]),
			BusinessAccountID: stringAttr(it["business_account_id"]), DisplayPhoneNumber: stringAttr(it["display_phone_number"]),
			ConnectionType: stringAttr(it["connection_type"])},
		WebhookRegistered: boolAttr(it["webhook_registered"]),
		WebhookID:         stringAttr(it["webhook_id"]),
		Secret:            stringAttr(it[AttrWebhookSecret]),
		RegisteredAt:      parseStamp(stringAttr(it["webhook_registered_at"])),
	}
}

// ErrRegistrationBusy: another worker holds the number's registration lease.
var ErrRegistrationBusy = errs.E(errs.InFlight, "webhook registration in progress", nil)

// ClaimWebhookRegistration takes the number's registration lease, so only
// one worker at a time lists and creates its webhook. It fails with
// ErrRegistrationBusy while another holds it; ok is false when the webhook is
// already registered. item is the number's item as the claim found or left
// it (DynamoDB returns it with the answer), so the caller needs no second read.
func (s *Onboarding) ClaimWebhookRegistration(ctx context.Context, phoneNumberID string, lease time.Duration) (item PhoneItem, token string, ok bool, err error) {
	now := s.now()
	token = randomToken()
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression: aws.String("SET webhook_lock_until = :until, webhook_lock = :tok"),
		ConditionExpression: aws.String("attribute_exists(pk) AND " +
			"(attribute_not_exists(webhook_registered) OR webhook_registered = :f) AND " +
			"(attribute_not_exists(webhook_lock_until) OR webhook_lock_until < :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": numberAttr(now.Add(lease).UnixMilli()), ":now": numberAttr(now.UnixMilli()),
			":tok": str(token), ":f": &types.AttributeValueMemberBOOL{Value: false},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return phoneFrom(out.Attributes), token, true, nil
	}
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		return PhoneItem{}, "", false, fmt.Errorf("claim webhook registration of %s: %w", phoneNumberID, err)
	}
	if len(failed.Item) == 0 {
		return PhoneItem{}, "", false, fmt.Errorf("claim webhook registration of %s: %w", phoneNumberID,
			errs.E(errs.NotFound, "unknown phone number", nil))
	}
	item = phoneFrom(failed.Item)
	if item.WebhookRegistered {
		return item, "", false, nil
	}
	return item, "", false, fmt.Errorf("claim webhook registration of %s: %w", phoneNumberID, ErrRegistrationBusy)
}

// ReleaseWebhookRegistration gives the lease back after a failure.
func (s *Onboarding) ReleaseWebhookRegistration(ctx context.Context, phoneNumberID, token string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression:          aws.String("REMOVE webhook_lock_until, webhook_lock"),
		ConditionExpression:       aws.String("webhook_lock = :tok"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":tok": str(token)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("release webhook registration of %s: %w", phoneNumberID, err)
	}
	return nil
}

// MarkWebhookRegistered records the registered webhook and takes the number
// out of the missing-webhook index; it returns the registration time, which
// the WebhookRegistered fact uses so that a retry records the same fact.
func (s *Onboarding) MarkWebhookRegistered(ctx context.Context, phoneNumberID, webhookID, token string) (time.Time, error) {
	at := s.now()
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: phoneKey(phoneNumberID),
		UpdateExpression: aws.String("SET webhook_registered = :t, webhook_id = :id, webhook_registered_at = :at " +
			"REMOVE webhook_lock_until, webhook_lock, gsi1pk, gsi1sk"),
		ConditionExpression: aws.String("webhook_lock = :tok"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberBOOL{Value: true}, ":id": str(webhookID), ":at": str(stamp(at)), ":tok": str(token),
		},
	})
	if err != nil {
		if isConditionFailed(err) {
			return time.Time{}, fmt.Errorf("mark webhook of %s registered: lease lost: %w", phoneNumberID, ErrRegistrationBusy)
		}
		return time.Time{}, fmt.Errorf("mark webhook of %s registered: %w", phoneNumberID, err)
	}
	return at, nil
}

// NumbersMissingWebhook lists up to limit numbers whose webhook is not registered.
func (s *Onboarding) NumbersMissingWebhook(ctx context.Context, limit int) ([]PhoneItem, error) {
	items, err := s.queryIndex(ctx, numberWebhookMissingIndex, "", limit)
	if err != nil {
		return nil, fmt.Errorf("list numbers without webhook: %w", err)
	}
	out := make([]PhoneItem, 0, len(items))
	for _, it := range items {
		out = append(out, phoneFrom(it))
	}
	return out, nil
}
