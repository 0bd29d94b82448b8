package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-queue", "messages"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.queue.ID != schema.Messages.ID || o.aws || o.endpoint != "" || o.prefix != "kb-local-" || o.max != 0 ||
		o.timeout != 15*time.Minute || o.port != "8080" {
		t.Fatalf("defaults: %+v", o)
	}
	// The SDK's endpoint variable does not choose the local queues: PORT does.
	o, err = parseFlags([]string{"-queue", "outbound"}, env(map[string]string{"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324", "PORT": "18080"}))
	if err != nil || o.endpoint != "" || o.port != "18080" || o.queue.ID != schema.Outbound.ID {
		t.Fatalf("PORT from the environment: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-queue", "lifecycle", "-aws", "-max", "7", "-timeout", "1m"}, env(map[string]string{"STACK_NAME": "Staging"}))
	if err != nil || !o.aws || o.stack != "Staging" || o.max != 7 || o.timeout != time.Minute {
		t.Fatalf("aws: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-queue", "event-webhooks", "-aws"}, env(nil))
	if err != nil || o.queue.ID != schema.EventWebhooks.ID || cfnQueuePrefix(o.stack, o.queue) != "KapsoBridge-EventWebhooksQueue" {
		t.Fatalf("event-webhooks: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-queue", "lifecycle", "-aws"}, env(nil))
	if err != nil || o.stack != "KapsoBridge" {
		t.Fatalf("default stack: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-queue", "lifecycle", "-aws"}, env(map[string]string{"AWS_ENDPOINT_URL_SQS": "http://x"}))
	if err != nil {
		t.Fatalf("AWS_ENDPOINT_URL_SQS is the SDK's own with -aws: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-queue is required (lifecycle|messages|outbound|event-webhooks|media)"},
		{[]string{"-queue", ""}, "-queue is required"},
		{[]string{"-queue", "orders"}, `unknown queue "orders": want lifecycle|messages|outbound|event-webhooks`},
		{[]string{"-queue", "lifecycle-dlq"}, "unknown queue"},
		{[]string{"-queue", "lifecycle", "-aws", "-endpoint", "http://x"}, "not with -aws"},
		{[]string{"-queue", "lifecycle", "-aws", "-prefix", "x-"}, "not with -aws"},
		{[]string{"-queue", "lifecycle", "-stack", "S"}, "-stack needs -aws"},
		{[]string{"-queue", "lifecycle", "-aws", "-stack", ""}, "-aws needs -stack or -source-url"},
		{[]string{"-queue", "lifecycle", "-max", "-1"}, "-max -1"},
		{[]string{"-queue", "lifecycle", "-max", "x"}, "invalid value"},
		{[]string{"-queue", "lifecycle", "-timeout", "0s"}, "-timeout 0s"},
		{[]string{"-queue", "lifecycle", "extra"}, "unexpected arguments"},
		{[]string{"-nope"}, "not defined"},
	} {
		if _, err := parseFlags(tc.args, env(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// The names CloudFormation gives the CDK stack's queues (see the synthesized
// template's logical ids) are told apart by the prefix.
func TestFindsTheDeployedQueueByItsGeneratedName(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	stack := strings.TrimSuffix(awstest.Prefix(t), "-")
	for _, name := range []string{
		stack + "-LifecycleQueueDCEEFEA6-Ab12Cd34Ef56",
		stack + "-LifecycleDeadLetterQueue3487640F-Gh78Ij90Kl12",
		stack + "-MessagesQueue7B96FA1A-Mn34Op56Qr78",
	} {
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	}
	got, err := findByPrefix(ctx, client, cfnQueuePrefix(stack, schema.Lifecycle))
	if err != nil || !strings.HasSuffix(got, "/"+stack+"-LifecycleQueueDCEEFEA6-Ab12Cd34Ef56") {
		t.Fatalf("found %q, %v", got, err)
	}
	if _, err := findByPrefix(ctx, client, cfnQueuePrefix(stack+"x", schema.Lifecycle)); err == nil || !strings.Contains(err.Error(), "-source-url") {
		t.Fatalf("no match: %v", err)
	}
}

// localQueues creates the schema queues under a fresh prefix, as make dev
// does under kb-local-.
func localQueues(t *testing.T) (string, map[string]sqsqueue.QueueURLs) {
	t.Helper()
	client := awstest.SQS(t)
	prefix := awstest.Prefix(t)
	urls, err := sqsqueue.CreateQueues(context.Background(), client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, u := range urls {
			for _, q := range []string{u.URL, u.DLQURL} {
				_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(q)})
			}
		}
	})
	return prefix, urls
}

