// Package leaky hands its client to code the analysis cannot follow.
package leaky

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"example.com/elsewhere"
)

type Store struct {
	DB    *dynamodb.Client
	Table string
}

type Other struct{ DB *dynamodb.Client }

func (o *Other) Put(ctx context.Context) error {
	_, err := o.DB.PutItem(ctx, &dynamodb.PutItemInput{})
	return err
}

// Elsewhere gives the client away.
func (s *Store) Elsewhere() { elsewhere.Use(s.DB) }

// Delegate builds another adapter around its client.
func (s *Store) Delegate(ctx context.Context) error {
	o := &Other{DB: s.DB}
	return o.Put(ctx)
}

// Built queries with an input it did not write out.
func (s *Store) Built(ctx context.Context) error {
	_, err := s.DB.Query(ctx, input())
	return err
}

func input() *dynamodb.QueryInput { return &dynamodb.QueryInput{} }

// Appended transacts with items it did not write out in its input.
func (s *Store) Appended(ctx context.Context, items []types.TransactWriteItem) error {
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

// ItemAside transacts with an item written elsewhere.
func (s *Store) ItemAside(ctx context.Context, item types.TransactWriteItem) error {
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{item}})
	return err
}
