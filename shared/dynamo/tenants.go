package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

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
	item[schema.AttrGSI1SK] = str(tenantPosition(at, tenantID))
	item[schema.AttrGSI2PK] = str(tenantsPartition(onboarding.TenantNotStarted, false))
	item[schema.AttrGSI2SK] = str(tenantPosition(at, tenantID))
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
	if err := s.writeSnapshot(ctx, conn, onboarding.CauseOf(change.Fact)); err != nil {
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

// load reads the tenant's item and every fact with consistent reads, so
// a fact just written is always seen.
func (s *Onboarding) load(ctx context.Context, tenantID string) (onboarding.Tenant, []onboarding.Fact, bool, error) {
	var tenant onboarding.Tenant
	var facts []onboarding.Fact
	found := false
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table),
		// Up to the tenant's own item: its facts sort before it, the
		// uploads (see Uploads) after.
		KeyConditionExpression: aws.String("pk = :pk AND sk <= :tenant"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(tenantPrefix + tenantID),
			":tenant": str(tenantSK)},
		ConsistentRead: aws.Bool(true),
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
// so the highest version is the most complete view. The same write keeps
// the cause (the fact appended), which the item's change in the table's
// stream then tells.
func (s *Onboarding) writeSnapshot(ctx context.Context, c onboarding.Connection, cause onboarding.Cause) error {
	t := c.Tenant
	updated := stamp(t.UpdatedAt)
	webhookMissing := onboarding.WebhookMissing(c)
	health := onboarding.ConnectedHealth(c)
	healthJSON, err := json.Marshal(health)
	if err != nil {
		return fmt.Errorf("write snapshot v%d: number health: %w", t.Version, err)
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(t.ID),
		UpdateExpression: aws.String("SET #st = :st, active_setup_link_id = :link, version = :v, updated_at = :u, " +
			attrWebhookMissing + " = :wm, " + attrNumberHealth + " = :nh, gsi1pk = :gpk, gsi1sk = :gsk, gsi2pk = :g2pk, gsi2sk = :gsk, " +
			attrCauseKind + " = :ck, " + attrCauseReason + " = :cr, " + attrCauseSource + " = :cs"),
		ConditionExpression:      aws.String("attribute_exists(pk) AND (attribute_not_exists(version) OR version < :v)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":st":   str(string(t.Status)),
			":link": str(t.ActiveSetupLinkID),
			":v":    numberAttr(int64(t.Version)),
			":u":    str(updated),
			":wm":   &types.AttributeValueMemberBOOL{Value: webhookMissing},
			":nh":   str(string(healthJSON)),
			":gpk":  str(tenantStatusIndex + string(t.Status)),
			":gsk":  str(tenantPosition(t.UpdatedAt, t.ID)),
			":g2pk": str(tenantsPartition(t.Status, webhookMissing || onboarding.HealthAttention(health))),
			":ck":   str(string(cause.Kind)),
			":cr":   str(cause.Reason),
			":cs":   str(string(cause.Origin)),
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

// attrWebhookMissing is onboarding.WebhookMissing of a tenant item's snapshot.
const attrWebhookMissing = "webhook_missing"

// attrNumberHealth is onboarding.ConnectedHealth of a tenant item's
// snapshot, in JSON.
const attrNumberHealth = "number_health"

// The onboarding.Cause of a tenant item's snapshot.
const (
	attrCauseKind   = "fact_kind"
	attrCauseReason = "fact_reason"
	attrCauseSource = "fact_source"
)

// snapshotFrom is the snapshot a tenant item holds.
func snapshotFrom(it map[string]types.AttributeValue) onboarding.Snapshot {
	v, _ := intAttr(it["version"])
	return onboarding.Snapshot{TenantItem: tenantItemFrom(it), Version: int(v), Cause: onboarding.Cause{
		Kind: onboarding.FactKind(stringAttr(it[attrCauseKind])), Reason: stringAttr(it[attrCauseReason]),
		Origin: onboarding.Origin(stringAttr(it[attrCauseSource]))}}
}

// ListTenants implements onboarding.Store: a Query of each index range the
// filters name (one or two; a range read through a filter may take more
// than one), merged by position. Never a Scan.
func (s *Onboarding) ListTenants(ctx context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error) {
	wrap := func(err error) error { return fmt.Errorf("list tenants: %w", err) }
	after, ok, err := q.After()
	if err != nil {
		return nil, "", wrap(err)
	}
	now := q.Now
	if now.IsZero() {
		now = s.now()
	}
	start := ""
	if ok {
		start = tenantPosition(after.UpdatedAt, after.TenantID)
	}
	since := ""
	if !q.UpdatedSince.IsZero() {
		since = sortKeyTime(q.UpdatedSince)
	}
	size := q.Size()
	seen := map[string]bool{}
	var items []onboarding.TenantItem
	for _, src := range tenantSources(q, now) {
		// One more than the page from each range: the page's end, and
		// whether anything follows it, are then known.
		got, err := s.readTenantRange(ctx, src, start, since, size+1)
		if err != nil {
			return nil, "", wrap(err)
		}
		for _, it := range got {
			// A tenant whose index entries are still moving may show twice.
			if t := tenantItemFrom(it); !seen[t.TenantID] {
				seen[t.TenantID] = true
				items = append(items, t)
			}
		}
	}
	slices.SortFunc(items, func(a, b onboarding.TenantItem) int { return a.Position().Compare(b.Position()) })
	next := ""
	if len(items) > size {
		items = items[:size]
		next = q.CursorAfter(items[size-1])
	}
	for i := range items {
		items[i].Attention = items[i].AttentionAt(now)
	}
	return items, next, nil
}

// tenantRange is one index range of tenant items, in tenantPosition order.
type tenantRange struct {
	index, partition string
	// below, when set, keeps only sort keys below it.
	below string
	// status, when set, keeps only the items of that status.
	status onboarding.TenantStatus
}

// tenantSources are the ranges whose union is q's list. They are disjoint
// but for a tenant whose entries are moving, and all sorted by position, so
// one position is the whole cursor: every range resumes after it.
func tenantSources(q onboarding.TenantQuery, now time.Time) []tenantRange {
	byStatus := func(st onboarding.TenantStatus) tenantRange {
		return tenantRange{index: schema.GSI1, partition: tenantStatusIndex + string(st)}
	}
	// Awaiting confirmation for too long: no fact since the cutoff.
	overdue := byStatus(onboarding.TenantAwaitingConfirmation)
	overdue.below = sortKeyTime(now.Add(-onboarding.ConfirmationOverdueAfter))
	attention := tenantRange{index: schema.GSI2, partition: tenantsAttentionIndex, status: q.Status}
	switch {
	case !q.NeedsAttention && q.Status == "":
		return []tenantRange{attention, {index: schema.GSI2, partition: tenantsOtherIndex}}
	case !q.NeedsAttention:
		return []tenantRange{byStatus(q.Status)}
	case q.Status == "":
		return []tenantRange{attention, overdue}
	case onboarding.AttentionStored(q.Status, false):
		// Every tenant of the status needs a human.
		return []tenantRange{byStatus(q.Status)}
	case q.Status == onboarding.TenantAwaitingConfirmation:
		return []tenantRange{overdue, attention}
	}
	return []tenantRange{attention}
}

// readTenantRange reads up to n items of r positioned after after ("" for
// the start) and at or after since ("" for any time): since is a time
// alone, which sorts before every position of that time.
func (s *Onboarding) readTenantRange(ctx context.Context, r tenantRange, after, since string, n int) ([]map[string]types.AttributeValue, error) {
	pkAttr, skAttr := schema.AttrGSI1PK, schema.AttrGSI1SK
	if r.index == schema.GSI2 {
		pkAttr, skAttr = schema.AttrGSI2PK, schema.AttrGSI2SK
	}
	cond := "#pk = :p"
	names := map[string]string{"#pk": pkAttr}
	vals := map[string]types.AttributeValue{":p": str(r.partition)}
	from, op := after, ">"
	if since > after {
		from, op = since, ">="
	}
	switch {
	case from != "" && r.below != "":
		if from >= r.below {
			return nil, nil
		}
		// BETWEEN includes its bounds: the item at after is skipped below,
		// and none sits at below or since, which have no id.
		cond += " AND #sk BETWEEN :a AND :b"
		vals[":a"], vals[":b"] = str(from), str(r.below)
	case from != "":
		cond += " AND #sk " + op + " :a"
		vals[":a"] = str(from)
	case r.below != "":
		cond += " AND #sk < :b"
		vals[":b"] = str(r.below)
	}
	if from != "" || r.below != "" {
		names["#sk"] = skAttr
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(r.index),
		KeyConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
		Limit: aws.Int32(int32(n)),
	}
	if r.status != "" {
		in.FilterExpression = aws.String("#st = :st")
		names["#st"] = "status"
		vals[":st"] = str(string(r.status))
	}
	var out []map[string]types.AttributeValue
	for {
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if stringAttr(it[skAttr]) != after {
				out = append(out, it)
			}
		}
		// A filter reads items it does not return: go on until n are kept.
		if len(out) >= n || page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out[:min(n, len(out))], nil
}

func tenantItemFrom(it map[string]types.AttributeValue) onboarding.TenantItem {
	return onboarding.TenantItem{
		TenantID:        stringAttr(it["tenant_id"]),
		Name:            stringAttr(it["name"]),
		KapsoCustomerID: stringAttr(it["kapso_customer_id"]),
		Status:          onboarding.TenantStatus(stringAttr(it["status"])),
		UpdatedAt:       parseStamp(stringAttr(it["updated_at"])),
		WebhookMissing:  boolAttr(it[attrWebhookMissing]),
		Health:          healthFrom(it[attrNumberHealth]),
	}
}

// healthFrom reads what writeSnapshot wrote; an item written before it
// kept health has none.
func healthFrom(v types.AttributeValue) []onboarding.NumberHealth {
	var health []onboarding.NumberHealth
	if raw := stringAttr(v); raw != "" {
		if err := json.Unmarshal([]byte(raw), &health); err != nil {
			return nil
		}
	}
	return health
}