func send(t *testing.T, url string, n int) {
	t.Helper()
	for i := range n {
		if _, err := awstest.SQS(t).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func depth(t *testing.T, url string) int {
	t.Helper()
	out, err := awstest.SQS(t).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	b, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return a + b
}

// The local default: the queue pair is found by name and redrive policy
// and every move is printed.
func TestRunRedrivesTheLocalQueue(t *testing.T) {
	prefix, urls := localQueues(t)
	q := urls[schema.Messages.ID]
	send(t, q.DLQURL, 3)
	o, err := parseFlags([]string{"-queue", "messages", "-prefix", prefix, "-endpoint", os.Getenv(awstest.EnvSQS)}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "from "+q.DLQURL) || !strings.Contains(s, "to   "+q.URL) || strings.Count(s, "\nmoved  ") != 3 || !strings.Contains(s, "moved 3, failed 0, oldest sent ") {
		t.Fatalf("output:\n%s", s)
	}
	if depth(t, q.DLQURL) != 0 || depth(t, q.URL) != 3 {
		t.Fatalf("dlq %d, source %d", depth(t, q.DLQURL), depth(t, q.URL))
	}
}

// devState records a make dev on port whose queues are urls, as make dev
// does, run by the process pid.
func devState(t *testing.T, dir, port string, pid int, urls map[string]sqsqueue.QueueURLs) {
	t.Helper()
	st := devstate.State{PID: pid, Port: port, URL: "http://127.0.0.1:" + port, SQSEndpoint: os.Getenv(awstest.EnvSQS),
		Queues: map[string]devstate.Queue{}}
	for id, q := range urls {
		st.Queues[id] = devstate.Queue{URL: q.URL, DLQURL: q.DLQURL}
	}
	if err := devstate.Write(dir, st); err != nil {
		t.Fatal(err)
	}
}

// Without -endpoint, redrive works on the make dev running with $PORT, as
// its state file says, and on no other.
func TestRunFindsTheMakeDevOfItsPort(t *testing.T) {
	dir := t.TempDir()
	_, mine := localQueues(t)
	_, other := localQueues(t)
	devState(t, dir, "18080", os.Getpid(), other)
	devState(t, dir, "18081", os.Getpid(), mine)
	for _, urls := range []map[string]sqsqueue.QueueURLs{mine, other} {
		send(t, urls[schema.Outbound.ID].DLQURL, 2)
	}
	o, err := parseFlags([]string{"-queue", "outbound", "-max", "1"}, env(map[string]string{"PORT": "18081"}))
	if err != nil {
		t.Fatal(err)
	}
	o.stateDir = dir
	var out bytes.Buffer
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	q := mine[schema.Outbound.ID]
	if !strings.Contains(out.String(), "(make dev with PORT=18081, local "+os.Getenv(awstest.EnvSQS)+")") ||
		!strings.Contains(out.String(), "from "+q.DLQURL) || !strings.Contains(out.String(), "moved 1, failed 0") {
		t.Fatalf("output:\n%s", out.String())
	}
	if depth(t, q.DLQURL) != 1 || depth(t, q.URL) != 1 {
		t.Fatalf("-max 1: dlq %d, source %d", depth(t, q.DLQURL), depth(t, q.URL))
	}
	if q := other[schema.Outbound.ID]; depth(t, q.DLQURL) != 2 || depth(t, q.URL) != 0 {
		t.Fatalf("the other make dev's queue moved: dlq %d, source %d", depth(t, q.DLQURL), depth(t, q.URL))
	}
}

// No make dev on $PORT, or one that is gone, is a clear error and moves
// nothing.
func TestRunRefusesAMissingOrStaleMakeDev(t *testing.T) {
	dir := t.TempDir()
	_, urls := localQueues(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	devState(t, dir, "18082", gone.Process.Pid, urls)
	devState(t, dir, "18080", os.Getpid(), urls)
	q := urls[schema.Lifecycle.ID]
	send(t, q.DLQURL, 1)
	for port, want := range map[string]string{
		"18082": "no longer running",
		"18083": "no make dev runs with PORT=18083",
		"":      "make dev runs with PORT=18080",
	} {
		o, err := parseFlags([]string{"-queue", "lifecycle"}, env(map[string]string{"PORT": port}))
		if err != nil {
			t.Fatal(err)
		}
		o.stateDir = dir
		if port == "" {
			o.port = "18084"
		}
		if err := run(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("PORT=%q: err %v, want %q", port, err, want)
		}
	}
	if depth(t, q.DLQURL) != 1 {
		t.Errorf("a refused redrive moved messages")
	}
}

func TestRunFailsWithoutTheQueue(t *testing.T) {
	o, err := parseFlags([]string{"-queue", "lifecycle", "-prefix", "nothing-here-", "-endpoint", os.Getenv(awstest.EnvSQS)}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	awstest.SQS(t)
	o.endpoint = os.Getenv(awstest.EnvSQS)
	if err := run(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "nothing-here-lifecycle") {
		t.Fatalf("err %v", err)
	}
}
