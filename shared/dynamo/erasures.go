package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Erasures is the erasure.Jobs and erasure.Tombstones on the bridge table:
//
//	ERASURE#<tenant>#<id>                       / ERASURE  one job (gsi2: ERASURES#OPEN / <requested>#<tenant>#<id>
//	                                                       while it is open)
//	ERASURE_OPEN#<tenant>#<number>#<person>     / LOCK     the open job of a person, gone once it is done
//	TOMB#<tenant>#<number>#<hash>               / TOMB     one identity's tombstone: a keyed hash, a time
//	ERASURE_MARK#<tenant>#<number>              / MARK     the number had an erasure (erasure.Marks)
//
// Opening a job is one TransactWriteItems (the lock, conditional on none,
// the job, the tombstones); a save is one PutItem conditional on the
// position read, and the last one a TransactWriteItems that also deletes
// the lock. Reading tombstones is one BatchGetItem.
type Erasures struct {
	DB    *dynamodb.Client
	Table string
}

var (
	_ erasure.Jobs       = (*Erasures)(nil)
	_ erasure.Tombstones = (*Erasures)(nil)
	_ erasure.Marks      = (*Erasures)(nil)
)

const (
	erasurePrefix     = "ERASURE#"
	erasureSK         = "ERASURE"
	erasureOpenPrefix = "ERASURE_OPEN#"
	erasureOpenSK     = "LOCK"
	tombstonePrefix   = "TOMB#"
	tombstoneSK       = "TOMB"
	// erasuresOpenIndex is the gsi2 partition of every tenant's open jobs.
	erasuresOpenIndex = "ERASURES#OPEN"
)

func erasureKey(tenantID, id string) map[string]types.AttributeValue {
	return key(erasurePrefix+tenantID+"#"+id, erasureSK)
}

func erasureOpenKey(tenantID, phoneNumberID, person string) map[string]types.AttributeValue {
	return key(erasureOpenPrefix+tenantID+"#"+phoneNumberID+"#"+person, erasureOpenSK)
}

func erasureMarkKey(tenantID, phoneNumberID string) map[string]types.AttributeValue {
	return key("ERASURE_MARK#"+tenantID+"#"+phoneNumberID, "MARK")
}

func tombstoneKey(tenantID, phoneNumberID, hash string) map[string]types.AttributeValue {
	return key(tombstonePrefix+tenantID+"#"+phoneNumberID+"#"+hash, tombstoneSK)
}

// Attributes of a job item.
const (
	attrErasureID   = "erasure_id"
	attrErasureIDs  = "identities"
	attrPerson      = "person"
	attrRequested   = "requested_at"
	attrState       = "state"
	attrProgress    = "progress"
	attrPosition    = "position"
	attrUpdated     = "updated_at"
	attrRequestedBy = "requested_by"
	attrDone        = "done_at"
	attrErasedAt    = "erased_at"
	attrHash        = "hash"
)

func erasureItem(j erasure.Job) (map[string]types.AttributeValue, error) {
	ids, err := json.Marshal(j.Identities)
	if err != nil {
		return nil, err
	}
	progress, err := json.Marshal(j.Progress)
	if err != nil {
		return nil, err
	}
	it := erasureKey(j.TenantID, j.ID)
	it["tenant_id"], it[attrErasureID], it[attrPhoneNumberID] = str(j.TenantID), str(j.ID), str(j.PhoneNumberID)
	it[attrPerson], it[attrErasureIDs], it[attrRequested] = str(j.Person), str(string(ids)), str(stamp(j.RequestedAt))
	it[attrState], it[attrProgress], it[attrPosition] = str(string(j.State)), str(string(progress)), str(positionOf(j.Position))
	it[attrUpdated] = str(stamp(j.UpdatedAt))
	if j.RequestedBy != "" {
		it[attrRequestedBy] = str(j.RequestedBy)
	}
	if !j.DoneAt.IsZero() {
		it[attrDone] = str(stamp(j.DoneAt))
	}
	if j.State.Open() {
		it[schema.AttrGSI2PK] = str(erasuresOpenIndex)
		it[schema.AttrGSI2SK] = str(sortKeyTime(j.RequestedAt) + "#" + j.TenantID + "#" + j.ID)
	}
	return it, nil
}

// positionOf is a position as stored, and compared by a save's condition.
func positionOf(p erasure.Position) string {
	b, _ := json.Marshal(p) // a struct of strings and an int always encodes
	return string(b)
}

