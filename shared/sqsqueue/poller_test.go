package sqsqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// Messages the handler reports as failed come back, and after
// maxReceiveCount receives they are in the DLQ; the rest are deleted.
func TestPollerHasLambdaBatchSemantics(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	// A zero visibility timeout stands for the wait before a failed message
	// comes back; two receives before the DLQ keep the test short.
	spec := schema.Queue{ID: "poller", MaxReceiveCount: 2, ConsumerTimeout: time.Millisecond, Retention: time.Hour}
	q, err := sqsqueue.CreateQueue(ctx, client, spec, awstest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"good-1", "poison", "good-2"} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var handled []string
	poisonSeen := 0
	p := &sqsqueue.Poller{Client: client, QueueURL: q.URL, BatchSize: 10,
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var res events.SQSEventResponse
			for _, r := range ev.Records {
				if r.Body == "poison" {
					poisonSeen++
					res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
					continue
				}
				handled = append(handled, r.Body)
			}
			return res, nil
		}}
	// The poison message's visibility is zero, so it is back as soon as it
	// failed: receive until the DLQ has it, then once more.
	dlqDepth := func() string {
		dlq, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.DLQURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		return dlq.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]
	}
	once := func() bool {
		if _, err := p.Once(ctx, 0); err != nil {
			t.Fatal(err)
		}
		return dlqDepth() != "0"
	}
	poll.Until(10*time.Second, 5*time.Millisecond, once)
	once()
	if len(handled) != 2 {
		t.Fatalf("handled %v: successes must be deleted, not redelivered", handled)
	}
	if poisonSeen != spec.MaxReceiveCount {
		t.Fatalf("poison message handled %d times, want %d", poisonSeen, spec.MaxReceiveCount)
	}
	dlq, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.DLQURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		t.Fatal(err)
	}
	if got := dlq.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]; got != "1" {
		t.Fatalf("dlq holds %s messages, want the poison one", got)
	}
}

func TestPollerRetriesTheWholeBatchWhenTheHandlerPanics(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	q := awstest.Queues(t)[schema.Messages.ID]
	_, _ = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("x")})
	p := &sqsqueue.Poller{Client: client, QueueURL: q.URL,
		Handler: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) { panic("boom") }}
	if _, err := p.Once(ctx, 0); err == nil {
		t.Fatal("a panicking handler must fail the batch")
	}
	attrs, _ := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)] != "1" {
		t.Fatalf("the message must stay on the queue in flight: %v", attrs.Attributes)
	}
}
