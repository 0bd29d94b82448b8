package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Messages is also the media.Store: a message's copy of its media is
// attributes of the message item, and a message whose copy is due again is
// one more item under a fixed partition, by due time:
//
//	MSG#<tenant>#<wamid>   / MSG                       media_state, media_mime, media_size, media_sha256,
//	                                                   media_key, media_error, media_at, media_attempts;
//	                                                   media_retry: the sort key of its retry item
//	MEDIARETRY             / <due>#<tenant>#<wamid>    tenant_id, wamid; expires_at
//
// The message's stream record of a media change tells no event: events
// follow a message's known flag and delivery, which SetMedia never writes.
var _ media.Store = (*Messages)(nil)

// Attributes of a message's media copy.
const (
	attrMediaState    = "media_state"
	attrMediaMIME     = "media_mime"
	attrMediaSize     = "media_size"
	attrMediaSHA256   = "media_sha256"
	attrMediaKey      = "media_key"
	attrMediaError    = "media_error"
	attrMediaAt       = "media_at"
	attrMediaAttempts = "media_attempts"
	// attrMediaRetry is the sort key of the message's retry item, so that
	// the next SetMedia deletes the item it replaces.
	attrMediaRetry = "media_retry"
	attrTenantID   = "tenant_id"
)

// mediaRetryPK is the partition of the retry items: few (a failed copy is
// rare and each lives at most days), read by the reconciler alone.
const mediaRetryPK = "MEDIARETRY"

// mediaRetryTTL is how long a retry item is kept past its due time: Meta
// keeps a webhook's media id 7 days, after which no retry can succeed.
const mediaRetryTTL = media.WebhookIDLifetime + 24*time.Hour

// setMediaTries bounds SetMedia's optimistic rounds; each lost round is
// another writer's won one, so it is only reached by a storm of writes.
const setMediaTries = 20

func mediaRetrySK(due time.Time, tenantID, wamid string) string {
	return sortKeyTime(due) + "#" + tenantID + "#" + wamid
}

// mediaOf is the Info stored on a message item.
func mediaOf(it map[string]types.AttributeValue) media.Info {
	size, _ := intAttr(it[attrMediaSize])
	attempts, _ := intAttr(it[attrMediaAttempts])
	return media.Info{State: media.State(stringAttr(it[attrMediaState])), MIMEType: stringAttr(it[attrMediaMIME]),
		Size: size, SHA256: stringAttr(it[attrMediaSHA256]), Key: stringAttr(it[attrMediaKey]),
		Error: stringAttr(it[attrMediaError]), At: parseStamp(stringAttr(it[attrMediaAt])), Attempts: int(attempts)}
}

// MediaState implements media.Store: one consistent GetItem.
func (s *Messages) MediaState(ctx context.Context, tenantID, wamid string) (media.Info, bool, error) {
	if tenantID == "" || wamid == "" {
		return media.Info{}, false, nil
	}
	it, err := s.getItem(ctx, messageKey(tenantID, wamid))
	if err != nil || it == nil {
		if err != nil {
			err = fmt.Errorf("read media of %s: %w", wamid, err)
		}
		return media.Info{}, false, err
	}
	info := mediaOf(it)
	if mediaFrom(it) != nil && info.State == "" {
		info.State = media.Pending
	}
	return info, true, nil
}

