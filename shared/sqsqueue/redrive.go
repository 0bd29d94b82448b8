package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// RedriveAPI is the part of the SQS client Redrive uses; *sqs.Client
// satisfies it.
type RedriveAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

var _ RedriveAPI = (*sqs.Client)(nil)

// RedriveOptions bound a Redrive.
type RedriveOptions struct {
	// Max is the most messages taken from the DLQ; 0 takes all.
	Max int
	// WaitSeconds is each receive's long poll (default 1). The run ends after
	// two receives in a row return nothing.
	WaitSeconds int32
	// VisibilitySeconds hides a received message from other readers while it
	// is moved (default 300). A message whose send fails is made visible
	// again at the end of the run.
	VisibilitySeconds int32
	// OnMessage, when set, hears each message as soon as its fate is known.
	OnMessage func(RedrivenMessage)
}

// RedrivenMessage is one message Redrive took from the DLQ.
type RedrivenMessage struct {
	// ID is the message's id in the DLQ; SourceID its new id in the source
	// queue, when it was sent.
	ID, SourceID string
	// Sent is when the message was first sent (SentTimestamp); zero if SQS
	// did not say.
	Sent time.Time
	// Err says why the message is still in the DLQ (the send failed).
	Err error
	// DeleteErr: the message was sent but could not be deleted from the
	// DLQ, so it is in both queues and a later redrive sends it again.
	DeleteErr error
}

// Moved reports whether the message reached the source queue.
func (m RedrivenMessage) Moved() bool { return m.Err == nil }

// RedriveReport is what a Redrive did.
type RedriveReport struct {
	Moved, Failed int
	Messages      []RedrivenMessage
	// OldestSent is the earliest SentTimestamp among the messages taken.
	OldestSent time.Time
}

// Redrive moves messages from the dead-letter queue dlqURL back to
// sourceURL: it receives batches of up to 10, sends their bodies and
// message attributes with SendMessageBatch, and deletes from the DLQ only
// the messages whose send succeeded. A message is never deleted before it
// is on the source queue, so a crash or a deadline loses none; at worst one
// is sent twice (sent, then not deleted), which the workers tolerate: SQS
// already delivers at least once, and events applied a second time change
// nothing. Each message
// is tried at most once per run; those that fail stay in the DLQ and are
// made visible again before Redrive returns.
//
// It stops when two receives in a row return nothing, when opts.Max
// messages were taken, or when ctx ends (then it returns ctx's error with
// the report so far). Any other error of a whole call ends the run too.
func Redrive(ctx context.Context, client RedriveAPI, dlqURL, sourceURL string, opts RedriveOptions) (RedriveReport, error) {
	if opts.WaitSeconds <= 0 {
		opts.WaitSeconds = 1
	}
	if opts.VisibilitySeconds <= 0 {
		opts.VisibilitySeconds = 300
	}
	r := &redrive{client: client, dlq: dlqURL, source: sourceURL, opts: opts, tried: map[string]bool{}}
	err := r.run(ctx)
	// Whatever ended the run, what failed must be back in view for the next.
	if rerr := r.release(context.WithoutCancel(ctx)); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return r.report, err
}

type redrive struct {
	client      RedriveAPI
	dlq, source string
	opts        RedriveOptions
	report      RedriveReport
	tried       map[string]bool
	// failed are the receipt handles of messages left in the DLQ this run.
	failed []string
}

