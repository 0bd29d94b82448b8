package snstopic_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// A raw subscription hands the queue each message as published, with its
// attributes; a plain one wraps it in SNS's envelope. Subscribing again
// makes no second subscription.
func TestSubscribeDeliversRawOrWrapped(t *testing.T) {
	ctx := context.Background()
	client, q := awstest.SNS(t), awstest.SQS(t)
	queues := awstest.Queues(t)
	prefix := awstest.Prefix(t)
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(prefix + schema.EventsTopic.ID)})
	if err != nil {
		t.Fatal(err)
	}
	webhooks, err := sqsqueue.CreateQueue(ctx, q, schema.EventWebhooks, prefix)
	if err != nil {
		t.Fatal(err)
	}
	arn := func(url string) string {
		a, err := sqsqueue.QueueARN(ctx, q, url)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	raw := webhooks.URL
	sub, err := snstopic.Subscribe(ctx, client, schema.EventWebhooksSubscription, aws.ToString(topic.TopicArn), arn(raw))
	if err != nil || sub == "" {
		t.Fatalf("subscribe: %q %v", sub, err)
	}
	again, err := snstopic.Subscribe(ctx, client, schema.EventWebhooksSubscription, aws.ToString(topic.TopicArn), arn(raw))
	if err != nil || again != sub {
		t.Fatalf("subscribing again: %q %v, want %q", again, err, sub)
	}
	wrapped := queues[schema.Messages.ID].URL
	plain := schema.Subscription{Topic: schema.EventsTopic, Queue: schema.Messages}
	if _, err := snstopic.Subscribe(ctx, client, plain, aws.ToString(topic.TopicArn), arn(wrapped)); err != nil {
		t.Fatal(err)
	}

	const body = `{"id":"evt_1","type":"tenant.status_changed","tenant_id":"acme","data":{}}`
	if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(body),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			schema.EventAttrType: {DataType: aws.String("String"), StringValue: aws.String("tenant.status_changed")}}}); err != nil {
		t.Fatal(err)
	}
	receive := func(url string) []types.Message {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 2, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	got := receive(raw)
	if len(got) != 1 || aws.ToString(got[0].Body) != body ||
		aws.ToString(got[0].MessageAttributes[schema.EventAttrType].StringValue) != "tenant.status_changed" {
		t.Fatalf("raw queue got %+v", got)
	}
	got = receive(wrapped)
	if len(got) != 1 || aws.ToString(got[0].Body) == body {
		t.Fatalf("the plain subscription's queue got %+v", got)
	}
	if _, err := snstopic.Subscribe(ctx, client, schema.EventWebhooksSubscription, "arn:aws:sns:us-east-1:000000000000:none", arn(raw)); err == nil {
		t.Error("subscribed to a topic that does not exist")
	}
}
