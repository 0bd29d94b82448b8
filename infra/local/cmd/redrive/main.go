// Command redrive moves a dead-letter queue's messages back to its source
// queue and prints each message it moved (make redrive QUEUE=…):
//
//	go run ./infra/local/cmd/redrive -queue lifecycle          # make dev's queues
//	go run ./infra/local/cmd/redrive -queue messages -aws      # the deployed stack
//
// Locally the queues are those of the make dev running with $PORT (8080
// unless set), read from its state file (infra/local/devstate); -endpoint
// names an SQS server instead, whose kb-local-<queue> is used. With -aws the
// SDK's usual credential chain and region apply, and the source queue is the
// one CloudFormation named <STACK_NAME>-<Queue>Queue<hash>-<suffix> (the
// CDK stack lets it generate the names), unless -source-url gives it. The
// DLQ is the one the source queue's redrive policy names, unless -dlq-url
// gives it.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// localPrefix names make dev's queues (infra/local/stack).
const localPrefix = "kb-local-"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err == nil {
		// Outside the repository only -endpoint or -aws can work; run says so.
		o.stateDir, _ = devstate.Dir()
		err = run(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

type options struct {
	queue     schema.Queue
	aws       bool
	endpoint  string // local only; "" is the make dev of port
	port      string // make dev's PORT
	stateDir  string // where make dev's state files are
	prefix    string // local queue name prefix
	stack     string // with -aws
	sourceURL string
	dlqURL    string
	max       int
	timeout   time.Duration
}

func queueIDs() []string {
	var ids []string
	for _, q := range schema.Queues {
		ids = append(ids, q.ID)
	}
	return ids
}

const usage = "usage: redrive -queue lifecycle|messages|outbound|event-webhooks|media [-aws [-stack NAME]] [-endpoint URL] [-source-url URL] [-dlq-url URL] [-max N] [-timeout D]"

func parseFlags(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	var queue string
	ids := strings.Join(queueIDs(), "|")
	fs.StringVar(&queue, "queue", "", "the queue whose DLQ to empty: "+ids)
	fs.BoolVar(&o.aws, "aws", false, "the deployed stack, with the usual AWS credentials and region (default: make dev's queues)")
	fs.StringVar(&o.endpoint, "endpoint", "", "a local SQS endpoint holding <prefix><queue> (default: the queues of the make dev running with $PORT)")
	fs.StringVar(&o.prefix, "prefix", localPrefix, "with -endpoint: the local queue name prefix")
	fs.StringVar(&o.stack, "stack", cmp.Or(getenv(config.StackName.Name), config.StackName.Default), "with -aws: the CloudFormation stack name (default $"+config.StackName.Name+")")
	fs.StringVar(&o.sourceURL, "source-url", "", "the source queue's URL, instead of looking it up")
	fs.StringVar(&o.dlqURL, "dlq-url", "", "the DLQ's URL, instead of reading the source queue's redrive policy")
	fs.IntVar(&o.max, "max", 0, "move at most this many messages (0: all)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "stop after this long; what is not moved stays in the DLQ")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, usage)
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return o, err
		}
		return o, fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), usage)
	}
	if queue == "" {
		return o, fmt.Errorf("-queue is required (%s)\n%s", ids, usage)
	}
	found := false
	for _, q := range schema.Queues {
		if q.ID == queue {
			o.queue, found = q, true
		}
	}
	if !found {
		return o, fmt.Errorf("unknown queue %q: want %s", queue, ids)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.port = cmp.Or(getenv(config.Port.Name), config.Port.Default)
	if o.aws && (set["endpoint"] || set["prefix"]) {
		return o, errors.New("-endpoint and -prefix are for the local queues, not with -aws (AWS_ENDPOINT_URL_SQS still applies)")
	}
	if !o.aws && set["stack"] {
		return o, errors.New("-stack needs -aws")
	}
	if o.aws && o.stack == "" && o.sourceURL == "" {
		return o, errors.New("-aws needs -stack or -source-url")
	}
	if o.max < 0 {
		return o, fmt.Errorf("-max %d: want 0 (all) or more", o.max)
	}
	if o.timeout <= 0 {
		return o, fmt.Errorf("-timeout %s: want a positive duration", o.timeout)
	}
	return o, nil
}

