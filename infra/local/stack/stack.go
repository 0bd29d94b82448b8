// Package stack is kapso-bridge on one machine: DynamoDB Local and fauxqs,
// tables, queues and topics from the shared schema, every function's
// handler on one HTTP server, queue pollers and the bridge table's stream
// reader with Lambda's batch semantics, the reconciler on a ticker, and a
// Kapso simulator. make dev runs it; the end-to-end test
// starts the same thing.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/kapso-bridge/kapso-bridge/docs"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/ingestapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/messagesapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/outboundapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/publisherapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo/streams"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// devDefaults are the values make dev uses for settings left unset where
// they are not the settings' own defaults: throwaway secrets, and the
// simulator instead of Kapso's API.
var devDefaults = map[string]string{
	config.KapsoAPIKey.Name:          "dev-kapso-api-key",
	config.ProjectWebhookSecret.Name: "dev-project-webhook-secret",
	config.BridgeAPIToken.Name:       "dev-bridge-token",
	config.ErasureHashKey.Name:       "dev-erasure-hash-key-of-32-bytes-at-least",
	// Unset runs the simulator at http://127.0.0.1:$SIM_PORT/platform/v1.
	config.KapsoAPIBaseURL.Name: "",
	// The simulator has no rate limit unless asked for one: unpaced.
	config.ReconcileKapsoPerMinute.Name: "60000",
	// The events POSTed to EVENTS_WEBHOOK_URL, when set, are signed with it.
	config.EventsWebhookSecret.Name: devEventsWebhookSecret,
}

// The pages of the SaaS app the local stack stands in for (see appPage).
const (
	appConnectedPath = "/app/connected"
	appFailedPath    = "/app/failed"
)

// Resolve fills unset settings with their dev defaults and reports which
// defaults were used. It covers every setting a function or the local stack
// reads, except the tables and queues, which Start sets to the ones it
// creates. Defaults that depend on others (URLs built from PORT) are derived.
func Resolve(get func(string) string) (map[string]string, []string) {
	vals := map[string]string{}
	var defaulted []string
	for _, s := range config.Settings {
		if s.Resource || len(s.Functions) == 0 && !s.Local {
			continue
		}
		def, ok := devDefaults[s.Name]
		if !ok {
			def = s.Default
		}
		v := strings.TrimSpace(get(s.Name))
		if v == "" && def != "" {
			v = def
			defaulted = append(defaulted, s.Name)
		}
		vals[s.Name] = v
	}
	// With the simulator, sends go to its Meta proxy too (Start sets it):
	// Kapso's own proxy is not in use, so not a default to announce.
	if vals[config.KapsoAPIBaseURL.Name] == "" && strings.TrimSpace(get(config.KapsoMetaBaseURL.Name)) == "" {
		vals[config.KapsoMetaBaseURL.Name] = ""
		defaulted = slices.DeleteFunc(defaulted, func(n string) bool { return n == config.KapsoMetaBaseURL.Name })
	}
	derive := func(s config.Setting, v string) {
		if vals[s.Name] == "" {
			vals[s.Name] = v
			defaulted = append(defaulted, s.Name)
		}
	}
	local := "http://127.0.0.1:" + vals[config.Port.Name]
	derive(config.PublicBaseURL, local)
	// The app pages answer on this machine only (localGuard), whatever
	// PUBLIC_BASE_URL Kapso and the redirects use.
	derive(config.AppSuccessURL, local+appConnectedPath)
	derive(config.AppFailureURL, local+appFailedPath)
	sort.Strings(defaulted)
	return vals, defaulted
}

// ErrServices marks a Start that failed because DynamoDB Local or fauxqs
// did not start: their own output says why.
var ErrServices = errors.New("start local services")

