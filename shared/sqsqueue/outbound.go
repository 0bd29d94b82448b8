package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// OutboundQueue is the messaging.OutboundQueue on SQS: one SendMessage per
// job, with the delay as DelaySeconds.
type OutboundQueue struct {
	Client *sqs.Client
	URL    string
}

var _ messaging.OutboundQueue = (*OutboundQueue)(nil)

// Enqueue implements messaging.OutboundQueue.
func (q *OutboundQueue) Enqueue(ctx context.Context, j messaging.OutboundJob, delay time.Duration) error {
	body, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("enqueue send %s: %w", j.ID, err)
	}
	delay = min(max(delay, 0), messaging.MaxEnqueueDelay)
	if _, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(q.URL),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: int32((delay + time.Second - 1) / time.Second),
	}); err != nil {
		return fmt.Errorf("enqueue send %s: %w", j.ID, err)
	}
	return nil
}