func run(ctx context.Context, o options, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	dev := !o.aws && o.endpoint == "" && (o.sourceURL == "" || o.dlqURL == "")
	if dev {
		if err := o.fromDev(); err != nil {
			return err
		}
	}
	client, where, err := newClient(ctx, o)
	if err != nil {
		return err
	}
	if dev {
		where = "make dev with PORT=" + o.port + ", " + where
	}
	source, dlq, err := resolve(ctx, client, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "redrive %s (%s)\n  from %s\n  to   %s\n", o.queue.ID, where, dlq, source)
	rep, err := sqsqueue.Redrive(ctx, client, dlq, source, sqsqueue.RedriveOptions{
		Max: o.max,
		OnMessage: func(m sqsqueue.RedrivenMessage) {
			sent := ""
			if !m.Sent.IsZero() {
				sent = "  sent " + m.Sent.Format(time.RFC3339)
			}
			switch {
			case m.Err != nil:
				fmt.Fprintf(out, "FAILED %s%s: %v (left in the DLQ)\n", m.ID, sent, m.Err)
			case m.DeleteErr != nil:
				fmt.Fprintf(out, "moved  %s -> %s%s, but still in the DLQ (%v): a later redrive sends it again\n", m.ID, m.SourceID, sent, m.DeleteErr)
			default:
				fmt.Fprintf(out, "moved  %s -> %s%s\n", m.ID, m.SourceID, sent)
			}
		},
	})
	fmt.Fprintf(out, "moved %d, failed %d", rep.Moved, rep.Failed)
	if !rep.OldestSent.IsZero() {
		fmt.Fprintf(out, ", oldest sent %s", rep.OldestSent.Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("stopped after -timeout %s; the rest is still in the DLQ", o.timeout)
	}
	if err == nil && rep.Failed > 0 {
		err = fmt.Errorf("%d messages could not be sent and are still in the DLQ", rep.Failed)
	}
	return err
}

// newClient is the SQS client for o, and a word on where it points.
func newClient(ctx context.Context, o options) (*sqs.Client, string, error) {
	if o.aws {
		cfg, err := config.AWS(ctx)
		if err != nil {
			return nil, "", err
		}
		if cfg.Region == "" {
			return nil, "", errors.New("no AWS region: set AWS_REGION or a profile's region")
		}
		return sqsqueue.NewClient(cfg), "AWS " + cfg.Region, nil
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	at := func(ep string) *sqs.Client {
		return sqsqueue.NewClient(cfg, func(so *sqs.Options) { so.BaseEndpoint = aws.String(ep) })
	}
	if o.endpoint != "" {
		return at(o.endpoint), "local " + o.endpoint, nil
	}
	// Local queue URLs given whole name their server.
	ep, err := endpointOf(o.sourceURL)
	if err != nil {
		return nil, "", fmt.Errorf("%w: give -endpoint, or -source-url and -dlq-url", err)
	}
	return at(ep), "local " + ep, nil
}

// fromDev points o at the SQS server, queue and DLQ of the make dev
// running with o.port, unless -source-url or -dlq-url name the queues.
func (o *options) fromDev() error {
	if o.stateDir == "" {
		return errors.New("cannot find make dev outside the kapso-bridge repository: give -endpoint")
	}
	st, err := devstate.Find(o.stateDir, o.port)
	if err != nil {
		return fmt.Errorf("%w; or give -endpoint", err)
	}
	q, ok := st.Queues[o.queue.ID]
	if !ok || q.URL == "" || q.DLQURL == "" {
		return fmt.Errorf("the make dev with PORT=%s has no %s queue: restart it", o.port, o.queue.ID)
	}
	// fauxqs's queue URLs name a host of their own: the endpoint is the
	// server's address.
	o.endpoint = st.SQSEndpoint
	o.sourceURL, o.dlqURL = cmp.Or(o.sourceURL, q.URL), cmp.Or(o.dlqURL, q.DLQURL)
	return nil
}

func endpointOf(queueURL string) (string, error) {
	scheme, rest, ok := strings.Cut(queueURL, "://")
	host, _, _ := strings.Cut(rest, "/")
	if !ok || host == "" {
		return "", fmt.Errorf("not a queue URL: %q", queueURL)
	}
	return scheme + "://" + host, nil
}

// resolve finds the source queue's URL and its DLQ's.
func resolve(ctx context.Context, client *sqs.Client, o options) (source, dlq string, err error) {
	source = o.sourceURL
	if source == "" {
		if o.aws {
			source, err = findByPrefix(ctx, client, cfnQueuePrefix(o.stack, o.queue))
		} else {
			source, err = urlOf(ctx, client, o.prefix+o.queue.ID)
		}
		if err != nil {
			return "", "", err
		}
	}
	dlq = o.dlqURL
	if dlq == "" {
		if dlq, err = deadLetterQueueOf(ctx, client, source); err != nil {
			return "", "", err
		}
	}
	if dlq == source {
		return "", "", errors.New("the DLQ and the source queue are the same queue")
	}
	return source, dlq, nil
}

// cfnQueuePrefix is how CloudFormation's generated name of the CDK stack's
// queue starts: <stack>-<logical id>-…, the logical id being the
// construct id (infra/cdk: pascal(id)+"Queue") and a hash. The DLQ's
// (<Id>DeadLetterQueue…) does not share the prefix.
func cfnQueuePrefix(stack string, q schema.Queue) string {
	return stack + "-" + pascal(q.ID) + "Queue"
}

// pascal is infra/cdk's construct-id spelling of a schema id.
func pascal(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func urlOf(ctx context.Context, client *sqs.Client, name string) (string, error) {
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// findByPrefix is the one queue whose name starts with prefix.
func findByPrefix(ctx context.Context, client *sqs.Client, prefix string) (string, error) {
	var urls []string
	p := sqs.NewListQueuesPaginator(client, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list queues named %s*: %w", prefix, err)
		}
		urls = append(urls, page.QueueUrls...)
	}
	switch len(urls) {
	case 1:
		return urls[0], nil
	case 0:
		return "", fmt.Errorf("no queue named %s* in this account and region: check -stack / STACK_NAME and AWS_REGION, or give -source-url", prefix)
	default:
		return "", fmt.Errorf("%d queues named %s* (%s): give -source-url", len(urls), prefix, strings.Join(urls, ", "))
	}
}

// deadLetterQueueOf reads the DLQ from source's redrive policy, so the pair
// is the one SQS itself uses.
func deadLetterQueueOf(ctx context.Context, client *sqs.Client, source string) (string, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(source), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return "", fmt.Errorf("redrive policy of %s: %w", source, err)
	}
	var policy struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	raw := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if err := json.Unmarshal([]byte(raw), &policy); err != nil || policy.DeadLetterTargetArn == "" {
		return "", fmt.Errorf("%s has no redrive policy naming its DLQ (%q): give -dlq-url", source, raw)
	}
	// arn:aws:sqs:<region>:<account>:<name>
	parts := strings.Split(policy.DeadLetterTargetArn, ":")
	if len(parts) != 6 {
		return "", fmt.Errorf("dead-letter target %q is not a queue ARN", policy.DeadLetterTargetArn)
	}
	in := &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])}
	if parts[4] != "" {
		in.QueueOwnerAWSAccountId = aws.String(parts[4])
	}
	q, err := client.GetQueueUrl(ctx, in)
	if err != nil {
		return "", fmt.Errorf("dead-letter queue %s: %w", parts[5], err)
	}
	return aws.ToString(q.QueueUrl), nil
}
