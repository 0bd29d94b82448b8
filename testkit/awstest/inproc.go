package awstest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// InProcess answers DynamoDB and SQS requests without a network: the real
// SDK clients still serialise, sign and send every request as they would to
// AWS, and the answer costs next to nothing, so a benchmark measures
// kapso-bridge's own work and the SDK's, not a server's.
type InProcess struct{}

// answers are the canned successes, by X-Amz-Target operation.
var answers = map[string]string{
	"BatchWriteItem": `{"UnprocessedItems":{}}`,
	"SendMessage":    `{"MessageId":"6a1e7a3c-0000-4000-8000-000000000000","MD5OfMessageBody":"00000000000000000000000000000000"}`,
}

// RoundTrip reads the request whole, as a server would, and answers success.
func (InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	target := req.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	body, ok := answers[op]
	if !ok {
		body = `{}`
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// InProcessConfig is a config with static signing credentials whose requests
// InProcess answers.
func InProcessConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
		HTTPClient:  &http.Client{Transport: InProcess{}},
	}
}

// InProcessClients are kapso-bridge's DynamoDB and SQS clients, built as the
// functions build them, answered by InProcess.
func InProcessClients() (*dynamodb.Client, *sqs.Client) {
	cfg := InProcessConfig()
	return dynamodb.NewFromConfig(cfg), sqsqueue.NewClient(cfg)
}

// Calls counts AWS operations by name through an SDK middleware.
type Calls struct {
	mu     sync.Mutex
	counts map[string]int
}

// Total is the number of operations counted so far.
func (c *Calls) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Counts is a copy of the counts by operation name.
func (c *Calls) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Reset sets every count to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	c.counts = nil
	c.mu.Unlock()
}

// Middleware counts every request sent, retries included: each one is billed.
func (c *Calls) Middleware(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("kapso-bridge/count-calls",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[string]int{}
			}
			c.counts[middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