// SetMedia implements media.Store: a consistent GetItem, then the write,
// conditional on the item being as read (not stored, the same retry item).
// The message item and its retry items change in one TransactWriteItems:
// written one after the other, a failure between them would leave a failed
// copy no reconciler ever retries, or a retry of a copy already stored. A
// write that finds the item changed since its read reads it again.
func (s *Messages) SetMedia(ctx context.Context, tenantID, wamid string, info media.Info, next time.Time) error {
	if tenantID == "" || wamid == "" || info.State == "" {
		return fmt.Errorf("set media of %s: %w", wamid, invalid("media state without tenant, WAMID or state"))
	}
	for try := range setMediaTries {
		it, err := s.getItem(ctx, messageKey(tenantID, wamid))
		switch {
		case err != nil:
			return fmt.Errorf("set media of %s: %w", wamid, err)
		case it == nil:
			return fmt.Errorf("set media of %s: %w", wamid, errs.E(errs.NotFound, "message not stored", nil))
		case mediaOf(it).State == media.Stored:
			return nil // final
		}
		err = s.writeMedia(ctx, tenantID, wamid, info, next, stringAttr(it[attrMediaRetry]))
		if !lostRace(err) {
			if err != nil {
				return fmt.Errorf("set media of %s: %w", wamid, refused(err))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("set media of %s: %w", wamid, ctx.Err())
		case <-time.After(time.Duration(try) * 10 * time.Millisecond):
		}
	}
	return fmt.Errorf("set media of %s: %w", wamid, errs.E(errs.Conflict, "the message kept changing", nil))
}

// writeMedia writes info over the media attributes of a message whose
// retry item is oldRetry ("" for none), moving or deleting the retry item.
func (s *Messages) writeMedia(ctx context.Context, tenantID, wamid string, info media.Info, next time.Time, oldRetry string) error {
	newRetry := ""
	if info.State == media.Failed && media.Retryable(info.Error) {
		newRetry = mediaRetrySK(next, tenantID, wamid)
	}
	u := newUpdate()
	for _, a := range [][2]string{{attrMediaState, string(info.State)}, {attrMediaMIME, info.MIMEType},
		{attrMediaSHA256, info.SHA256}, {attrMediaKey, info.Key}, {attrMediaError, info.Error}, {attrMediaRetry, newRetry}} {
		if a[1] == "" {
			u.drop(a[0])
		} else {
			u.setTo(a[0], str(a[1]))
		}
	}
	u.setTo(attrMediaSize, numberAttr(info.Size))
	u.setTo(attrMediaAttempts, numberAttr(int64(info.Attempts)))
	if info.At.IsZero() {
		u.drop(attrMediaAt)
	} else {
		u.setTo(attrMediaAt, str(stamp(info.At)))
	}
	state, retry := u.name(attrMediaState), u.name(attrMediaRetry)
	cond := "attribute_exists(" + u.name(schema.AttrPK) + ") AND (attribute_not_exists(" + state + ") OR " + state + " <> " +
		u.val(str(string(media.Stored))) + ") AND "
	if oldRetry == "" {
		cond += "attribute_not_exists(" + retry + ")"
	} else {
		cond += retry + " = " + u.val(str(oldRetry))
	}
	up := &types.Update{TableName: aws.String(s.Table), Key: messageKey(tenantID, wamid), UpdateExpression: u.expression(),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: u.names, ExpressionAttributeValues: u.vals}
	del := &types.Delete{TableName: aws.String(s.Table), Key: key(mediaRetryPK, oldRetry)}
	item := key(mediaRetryPK, newRetry)
	item[attrTenantID], item[attrWAMID] = str(tenantID), str(wamid)
	item[schema.AttrTTL] = numberAttr(next.Add(mediaRetryTTL).Unix())
	put := &types.Put{TableName: aws.String(s.Table), Item: item}
	var err error
	switch drop, add := oldRetry != "" && oldRetry != newRetry, newRetry != "" && newRetry != oldRetry; {
	case drop && add:
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{{Update: up}, {Delete: del}, {Put: put}}})
	case drop:
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{{Update: up}, {Delete: del}}})
	case add:
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{{Update: up}, {Put: put}}})
	default:
		_, err = s.updateItem(ctx, messageKey(tenantID, wamid), u, cond, types.ReturnValueNone)
	}
	return err
}

// lostRace reports whether err is a write that lost to another: its
// condition failed on an item changed since it was read, or a concurrent
// transaction held the item.
func lostRace(err error) bool {
	if _, ok := conditionFailedItem(err); ok {
		return true
	}
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	for _, r := range tc.CancellationReasons {
		if c := aws.ToString(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
			return true
		}
	}
	return false
}

// DueMediaRetries implements media.Store: one Query of the retry items due
// at or before now, oldest first.
func (s *Messages) DueMediaRetries(ctx context.Context, now time.Time, limit int) ([]media.Retry, error) {
	if limit <= 0 {
		return nil, nil
	}
	// '$' follows '#': every sort key due at now sorts before the bound.
	bound := sortKeyTime(now) + "$"
	var out []media.Retry
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk AND sk < :due"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(mediaRetryPK), ":due": str(bound)},
		ConsistentRead:            aws.Bool(true), Limit: aws.Int32(int32(min(limit, 1000)))})
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list due media retries: %w", err)
		}
		for _, it := range page.Items {
			if len(out) < limit {
				out = append(out, media.Retry{TenantID: stringAttr(it[attrTenantID]), WAMID: stringAttr(it[attrWAMID])})
			}
		}
	}
	return out, nil
}
