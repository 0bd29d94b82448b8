package sqsqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
)

func TestOutboundQueueContract(t *testing.T) {
	storetest.RunOutboundQueue(t, func(t *testing.T) (messaging.OutboundQueue, func(*testing.T, time.Duration) []messaging.OutboundJob) {
		client := awstest.SQS(t)
		url := awstest.Queues(t)[schema.Outbound.ID].URL
		take := func(t *testing.T, after time.Duration) []messaging.OutboundJob {
			time.Sleep(after) // the delay is the real server's DelaySeconds: only time passing shows the job
			ctx := context.Background()
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
				MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			var jobs []messaging.OutboundJob
			for _, m := range out.Messages {
				j, err := messaging.ParseOutboundJob([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Fatalf("queued %s: %v", aws.ToString(m.Body), err)
				}
				jobs = append(jobs, j)
				if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url),
					ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
			return jobs
		}
		return &sqsqueue.OutboundQueue{Client: client, URL: url}, take
	})
}
