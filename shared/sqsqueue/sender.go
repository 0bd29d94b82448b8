package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// BodyStore keeps bodies too large for a queue message.
type BodyStore interface {
	Put(ctx context.Context, ref string, body []byte) error
}

// Sender puts events on a queue with SendMessageBatch: at most ten messages
// and one size limit per batch. An event too large for a message has its
// payload stored aside and travels as a reference. Send returns only when
// every event is in the queue, or with an error.
type Sender struct {
	Client *sqs.Client
	Bodies BodyStore
	// MaxMessageBytes defaults to schema.MaxSQSMessageBytes.
	MaxMessageBytes int
}

const maxBatchEntries = 10

// sendAttempts bounds retries of entries SQS refused within a batch.
const sendAttempts = 3

func (s *Sender) limit() int {
	if s.MaxMessageBytes > 0 {
		return s.MaxMessageBytes
	}
	return schema.MaxSQSMessageBytes
}

// Send enqueues every event on queueURL.
func (s *Sender) Send(ctx context.Context, queueURL string, events []envelope.Event) error {
	bodies := make([]string, 0, len(events))
	for _, ev := range events {
		b, err := s.encode(ctx, ev)
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
	}
	batches := Batches(bodies, s.limit())
	if len(batches) == 1 {
		return s.sendBatch(ctx, queueURL, batches[0])
	}
	// A 3 MB Meta delivery is thousands of events: send batches in parallel
	// so the whole delivery fits in the ingest's deadline.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan []string)
	for range min(sendConcurrency, len(batches)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := s.sendBatch(ctx, queueURL, b); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
	fed := 0
	for _, b := range batches {
		select {
		case work <- b:
			fed++
			continue
		case <-ctx.Done():
		}
		break
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if fed < len(batches) {
		return fmt.Errorf("send to %s: %w", queueURL, ctx.Err())
	}
	return nil
}

// sendConcurrency bounds parallel SendMessageBatch calls per delivery.
const sendConcurrency = 16

// encode marshals ev, spilling its payload when the message would be too big.
func (s *Sender) encode(ctx context.Context, ev envelope.Event) (string, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if len(b) <= s.limit() {
		return string(b), nil
	}
	if s.Bodies == nil {
		return "", fmt.Errorf("event %s is %d bytes and no body store is configured", ev.ID, len(b))
	}
	if err := s.Bodies.Put(ctx, ev.ID, ev.Payload); err != nil {
		return "", fmt.Errorf("spill event %s: %w", ev.ID, err)
	}
	ev.Payload, ev.PayloadRef = nil, ev.ID
	b, err = json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return string(b), nil
}

// Batches groups message bodies into SendMessageBatch calls: at most ten
// entries, and their total within limit bytes.
func Batches(bodies []string, limit int) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, b := range bodies {
		if len(cur) == maxBatchEntries || (len(cur) > 0 && size+len(b) > limit) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, b)
		size += len(b)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (s *Sender) sendBatch(ctx context.Context, queueURL string, bodies []string) error {
	pending := map[string]string{}
	for i, b := range bodies {
		pending[strconv.Itoa(i)] = b
	}
	for attempt := 1; ; attempt++ {
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, b := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(b)})
		}
		out, err := s.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send %d messages to %s: %w", len(entries), queueURL, err)
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		if len(pending) == 0 {
			return nil
		}
		if attempt == sendAttempts || ctx.Err() != nil {
			reason := "no reason given"
			if len(out.Failed) > 0 {
				reason = aws.ToString(out.Failed[0].Code) + ": " + aws.ToString(out.Failed[0].Message)
			}
			return fmt.Errorf("send to %s: %d messages refused (%s)", queueURL, len(pending), reason)
		}
	}
}