func (r *redrive) run(ctx context.Context) error {
	empty := 0
	taken := 0
	for empty < 2 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int32(10)
		if r.opts.Max > 0 {
			if taken >= r.opts.Max {
				return nil
			}
			n = int32(min(10, r.opts.Max-taken))
		}
		out, err := r.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(r.dlq),
			MaxNumberOfMessages:         n,
			WaitTimeSeconds:             r.opts.WaitSeconds,
			VisibilityTimeout:           r.opts.VisibilitySeconds,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			return fmt.Errorf("receive from %s: %w", r.dlq, err)
		}
		var fresh []types.Message
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !r.tried[id] {
				r.tried[id] = true
				fresh = append(fresh, m)
			} else {
				// Failed earlier in this run and visible again: leave it.
				r.failed = append(r.failed, aws.ToString(m.ReceiptHandle))
			}
		}
		if len(fresh) == 0 {
			empty++
			continue
		}
		empty = 0
		taken += len(fresh)
		for _, batch := range bySize(fresh) {
			if err := r.move(ctx, batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// bySize splits messages into sends SQS accepts: a batch's bodies and
// attributes together may not exceed the largest message.
func bySize(msgs []types.Message) [][]types.Message {
	var out [][]types.Message
	var cur []types.Message
	size := 0
	for _, m := range msgs {
		s := messageSize(m)
		if len(cur) > 0 && size+s > schema.MaxSQSMessageBytes {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, m)
		size += s
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// messageSize counts as SQS does: body, and each attribute's name, type and
// value.
func messageSize(m types.Message) int {
	n := len(aws.ToString(m.Body))
	for name, a := range m.MessageAttributes {
		n += len(name) + len(aws.ToString(a.DataType)) + len(aws.ToString(a.StringValue)) + len(a.BinaryValue)
	}
	return n
}

// move sends one batch to the source queue and deletes what arrived.
func (r *redrive) move(ctx context.Context, batch []types.Message) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(batch))
	results := make([]RedrivenMessage, len(batch))
	for i, m := range batch {
		entries[i] = types.SendMessageBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			MessageBody:       m.Body,
			MessageAttributes: m.MessageAttributes,
		}
		results[i] = RedrivenMessage{ID: aws.ToString(m.MessageId), Sent: envelope.SentAt(m.Attributes)}
	}
	out, err := r.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.source), Entries: entries})
	if err != nil {
		for i, m := range batch {
			results[i].Err = err
			r.failed = append(r.failed, aws.ToString(m.ReceiptHandle))
		}
		r.record(results)
		return fmt.Errorf("send to %s: %w", r.source, err)
	}
	sent := map[int]bool{}
	for _, s := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(s.Id))
		if i >= 0 && i < len(batch) {
			sent[i] = true
			results[i].SourceID = aws.ToString(s.MessageId)
		}
	}
	var deletes []types.DeleteMessageBatchRequestEntry
	for i, m := range batch {
		if sent[i] {
			deletes = append(deletes, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
			continue
		}
		results[i].Err = errors.New("not accepted by the source queue")
		r.failed = append(r.failed, aws.ToString(m.ReceiptHandle))
	}
	for _, f := range out.Failed {
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(batch) && !sent[i] {
			results[i].Err = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	var deleteErr error
	if len(deletes) > 0 {
		// Not cut short by the deadline: what was sent must leave the DLQ,
		// or the next redrive sends it again.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		dout, err := r.client.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(r.dlq), Entries: deletes})
		cancel()
		if err != nil {
			deleteErr = fmt.Errorf("delete moved messages from %s: %w", r.dlq, err)
			for _, d := range deletes {
				i, _ := strconv.Atoi(aws.ToString(d.Id))
				results[i].DeleteErr = err
			}
		} else {
			for _, f := range dout.Failed {
				if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(batch) {
					results[i].DeleteErr = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
				}
			}
		}
	}
	r.record(results)
	return deleteErr
}

func (r *redrive) record(results []RedrivenMessage) {
	for _, m := range results {
		if m.Moved() {
			r.report.Moved++
		} else {
			r.report.Failed++
		}
		if !m.Sent.IsZero() && (r.report.OldestSent.IsZero() || m.Sent.Before(r.report.OldestSent)) {
			r.report.OldestSent = m.Sent
		}
		r.report.Messages = append(r.report.Messages, m)
		if r.opts.OnMessage != nil {
			r.opts.OnMessage(m)
		}
	}
}

// release makes the messages left in the DLQ visible again at once, rather
// than after the receive's visibility timeout.
func (r *redrive) release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var errs []error
	for start := 0; start < len(r.failed); start += 10 {
		var entries []types.ChangeMessageVisibilityBatchRequestEntry
		for i, h := range r.failed[start:min(start+10, len(r.failed))] {
			entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
			})
		}
		if _, err := r.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(r.dlq), Entries: entries}); err != nil {
			errs = append(errs, fmt.Errorf("make failed messages visible again in %s: %w", r.dlq, err))
		}
	}
	return errors.Join(errs...)
}