func erasureFrom(it map[string]types.AttributeValue) (erasure.Job, error) {
	j := erasure.Job{
		ID: stringAttr(it[attrErasureID]), TenantID: stringAttr(it["tenant_id"]),
		PhoneNumberID: stringAttr(it[attrPhoneNumberID]), Person: stringAttr(it[attrPerson]),
		RequestedAt: parseStamp(stringAttr(it[attrRequested])), RequestedBy: stringAttr(it[attrRequestedBy]), State: erasure.State(stringAttr(it[attrState])),
		UpdatedAt: parseStamp(stringAttr(it[attrUpdated])), DoneAt: parseStamp(stringAttr(it[attrDone])),
	}
	for attr, v := range map[string]any{attrErasureIDs: &j.Identities, attrProgress: &j.Progress, attrPosition: &j.Position} {
		if err := json.Unmarshal([]byte(stringAttr(it[attr])), v); err != nil {
			return erasure.Job{}, fmt.Errorf("erasure %s: %s: %w", j.ID, attr, err)
		}
	}
	return j, j.Check()
}

func tombstoneItem(t erasure.Tombstone) map[string]types.AttributeValue {
	it := tombstoneKey(t.TenantID, t.PhoneNumberID, t.Hash)
	it["tenant_id"], it[attrPhoneNumberID], it[attrHash] = str(t.TenantID), str(t.PhoneNumberID), str(t.Hash)
	it[attrErasedAt], it[attrErasureID] = str(stamp(t.ErasedAt)), str(t.JobID)
	return it
}

// Open implements erasure.Jobs.
func (s *Erasures) Open(ctx context.Context, j erasure.Job, stones []erasure.Tombstone) (erasure.Job, bool, error) {
	wrap := func(err error) error { return fmt.Errorf("open erasure %s: %w", j.ID, refused(err)) }
	if err := j.Check(); err != nil {
		return erasure.Job{}, false, wrap(invalid("malformed erasure"))
	}
	if len(stones) > erasure.MaxIdentities {
		return erasure.Job{}, false, wrap(invalid("too many identities"))
	}
	job, err := erasureItem(j)
	if err != nil {
		return erasure.Job{}, false, wrap(err)
	}
	lock := erasureOpenKey(j.TenantID, j.PhoneNumberID, j.Person)
	lock[attrErasureID] = str(j.ID)
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.Table), Item: lock,
			ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames:            map[string]string{"#pk": schema.AttrPK},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: job,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": schema.AttrPK}}},
	}
	for _, t := range stones {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table), Item: tombstoneItem(t)}})
	}
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.Table),
		Item: erasureMarkKey(j.TenantID, j.PhoneNumberID)}})
	for range 5 {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return j, true, nil
		}
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) || len(tc.CancellationReasons) == 0 ||
			aws.ToString(tc.CancellationReasons[0].Code) != "ConditionalCheckFailed" {
			if isTransactionConflict(err) {
				continue
			}
			return erasure.Job{}, false, wrap(err)
		}
		id := stringAttr(tc.CancellationReasons[0].Item[attrErasureID])
		open, ok, err := s.Job(ctx, j.TenantID, id)
		if err != nil {
			return erasure.Job{}, false, wrap(err)
		}
		if ok {
			return open, false, nil
		}
		// The lock names no job: it cannot be, since both are written
		// together; refuse rather than open a second.
		return erasure.Job{}, false, wrap(fmt.Errorf("open lock names missing erasure %q", id))
	}
	return erasure.Job{}, false, wrap(errors.New("transaction kept conflicting"))
}

// isTransactionConflict reports a transaction cancelled by another one in
// flight on the same items, which is worth trying again.
func isTransactionConflict(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	return slices.ContainsFunc(tc.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "TransactionConflict"
	})
}

// Job implements erasure.Jobs: one consistent GetItem.
func (s *Erasures) Job(ctx context.Context, tenantID, id string) (erasure.Job, bool, error) {
	if tenantID == "" || !erasure.ValidID(id) {
		return erasure.Job{}, false, nil
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: erasureKey(tenantID, id),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return erasure.Job{}, false, fmt.Errorf("read erasure %s: %w", id, err)
	}
	if out.Item == nil {
		return erasure.Job{}, false, nil
	}
	j, err := erasureFrom(out.Item)
	if err != nil {
		return erasure.Job{}, false, fmt.Errorf("read erasure %s: %w", id, err)
	}
	return j, true, nil
}

