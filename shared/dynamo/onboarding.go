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
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Onboarding is the onboarding.Store on the bridge table, sourced from
// facts: each fact is its own item under the tenant's partition, written once
// (keyed by its natural key), and the tenant item carries a snapshot derived
// from the whole set, written only when it is newer than the stored one.
// Concurrent workers therefore converge without coordinating. Its methods
// are spread by item: tenants.go (tenants and facts), links.go,
// customers.go, orphans.go; the PHONE# items belong to Numbers.
//
// Items (pk / sk):
//
//	TENANT#<tenant>   / TENANT          identity, customer lease, status snapshot (gsi1: TENANT_STATUS#<status>)
//	TENANT#<tenant>   / FACT#<key>      one fact, as JSON
//	LINK#<link>       / LINK            tenant of a setup link (gsi1: LINK_ACTIVE while usable)
//	CUSTOMER#<id>     / CUSTOMER        tenant of a Kapso customer
//	ORPHAN#<customer> / <at>#<event>    an event for a Kapso customer no tenant owns, kept for support
//
// The table's TTL attribute (expires_at) is never set on these items: they
// are permanent, so a link's expiry is stored as link_expires_at.
type Onboarding struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

func (s *Onboarding) now() time.Time { return utcNow(s.Now) }

func utcNow(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sortKeyTime is t in a sort key: fixed width, so keys sort in time order,
// which a stamp (it drops trailing zeros) does not.
func sortKeyTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// lookupTenant reads the tenant_id of a lookup item (link, customer, number).
func lookupTenant(ctx context.Context, db *dynamodb.Client, table, pk, sk string) (string, bool, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: key(pk, sk), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("tenant_id"),
	})
	if err != nil {
		return "", false, fmt.Errorf("look up %s: %w", pk, err)
	}
	t := stringAttr(out.Item["tenant_id"])
	return t, t != "", nil
}

// queryIndex reads up to limit items of a gsi1 partition, with sort keys
// below before when it is not "".
func queryIndex(ctx context.Context, db *dynamodb.Client, table, partition, before string, limit int) ([]map[string]types.AttributeValue, error) {
	cond := "gsi1pk = :p"
	vals := map[string]types.AttributeValue{":p": str(partition)}
	if before != "" {
		cond += " AND gsi1sk < :b"
		vals[":b"] = str(before)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String(schema.GSI1),
		KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
	}
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(db, in)
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

// leaseFrom reads a lease kept as <prefix>_lock (token) and <prefix>_lock_until (ms).
func leaseFrom(item map[string]types.AttributeValue, prefix string) onboarding.Lease {
	l := onboarding.Lease{Token: stringAttr(item[prefix+"_lock"])}
	if ms, err := intAttr(item[prefix+"_lock_until"]); err == nil {
		l.Until = time.UnixMilli(ms).UTC()
	}
	return l
}

func boolAttr(v types.AttributeValue) bool {
	b, ok := v.(*types.AttributeValueMemberBOOL)
	return ok && b.Value
}
