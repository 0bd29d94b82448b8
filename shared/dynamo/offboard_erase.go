package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// The erasers of a tenant's offboarding on the tables. Each call reads one
// bounded page and deletes what it found in BatchWriteItem calls of 25.
//
//   - MessagingEraser scans the bridge table for the tenant's messaging
//     items, which live in per-item partitions no index lists whole
//     (MSG#, CONV# with aliases, CONTACT#, OUT#, TEMPLATES#, the media
//     retries, the number's pending events and catch-up checkpoints) and
//     the lookups naming it (LINK#, CUSTOMER#). A Scan reads the whole
//     table: offboarding is rare, and a bounded page a call keeps each run
//     short (see docs/operations.md for the cost).
//   - TenantFeedEraser deletes the tenant's events, both copies of each.
//   - TenantEraser comes last: the numbers' items (only while they are
//     still the tenant's), then the tenant's partition (facts, uploads),
//     and the tenant item itself, only while it is deleting.
//
// The media objects are found through the items that name them, and
// deleted before those items: a message's stored copy (its media_key) by
// MessagingEraser, an upload's file by TenantEraser. Nothing lists the
// bucket's keys.

// DefaultErasePage is how many items one eraser call reads.
const DefaultErasePage = 500

// erasePosition is an eraser's saved place: a Scan's or Query's last key.
func erasePosition(last map[string]types.AttributeValue) (string, error) {
	if len(last) == 0 {
		return "", nil
	}
	plain := map[string]string{}
	for k, v := range last {
		plain[k] = stringAttr(v)
	}
	b, err := json.Marshal(plain)
	return string(b), err
}

func eraseStart(position string) (map[string]types.AttributeValue, error) {
	if position == "" {
		return nil, nil
	}
	var plain map[string]string
	if err := json.Unmarshal([]byte(position), &plain); err != nil {
		return nil, fmt.Errorf("read erase position: %w", err)
	}
	out := map[string]types.AttributeValue{}
	for k, v := range plain {
		out[k] = str(v)
	}
	return out, nil
}

// deleteKeys deletes the items keyed by keys, 25 a call, again for what
// DynamoDB left unprocessed.
func deleteKeys(ctx context.Context, db *dynamodb.Client, table string, keys []map[string]types.AttributeValue) error {
	for chunk := range slices.Chunk(keys, 25) {
		writes := make([]types.WriteRequest, 0, len(chunk))
		for _, k := range chunk {
			writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		for attempt := 0; len(writes) > 0; attempt++ {
			if attempt == 8 {
				return fmt.Errorf("delete %d items: still unprocessed", len(writes))
			}
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{table: writes}})
			if err != nil {
				return fmt.Errorf("delete %d items: %w", len(writes), err)
			}
			writes = out.UnprocessedItems[table]
		}
	}
	return nil
}

func keyOf(it map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.AttrPK: it[schema.AttrPK], schema.AttrSK: it[schema.AttrSK]}
}

// ObjectDeleter deletes an object of the media bucket (media.Objects);
// deleting one that is not there is no error.
type ObjectDeleter interface {
	Delete(ctx context.Context, key string) error
}

// MessagingEraser is the offboarding.Eraser of the tenant's items that no
// query lists: one Scan page a call.
type MessagingEraser struct {
	DB    *dynamodb.Client
	Table string
	// Objects deletes the media copies the messages name (required).
	Objects ObjectDeleter
	// Page is the items one Scan page reads (DefaultErasePage when zero).
	Page int
}

var _ offboarding.Eraser = (*MessagingEraser)(nil)

// Name implements offboarding.Eraser.
func (e *MessagingEraser) Name() string { return "bridge table" }

// maxNumberOperands keeps the filter inside DynamoDB's 300 operators: two
// a number (pending events, two checkpoints).
const maxNumberOperands = 60

