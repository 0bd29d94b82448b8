package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

var _ messaging.RetentionBackfill = (*Messages)(nil)

// retained are the items a message retention expires, by key prefix and
// sort key ("" is any), with the attribute holding the time their expiry
// counts from: a message's own time, a send's creation, a conversation's
// last activity, a contact's last sighting, a pending event's receipt. A
// message stored without its time counts from the backfill.
var retained = []struct {
	prefix, sk, timeAttr string
}{
	{messagePrefix, messageSK, attrTimestamp},
	{outboundPrefix, outboundSK, attrCreatedAt},
	{conversationPrefix, conversationSK, attrLastActiveAt},
	{contactPrefix, contactSK, attrLastSeenAt},
	{pendingPrefix, "", "received_at"},
}

// maxBackfillPosition bounds a position read back from a checkpoint.
const maxBackfillPosition = 2048

// ApplyRetention implements messaging.RetentionBackfill: Scan pages of
// the bridge table (Limit counts the items read, whatever the filter
// keeps), filtered to the stale items of retained, and one conditional
// UpdateItem per stale item. The position is the Scan's last evaluated
// key.
func (s *Messages) ApplyRetention(ctx context.Context, r messaging.Retention, position string, limit int) (messaging.RetentionPass, error) {
	var pass messaging.RetentionPass
	wrap := func(err error) error { return fmt.Errorf("apply a retention of %d days: %w", r.Days, err) }
	if !r.Set() {
		return pass, nil
	}
	start, err := backfillStart(position)
	if err != nil {
		return pass, wrap(err)
	}
	now := s.now()
	names := map[string]string{"#pk": schema.AttrPK, "#d": attrRetentionDays}
	vals := map[string]types.AttributeValue{":d": numberAttr(int64(r.Days))}
	var kinds []string
	for i, k := range retained {
		p := fmt.Sprintf(":p%d", i)
		vals[p] = str(k.prefix)
		kinds = append(kinds, "begins_with(#pk, "+p+")")
	}
	in := &dynamodb.ScanInput{TableName: aws.String(s.Table), ExclusiveStartKey: start,
		FilterExpression:          aws.String("(" + strings.Join(kinds, " OR ") + ") AND (attribute_not_exists(#d) OR #d <> :d)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}
	for pass.Scanned < limit {
		in.Limit = aws.Int32(int32(min(limit-pass.Scanned, 1000)))
		page, err := s.DB.Scan(ctx, in)
		if err != nil {
			return pass, wrap(err)
		}
		pass.Scanned += int(page.ScannedCount)
		for _, it := range page.Items {
			timeAttr, ok := retainedTime(it)
			if !ok {
				continue
			}
			pass.Stale++
			done, err := s.backfill(ctx, r, it, timeAttr, now)
			if err != nil {
				return pass, wrap(err)
			}
			if done {
				pass.Updated++
			}
		}
		if page.LastEvaluatedKey == nil {
			pass.Next = ""
			return pass, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
		pass.Next = backfillPosition(page.LastEvaluatedKey)
	}
	return pass, nil
}

// retainedTime is the time attribute of a retained item; false for any
// other item (a conversation's alias).
func retainedTime(it map[string]types.AttributeValue) (string, bool) {
	pk, sk := stringAttr(it[schema.AttrPK]), stringAttr(it[schema.AttrSK])
	for _, k := range retained {
		if strings.HasPrefix(pk, k.prefix) && (k.sk == "" || k.sk == sk) {
			return k.timeAttr, true
		}
	}
	return "", false
}

// backfill gives one item r's expiry, counted from its time attribute as
// read: conditional on the item still existing, not having expired, not
// carrying r's days already (a newer write gave them) and its time being
// unchanged (a newer activity writes its own expiry). A failed condition
// is no error: the item is left to what changed it.
func (s *Messages) backfill(ctx context.Context, r messaging.Retention, it map[string]types.AttributeValue, timeAttr string, now time.Time) (bool, error) {
	at := parseStamp(stringAttr(it[timeAttr]))
	u := newUpdate()
	u.setTo(schema.AttrTTL, numberAttr(r.ExpiresAt(at, now).Unix()))
	d := u.val(numberAttr(int64(r.Days)))
	rd := u.name(attrRetentionDays)
	u.set = append(u.set, rd+" = "+d)
	exp, t := u.name(schema.AttrTTL), u.name(timeAttr)
	conds := []string{"attribute_exists(" + u.name(schema.AttrPK) + ")",
		"(attribute_not_exists(" + rd + ") OR " + rd + " <> " + d + ")",
		"(attribute_not_exists(" + exp + ") OR " + exp + " > " + u.val(numberAttr(now.Unix())) + ")"}
	if v, ok := it[timeAttr]; ok {
		conds = append(conds, t+" = "+u.val(v))
	} else {
		conds = append(conds, "attribute_not_exists("+t+")")
	}
	k := key(stringAttr(it[schema.AttrPK]), stringAttr(it[schema.AttrSK]))
	_, err := s.updateItem(ctx, k, u, strings.Join(conds, " AND "), types.ReturnValueNone)
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("expire %s: %w", stringAttr(k[schema.AttrPK]), err)
	}
	return true, nil
}

// backfillPosition is a Scan's last evaluated key as a position: the
// bridge table's key is two strings.
func backfillPosition(k map[string]types.AttributeValue) string {
	b, _ := json.Marshal([2]string{stringAttr(k[schema.AttrPK]), stringAttr(k[schema.AttrSK])})
	return base64.RawURLEncoding.EncodeToString(b)
}

func backfillStart(position string) (map[string]types.AttributeValue, error) {
	if position == "" {
		return nil, nil
	}
	var k [2]string
	b, err := base64.RawURLEncoding.DecodeString(position)
	if err == nil && len(position) <= maxBackfillPosition {
		err = json.Unmarshal(b, &k)
	}
	if err != nil || len(position) > maxBackfillPosition || k[0] == "" || k[1] == "" {
		return nil, errs.E(errs.Invalid, "invalid backfill position", nil)
	}
	return key(k[0], k[1]), nil
}
