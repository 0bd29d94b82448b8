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
