package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Checkpoints keeps where a repeated sweep stopped, so the next run goes on
// from there (the reconciler's sweeps), and the lease that keeps two runs
// of the reconciler apart. One small item per sweep and per lease.
type Checkpoints struct {
	DB    *dynamodb.Client
	Table string
}

// Checkpoint is the position saved for name; "" when none is.
func (s *Checkpoints) Checkpoint(ctx context.Context, name string) (string, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(checkpointKey(name)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("read checkpoint %s: %w", name, err)
	}
	return stringAttr(out.Item["position"]), nil
}

// SaveCheckpoint stores the position for name; "" starts the sweep over.
func (s *Checkpoints) SaveCheckpoint(ctx context.Context, name, position string) error {
	pk, sk := checkpointKey(name)
	item := key(pk, sk)
	item["position"] = str(position)
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", name, err)
	}
	return nil
}

// TakeLease makes holder the one run of name until until: it succeeds when
// no one holds the lease, when its holder's time has passed (a run that
// died), or when holder holds it already. A false answer means another run
// holds it; nothing was written.
func (s *Checkpoints) TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	pk, sk := leaseKey(name)
	item := key(pk, sk)
	item["holder"] = str(holder)
	item["until"] = numberAttr(until.UnixMilli())
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR #until < :now OR holder = :holder"),
		ExpressionAttributeNames: map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": numberAttr(now.UnixMilli()), ":holder": str(holder),
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return true, nil
}

// ReleaseLease ends holder's lease of name; a lease another run holds by
// now is left alone.
func (s *Checkpoints) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.Table), Key: key(leaseKey(name)),
		ConditionExpression:       aws.String("holder = :holder"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":holder": str(holder)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
