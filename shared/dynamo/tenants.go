package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// EnsureTenant creates the tenant item if it does not exist yet.
func (s *Onboarding) EnsureTenant(ctx context.Context, tenantID, name string) error {
	at := s.now()
	now := stamp(at)
	item := tenantKey(tenantID)
	item["tenant_id"] = str(tenantID)
	item["created_at"] = str(now)
	item["updated_at"] = str(now)
	item["status"] = str(string(onboarding.TenantNotStarted))
	item["version"] = numberAttr(0)
	item[schema.AttrGSI1PK] = str(tenantStatusIndex + string(onboarding.TenantNotStarted))
	item[schema.AttrGSI1SK] = str(sortKeyTime(at) + "#" + tenantID)
	if name != "" {
		item["name"] = str(name)
	}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("create tenant %s: %w", tenantID, err)
	}
	return nil
}

// readTenant reads the tenant item with a consistent read.
func (s *Onboarding) readTenant(ctx context.Context, tenantID string) (map[string]types.AttributeValue, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(tenantID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, fmt.Errorf("read tenant %s: %w", tenantID, err)
	}
	return out.Item, out.Item != nil, nil
}

func tenantFrom(item map[string]types.AttributeValue) onboarding.Tenant {
	return onboarding.Tenant{
		ID:              stringAttr(item["tenant_id"]),
		Name:            stringAttr(item["name"]),
		KapsoCustomerID: stringAttr(item["kapso_customer_id"]),
		CreatedAt:       parseStamp(stringAttr(item["created_at"])),
	}
}

// AppendFact implements onboarding.Store.
func (s *Onboarding) AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error) {
	wrap := func(err error) error { return fmt.Errorf("append fact %s for tenant %s: %w", f.Kind, tenantID, err) }
	if err := f.Validate(); err != nil {
		return onboarding.Connection{}, onboarding.Change{}, wrap(errs.E(errs.Invalid, "invalid fact", err))
	}
	body, err := json.Marshal(f)
	if err != nil {
		return onboarding.Connection{}, onboarding.Change{}, wrap(err)
	}
	// Facts are kept only for known tenants: a fact written first would
	// otherwise sit in a partition without its tenant item.
	if _, found, err := s.readTenant(ctx, tenantID); err != nil || !found {
		return onboarding.Connection{}, onboarding.Change{}, wrap(cmp.Or(err, error(onboarding.ErrTenantNotFound)))
	}
	factKey := f.Key()
	item := key(tenantPrefix+tenantID, factPrefix+factKey)
	item["fact"] = str(string(body))
	item["kind"] = str(string(f.Kind))
	item["at"] = str(stamp(f.At))
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	duplicate := isConditionFailed(err)
	if err != nil && !duplicate {
		return onboarding.Connection{}, onboarding.Change{}, wrap(err)
	}
	tenant, facts, found, err := s.load(ctx, tenantID)
	if err != nil {
		return onboarding.Connection{}, onboarding.Change{}, wrap(err)
	}
	if !found {
		return onboarding.Connection{}, onboarding.Change{}, wrap(onboarding.ErrTenantNotFound)
	}
	var before []onboarding.Fact
	for _, g := range facts {
		if duplicate || g.Key() != factKey {
			before = append(before, g)
		}
	}
	conn, change := onboarding.Apply(onboarding.Derive(tenant, before), f)
	if err := s.writeSnapshot(ctx, conn); err != nil {
		return conn, change, wrap(err)
	}
	for _, closed := range change.ClosedLinks() {
		if err := s.CloseLink(ctx, closed.ID, closed.To); err != nil {
			return conn, change, wrap(err)
		}
	}
	return conn, change, nil
}

// Load implements onboarding.Store.
func (s *Onboarding) Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error) {
	tenant, facts, found, err := s.load(ctx, tenantID)
	if err != nil || !found {
		return onboarding.Connection{}, found, err
	}
	return onboarding.Derive(tenant, facts), true, nil
}

// load reads the tenant's whole partition (its item and every fact) with
// consistent reads, so a fact just written is always seen.
func (s *Onboarding) load(ctx context.Context, tenantID string) (onboarding.Tenant, []onboarding.Fact, bool, error) {
	var tenant onboarding.Tenant
	var facts []onboarding.Fact
	found := false
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(tenantPrefix + tenantID)},
		ConsistentRead:            aws.Bool(true),
	}
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return tenant, nil, false, fmt.Errorf("load tenant %s: %w", tenantID, err)
		}
		for _, item := range page.Items {
			if stringAttr(item[schema.AttrSK]) == tenantSK {
				tenant, found = tenantFrom(item), true
				continue
			}
			var f onboarding.Fact
			if err := json.Unmarshal([]byte(stringAttr(item["fact"])), &f); err != nil {
				return tenant, nil, false, fmt.Errorf("load tenant %s: fact %s: %w", tenantID, stringAttr(item[schema.AttrSK]), err)
			}
			facts = append(facts, f)
		}
	}
	return tenant, facts, found, nil
}

// writeSnapshot stores the derived status on the tenant item unless a
// snapshot of at least this version is already there. Fact sets only grow,
// so the highest version is the most complete view.
func (s *Onboarding) writeSnapshot(ctx context.Context, c onboarding.Connection) error {
	t := c.Tenant
	updated := stamp(t.UpdatedAt)
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(t.ID),
		UpdateExpression: aws.String("SET #st = :st, active_setup_link_id = :link, version = :v, updated_at = :u, " +
			"gsi1pk = :gpk, gsi1sk = :gsk"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND (attribute_not_exists(version) OR version < :v)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":st":   str(string(t.Status)),
			":link": str(t.ActiveSetupLinkID),
			":v":    numberAttr(int64(t.Version)),
			":u":    str(updated),
			":gpk":  str(tenantStatusIndex + string(t.Status)),
			":gsk":  str(sortKeyTime(t.UpdatedAt) + "#" + t.ID),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("write snapshot v%d: %w", t.Version, err)
	}
	return nil
}

// TenantsWithStatus implements onboarding.Store.
func (s *Onboarding) TenantsWithStatus(ctx context.Context, status onboarding.TenantStatus, limit int) ([]onboarding.TenantRef, error) {
	items, err := queryIndex(ctx, s.DB, s.Table, tenantStatusIndex+string(status), "", limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants %s: %w", status, err)
	}
	out := make([]onboarding.TenantRef, 0, len(items))
	for _, it := range items {
		out = append(out, onboarding.TenantRef{TenantID: stringAttr(it["tenant_id"]), KapsoCustomerID: stringAttr(it["kapso_customer_id"]),
			Status: onboarding.TenantStatus(stringAttr(it["status"])), UpdatedAt: parseStamp(stringAttr(it["updated_at"]))})
	}
	return out, nil
}