// Erase implements offboarding.Eraser.
func (e *MessagingEraser) Erase(ctx context.Context, t offboarding.Target, position string) (offboarding.Counts, string, error) {
	if !onboarding.ValidTenantID(t.TenantID) {
		return offboarding.Counts{}, "", fmt.Errorf("erase messaging items: tenant id %q", t.TenantID)
	}
	start, err := eraseStart(position)
	if err != nil {
		return offboarding.Counts{}, "", err
	}
	own := t.TenantID + "#"
	vals := map[string]types.AttributeValue{
		":msg": str(messagePrefix + own), ":conv": str(conversationPrefix + own), ":contact": str(contactPrefix + own),
		":out": str(outboundPrefix + own), ":tpl": str(templatesPK(t.TenantID)), ":retry": str(mediaRetryPK),
		":inretry": str("#" + own), ":t": str(t.TenantID), ":link": str(linkPrefix), ":customer": str(customerPrefix),
	}
	filter := []string{"begins_with(#pk, :msg)", "begins_with(#pk, :conv)", "begins_with(#pk, :contact)",
		"begins_with(#pk, :out)", "#pk = :tpl", "(#pk = :retry AND contains(#sk, :inretry))",
		"((begins_with(#pk, :link) OR begins_with(#pk, :customer)) AND tenant_id = :t)"}
	var pks []string
	for i, n := range t.PhoneNumberIDs {
		if i == maxNumberOperands {
			break
		}
		p := fmt.Sprintf(":n%d", i)
		vals[p+"p"] = str(pendingPK(n))
		messages, _ := checkpointKey("catchup:messages:" + n)
		conversations, _ := checkpointKey("catchup:conversations:" + n)
		vals[p+"m"], vals[p+"c"] = str(messages), str(conversations)
		pks = append(pks, p+"p", p+"m", p+"c")
	}
	if len(pks) > 0 {
		filter = append(filter, "#pk IN ("+strings.Join(pks, ", ")+")")
	}
	out, err := e.DB.Scan(ctx, &dynamodb.ScanInput{
		TableName: aws.String(e.Table), ExclusiveStartKey: start, Limit: aws.Int32(int32(cmpOr(e.Page, DefaultErasePage))),
		FilterExpression:          aws.String(strings.Join(filter, " OR ")),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrPK, "#sk": schema.AttrSK, "#mk": attrMediaKey},
		ExpressionAttributeValues: vals,
		ProjectionExpression:      aws.String("#pk, #sk, #mk"),
	})
	if err != nil {
		return offboarding.Counts{}, position, fmt.Errorf("scan for %s's items: %w", t.TenantID, err)
	}
	keys := make([]map[string]types.AttributeValue, 0, len(out.Items))
	var objects []string
	for _, it := range out.Items {
		keys = append(keys, keyOf(it))
		if k := stringAttr(it[attrMediaKey]); k != "" && strings.HasPrefix(k, media.TenantPrefix(t.TenantID)) {
			objects = append(objects, k)
		}
	}
	var n offboarding.Counts
	for _, k := range objects {
		if err := e.Objects.Delete(ctx, k); err != nil {
			return n, position, fmt.Errorf("erase %s's media: %w", t.TenantID, err)
		}
		n.Objects++
	}
	if err := deleteKeys(ctx, e.DB, e.Table, keys); err != nil {
		return n, position, fmt.Errorf("erase %s's items: %w", t.TenantID, err)
	}
	n.Items = len(keys)
	next, err := erasePosition(out.LastEvaluatedKey)
	return n, next, err
}

func cmpOr(v, fallback int) int {
	if v > 0 {
		return v
	}
	return fallback
}

// TenantFeedEraser is the offboarding.Eraser of the tenant's events in the
// events table: a page of its feed a call, each event deleted from its
// tenant's feed and from the whole stack's (both share the sort key).
type TenantFeedEraser struct {
	DB    *dynamodb.Client
	Table string
	// Page is the events one call reads (DefaultErasePage/2 when zero:
	// each is two deletes).
	Page int
}

var _ offboarding.Eraser = (*TenantFeedEraser)(nil)

// Name implements offboarding.Eraser.
func (e *TenantFeedEraser) Name() string { return "events" }

// Erase implements offboarding.Eraser. It always reads from the start of
// the feed: what it deleted is gone, so the position is only "more".
func (e *TenantFeedEraser) Erase(ctx context.Context, t offboarding.Target, _ string) (offboarding.Counts, string, error) {
	if !onboarding.ValidTenantID(t.TenantID) {
		return offboarding.Counts{}, "", fmt.Errorf("erase events: tenant id %q", t.TenantID)
	}
	out, err := e.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(e.Table), KeyConditionExpression: aws.String("#pk = :p"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrPK, "#sk": schema.AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(feedPK(t.TenantID))},
		ProjectionExpression:      aws.String("#pk, #sk"), Limit: aws.Int32(int32(cmpOr(e.Page, DefaultErasePage/2))),
	})
	if err != nil {
		return offboarding.Counts{}, "", fmt.Errorf("read %s's events: %w", t.TenantID, err)
	}
	keys := make([]map[string]types.AttributeValue, 0, 2*len(out.Items))
	for _, it := range out.Items {
		keys = append(keys, keyOf(it), key(feedPK(""), stringAttr(it[schema.AttrSK])))
	}
	if err := deleteKeys(ctx, e.DB, e.Table, keys); err != nil {
		return offboarding.Counts{}, "", fmt.Errorf("erase %s's events: %w", t.TenantID, err)
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		next = "more"
	}
	return offboarding.Counts{Items: len(keys)}, next, nil
}

