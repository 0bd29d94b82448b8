package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Onboarding stores tenants' connections on the bridge table, sourced from
// facts: each fact is its own item under the tenant's partition, written once
// (keyed by its natural key), and the tenant item carries a snapshot derived
// from the whole set, written only when it is newer than the stored one.
// Concurrent workers therefore converge without coordinating.
//
// Items (pk / sk):
//
//	TENANT#<tenant>   / TENANT          identity, customer lease, status snapshot (gsi1: TENANT_STATUS#<status>)
//	TENANT#<tenant>   / FACT#<key>      one fact, as JSON
//	LINK#<link>       / LINK            tenant of a setup link (gsi1: LINK_ACTIVE while usable)
//	CUSTOMER#<id>     / CUSTOMER        tenant of a Kapso customer
//	PHONE#<id>        / PHONE           tenant, details and webhook state of a number (gsi1: NUMBER_WEBHOOK_MISSING)
//	ORPHAN#<customer> / <at>#<event>    an event for a Kapso customer no tenant owns, kept for support
//
// The table's TTL attribute (expires_at) is never set on these items: they
// are permanent, so a link's expiry is stored as link_expires_at.
type Onboarding struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

// ErrTenantNotFound: no tenant item exists for the id.
var ErrTenantNotFound = errs.E(errs.NotFound, "unknown tenant", nil)

func (s *Onboarding) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// --- tenants and the customer lease ---

// EnsureTenant creates the tenant item if it does not exist yet.
func (s *Onboarding) EnsureTenant(ctx context.Context, tenantID, name string) error {
	now := stamp(s.now())
	item := tenantKey(tenantID)
	item["tenant_id"] = str(tenantID)
	item["created_at"] = str(now)
	item["updated_at"] = str(now)
	item["status"] = str(string(onboarding.TenantNotStarted))
	item["version"] = numberAttr(0)
	item[schema.AttrGSI1PK] = str(tenantStatusIndex + string(onboarding.TenantNotStarted))
	item[schema.AttrGSI1SK] = str(now + "#" + tenantID)
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

// readTenant reads the tenant's identity (id, name, Kapso customer, created_at).
func (s *Onboarding) readTenant(ctx context.Context, tenantID string) (onboarding.Tenant, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(tenantID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return onboarding.Tenant{}, false, fmt.Errorf("read tenant %s: %w", tenantID, err)
	}
	if out.Item == nil {
		return onboarding.Tenant{}, false, nil
	}
	return tenantFrom(out.Item), true, nil
}

func tenantFrom(item map[string]types.AttributeValue) onboarding.Tenant {
	return onboarding.Tenant{
		ID:              stringAttr(item["tenant_id"]),
		Name:            stringAttr(item["name"]),
		KapsoCustomerID: stringAttr(item["kapso_customer_id"]),
		CreatedAt:       parseStamp(stringAttr(item["created_at"])),
	}
}

// Customer lease timing: the lease outlives one find-or-create at Kapso, and
// a loser polls the tenant item until the winner is done or its wait ends.
const (
	customerLease     = 10 * time.Second
	customerWait      = 3 * time.Second
	customerPollEvery = 100 * time.Millisecond
)

// EnsureCustomer returns the tenant's Kapso customer id, creating the tenant
// item if needed and calling findOrCreate at most once at a time per tenant:
// a lease on the tenant item (customer_lock_until) is taken first, so two
// racing requests never both create a customer. A request that finds the
// lease held waits up to 3 s for the holder's result, then answers
// errs.InFlight with a Retry-After.
func (s *Onboarding) EnsureCustomer(ctx context.Context, tenantID, name string,
	findOrCreate func(context.Context) (string, error)) (string, error) {
	if err := s.EnsureTenant(ctx, tenantID, name); err != nil {
		return "", err
	}
	waitUntil := time.Now().Add(customerWait)
	for {
		t, _, err := s.readTenant(ctx, tenantID)
		if err != nil {
			return "", err
		}
		if t.KapsoCustomerID != "" {
			return t.KapsoCustomerID, nil
		}
		token := randomToken()
		won, err := s.takeCustomerLease(ctx, tenantID, token)
		if err != nil {
			return "", err
		}
		if won {
			return s.createCustomerHolding(ctx, tenantID, token, findOrCreate)
		}
		if time.Now().After(waitUntil) {
			return "", &errs.Error{Code: errs.InFlight, Message: "the tenant's Kapso customer is being created; retry",
				RetryAfter: time.Second}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for customer of tenant %s: %w", tenantID, ctx.Err())
		case <-time.After(customerPollEvery):
		}
	}
}

func (s *Onboarding) takeCustomerLease(ctx context.Context, tenantID, token string) (bool, error) {
	now := s.now()
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(tenantID),
		UpdateExpression: aws.String("SET customer_lock_until = :until, customer_lock = :tok"),
		ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(kapso_customer_id) AND " +
			"(attribute_not_exists(customer_lock_until) OR customer_lock_until < :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": numberAttr(now.Add(customerLease).UnixMilli()),
			":now":   numberAttr(now.UnixMilli()),
			":tok":   str(token),
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take customer lease of tenant %s: %w", tenantID, err)
	}
	return true, nil
}

