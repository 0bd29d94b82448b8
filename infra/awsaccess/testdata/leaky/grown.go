package leaky

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Grown appends a slice made elsewhere to its items.
func (s *Store) Grown(ctx context.Context, rest []types.TransactWriteItem) error {
	items := []types.TransactWriteItem{{Put: &types.Put{}}}
	items = append(items, rest...)
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}