// Options for Start.
type Options struct {
	// Settings as resolved by Resolve.
	Settings map[string]string
	// Listener, when set, serves kapso-bridge instead of 127.0.0.1:$PORT
	// (tests pass a random port).
	Listener net.Listener
	// SimListener likewise for the simulator.
	SimListener net.Listener
	// SimRetrySchedule overrides Kapso's retry schedule in the simulator.
	SimRetrySchedule []time.Duration
	// SimAutoStatuses are the statuses every send the simulator accepts
	// moves on through (kapsosim.Options.DefaultAutoStatuses), each
	// SimAutoStatusDelay after the one before; none by default, so tests
	// move their sends on themselves.
	SimAutoStatuses    []string
	SimAutoStatusDelay time.Duration
	// SimNow, when set, is the simulator's clock: the times of what it
	// makes and sends (tests move it on to set events apart).
	SimNow func() time.Time

	Log         *slog.Logger
	ServicesLog io.Writer
	// Progress, when set, hears each step of a start as it begins, for a
	// person waiting at a terminal (a cold JVM takes a while).
	Progress func(step string)
	// DynamoDBPath, when set, is the folder where the DynamoDB Local it
	// starts keeps its data (make dev's, kept across restarts); tests keep
	// theirs in memory.
	DynamoDBPath string
	// DynamoDBEndpoint and SQSEndpoint, when both set, are DynamoDB and SQS
	// servers already running: Start uses them instead of starting its own,
	// keeps the tables and queues it finds there, and leaves the servers
	// running on Stop (a restarted stack finds its data again).
	DynamoDBEndpoint string
	SQSEndpoint      string
	// AWSMiddleware is added to the DynamoDB and SQS clients the functions
	// use (not to those that create the tables and queues): chaos runs
	// inject faults through it.
	AWSMiddleware []func(*middleware.Stack) error
	// QueueVisibilityTimeout, when > 0, replaces the queues' visibility
	// timeout, so a message a killed process held comes back sooner.
	QueueVisibilityTimeout time.Duration
	// SendCallTimeout, when > 0, bounds the sender's Kapso call instead of
	// its 10 s, so a test's send whose answer is held back goes unknown
	// sooner.
	SendCallTimeout time.Duration
	// DevRoutes are served on the local server next to /_dev/reconcile.
	DevRoutes map[string]http.Handler
	// Pollers is how many batches of each queue are handled at once, as
	// Lambda runs several; default 1.
	Pollers int
	// AWSRetryMaxBackoff, when > 0, caps the SDK's wait between retries of
	// the functions' DynamoDB and SQS calls (a chaos run's many injected
	// failures otherwise spend most of its time waiting).
	AWSRetryMaxBackoff time.Duration
	// EventWebhooksSchedule, when set, replaces the webhook sender's waits
	// between attempts (5 s, 30 s, 2 min, 10 min, 1 h, then hourly), so a
	// test sees an event through its retries in seconds.
	EventWebhooksSchedule []time.Duration
	// NoPublisher leaves the bridge table's stream unread: no event is
	// told. make bench counts the delivery path's writes with and without
	// the publisher.
	NoPublisher bool
}

// Stack is a running local kapso-bridge.
type Stack struct {
	URL    string
	SimURL string // "" when a real Kapso API is configured
	// DynamoDBEndpoint and SQSEndpoint are the servers the stack runs on,
	// its own or Options'.
	DynamoDBEndpoint string
	SQSEndpoint      string
	Sim              *kapsosim.Simulator
	Env              config.Env
	Services         *services.Services
	Tables           map[string]string
	Queues           map[string]sqsqueue.QueueURLs
	Topics           map[string]string // ARNs by schema topic ID
	Buckets          map[string]string // names by schema bucket ID
	Onboarding       *dynamo.Onboarding

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	servers []*http.Server
	once    sync.Once
	pollers int
	guard   *localGuard
	stream  *streams.Poller
}