// Save implements erasure.Jobs.
func (s *Erasures) Save(ctx context.Context, j erasure.Job, prev erasure.Position) error {
	wrap := func(err error) error { return fmt.Errorf("save erasure %s: %w", j.ID, refused(err)) }
	it, err := erasureItem(j)
	if err != nil {
		return wrap(err)
	}
	put := &types.Put{TableName: aws.String(s.Table), Item: it,
		ConditionExpression:      aws.String("#pos = :prev AND #st IN (:pending, :erasing)"),
		ExpressionAttributeNames: map[string]string{"#pos": attrPosition, "#st": attrState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":prev": str(positionOf(prev)),
			":pending": str(string(erasure.Pending)), ":erasing": str(string(erasure.Erasing))}}
	if j.State.Open() {
		_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item,
			ConditionExpression: put.ConditionExpression, ExpressionAttributeNames: put.ExpressionAttributeNames,
			ExpressionAttributeValues: put.ExpressionAttributeValues})
		if isConditionFailed(err) {
			return wrap(erasure.ErrMoved)
		}
		if err != nil {
			return wrap(err)
		}
		return nil
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: put},
		{Delete: &types.Delete{TableName: aws.String(s.Table), Key: erasureOpenKey(j.TenantID, j.PhoneNumberID, j.Person)}},
	}})
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) && len(tc.CancellationReasons) > 0 && aws.ToString(tc.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return wrap(erasure.ErrMoved)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Unfinished implements erasure.Jobs: one Query of gsi2, whose cursor is
// the last job's sort key there.
func (s *Erasures) Unfinished(ctx context.Context, after string, limit int) ([]erasure.Job, string, error) {
	if limit <= 0 {
		return nil, "", nil
	}
	in := &dynamodb.QueryInput{TableName: aws.String(s.Table), IndexName: aws.String(schema.GSI2),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrGSI2PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(erasuresOpenIndex)},
		Limit:                     aws.Int32(int32(limit + 1))}
	if after != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk > :after")
		in.ExpressionAttributeNames["#sk"] = schema.AttrGSI2SK
		in.ExpressionAttributeValues[":after"] = str(after)
	}
	out, err := s.DB.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list open erasures: %w", err)
	}
	var jobs []erasure.Job
	next := ""
	for i, it := range out.Items {
		if i == limit {
			next = stringAttr(out.Items[i-1][schema.AttrGSI2SK])
			break
		}
		j, err := erasureFrom(it)
		if err != nil {
			return nil, "", fmt.Errorf("list open erasures: %w", err)
		}
		jobs = append(jobs, j)
	}
	return jobs, next, nil
}

// Marked implements erasure.Marks: one GetItem, eventually consistent
// (the final sweep deletes what a read that missed it let through).
func (s *Erasures) Marked(ctx context.Context, tenantID, phoneNumberID string) (bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: erasureMarkKey(tenantID, phoneNumberID)})
	if err != nil {
		return false, fmt.Errorf("read erasure mark of %s: %w", phoneNumberID, err)
	}
	return out.Item != nil, nil
}

// Tombstones implements erasure.Tombstones: one BatchGetItem per 100
// hashes, eventually consistent (a tombstone is written before the
// erasure's answer, and the job's final sweep deletes what a read that
// missed it let through).
func (s *Erasures) Tombstones(ctx context.Context, tenantID, phoneNumberID string, hashes []string) ([]erasure.Tombstone, error) {
	var keys []map[string]types.AttributeValue
	seen := map[string]bool{}
	for _, h := range hashes {
		if h != "" && !seen[h] {
			seen[h] = true
			keys = append(keys, tombstoneKey(tenantID, phoneNumberID, h))
		}
	}
	if tenantID == "" || phoneNumberID == "" || len(keys) == 0 {
		return nil, nil
	}
	var out []erasure.Tombstone
	for chunk := range slices.Chunk(keys, 100) {
		req := map[string]types.KeysAndAttributes{s.Table: {Keys: chunk}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 8 {
				return nil, fmt.Errorf("read tombstones: keys left unprocessed")
			}
			res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read tombstones: %w", err)
			}
			for _, it := range res.Responses[s.Table] {
				out = append(out, erasure.Tombstone{TenantID: stringAttr(it["tenant_id"]),
					PhoneNumberID: stringAttr(it[attrPhoneNumberID]), Hash: stringAttr(it[attrHash]),
					ErasedAt: parseStamp(stringAttr(it[attrErasedAt])), JobID: stringAttr(it[attrErasureID])})
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}
