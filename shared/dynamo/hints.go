package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Hints is the onboarding.RedirectHints on the bridge table: redirects the
// lifecycle queue could not take, one item each, until the reconciler
// applies them.
//
//	REDIRECT_HINT / <received time, fixed width>#<id>   id, received_at, raw (binary)
//
// They carry no expiry: a hint is only ever dropped once applied. Reads are
// strongly consistent, so a run sees every hint kept before it.
type Hints struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

var _ onboarding.RedirectHints = (*Hints)(nil)

// defaultHintLimit is the page size when the caller gives none.
const defaultHintLimit = 100

// KeepRedirect implements onboarding.RedirectHints.
func (s *Hints) KeepRedirect(ctx context.Context, id string, receivedAt time.Time, raw []byte) error {
	wrap := func(err error) error { return fmt.Errorf("keep redirect hint %s: %w", id, err) }
	switch {
	case id == "" || len(raw) == 0:
		return wrap(errs.E(errs.Invalid, "redirect hint without id or message", nil))
	case len(raw) > onboarding.MaxRedirectHintBytes:
		return wrap(errs.E(errs.TooLarge, fmt.Sprintf("hint of %d bytes, above the %d kept", len(raw),
			onboarding.MaxRedirectHintBytes), nil))
	}
	if receivedAt.IsZero() {
		receivedAt = utcNow(s.Now)
	}
	item := redirectHintKey(receivedAt, id)
	item["id"] = str(id)
	item["received_at"] = str(stamp(receivedAt))
	item["raw"] = &types.AttributeValueMemberB{Value: raw}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return wrap(err)
	}
	return nil
}

// Redirects implements onboarding.RedirectHints.
func (s *Hints) Redirects(ctx context.Context, limit int) ([]onboarding.KeptRedirect, error) {
	if limit <= 0 {
		limit = defaultHintLimit
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.Table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(redirectHintPK)},
		ConsistentRead:            aws.Bool(true),
	}
	var out []onboarding.KeptRedirect
	for len(out) < limit {
		in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list redirect hints: %w", err)
		}
		for _, it := range page.Items {
			out = append(out, onboarding.KeptRedirect{ID: stringAttr(it["id"]),
				ReceivedAt: parseStamp(stringAttr(it["received_at"])), Raw: bytesAttr(it["raw"])})
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}

// DropRedirect implements onboarding.RedirectHints.
func (s *Hints) DropRedirect(ctx context.Context, id string, receivedAt time.Time) error {
	if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: redirectHintKey(receivedAt, id),
	}); err != nil {
		return fmt.Errorf("drop redirect hint %s: %w", id, err)
	}
	return nil
}
