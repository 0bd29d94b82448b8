package sqsqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// MaxVisibilityTimeout is the longest SQS keeps a received message out of
// sight.
const MaxVisibilityTimeout = 12 * time.Hour

// Visibility holds received messages of one queue back until their next
// attempt (the event webhooks worker's backoff): one
// ChangeMessageVisibility each.
type Visibility struct {
	Client *sqs.Client
	URL    string
}

// Hold keeps the message received under receiptHandle out of sight for d
// from now, in whole seconds rounded up, at most MaxVisibilityTimeout.
func (v *Visibility) Hold(ctx context.Context, receiptHandle string, d time.Duration) error {
	d = min(max(d, 0), MaxVisibilityTimeout)
	if _, err := v.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(v.URL),
		ReceiptHandle:     aws.String(receiptHandle),
		VisibilityTimeout: int32((d + time.Second - 1) / time.Second),
	}); err != nil {
		return fmt.Errorf("hold message back %s: %w", d, err)
	}
	return nil
}