// Start brings the whole stack up and returns once /healthz would answer 200.
func Start(ctx context.Context, o Options) (*Stack, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	s := &Stack{pollers: max(o.Pollers, 1)}
	external := o.DynamoDBEndpoint != "" && o.SQSEndpoint != ""
	svc := &services.Services{DynamoDBEndpoint: o.DynamoDBEndpoint, SQSEndpoint: o.SQSEndpoint}
	if !external {
		progress("starting DynamoDB Local (Java) and fauxqs (Node)")
		var err error
		if svc, err = services.Start(ctx, services.Options{Log: o.ServicesLog, DynamoDBPath: o.DynamoDBPath}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrServices, err)
		}
		s.Services = svc
	}
	s.DynamoDBEndpoint, s.SQSEndpoint = svc.DynamoDBEndpoint, svc.SQSEndpoint
	var err error
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	vals := map[string]string{}
	for k, v := range o.Settings {
		vals[k] = v
	}
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
	env := config.Env(func(k string) string {
		if v, ok := vals[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	// Same clients as deployed, pointed at the local servers. Secrets are
	// plain settings here, so no Secrets Manager client is given.
	c := clients{
		dynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBEndpoint) }),
		sqs:      sqsqueue.NewClient(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) }),
		// fauxqs serves SNS on its SQS endpoint.
		sns: sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) }),
		// And S3, by path.
		s3: s3media.NewClient(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) }),
	}
	// What Lambda's event source mapping reads the bridge table's stream
	// with: none of the functions' faults.
	source := streamSource{dynamoDB: c.dynamoDB,
		streams: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBEndpoint) })}

	progress("creating tables and queues")
	prefix := "kb-local-"
	if s.Tables, err = dynamo.CreateTables(ctx, c.dynamoDB, prefix); err != nil {
		return nil, err
	}
	if s.Queues, err = createQueues(ctx, c.sqs, prefix, external, o.QueueVisibilityTimeout); err != nil {
		return nil, err
	}
	if s.Topics, err = snstopic.CreateTopics(ctx, c.sns, prefix); err != nil {
		return nil, err
	}
	if s.Buckets, err = s3media.CreateBuckets(ctx, c.s3, prefix); err != nil {
		return nil, err
	}
	if len(o.AWSMiddleware) > 0 || o.AWSRetryMaxBackoff > 0 {
		if o.AWSRetryMaxBackoff > 0 {
			cfg.Retryer = func() aws.Retryer {
				return retry.AddWithMaxBackoffDelay(retry.NewStandard(), o.AWSRetryMaxBackoff)
			}
		}
		c = clients{
			dynamoDB: dynamodb.NewFromConfig(cfg, func(do *dynamodb.Options) {
				do.BaseEndpoint = aws.String(svc.DynamoDBEndpoint)
				do.APIOptions = append(do.APIOptions, o.AWSMiddleware...)
			}),
			sqs: sqsqueue.NewClient(cfg, func(so *sqs.Options) {
				so.BaseEndpoint = aws.String(svc.SQSEndpoint)
				so.APIOptions = append(so.APIOptions, o.AWSMiddleware...)
			}),
			sns: sns.NewFromConfig(cfg, func(so *sns.Options) {
				so.BaseEndpoint = aws.String(svc.SQSEndpoint)
				so.APIOptions = append(so.APIOptions, o.AWSMiddleware...)
			}),
			s3: s3media.NewClient(cfg, func(so *s3.Options) {
				so.BaseEndpoint = aws.String(svc.SQSEndpoint)
				so.APIOptions = append(so.APIOptions, o.AWSMiddleware...)
			}),
		}
	}
	vals[config.IdempotencyTable.Name] = s.Tables[schema.Idempotency.ID]
	vals[config.BridgeTable.Name] = s.Tables[schema.Bridge.ID]
	vals[config.EventsTable.Name] = s.Tables[schema.Events.ID]
	vals[config.LifecycleQueueURL.Name] = s.Queues[schema.Lifecycle.ID].URL
	vals[config.MessagesQueueURL.Name] = s.Queues[schema.Messages.ID].URL
	vals[config.LifecycleDLQURL.Name] = s.Queues[schema.Lifecycle.ID].DLQURL
	vals[config.MessagesDLQURL.Name] = s.Queues[schema.Messages.ID].DLQURL
	vals[config.OutboundQueueURL.Name] = s.Queues[schema.Outbound.ID].URL
	vals[config.OutboundDLQURL.Name] = s.Queues[schema.Outbound.ID].DLQURL
	vals[config.EventsTopicARN.Name] = s.Topics[schema.EventsTopic.ID]
	vals[config.EventWebhooksQueueURL.Name] = s.Queues[schema.EventWebhooks.ID].URL
	vals[config.EventWebhooksDLQURL.Name] = s.Queues[schema.EventWebhooks.ID].DLQURL
	vals[config.MediaBucket.Name] = s.Buckets[schema.MediaBucket.ID]
	vals[config.MediaQueueURL.Name] = s.Queues[schema.Media.ID].URL
	vals[config.MediaDLQURL.Name] = s.Queues[schema.Media.ID].DLQURL

	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:"+vals[config.Port.Name]); err != nil {
			return nil, fmt.Errorf("listen for kapso-bridge: %w", err)
		}
	}
	s.URL = "http://" + ln.Addr().String()
	if o.Listener != nil && o.Settings[config.PublicBaseURL.Name] == "" {
		vals[config.PublicBaseURL.Name] = s.URL
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if vals[config.KapsoAPIBaseURL.Name] == "" {
		progress("starting the functions, the queue pollers and the Kapso simulator")
	} else {
		progress("starting the functions and the queue pollers")
	}

	if vals[config.KapsoAPIBaseURL.Name] == "" {
		sln := o.SimListener
		if sln == nil {
			if sln, err = net.Listen("tcp", "127.0.0.1:"+vals[config.SimPort.Name]); err != nil {
				return nil, fmt.Errorf("listen for the Kapso simulator: %w", err)
			}
		}
		s.SimURL = "http://" + sln.Addr().String()
		s.Sim = kapsosim.New(kapsosim.Options{
			PublicURL:            s.SimURL,
			APIKey:               vals[config.KapsoAPIKey.Name],
			ProjectWebhookURL:    routes.ProjectWebhookURL(vals[config.PublicBaseURL.Name]),
			ProjectWebhookSecret: vals[config.ProjectWebhookSecret.Name],
			RetrySchedule:        o.SimRetrySchedule,
			DefaultAutoStatuses:  o.SimAutoStatuses,
			AutoStatusDelay:      o.SimAutoStatusDelay,
			Now:                  o.SimNow,
			Logger:               log.With("component", "kapso-simulator"),
		})
		vals[config.KapsoAPIBaseURL.Name] = s.SimURL + "/platform/v1"
		vals[config.KapsoMetaBaseURL.Name] = s.SimURL + "/meta/whatsapp"
		s.serve(sln, s.Sim, log)
	}
	s.Env = env
	if s.guard, err = newLocalGuard(vals[config.PublicBaseURL.Name], svc.SQSEndpoint); err != nil {
		return nil, err
	}

	b := app.Base{Env: env, Log: log}
	mux := http.NewServeMux()
	ingest, err := ingestapp.Handler(ctx, b, ingestapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs})
	if err != nil {
		return nil, err
	}
	mount(mux, ingest, routes.Ingest)
	if err := s.mountOnboarding(runCtx, ctx, mux, b, c); err != nil {
		return nil, err
	}
	messages, err := messagesapp.Worker(ctx, b, messagesapp.Clients{DynamoDB: c.dynamoDB})
	if err != nil {
		return nil, err
	}
	// An offboarding's data phase runs on the next pass here, without the
	// deployed stack's settle: the worker looks a number's tenant up for
	// every event, so none is stored for a tenant deleted meanwhile.
	messages.TenantTTL = time.Nanosecond
	s.poll(runCtx, schema.Messages, messages.Handle, c, b.Log)
	sends, err := outboundapp.Worker(ctx, b, outboundapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs})
	if err != nil {
		return nil, err
	}
	if o.SendCallTimeout > 0 {
		sends.CallTimeout = o.SendCallTimeout
	}
	s.poll(runCtx, schema.Outbound, sends.Handle, c, b.Log)
	if !o.NoPublisher {
		events, err := publisherapp.Worker(ctx, b, publisherapp.Clients{DynamoDB: c.dynamoDB, SNS: c.sns})
		if err != nil {
			return nil, err
		}
		s.readStream(runCtx, events.Handle, source, b.Log)
	}
	if err := s.startEventWebhooks(runCtx, ctx, cfg, prefix, o.EventWebhooksSchedule, b, c); err != nil {
		return nil, err
	}
	if err := s.startMedia(runCtx, ctx, b, c); err != nil {
		return nil, err
	}
	for pattern, h := range o.DevRoutes {
		mux.Handle(pattern, h)
	}
	mux.Handle("GET "+docs.OpenAPIPath, docs.OpenAPIHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	s.serve(ln, s.guard.hosts(mux), log)
	ok = true
	return s, nil
}

