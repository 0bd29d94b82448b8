package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestCostPerMillionEvents(t *testing.T) {
	in := eventCostInputs{FeedWRU: 2, SNSBilled: 0.1, WebhookQueueRequests: 0.2, PublisherInvocations: 0.01,
		WebhookInvocations: 0.1}
	c := eventCost(in)
	line := func(prefix string) costLine { return costLineOf(t, c, prefix) }
	near := func(what string, got, want float64) { nearly(t, what, got, want) }
	// Two feed items of one unit each: 2 M WRU.
	near("feed WRU", line("DynamoDB write request units, feed").Quantity, 2e6)
	near("feed $", line("DynamoDB write request units, feed").USD, 2*priceDynamoDBWriteMillion)
	// A PublishBatch of ten: 100,000 requests.
	near("sns", line("SNS publish").USD, 0.1*priceSNSPublishMillion)
	near("sns to sqs", line("SNS deliveries").USD, 0)
	// The message SNS puts on the queue, then 0.2 of the worker's requests.
	near("sqs", line("SQS requests").Quantity, 1.2e6)
	near("lambda", line("Lambda requests").USD, 0.11*priceLambdaRequestMillion)
	var sum float64
	for _, l := range c.Lines {
		sum += l.USD
	}
	near("total", c.USD, sum)
}

func TestCallsAreToldByWhatTheyTouch(t *testing.T) {
	c := newCallCounter()
	c.reset()
	for _, tc := range []struct {
		params any
		want   callInfo
	}{
		{&dynamodb.PutItemInput{TableName: aws.String("kb-bridge")}, callInfo{who: byDelivery, write: true}},
		{&dynamodb.UpdateItemInput{TableName: aws.String("kb-bridge")}, callInfo{who: byDelivery, write: true}},
		{&dynamodb.GetItemInput{TableName: aws.String("kb-idempotency")}, callInfo{who: byDelivery}},
		{&dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"kb-events": make([]types.WriteRequest, 3)}},
			callInfo{who: byPublisher, write: true}},
		{&sns.PublishBatchInput{PublishBatchRequestEntries: []snstypes.PublishBatchRequestEntry{{Message: aws.String("{}")}, {Message: aws.String("{}")}}}, callInfo{who: byPublisher}},
		{&sqs.SendMessageInput{QueueUrl: aws.String("http://q/kb-messages")}, callInfo{who: byDelivery}},
		{&sqs.ReceiveMessageInput{QueueUrl: aws.String("http://q/kb-event-webhooks")}, callInfo{who: byWebhooks}},
		{&sqs.DeleteMessageBatchInput{QueueUrl: aws.String("http://q/kb-event-webhooks")}, callInfo{who: byWebhooks}},
		{&sqs.ListQueuesInput{}, callInfo{who: byOther}},
	} {
		if got := c.classify(tc.params); got != tc.want {
			t.Errorf("%T: %+v, want %+v", tc.params, got, tc.want)
		}
	}
	s := c.snapshot()
	// Three feed items; two small entries, billed as one request.
	if s.FeedItems != 3 || s.SNSBilled != 1 {
		t.Errorf("feed items %d, SNS billed %d", s.FeedItems, s.SNSBilled)
	}
}
