package awstest_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The local resources must match the schema the CDK stack deploys.
func TestTablesAndQueuesFollowTheSchema(t *testing.T) {
	ctx := context.Background()
	names := awstest.Tables(t)
	db := awstest.DynamoDB(t)
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(awstest.Bridge(names))})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Table.GlobalSecondaryIndexes) != len(schema.Bridge.Indexes) || *out.Table.GlobalSecondaryIndexes[0].IndexName != schema.GSI1 {
		t.Fatalf("bridge indexes = %+v", out.Table.GlobalSecondaryIndexes)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(awstest.Idempotency(names))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ttl.TimeToLiveDescription.AttributeName) != schema.AttrTTL {
		t.Fatalf("ttl attribute = %v", ttl.TimeToLiveDescription.AttributeName)
	}

	queues := awstest.Queues(t)
	attrs, err := awstest.SQS(t).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queues[schema.Lifecycle.ID].URL), AttributeNames: []types.QueueAttributeName{"All"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(int(schema.Lifecycle.VisibilityTimeout().Seconds()))
	if got := attrs.Attributes["VisibilityTimeout"]; got != want || want == "0" {
		t.Fatalf("visibility timeout = %s, want 6x the consumer timeout", got)
	}
	if attrs.Attributes["RedrivePolicy"] == "" {
		t.Fatal("no redrive policy on the lifecycle queue")
	}
}

// Queued counts a queue's messages whatever their state: visible, in
// flight or delayed.
func TestQueuedCountsEveryMessage(t *testing.T) {
	ctx := context.Background()
	client, url := awstest.SQS(t), awstest.Queues(t)[schema.Messages.ID].URL
	if n := awstest.Queued(t, client, url); n != 0 {
		t.Fatalf("a new queue holds %d", n)
	}
	for _, delay := range []int32{0, 0, 60} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m"),
			DelaySeconds: delay}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1, VisibilityTimeout: 60})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("received %d: %v", len(got.Messages), err)
	}
	if n := awstest.Queued(t, client, url); n != 3 {
		t.Fatalf("queued %d, want 3: one visible, one in flight, one delayed", n)
	}
}
