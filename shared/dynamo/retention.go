package dynamo

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// attrRetentionDays is, next to an item's expires_at, the retention in
// days it was computed with, so the reconciler finds the items whose
// expiry another setting computed (reconcile's retention step).
const attrRetentionDays = "retention_days"

func (s *Messages) now() time.Time { return utcNow(s.Now) }

// expire gives the item u writes its expiry under s.Retention, counted
// from at (from now when at is zero): set when move (the write carries the
// item's newest time: a message's own copy, a conversation's or contact's
// newer activity), else only filled, so a late or partial copy never moves
// it. Nothing when no retention is set.
func (s *Messages) expire(u *update, move bool, at time.Time) {
	if !s.Retention.Set() {
		return
	}
	u.putAttr(move, schema.AttrTTL, numberAttr(s.Retention.ExpiresAt(at, s.now()).Unix()))
	u.putAttr(move, attrRetentionDays, numberAttr(int64(s.Retention.Days)))
}

// expireItem gives a whole item its expiry, counted from at.
func expireItem(r messaging.Retention, item map[string]types.AttributeValue, at, now time.Time) {
	if !r.Set() {
		return
	}
	item[schema.AttrTTL] = numberAttr(r.ExpiresAt(at, now).Unix())
	item[attrRetentionDays] = numberAttr(int64(r.Days))
}

// expiresAt is the item's expiry; zero when it has none.
func expiresAt(it map[string]types.AttributeValue) time.Time {
	n, err := intAttr(it[schema.AttrTTL])
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// gone reports whether the item is absent or past its expiry: DynamoDB
// deletes an expired item only days later, and no read shows one.
func (s *Messages) gone(it map[string]types.AttributeValue) bool {
	return it == nil || messaging.Expired(expiresAt(it), s.now())
}
