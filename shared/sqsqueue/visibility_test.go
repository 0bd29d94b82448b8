package sqsqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// A held message stays out of sight for the time asked, then comes back
// with its receive count grown; a hold of 0 brings it back at once.
func TestVisibilityHoldsAMessageBack(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	url := awstest.Queues(t)[schema.Outbound.ID].URL
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"id":"evt_1"}`)}); err != nil {
		t.Fatal(err)
	}
	receive := func(wait int32) *types.Message {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		return &out.Messages[0]
	}
	v := &sqsqueue.Visibility{Client: client, URL: url}
	m := receive(1)
	if m == nil {
		t.Fatal("nothing received")
	}
	if err := v.Hold(ctx, aws.ToString(m.ReceiptHandle), 0); err != nil {
		t.Fatal(err)
	}
	if m = receive(0); m == nil || m.Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after a hold of 0: %+v", m)
	}
	// 1.2 s rounds up to 2 s: hidden after 1 s, back after 2.
	if err := v.Hold(ctx, aws.ToString(m.ReceiptHandle), 1200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if got := receive(0); got != nil {
		t.Fatalf("back after 1 s: %+v", got)
	}
	if m = receive(2); m == nil || m.Attributes["ApproximateReceiveCount"] != "3" {
		t.Fatalf("not back after 2 s: %+v", m)
	}
	// A day is more than SQS holds: the most it holds, not an error.
	if err := v.Hold(ctx, aws.ToString(m.ReceiptHandle), 24*time.Hour); err != nil {
		t.Fatalf("a hold beyond 12 h: %v", err)
	}
	if err := v.Hold(ctx, "no-such-handle", time.Second); err == nil {
		t.Error("an unknown receipt handle is held")
	}
}
