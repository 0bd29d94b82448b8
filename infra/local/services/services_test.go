package services

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// With DynamoDBPath, DynamoDB Local's tables and items outlive it: a
// second start on the same folder finds them (make dev's restarts).
func TestDynamoDBDataOutlivesARestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dynamodb")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	client := func(s *Services) *dynamodb.Client {
		cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
		return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.DynamoDBEndpoint) })
	}
	s, err := Start(ctx, Options{DynamoDBPath: dir, ReadyTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	db := client(s)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("kept"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}})
	if err == nil {
		_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("kept"),
			Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "acme"}}})
	}
	s.Stop()
	if err != nil {
		t.Fatal(err)
	}

	s, err = Start(ctx, Options{DynamoDBPath: dir, ReadyTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	out, err := client(s).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("kept"),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "acme"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("after a restart: item %v, %v", out, err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.db")); len(matches) != 1 {
		t.Errorf("data files in %s: %v", dir, matches)
	}
}
