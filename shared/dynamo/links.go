package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// linkIndexTime is sortable as a string: UTC, whole seconds, fixed width.
func linkIndexTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// RecordLink implements onboarding.Store: the LINK# lookup first (so its
// redirect can be recognised as soon as the person can follow it), then the
// LinkCreated fact, which supersedes the tenant's previous attempt.
func (s *Onboarding) RecordLink(ctx context.Context, tenantID string, l onboarding.LinkDetails) (onboarding.Connection, error) {
	item := key(linkKey(l.SetupLinkID))
	item["tenant_id"] = str(tenantID)
	item["setup_link_id"] = str(l.SetupLinkID)
	item["link_status"] = str(string(onboarding.AttemptActive))
	item["created_at"] = str(stamp(l.CreatedAt))
	if !l.ExpiresAt.IsZero() {
		item["link_expires_at"] = str(stamp(l.ExpiresAt))
		item[schema.AttrGSI1PK] = str(linkActiveIndex)
		item[schema.AttrGSI1SK] = str(linkIndexTime(l.ExpiresAt) + "#" + l.SetupLinkID)
	}
	// The condition is onboarding.CanMap.
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR tenant_id = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)},
	})
	if isConditionFailed(err) {
		err = onboarding.ErrLinkOfAnotherTenant
	}
	if err != nil {
		return onboarding.Connection{}, fmt.Errorf("record link %s of tenant %s: %w", l.SetupLinkID, tenantID, err)
	}
	conn, _, err := s.AppendFact(ctx, tenantID, onboarding.LinkCreated(l))
	return conn, err
}

// TenantOfLink implements onboarding.Store.
func (s *Onboarding) TenantOfLink(ctx context.Context, setupLinkID string) (string, bool, error) {
	pk, sk := linkKey(setupLinkID)
	return lookupTenant(ctx, s.DB, s.Table, pk, sk)
}

// CloseLink implements onboarding.Store.
func (s *Onboarding) CloseLink(ctx context.Context, setupLinkID string, status onboarding.AttemptStatus) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(linkKey(setupLinkID)),
		UpdateExpression:          aws.String("SET link_status = :s REMOVE gsi1pk, gsi1sk"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(status))},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("close link %s: %w", setupLinkID, err)
	}
	return nil
}

// ActiveLinksExpiredAt implements onboarding.Store.
func (s *Onboarding) ActiveLinksExpiredAt(ctx context.Context, now time.Time, limit int) ([]onboarding.LinkRef, error) {
	// "~" sorts after "#" and every id character, so the bound includes links
	// expiring in the same second as now.
	items, err := queryIndex(ctx, s.DB, s.Table, linkActiveIndex, linkIndexTime(now)+"~", limit)
	if err != nil {
		return nil, fmt.Errorf("list expired links: %w", err)
	}
	out := make([]onboarding.LinkRef, 0, len(items))
	for _, it := range items {
		out = append(out, onboarding.LinkRef{TenantID: stringAttr(it["tenant_id"]), SetupLinkID: stringAttr(it["setup_link_id"]),
			ExpiresAt: parseStamp(stringAttr(it["link_expires_at"]))})
	}
	return out, nil
}
