package main

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Who makes a call, told by what it touches: the local stack gives every
// function the same clients.
const (
	// byDelivery: the ingest and the messages worker, on the idempotency
	// and bridge tables and the messages queue (its poller included, as
	// Lambda's event source mapping).
	byDelivery = "delivery"
	// byPublisher: the feed's appends (the events table) and the topic's
	// publications.
	byPublisher = "publisher"
	// byWebhooks: the event-webhooks queue, its poller and the worker.
	byWebhooks = "eventwebhooks"
	byOther    = "other"
)

// callCounter counts the AWS requests the local stack's functions send
// (retries included: each is billed), by who sent them and operation,
// through an SDK middleware (stack.Options.AWSMiddleware). It also counts
// the DynamoDB writes and feed items, the SNS requests as billed (64 KB of
// a publication each), and the receives that returned messages: each is
// a Lambda invocation of the queue's function.
type callCounter struct {
	mu     sync.Mutex
	calls  map[string]map[string]int // who → operation → requests
	writes map[string]int            // who → DynamoDB write requests
	// feedItems are the items the appends wrote; snsBilled the SNS
	// requests as billed; batches the receives of the event-webhooks
	// queue that returned messages.
	feedItems, snsBilled, batches int
}

type callKey struct{}

// callInfo is what the initialize step learns of a call for the finalize
// step, which sees every attempt.
type callInfo struct {
	who   string
	write bool
}

func newCallCounter() *callCounter { return &callCounter{} }

// reset sets every count to zero.
func (c *callCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.writes = map[string]map[string]int{}, map[string]int{}
	c.feedItems, c.snsBilled, c.batches = 0, 0, 0
}

// writesBy is who's DynamoDB writes so far.
func (c *callCounter) writesBy(who string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes[who]
}

// snapshot is a copy of the counts.
type callSnapshot struct {
	Calls     map[string]map[string]int
	Writes    map[string]int
	FeedItems int
	SNSBilled int
	Batches   int
}

func (c *callCounter) snapshot() callSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := callSnapshot{Calls: map[string]map[string]int{}, Writes: map[string]int{}, FeedItems: c.feedItems,
		SNSBilled: c.snsBilled, Batches: c.batches}
	for who, ops := range c.calls {
		out.Calls[who] = map[string]int{}
		for op, n := range ops {
			out.Calls[who][op] = n
		}
	}
	for who, n := range c.writes {
		out.Writes[who] = n
	}
	return out
}

// middleware is added to each client's stack.
func (c *callCounter) middleware(s *middleware.Stack) error {
	err := s.Initialize.Add(middleware.InitializeMiddlewareFunc("kapso-bridge/bench-classify",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			info := c.classify(in.Parameters)
			ctx = middleware.WithStackValue(ctx, callKey{}, info)
			out, md, err := next.HandleInitialize(ctx, in)
			if r, ok := out.Result.(*sqs.ReceiveMessageOutput); ok && err == nil && info.who == byWebhooks && len(r.Messages) > 0 {
				c.mu.Lock()
				c.batches++
				c.mu.Unlock()
			}
			return out, md, err
		}), middleware.After)
	if err != nil {
		return err
	}
	return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("kapso-bridge/bench-count",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			info, _ := middleware.GetStackValue(ctx, callKey{}).(callInfo)
			if info.who == "" {
				info.who = byOther
			}
			op := middleware.GetOperationName(ctx)
			c.mu.Lock()
			if c.calls == nil {
				c.calls, c.writes = map[string]map[string]int{}, map[string]int{}
			}
			if c.calls[info.who] == nil {
				c.calls[info.who] = map[string]int{}
			}
			c.calls[info.who][op]++
			if info.write {
				c.writes[info.who]++
			}
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// classify tells who makes a call from its input, and counts what an
// attempt-independent figure needs (feed items, SNS billing).
func (c *callCounter) classify(params any) callInfo {
	table := func(name *string) string {
		if strings.HasSuffix(aws.ToString(name), schema.Events.ID) {
			return byPublisher
		}
		return byDelivery
	}
	queue := func(u *string) string {
		if strings.Contains(aws.ToString(u), schema.EventWebhooks.ID) {
			return byWebhooks
		}
		return byDelivery
	}
	switch p := params.(type) {
	case *dynamodb.PutItemInput:
		return callInfo{who: table(p.TableName), write: true}
	case *dynamodb.UpdateItemInput:
		return callInfo{who: table(p.TableName), write: true}
	case *dynamodb.DeleteItemInput:
		return callInfo{who: table(p.TableName), write: true}
	case *dynamodb.TransactWriteItemsInput:
		return callInfo{who: byDelivery, write: true}
	case *dynamodb.BatchWriteItemInput:
		who := byDelivery
		for name, reqs := range p.RequestItems {
			if who = table(aws.String(name)); who == byPublisher {
				c.mu.Lock()
				c.feedItems += len(reqs)
				c.mu.Unlock()
			}
		}
		return callInfo{who: who, write: true}
	case *dynamodb.GetItemInput:
		return callInfo{who: table(p.TableName)}
	case *dynamodb.QueryInput:
		return callInfo{who: table(p.TableName)}
	case *dynamodb.BatchGetItemInput, *dynamodb.TransactGetItemsInput:
		return callInfo{who: byDelivery}
	case *sns.PublishBatchInput:
		n := 0
		for _, e := range p.PublishBatchRequestEntries {
			n += len(aws.ToString(e.Message))
			for k, v := range e.MessageAttributes {
				n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
			}
		}
		c.mu.Lock()
		c.snsBilled += int(chunks(n, snsBilledChunk))
		c.mu.Unlock()
		return callInfo{who: byPublisher}
	case *sns.PublishInput:
		c.mu.Lock()
		c.snsBilled += int(chunks(len(aws.ToString(p.Message)), snsBilledChunk))
		c.mu.Unlock()
		return callInfo{who: byPublisher}
	case *sqs.SendMessageInput:
		return callInfo{who: queue(p.QueueUrl)}
	case *sqs.SendMessageBatchInput:
		return callInfo{who: queue(p.QueueUrl)}
	case *sqs.ReceiveMessageInput:
		return callInfo{who: queue(p.QueueUrl)}
	case *sqs.DeleteMessageInput:
		return callInfo{who: queue(p.QueueUrl)}
	case *sqs.DeleteMessageBatchInput:
		return callInfo{who: queue(p.QueueUrl)}
	case *sqs.ChangeMessageVisibilityInput:
		return callInfo{who: queue(p.QueueUrl)}
	case *sqs.ChangeMessageVisibilityBatchInput:
		return callInfo{who: queue(p.QueueUrl)}
	}
	return callInfo{who: byOther}
}
