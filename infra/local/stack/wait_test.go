package stack_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// queued counts what the stack's queues of the given schema ids hold:
// visible, in flight or delayed. A poller deletes a message only once its
// worker is done with it.
func queued(t *testing.T, s *stack.Stack, ids ...string) int {
	t.Helper()
	client := sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	n := 0
	for _, id := range ids {
		n += awstest.Queued(t, client, s.Queues[id].URL)
	}
	return n
}

// drained waits until the stack's queues of the given schema ids hold
// nothing: every message taken, its work done.
func drained(t *testing.T, s *stack.Stack, ids ...string) {
	t.Helper()
	if !poll.Until(30*time.Second, 50*time.Millisecond, func() bool { return queued(t, s, ids...) == 0 }) {
		dumpState(t, s)
		t.Fatalf("the queues %v still hold %d messages", ids, queued(t, s, ids...))
	}
}

// settled waits until what was set going has been done: the simulator's
// webhooks all made (with their retries), then every queue they and the
// reconciler feed drained.
func settled(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	drained(t, s, schema.Lifecycle.ID, schema.Messages.ID, schema.Outbound.ID)
}
