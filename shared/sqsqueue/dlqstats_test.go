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
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// The backlog of each DLQ, by name: its depth, and the age of its oldest
// message; sampling leaves the messages in place for a redrive.
func TestDLQStatsReportDepthAndAge(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	queues := awstest.Queues(t)
	lifecycle, messages := queues[schema.Lifecycle.ID], queues[schema.Messages.ID]
	sendAll(t, client, messages.DLQURL, []string{"a", "b", "c"})
	later := time.Now().Add(90 * time.Second)
	stats := &sqsqueue.DLQStats{Client: client, Now: func() time.Time { return later },
		Queues: map[string]string{"lifecycle-dlq": lifecycle.DLQURL, "messages-dlq": messages.DLQURL}}
	got, err := stats.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Queue != "lifecycle-dlq" || got[0].Depth != 0 || got[0].OldestAge != 0 ||
		got[1].Queue != "messages-dlq" || got[1].Depth != 3 || got[1].InFlight != 0 || got[1].OldestAge < 85*time.Second || got[1].OldestAge > 100*time.Second {
		t.Fatalf("stats %+v", got)
	}
	// The sampled messages come back once the sample's one-second
	// visibility ends: receive until all three have, or the bound.
	var left []types.Message
	poll.Until(10*time.Second, 10*time.Millisecond, func() bool {
		got, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(messages.DLQURL),
			MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, got.Messages...)
		return len(left) >= 3
	})
	if len(left) != 3 {
		t.Fatalf("%d messages left in the DLQ after sampling, want 3", len(left))
	}
}

// A message in flight (received by a redrive, or hidden by another run's
// sample) is still in the DLQ: it counts in the depth.
func TestDLQStatsCountMessagesInFlight(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	queues := awstest.Queues(t)
	lifecycle, messages := queues[schema.Lifecycle.ID], queues[schema.Messages.ID]
	sendAll(t, client, lifecycle.DLQURL, []string{"a"})
	sendAll(t, client, messages.DLQURL, []string{"b", "c", "d"})
	if got := drain(t, client, lifecycle.DLQURL); len(got) != 1 {
		t.Fatalf("received %d of the lifecycle DLQ's message", len(got))
	}
	if _, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(messages.DLQURL),
		MaxNumberOfMessages: 1, VisibilityTimeout: 60}); err != nil {
		t.Fatal(err)
	}
	stats := &sqsqueue.DLQStats{Client: client,
		Queues: map[string]string{"lifecycle-dlq": lifecycle.DLQURL, "messages-dlq": messages.DLQURL}}
	got, err := stats.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Depth != 1 || got[0].InFlight != 1 || got[1].Depth != 3 || got[1].InFlight != 1 {
		t.Fatalf("stats %+v", got)
	}
}