func (s *Onboarding) createCustomerHolding(ctx context.Context, tenantID, token string,
	findOrCreate func(context.Context) (string, error)) (string, error) {
	customerID, err := findOrCreate(ctx)
	if err != nil {
		// Release so a retry need not wait out the lease; a failed release
		// only delays it.
		_, _ = s.DB.UpdateItem(context.WithoutCancel(ctx), &dynamodb.UpdateItemInput{
			TableName: aws.String(s.Table), Key: tenantKey(tenantID),
			UpdateExpression:          aws.String("REMOVE customer_lock_until, customer_lock"),
			ConditionExpression:       aws.String("customer_lock = :tok"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":tok": str(token)},
		})
		return "", err
	}
	// The lookup first: once the tenant item names the customer, events for
	// it must already map back.
	item := key(customerKey(customerID))
	item["tenant_id"] = str(tenantID)
	item["kapso_customer_id"] = str(customerID)
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR tenant_id = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)},
	}); err != nil {
		if isConditionFailed(err) {
			return "", errs.E(errs.Conflict, "the Kapso customer belongs to another tenant",
				fmt.Errorf("customer %s is mapped to another tenant than %s", customerID, tenantID))
		}
		return "", fmt.Errorf("record customer %s of tenant %s: %w", customerID, tenantID, err)
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: tenantKey(tenantID),
		UpdateExpression:          aws.String("SET kapso_customer_id = :c REMOVE customer_lock_until, customer_lock"),
		ConditionExpression:       aws.String("attribute_not_exists(kapso_customer_id) OR kapso_customer_id = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(customerID)},
	})
	if err != nil {
		return "", fmt.Errorf("set customer %s of tenant %s: %w", customerID, tenantID, err)
	}
	return customerID, nil
}

// TenantOfCustomer returns the tenant owning a Kapso customer.
func (s *Onboarding) TenantOfCustomer(ctx context.Context, customerID string) (string, bool, error) {
	pk, sk := customerKey(customerID)
	return s.lookup(ctx, pk, sk)
}

// TenantOfLink returns the tenant a setup link was created for.
func (s *Onboarding) TenantOfLink(ctx context.Context, setupLinkID string) (string, bool, error) {
	pk, sk := linkKey(setupLinkID)
	return s.lookup(ctx, pk, sk)
}

// TenantOfPhoneNumber returns the tenant a phone number is connected for.
func (s *Onboarding) TenantOfPhoneNumber(ctx context.Context, phoneNumberID string) (string, bool, error) {
	pk, sk := PhoneNumberKey(phoneNumberID)
	return s.lookup(ctx, pk, sk)
}

func (s *Onboarding) lookup(ctx context.Context, pk, sk string) (string, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(pk, sk), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("tenant_id"),
	})
	if err != nil {
		return "", false, fmt.Errorf("look up %s: %w", pk, err)
	}
	t := stringAttr(out.Item["tenant_id"])
	return t, t != "", nil
}

// --- facts ---

// AppendFact records a fact for the tenant (a no-op when the same fact is
// already stored), re-derives the connection from every stored fact, and
// writes the snapshot if no newer one is stored. The Change says what the
// fact did, for logs; Change.Duplicate is set for a fact seen before.
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
		return onboarding.Connection{}, onboarding.Change{}, wrap(cmp.Or(err, error(ErrTenantNotFound)))
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
		return onboarding.Connection{}, onboarding.Change{}, wrap(ErrTenantNotFound)
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
	for _, tr := range change.Attempts {
		if tr.From == onboarding.AttemptActive && tr.To != onboarding.AttemptActive {
			if err := s.CloseLink(ctx, tr.ID, string(tr.To)); err != nil {
				return conn, change, wrap(err)
			}
		}
	}
	return conn, change, nil
}

// Load derives the tenant's connection from its stored facts.
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
			":gsk":  str(updated + "#" + t.ID),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("write snapshot v%d: %w", t.Version, err)
	}
	return nil
}