// TenantEraser is the last offboarding.Eraser: the numbers' items, then
// the tenant's own partition, the tenant item last.
type TenantEraser struct {
	DB    *dynamodb.Client
	Table string
	// Objects deletes the files the uploads name (required).
	Objects ObjectDeleter
	// Page is the items one call reads (DefaultErasePage when zero).
	Page int
}

var _ offboarding.Eraser = (*TenantEraser)(nil)

// Name implements offboarding.Eraser.
func (e *TenantEraser) Name() string { return "tenant" }

// Erase implements offboarding.Eraser. A number's item becomes its
// tombstone only while it is the tenant's, and the tenant item is deleted
// only while the tenant is deleting: a number connected to another tenant
// since, or a tenant made again, stays.
func (e *TenantEraser) Erase(ctx context.Context, t offboarding.Target, position string) (offboarding.Counts, string, error) {
	if !onboarding.ValidTenantID(t.TenantID) {
		return offboarding.Counts{}, "", fmt.Errorf("erase tenant: tenant id %q", t.TenantID)
	}
	var n offboarding.Counts
	if position == "" {
		for _, number := range t.PhoneNumberIDs {
			deleted, err := e.tombstoneNumber(ctx, number, t.TenantID)
			if err != nil {
				return n, "", fmt.Errorf("erase number %s: %w", number, err)
			}
			if deleted {
				n.Items++
			}
		}
	}
	start, err := eraseStart(strings.TrimPrefix(position, "numbers-done"))
	if err != nil {
		return n, position, err
	}
	out, err := e.DB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(e.Table), KeyConditionExpression: aws.String("#pk = :p"), ExclusiveStartKey: start,
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrPK, "#sk": schema.AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(tenantPrefix + t.TenantID)},
		ProjectionExpression:      aws.String("#pk, #sk"), Limit: aws.Int32(int32(cmpOr(e.Page, DefaultErasePage))),
	})
	if err != nil {
		return n, position, fmt.Errorf("read %s's partition: %w", t.TenantID, err)
	}
	var keys []map[string]types.AttributeValue
	var objects []string
	for _, it := range out.Items {
		sk := stringAttr(it[schema.AttrSK])
		if sk == tenantSK {
			continue
		}
		keys = append(keys, keyOf(it))
		if rest, ok := strings.CutPrefix(sk, uploadPrefix); ok {
			if number, sha, ok := strings.Cut(rest, "#"); ok {
				objects = append(objects, media.UploadKey(t.TenantID, number, sha))
			}
		}
	}
	for _, k := range objects {
		if err := e.Objects.Delete(ctx, k); err != nil {
			return n, position, fmt.Errorf("erase %s's uploads: %w", t.TenantID, err)
		}
		n.Objects++
	}
	if err := deleteKeys(ctx, e.DB, e.Table, keys); err != nil {
		return n, position, fmt.Errorf("erase %s's partition: %w", t.TenantID, err)
	}
	n.Items += len(keys)
	if len(out.LastEvaluatedKey) > 0 {
		next, err := erasePosition(out.LastEvaluatedKey)
		return n, "numbers-done" + next, err
	}
	old, _, err := deleteIf(ctx, e.DB, e.Table, tenantKey(t.TenantID), "#st = :deleting", map[string]string{"#st": "status"},
		map[string]types.AttributeValue{":deleting": str(string(onboarding.TenantDeleting))})
	if err != nil {
		return n, position, fmt.Errorf("erase tenant %s: %w", t.TenantID, err)
	}
	if len(old) > 0 {
		n.Items++
	}
	return n, "", nil
}

// tombstoneNumber replaces the number's item, while it is the tenant's,
// with its tombstone: the number's id and the offboarding mark, nothing
// else (no tenant, no webhook secret). A late delivery for the number, a
// retry of Kapso's or a redrive, is then answered and dropped, never kept
// as an event for a number no tenant owns; a signup that connects the
// number again overwrites it (Numbers.AddNumber).
func (e *TenantEraser) tombstoneNumber(ctx context.Context, number, tenantID string) (bool, error) {
	it := phoneKey(number)
	it["phone_number_id"], it[attrOffboarding] = str(number), &types.AttributeValueMemberBOOL{Value: true}
	out, err := e.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.Table), Item: it,
		ConditionExpression:       aws.String("tenant_id = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)}, ReturnValues: types.ReturnValueAllOld})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(out.Attributes) > 0, nil
}
