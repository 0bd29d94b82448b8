package dynamo

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// AuditLog is the access.AuditLog on the bridge table: one item an entry,
// in its month's partition (auditPK), sorted by time (auditSK), which
// expires access.AuditRetention after its time. Record is one PutItem;
// List reads the months newest first, at most those the retention spans
// (14), fewer with since. No entry makes an event (EventSortKeys).
type AuditLog struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

var _ access.AuditLog = (*AuditLog)(nil)

// Attributes of an audit entry.
const (
	attrAuditAt       = "at"
	attrAuditToken    = "token"
	attrAuditMethod   = "method"
	attrAuditRoute    = "route"
	attrAuditTenant   = "tenant_id"
	attrAuditResource = "resource_id"
	attrAuditStatus   = "status"
	attrAuditID       = "entry_id"
)

// Record implements access.AuditLog: one PutItem, on the condition that
// the entry's key is new.
func (l *AuditLog) Record(ctx context.Context, e access.Entry) error {
	wrap := func(err error) error { return fmt.Errorf("record audit entry %s %s: %w", e.Method, e.Route, err) }
	if err := access.CheckEntry(e); err != nil {
		return wrap(err)
	}
	at := e.At.UTC()
	it := key(auditPK(at), auditSK(at, e.ID))
	it[attrAuditID], it[attrAuditAt] = str(e.ID), str(sortKeyTime(at))
	it[attrAuditToken], it[attrAuditMethod], it[attrAuditRoute] = str(e.Token), str(e.Method), str(e.Route)
	it[attrAuditStatus] = numberAttr(int64(e.Status))
	it[schema.AttrTTL] = numberAttr(at.Add(access.AuditRetention).Unix())
	if e.TenantID != "" {
		it[attrAuditTenant] = str(e.TenantID)
	}
	if e.ResourceID != "" {
		it[attrAuditResource] = str(e.ResourceID)
	}
	_, err := l.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": schema.AttrPK}})
	if isConditionFailed(err) {
		return wrap(errs.E(errs.Conflict, "an audit entry of this id and time exists", err))
	}
	if err != nil {
		return wrap(refused(err))
	}
	return nil
}

func entryFrom(it map[string]types.AttributeValue) access.Entry {
	status, _ := intAttr(it[attrAuditStatus])
	return access.Entry{ID: stringAttr(it[attrAuditID]), At: parseStamp(stringAttr(it[attrAuditAt])),
		Token: stringAttr(it[attrAuditToken]), Method: stringAttr(it[attrAuditMethod]), Route: stringAttr(it[attrAuditRoute]),
		TenantID: stringAttr(it[attrAuditTenant]), ResourceID: stringAttr(it[attrAuditResource]), Status: int(status)}
}

// maxAuditCursorBytes bounds a cursor: larger is none List handed out.
const maxAuditCursorBytes = 256

// decodeAuditCursor reads a cursor: the sort key of the last entry a page
// answered, whose time names its month.
func decodeAuditCursor(cursor string) (string, time.Time, error) {
	bad := errs.E(errs.Invalid, "invalid cursor", access.ErrBadCursor)
	if len(cursor) > maxAuditCursorBytes {
		return "", time.Time{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	n := len(sortKeyTime(time.Time{}))
	if err != nil || len(b) < n+2 || b[n] != '#' {
		return "", time.Time{}, bad
	}
	at, err := time.Parse(time.RFC3339Nano, string(b[:n]))
	if err != nil {
		return "", time.Time{}, bad
	}
	return string(b), at, nil
}

// List implements access.AuditLog: Query calls of the months, newest
// first, from the cursor's (or now's) down to since's (or the oldest the
// retention keeps), reading one entry past the page to know whether
// another follows.
func (l *AuditLog) List(ctx context.Context, q access.AuditQuery) (access.AuditPage, error) {
	wrap := func(err error) error { return fmt.Errorf("list the audit trail: %w", err) }
	now := utcNow(l.Now)
	limit := access.AuditLimit(q.Limit)
	month, after := now, ""
	if q.Cursor != "" {
		sk, at, err := decodeAuditCursor(q.Cursor)
		if err != nil {
			return access.AuditPage{}, wrap(err)
		}
		month, after = at, sk
	}
	oldest := now.Add(-access.AuditRetention)
	if q.Since.After(oldest) {
		oldest = q.Since
	}
	page := access.AuditPage{Entries: []access.Entry{}}
	if after != "" && after < sortKeyTime(oldest) {
		return page, nil // a cursor past since: nothing after it
	}
	var sks []string
	first := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	for m := first(month.UTC()); !m.Before(first(oldest.UTC())) && len(page.Entries) <= limit; m = m.AddDate(0, -1, 0) {
		cond, vals := "pk = :pk AND sk >= :from", map[string]types.AttributeValue{":pk": str(auditPK(m)), ":from": str(sortKeyTime(oldest))}
		if after != "" {
			cond = "pk = :pk AND sk BETWEEN :from AND :before"
			vals[":before"] = str(after)
		}
		in := &dynamodb.QueryInput{TableName: aws.String(l.Table), KeyConditionExpression: aws.String(cond),
			ExpressionAttributeValues: vals, ScanIndexForward: aws.Bool(false)}
		for len(page.Entries) <= limit {
			in.Limit = aws.Int32(int32(limit + 1 - len(page.Entries)))
			out, err := l.DB.Query(ctx, in)
			if err != nil {
				return access.AuditPage{}, wrap(err)
			}
			for _, it := range out.Items {
				sk := stringAttr(it[schema.AttrSK])
				if sk == after {
					continue // BETWEEN takes the cursor's own entry
				}
				page.Entries, sks = append(page.Entries, entryFrom(it)), append(sks, sk)
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	if len(page.Entries) > limit {
		page.Entries = page.Entries[:limit]
		page.Cursor = base64.RawURLEncoding.EncodeToString([]byte(sks[limit-1]))
	}
	return page, nil
}
