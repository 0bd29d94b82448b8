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

// The customer lease lives on the tenant item as customer_lock and
// customer_lock_until; the recorded customer as kapso_customer_id.
const customerLease = "customer"

// Customer implements onboarding.CustomerStore.
func (s *Onboarding) Customer(ctx context.Context, tenantID string) (onboarding.TenantCustomer, error) {
	item, found, err := s.readTenant(ctx, tenantID)
	if err != nil {
		return onboarding.TenantCustomer{}, err
	}
	if !found {
		return onboarding.TenantCustomer{}, fmt.Errorf("customer of tenant %s: %w", tenantID, onboarding.ErrTenantNotFound)
	}
	return onboarding.TenantCustomer{CustomerID: stringAttr(item["kapso_customer_id"]), Lease: leaseFrom(item, customerLease)}, nil
}

// TakeCustomerLease implements onboarding.CustomerStore. The condition is
// TenantCustomer.Next being LeaseTake.
func (s *Onboarding) TakeCustomerLease(ctx context.Context, tenantID string, d time.Duration) (string, bool, error) {
	token := randomToken()
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(tenantID),
		UpdateExpression: aws.String("SET customer_lock_until = :until, customer_lock = :tok"),
		ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(kapso_customer_id) AND " +
			leaseFree(customerLease)),
		ExpressionAttributeValues:           leaseValues(s.now(), d, token),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		if leaseFrom(failed.Item, customerLease).HeldBy(token) {
			// The SDK retried an update whose first attempt was applied.
			return token, true, nil
		}
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("take customer lease of tenant %s: %w", tenantID, err)
	}
	return token, true, nil
}

// ReleaseCustomerLease implements onboarding.CustomerStore.
func (s *Onboarding) ReleaseCustomerLease(ctx context.Context, tenantID, token string) error {
	if err := releaseLease(ctx, s.DB, s.Table, tenantKey(tenantID), customerLease, token); err != nil {
		return fmt.Errorf("release customer lease of tenant %s: %w", tenantID, err)
	}
	return nil
}

// RecordCustomer implements onboarding.CustomerStore.
func (s *Onboarding) RecordCustomer(ctx context.Context, tenantID, customerID string) error {
	wrap := func(err error) error {
		return fmt.Errorf("record customer %s of tenant %s: %w", customerID, tenantID, err)
	}
	item := key(customerKey(customerID))
	item["tenant_id"] = str(tenantID)
	item["kapso_customer_id"] = str(customerID)
	// The condition is onboarding.CanMap.
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR tenant_id = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)},
	})
	if isConditionFailed(err) {
		return wrap(onboarding.ErrCustomerOfAnotherTenant)
	}
	if err != nil {
		return wrap(err)
	}
	// The condition is TenantCustomer.CanRecord.
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(tenantID),
		UpdateExpression:                    aws.String("SET kapso_customer_id = :c REMOVE customer_lock_until, customer_lock"),
		ConditionExpression:                 aws.String("attribute_exists(pk) AND (attribute_not_exists(kapso_customer_id) OR kapso_customer_id = :c)"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":c": str(customerID)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed) && len(failed.Item) == 0:
		return wrap(onboarding.ErrTenantNotFound)
	case errors.As(err, &failed):
		return wrap(onboarding.ErrCustomerChanged)
	case err != nil:
		return wrap(err)
	}
	return nil
}

// TenantOfCustomer implements onboarding.Store.
func (s *Onboarding) TenantOfCustomer(ctx context.Context, customerID string) (string, bool, error) {
	pk, sk := customerKey(customerID)
	return lookupTenant(ctx, s.DB, s.Table, pk, sk)
}

// leaseFree is onboarding.Lease.Free as a condition on the lease named prefix.
func leaseFree(prefix string) string {
	return "(attribute_not_exists(" + prefix + "_lock_until) OR " + prefix + "_lock_until < :now)"
}

// leaseValues are the :until, :now and :tok of a lease taken for d.
func leaseValues(now time.Time, d time.Duration, token string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		":until": numberAttr(now.Add(d).UnixMilli()),
		":now":   numberAttr(now.UnixMilli()),
		":tok":   str(token),
	}
}

// releaseLease removes the lease named prefix if token holds it
// (onboarding.Lease.HeldBy); a lease held by another is left alone.
func releaseLease(ctx context.Context, db *dynamodb.Client, table string, k map[string]types.AttributeValue, prefix, token string) error {
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: k,
		UpdateExpression:          aws.String("REMOVE " + prefix + "_lock_until, " + prefix + "_lock"),
		ConditionExpression:       aws.String(prefix + "_lock = :tok"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":tok": str(token)},
	})
	if err != nil && !isConditionFailed(err) {
		return err
	}
	return nil
}
