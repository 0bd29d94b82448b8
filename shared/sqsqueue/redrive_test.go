package sqsqueue_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// bigBody is a distinct body of about 200 KB.
func bigBody(i int) string {
	return fmt.Sprintf("big-%d:", i) + strings.Repeat("é{\"k\":\"v\"}0123456789", 200_000/22)
}

func sendAll(t *testing.T, client *sqs.Client, url string, bodies []string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

// drain receives every visible message of url, deleting none.
func drain(t *testing.T, client *sqs.Client, url string) []types.Message {
	t.Helper()
	var out []types.Message
	for {
		got, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			return out
		}
		out = append(out, got.Messages...)
	}
}

func bodiesOf(msgs []types.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, aws.ToString(m.Body))
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// Every message goes back byte for byte, attributes included, however large,
// and the DLQ ends empty.
func TestRedriveMovesEveryMessageBack(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	q := awstest.Queues(t)[schema.Lifecycle.ID]
	bodies := []string{
		"{\"source\":\"kapso_project\"}\n{\"x\":1}",
		"olá — 日本語 🙂 مرحبا\n\t\"quoted\" \\ back",
	}
	// Six 200 KB bodies exceed one SendMessageBatch (1 MiB in all).
	for i := range 6 {
		bodies = append(bodies, bigBody(i))
	}
	for i := range 14 {
		bodies = append(bodies, "small-"+strconv.Itoa(i))
	}
	sendAll(t, client, q.DLQURL, bodies)
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.DLQURL), MessageBody: aws.String("with-attribute"),
		MessageAttributes: map[string]types.MessageAttributeValue{"origin": {DataType: aws.String("String"), StringValue: aws.String("test")}}}); err != nil {
		t.Fatal(err)
	}
	bodies = append(bodies, "with-attribute")
	before := time.Now().Add(-time.Minute)

	var heard int
	rep, err := sqsqueue.Redrive(ctx, client, q.DLQURL, q.URL, sqsqueue.RedriveOptions{OnMessage: func(m sqsqueue.RedrivenMessage) {
		heard++
		if m.ID == "" || m.SourceID == "" || m.Err != nil || m.DeleteErr != nil {
			t.Errorf("message %+v", m)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Moved != len(bodies) || rep.Failed != 0 || len(rep.Messages) != len(bodies) || heard != len(bodies) {
		t.Fatalf("moved %d failed %d (%d reported, %d heard), want %d moved", rep.Moved, rep.Failed, len(rep.Messages), heard, len(bodies))
	}
	if rep.OldestSent.Before(before) || rep.OldestSent.After(time.Now()) {
		t.Fatalf("oldest sent %v", rep.OldestSent)
	}
	got := drain(t, client, q.URL)
	if !slices.Equal(bodiesOf(got), sorted(bodies)) {
		t.Fatalf("source queue holds %d messages, not the %d bodies byte for byte", len(got), len(bodies))
	}
	for _, m := range got {
		if aws.ToString(m.Body) == "with-attribute" && aws.ToString(m.MessageAttributes["origin"].StringValue) != "test" {
			t.Fatalf("attributes not carried over: %v", m.MessageAttributes)
		}
	}
	if left := drain(t, client, q.DLQURL); len(left) != 0 {
		t.Fatalf("dlq still holds %d messages", len(left))
	}
}

// failingSends makes the source queue refuse every entry whose body starts
// with "fail-", as SQS reports a per-entry failure.
type failingSends struct{ *sqs.Client }

func (f failingSends) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	pass := *in
	pass.Entries = nil
	var refused []types.BatchResultErrorEntry
	for _, e := range in.Entries {
		if strings.HasPrefix(aws.ToString(e.MessageBody), "fail-") {
			refused = append(refused, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false, Message: aws.String("injected")})
			continue
		}
		pass.Entries = append(pass.Entries, e)
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(pass.Entries) > 0 {
		var err error
		if out, err = f.Client.SendMessageBatch(ctx, &pass, opts...); err != nil {
			return nil, err
		}
	}
	out.Failed = append(out.Failed, refused...)
	return out, nil
}

// A message the source queue refuses stays in the DLQ, visible again at
// once; only the sent ones are deleted.
func TestRedriveLeavesFailedSendsInTheDLQ(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	q := awstest.Queues(t)[schema.Messages.ID]
	var ok, bad []string
	for i := range 12 {
		ok = append(ok, "ok-"+strconv.Itoa(i))
		if i%3 == 0 {
			bad = append(bad, "fail-"+strconv.Itoa(i))
		}
	}
	sendAll(t, client, q.DLQURL, append(slices.Clone(ok), bad...))

	var failedIDs []string
	rep, err := sqsqueue.Redrive(ctx, failingSends{client}, q.DLQURL, q.URL, sqsqueue.RedriveOptions{OnMessage: func(m sqsqueue.RedrivenMessage) {
		if !m.Moved() {
			failedIDs = append(failedIDs, m.ID)
			if !strings.Contains(m.Err.Error(), "injected") {
				t.Errorf("failure reason %v", m.Err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Moved != len(ok) || rep.Failed != len(bad) {
		t.Fatalf("moved %d failed %d, want %d and %d", rep.Moved, rep.Failed, len(ok), len(bad))
	}
	if got := bodiesOf(drain(t, client, q.URL)); !slices.Equal(got, sorted(ok)) {
		t.Fatalf("source queue holds %v", got)
	}
	left := drain(t, client, q.DLQURL)
	if got := bodiesOf(left); !slices.Equal(got, sorted(bad)) {
		t.Fatalf("dlq holds %v, want exactly the refused %v", got, bad)
	}
	var leftIDs []string
	for _, m := range left {
		leftIDs = append(leftIDs, aws.ToString(m.MessageId))
	}
	if !slices.Equal(sorted(leftIDs), sorted(failedIDs)) {
		t.Fatalf("reported failures %v, dlq holds %v", failedIDs, leftIDs)
	}
}

func TestRedriveStopsAtMax(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	q := awstest.Queues(t)[schema.Lifecycle.ID]
	var bodies []string
	for i := range 25 {
		bodies = append(bodies, "m-"+strconv.Itoa(i))
	}
	sendAll(t, client, q.DLQURL, bodies)
	rep, err := sqsqueue.Redrive(ctx, client, q.DLQURL, q.URL, sqsqueue.RedriveOptions{Max: 12})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Moved != 12 || rep.Failed != 0 {
		t.Fatalf("moved %d failed %d, want 12 moved", rep.Moved, rep.Failed)
	}
	if n := len(drain(t, client, q.URL)); n != 12 {
		t.Fatalf("source queue holds %d", n)
	}
	if n := len(drain(t, client, q.DLQURL)); n != 13 {
		t.Fatalf("dlq holds %d, want the 13 beyond -max", n)
	}
}

// A deadline ends the run with what was done so far, losing nothing.
func TestRedriveStopsAtTheDeadline(t *testing.T) {
	client := awstest.SQS(t)
	q := awstest.Queues(t)[schema.Lifecycle.ID]
	sendAll(t, client, q.DLQURL, []string{"a", "b"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := sqsqueue.Redrive(ctx, client, q.DLQURL, q.URL, sqsqueue.RedriveOptions{})
	if err == nil || rep.Moved != 0 {
		t.Fatalf("report %+v, err %v: an ended context must stop the run", rep, err)
	}
	if n := len(drain(t, client, q.DLQURL)); n != 2 {
		t.Fatalf("dlq holds %d", n)
	}
}