// createQueues creates the schema's queues; on servers that outlive the
// stack (external) it first looks for queues a previous run made, whose
// attributes may differ from the schema's after a visibility override.
func createQueues(ctx context.Context, c *sqs.Client, prefix string, external bool, visibility time.Duration) (map[string]sqsqueue.QueueURLs, error) {
	if external {
		if qs, ok := findQueues(ctx, c, prefix); ok {
			return qs, nil
		}
	}
	qs, err := sqsqueue.CreateQueues(ctx, c, prefix)
	if err != nil {
		return nil, err
	}
	if visibility > 0 {
		for _, q := range qs {
			if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(q.URL),
				Attributes: map[string]string{"VisibilityTimeout": fmt.Sprint(int(visibility.Seconds()))}}); err != nil {
				return nil, fmt.Errorf("set visibility timeout of %s: %w", q.URL, err)
			}
		}
	}
	return qs, nil
}

// findQueues finds every schema queue and its DLQ under prefix.
func findQueues(ctx context.Context, c *sqs.Client, prefix string) (map[string]sqsqueue.QueueURLs, bool) {
	out := map[string]sqsqueue.QueueURLs{}
	for _, q := range schema.Queues {
		main, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + q.ID)})
		if err != nil {
			return nil, false
		}
		dlq, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + q.DLQID())})
		if err != nil {
			return nil, false
		}
		out[q.ID] = sqsqueue.QueueURLs{URL: aws.ToString(main.QueueUrl), DLQURL: aws.ToString(dlq.QueueUrl)}
	}
	return out, true
}

