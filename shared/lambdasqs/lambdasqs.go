// Package lambdasqs handles an SQS batch the way Lambda's event source
// mapping expects of a function that reports partial batch failures: each
// message on its own, and only the failed ones named in the answer, so SQS
// delivers just those again (and moves them to the DLQ after its receive
// limit).
package lambdasqs

import (
	"context"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// Concurrently runs handle on every message of the batch at once and
// answers the messages whose handle returned an error, in batch order,
// after passing each to failed (for its log line).
func Concurrently(ctx context.Context, batch events.SQSEvent, handle func(context.Context, events.SQSMessage) error,
	failed func(events.SQSMessage, error)) events.SQSEventResponse {
	errs := make([]error, len(batch.Records))
	var wg sync.WaitGroup
	for i, msg := range batch.Records {
		wg.Go(func() { errs[i] = handle(ctx, msg) })
	}
	wg.Wait()
	return answer(batch, errs, failed)
}

// InOrder runs handle on the messages of the batch one after the other, in
// batch order, and answers as Concurrently does.
func InOrder(ctx context.Context, batch events.SQSEvent, handle func(context.Context, events.SQSMessage) error,
	failed func(events.SQSMessage, error)) events.SQSEventResponse {
	errs := make([]error, len(batch.Records))
	for i, msg := range batch.Records {
		errs[i] = handle(ctx, msg)
	}
	return answer(batch, errs, failed)
}

// answer names the messages whose handling failed (errs[i] is message i's).
func answer(batch events.SQSEvent, errs []error, failed func(events.SQSMessage, error)) events.SQSEventResponse {
	var resp events.SQSEventResponse
	for i, msg := range batch.Records {
		if errs[i] != nil {
			failed(msg, errs[i])
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp
}

// ReceiveCount is the message's attempt number: SQS's
// ApproximateReceiveCount, which this receive counts; 1 when absent.
func ReceiveCount(msg events.SQSMessage) int {
	n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}