// TenantRef is a tenant as the status index lists it.
type TenantRef struct {
	TenantID, KapsoCustomerID string
	Status                    onboarding.TenantStatus
	UpdatedAt                 time.Time
}

// TenantsWithStatus lists up to limit tenants whose snapshot has the status,
// least recently updated first.
func (s *Onboarding) TenantsWithStatus(ctx context.Context, status onboarding.TenantStatus, limit int) ([]TenantRef, error) {
	items, err := s.queryIndex(ctx, tenantStatusIndex+string(status), "", limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants %s: %w", status, err)
	}
	out := make([]TenantRef, 0, len(items))
	for _, it := range items {
		out = append(out, TenantRef{TenantID: stringAttr(it["tenant_id"]), KapsoCustomerID: stringAttr(it["kapso_customer_id"]),
			Status: onboarding.TenantStatus(stringAttr(it["status"])), UpdatedAt: parseStamp(stringAttr(it["updated_at"]))})
	}
	return out, nil
}

// queryIndex reads up to limit items of a gsi1 partition, with sort keys
// below before when it is not "".
func (s *Onboarding) queryIndex(ctx context.Context, partition, before string, limit int) ([]map[string]types.AttributeValue, error) {
	cond := "gsi1pk = :p"
	vals := map[string]types.AttributeValue{":p": str(partition)}
	if before != "" {
		cond += " AND gsi1sk < :b"
		vals[":b"] = str(before)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
	}
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// --- setup links ---

// linkIndexTime is sortable as a string: UTC, whole seconds, fixed width.
func linkIndexTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// RecordLink records a setup link Kapso created for the tenant: the LINK#
// lookup first (so its redirect can be recognised as soon as the person
// can follow it), then the LinkCreated fact, which supersedes the
// tenant's previous attempt.
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
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR tenant_id = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)},
	})
	if err != nil {
		if isConditionFailed(err) {
			return onboarding.Connection{}, errs.E(errs.Conflict, "setup link belongs to another tenant",
				fmt.Errorf("link %s is mapped to another tenant than %s", l.SetupLinkID, tenantID))
		}
		return onboarding.Connection{}, fmt.Errorf("record link %s of tenant %s: %w", l.SetupLinkID, tenantID, err)
	}
	conn, _, err := s.AppendFact(ctx, tenantID, onboarding.LinkCreated(l))
	return conn, err
}

// CloseLink takes a link out of the active index, keeping its tenant lookup.
func (s *Onboarding) CloseLink(ctx context.Context, setupLinkID, status string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: key(linkKey(setupLinkID)),
		UpdateExpression:          aws.String("SET link_status = :s REMOVE gsi1pk, gsi1sk"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(status)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("close link %s: %w", setupLinkID, err)
	}
	return nil
}

// LinkRef is an active link as the index lists it.
type LinkRef struct {
	TenantID, SetupLinkID string
	ExpiresAt             time.Time
}

// ActiveLinksExpiredAt lists up to limit links still marked active whose
// expiry is at or before now, oldest first.
func (s *Onboarding) ActiveLinksExpiredAt(ctx context.Context, now time.Time, limit int) ([]LinkRef, error) {
	// "~" sorts after "#" and every id character, so the bound includes links
	// expiring in the same second as now.
	items, err := s.queryIndex(ctx, linkActiveIndex, linkIndexTime(now)+"~", limit)
	if err != nil {
		return nil, fmt.Errorf("list expired links: %w", err)
	}
	out := make([]LinkRef, 0, len(items))
	for _, it := range items {
		out = append(out, LinkRef{TenantID: stringAttr(it["tenant_id"]), SetupLinkID: stringAttr(it["setup_link_id"]),
			ExpiresAt: parseStamp(stringAttr(it["link_expires_at"]))})
	}
	return out, nil
}

// --- orphans ---

// KeepOrphan keeps an event for a Kapso customer no tenant owns, for support.
func (s *Onboarding) KeepOrphan(ctx context.Context, customerID, eventID string, receivedAt time.Time, envelopeJSON []byte) error {
	item := key(orphanPrefix+customerID, stamp(receivedAt)+"#"+eventID)
	item["kapso_customer_id"] = str(customerID)
	item["envelope"] = str(string(envelopeJSON))
	item["kept_at"] = str(stamp(s.now()))
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("keep orphan event %s of customer %s: %w", eventID, customerID, err)
	}
	return nil
}

// Orphans lists the events kept for a Kapso customer, oldest first.
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

func boolAttr(v types.AttributeValue) bool {
	b, ok := v.(*types.AttributeValueMemberBOOL)
	return ok && b.Value
}
