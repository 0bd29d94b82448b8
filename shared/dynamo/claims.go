package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Claims is the idempotency.Store on the idempotency table. One conditional
// put takes a key; when the condition fails DynamoDB returns the old item
// with the failure, so the outcome costs no second read.
type Claims struct {
	DB    *dynamodb.Client
	Table string
	// Retention is how long an accepted key keeps answering "done".
	Retention time.Duration
	Now       func() time.Time
}

const (
	attrStatus     = "status"
	attrBodyHash   = "body_hash"
	attrToken      = "claim_token"
	attrLeaseUntil = "lease_until_ms"
	attrAcceptedAt = "accepted_at"
)

func (c *Claims) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Claims) retention() time.Duration {
	if c.Retention > 0 {
		return c.Retention
	}
	return 7 * 24 * time.Hour
}

func claimKey(key string) string { return "delivery#" + key }

// Claim implements idempotency.Store.
func (c *Claims) Claim(ctx context.Context, key, bodyHash string, lease time.Duration) (idempotency.Result, error) {
	now := c.now()
	token := randomToken()
	// The condition is the Claimed branch of idempotency.Decide.
	_, err := c.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(c.Table),
		Item: map[string]types.AttributeValue{
			schema.AttrPK:  &types.AttributeValueMemberS{Value: claimKey(key)},
			attrStatus:     &types.AttributeValueMemberS{Value: string(idempotency.InProgress)},
			attrBodyHash:   &types.AttributeValueMemberS{Value: bodyHash},
			attrToken:      &types.AttributeValueMemberS{Value: token},
			attrLeaseUntil: numberAttr(now.Add(lease).UnixMilli()),
			schema.AttrTTL: numberAttr(now.Add(c.retention()).Unix()),
		},
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #exp <= :now_s OR " +
			"(#hash = :hash AND #status = :in_progress AND #lease <= :now_ms)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.AttrPK, "#exp": schema.AttrTTL, "#hash": attrBodyHash,
			"#status": attrStatus, "#lease": attrLeaseUntil,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now_s":       numberAttr(now.Unix()),
			":now_ms":      numberAttr(now.UnixMilli()),
			":hash":        &types.AttributeValueMemberS{Value: bodyHash},
			":in_progress": &types.AttributeValueMemberS{Value: string(idempotency.InProgress)},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return idempotency.Result{Outcome: idempotency.Claimed, Claim: idempotency.Claim{Key: key, Token: token}}, nil
	}
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		return idempotency.Result{}, fmt.Errorf("claim %s: %w", key, err)
	}
	old, err := recordFrom(key, failed.Item)
	if err != nil {
		return idempotency.Result{}, fmt.Errorf("claim %s: read existing claim: %w", key, err)
	}
	if old != nil && old.Token == token {
		// The SDK retried a put whose first attempt was applied: the claim is ours.
		return idempotency.Result{Outcome: idempotency.Claimed, Claim: idempotency.Claim{Key: key, Token: token}}, nil
	}
	outcome := idempotency.Decide(old, bodyHash, now)
	if outcome == idempotency.Claimed {
		// The item changed between DynamoDB's check and our clock; the safe
		// answer is "try again shortly", never a second claim.
		outcome = idempotency.InFlight
	}
	return idempotency.Result{Outcome: outcome, Existing: old}, nil
}

// Accept implements idempotency.Store.
func (c *Claims) Accept(ctx context.Context, cl idempotency.Claim) error {
	now := c.now()
	_, err := c.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(c.Table),
		Key:                 map[string]types.AttributeValue{schema.AttrPK: &types.AttributeValueMemberS{Value: claimKey(cl.Key)}},
		UpdateExpression:    aws.String("SET #status = :accepted, #at = :at, #exp = :exp"),
		ConditionExpression: aws.String("#token = :token"),
		ExpressionAttributeNames: map[string]string{
			"#status": attrStatus, "#at": attrAcceptedAt,
			"#exp": schema.AttrTTL, "#token": attrToken,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":accepted": &types.AttributeValueMemberS{Value: string(idempotency.Accepted)},
			":at":       &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339Nano)},
			":exp":      numberAttr(now.Add(c.retention()).Unix()),
			":token":    &types.AttributeValueMemberS{Value: cl.Token},
		},
	})
	return c.conditional(err, "accept", cl.Key)
}

// Release implements idempotency.Store.
func (c *Claims) Release(ctx context.Context, cl idempotency.Claim) error {
	_, err := c.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(c.Table),
		Key:                      map[string]types.AttributeValue{schema.AttrPK: &types.AttributeValueMemberS{Value: claimKey(cl.Key)}},
		ConditionExpression:      aws.String("#token = :token AND #status = :in_progress"),
		ExpressionAttributeNames: map[string]string{"#token": attrToken, "#status": attrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":token":       &types.AttributeValueMemberS{Value: cl.Token},
			":in_progress": &types.AttributeValueMemberS{Value: string(idempotency.InProgress)},
		},
	})
	return c.conditional(err, "release", cl.Key)
}

func (c *Claims) conditional(err error, op, key string) error {
	if err == nil {
		return nil
	}
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return fmt.Errorf("%s claim %s: %w", op, key, idempotency.ErrLostClaim)
	}
	return fmt.Errorf("%s claim %s: %w", op, key, err)
}

func recordFrom(key string, item map[string]types.AttributeValue) (*idempotency.Record, error) {
	if len(item) == 0 {
		return nil, nil
	}
	r := &idempotency.Record{
		Key:      key,
		Status:   idempotency.Status(stringAttr(item[attrStatus])),
		BodyHash: stringAttr(item[attrBodyHash]),
		Token:    stringAttr(item[attrToken]),
	}
	lease, err := intAttr(item[attrLeaseUntil])
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	exp, err := intAttr(item[schema.AttrTTL])
	if err != nil {
		return nil, fmt.Errorf("expiry: %w", err)
	}
	r.LeaseUntil = time.UnixMilli(lease)
	r.ExpiresAt = time.Unix(exp, 0)
	return r, nil
}

func numberAttr(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func stringAttr(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func intAttr(v types.AttributeValue) (int64, error) {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("missing number")
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
