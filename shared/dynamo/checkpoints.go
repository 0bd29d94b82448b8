package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Checkpoints keeps where a repeated sweep stopped, so the next run goes on
// from there (the reconciler's number check). One small item per sweep.
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
