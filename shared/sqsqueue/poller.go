package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// BatchHandler is an SQS-triggered Lambda handler that reports partial batch
// failures.
type BatchHandler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// Poller feeds a queue to a BatchHandler the way Lambda's event source
// mapping does: batches of up to BatchSize; messages the handler reports as
// failed, or a whole batch when it returns an error, stay on the queue and
// come back after the visibility timeout; the queue's redrive policy moves a
// message to its DLQ after maxReceiveCount receives. It is how the local
// stack runs the workers.
type Poller struct {
	Client    *sqs.Client
	QueueURL  string
	QueueARN  string
	Handler   BatchHandler
	BatchSize int32
	// Timeout bounds one handler call, like the function's timeout.
	Timeout time.Duration
	Log     *slog.Logger
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := p.Once(ctx, 1); err != nil && ctx.Err() == nil {
			p.Log.Error("poll queue", "queue", p.QueueURL, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// Once receives one batch (waiting up to waitSeconds for it), hands it to
// the handler and deletes what succeeded. It returns how many messages were
// handled successfully.
func (p *Poller) Once(ctx context.Context, waitSeconds int32) (int, error) {
	size := p.BatchSize
	if size <= 0 || size > 10 {
		size = 10
	}
	out, err := p.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         size,
		WaitTimeSeconds:             waitSeconds,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return 0, fmt.Errorf("receive from %s: %w", p.QueueURL, err)
	}
	if len(out.Messages) == 0 {
		return 0, nil
	}
	ev := events.SQSEvent{}
	handles := map[string]*string{}
	for _, m := range out.Messages {
		id := aws.ToString(m.MessageId)
		handles[id] = m.ReceiptHandle
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:      id,
			ReceiptHandle:  aws.ToString(m.ReceiptHandle),
			Body:           aws.ToString(m.Body),
			Attributes:     m.Attributes,
			EventSource:    "aws:sqs",
			EventSourceARN: p.QueueARN,
		})
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := p.call(hctx, ev)
	cancel()
	if err != nil {
		// Lambda retries the whole batch after the visibility timeout.
		return 0, fmt.Errorf("handler failed the batch of %d: %w", len(ev.Records), err)
	}
	for _, f := range res.BatchItemFailures {
		delete(handles, f.ItemIdentifier)
	}
	var entries []types.DeleteMessageBatchRequestEntry
	i := 0
	for _, h := range handles {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: h})
		i++
	}
	if len(entries) > 0 {
		if _, err := p.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries}); err != nil {
			return 0, fmt.Errorf("delete handled messages: %w", err)
		}
	}
	return len(entries), nil
}

// call runs the handler, turning a panic into a failed batch as Lambda would.
func (p *Poller) call(ctx context.Context, ev events.SQSEvent) (res events.SQSEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New(fmt.Sprint("handler panicked: ", r))
		}
	}()
	return p.Handler(ctx, ev)
}
