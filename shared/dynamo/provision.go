// Package dynamo holds kapso-bridge's DynamoDB adapters, each implementing a
// store its domain declares: the idempotency claims (Claims), tenants'
// connections (Onboarding) and connected numbers with their webhook secrets
// (Numbers) on the bridge table, bodies too large for a queue message
// (Payloads), rejected events (Rejects); and table creation from
// shared/schema for the local stack and tests. Every key is spelled in keys.go.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// CreateTable creates t under the physical name name, with its indexes and
// TTL, as the CDK stack does, and waits until it is active. An existing table
// is left as it is.
func CreateTable(ctx context.Context, db *dynamodb.Client, t schema.Table, name string) error {
	attrs := map[string]schema.KeyType{}
	keySchema := func(pk schema.Attribute, sk *schema.Attribute) []types.KeySchemaElement {
		attrs[pk.Name] = pk.Type
		ks := []types.KeySchemaElement{{AttributeName: aws.String(pk.Name), KeyType: types.KeyTypeHash}}
		if sk != nil {
			attrs[sk.Name] = sk.Type
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sk.Name), KeyType: types.KeyTypeRange})
		}
		return ks
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(t.PartitionKey, t.SortKey),
	}
	if t.Stream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages}
	}
	for _, ix := range t.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	for n, ty := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(n), AttributeType: types.ScalarAttributeType(ty),
		})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, defaultWait); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if t.TTLAttribute != "" {
		_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true),
			},
		})
		// Enabling TTL twice is refused; that is the state we want anyway.
		if err != nil && !isTTLAlreadyEnabled(err) {
			return fmt.Errorf("enable ttl on %s: %w", name, err)
		}
	}
	return nil
}

// TableNames maps a schema table ID to its physical name under a prefix.
func TableNames(prefix string) map[string]string {
	names := map[string]string{}
	for _, t := range schema.Tables {
		names[t.ID] = prefix + t.ID
	}
	return names
}

// CreateTables creates every schema table under prefix.
func CreateTables(ctx context.Context, db *dynamodb.Client, prefix string) (map[string]string, error) {
	names := TableNames(prefix)
	for _, t := range schema.Tables {
		if err := CreateTable(ctx, db, t, names[t.ID]); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// defaultWait bounds table-creation waits in the local stack.
const defaultWait = 30 * time.Second

func isTTLAlreadyEnabled(err error) bool {
	var ve interface{ ErrorCode() string }
	return errors.As(err, &ve) && ve.ErrorCode() == "ValidationException"
}