// clients are the AWS clients of every function, on the local servers.
type clients struct {
	dynamoDB *dynamodb.Client
	sqs      *sqs.Client
	sns      *sns.Client
	s3       *s3.Client
}

// streamSource is what reads a table's stream as Lambda's event source
// mapping does.
type streamSource struct {
	dynamoDB *dynamodb.Client
	streams  *dynamodbstreams.Client
}

// readStream hands the bridge table's stream to h until the stack stops,
// as Lambda's event source mapping hands it to the publisher.
func (s *Stack) readStream(ctx context.Context, h streams.Handler, src streamSource, log *slog.Logger) {
	p := &streams.Poller{DB: src.dynamoDB, Streams: src.streams, Table: s.Tables[schema.Bridge.ID], Handler: h,
		Log: log.With("stream", schema.Bridge.ID)}
	s.stream = p
	s.wg.Add(1)
	go func() { defer s.wg.Done(); p.Run(ctx) }()
}

// Told reports whether every change stored in the bridge table before t
// has been handed to the publisher: its stream was read to its end since.
func (s *Stack) Told(t time.Time) bool { return s.stream != nil && s.stream.CaughtUp(t) }

// mount serves h at its function's routes and nowhere else, as API Gateway
// does.
func mount(mux *http.ServeMux, h http.Handler, rs []routes.Route) {
	for _, r := range rs {
		mux.Handle(r.Pattern(), h)
	}
}

// requestReadTimeout bounds reading a whole request, headers and body.
const requestReadTimeout = 30 * time.Second

func (s *Stack) serve(ln net.Listener, h http.Handler, log *slog.Logger) {
	// API Gateway takes the whole request before a function sees it, and
	// gives up on a slow client; so does the local server, so a client that
	// trickles its body cannot hold a handler.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: requestReadTimeout}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// poll runs a worker on a queue until the stack stops, in batches of 10.
func (s *Stack) poll(ctx context.Context, q schema.Queue, h sqsqueue.BatchHandler, c clients, log *slog.Logger) {
	s.pollBatches(ctx, q, 10, h, c, log)
}

// pollBatches is poll in batches of at most batch messages.
func (s *Stack) pollBatches(ctx context.Context, q schema.Queue, batch int32, h sqsqueue.BatchHandler, c clients, log *slog.Logger) {
	p := &sqsqueue.Poller{Client: c.sqs, QueueURL: s.Queues[q.ID].URL, Handler: h, BatchSize: batch,
		Timeout: q.ConsumerTimeout, Log: log.With("queue", q.ID)}
	for range max(s.pollers, 1) {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); p.Run(ctx) }()
	}
}

// every runs f on a ticker until the stack stops.
func (s *Stack) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f(ctx)
			}
		}
	}()
}

// KapsoBases are the Kapso Platform API's and Meta proxy's base URLs the
// stack calls: the simulator's when it runs.
func (s *Stack) KapsoBases() (platform, meta string) {
	return s.Env.Value(config.KapsoAPIBaseURL), s.Env.Value(config.KapsoMetaBaseURL)
}

// Stop ends everything Start started.
func (s *Stack) Stop() {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		for _, srv := range s.servers {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
		if s.Sim != nil {
			s.Sim.Close()
		}
		s.wg.Wait()
		if s.Services != nil {
			s.Services.Stop()
		}
	})
}
