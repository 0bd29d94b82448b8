// Package stack is kapso-bridge on one machine: DynamoDB Local and fauxqs,
// tables and queues from the shared schema, every function's handler on one
// HTTP server, queue pollers with Lambda's batch semantics, the reconciler on
// a ticker, and a Kapso simulator. make dev runs it; the end-to-end test
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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Setting is one environment variable the stack reads, with its dev default.
type Setting struct {
	Name, Default, Help string
}

// Settings lists every variable the local stack reads. Defaults that depend
// on others (URLs built from PORT) are filled by Resolve.
func Settings() []Setting {
	return []Setting{
		{"PORT", "8080", "port of the kapso-bridge HTTP server (127.0.0.1)"},
		{"SIM_PORT", "8090", "port of the Kapso simulator (127.0.0.1)"},
		{"PUBLIC_BASE_URL", "", "how Kapso and browsers reach kapso-bridge (default http://127.0.0.1:$PORT)"},
		{"KAPSO_API_BASE_URL", "", "Kapso Platform API; unset runs the simulator at http://127.0.0.1:$SIM_PORT/platform/v1"},
		{"KAPSO_API_KEY", "dev-kapso-api-key", "X-API-Key for the Platform API"},
		{"KAPSO_PROJECT_WEBHOOK_SECRET", "dev-project-webhook-secret", "secret of the project webhook"},
		{"META_APP_SECRET", "", "Meta app secret for X-Hub-Signature-256 (optional)"},
		{"BRIDGE_API_TOKEN", "dev-bridge-token", "bearer token of the /v1 API"},
		{"APP_SUCCESS_URL", "", "where a finished signup lands (default the local app page)"},
		{"APP_FAILURE_URL", "", "where a failed signup lands (default the local app page)"},
		{"RECONCILE_EVERY", "1m", "how often the reconciler runs"},
		{"LOG_LEVEL", "info", "debug, info, warn or error"},
	}
}

// Resolve fills unset settings with their dev defaults and reports which
// defaults were used.
func Resolve(get func(string) string) (map[string]string, []string) {
	vals := map[string]string{}
	var defaulted []string
	for _, s := range Settings() {
		v := strings.TrimSpace(get(s.Name))
		if v == "" && s.Default != "" {
			v = s.Default
			defaulted = append(defaulted, s.Name)
		}
		vals[s.Name] = v
	}
	derive := func(name, v string) {
		if vals[name] == "" {
			vals[name] = v
			defaulted = append(defaulted, name)
		}
	}
	derive("PUBLIC_BASE_URL", "http://127.0.0.1:"+vals["PORT"])
	derive("APP_SUCCESS_URL", vals["PUBLIC_BASE_URL"]+"/app/connected")
	derive("APP_FAILURE_URL", vals["PUBLIC_BASE_URL"]+"/app/failed")
	sort.Strings(defaulted)
	return vals, defaulted
}

// Options for Start.
type Options struct {
	// Settings as resolved by Resolve (the names of Settings()).
	Settings map[string]string
	// Listener, when set, serves kapso-bridge instead of 127.0.0.1:$PORT
	// (tests pass a random port).
	Listener net.Listener
	// SimListener likewise for the simulator.
	SimListener net.Listener
	// SimRetrySchedule overrides Kapso's retry schedule in the simulator.
	SimRetrySchedule []time.Duration
	Log              *slog.Logger
	ServicesLog      io.Writer
}

// Stack is a running local kapso-bridge.
type Stack struct {
	URL        string
	SimURL     string // "" when a real Kapso API is configured
	Sim        *kapsosim.Simulator
	Env        config.Env
	Services   *services.Services
	Tables     map[string]string
	Queues     map[string]sqsqueue.QueueURLs
	Onboarding *dynamo.Onboarding

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	servers []*http.Server
	once    sync.Once
}

// Start brings the whole stack up and returns once /healthz would answer 200.
func Start(ctx context.Context, o Options) (*Stack, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Stack{}
	svc, err := services.Start(ctx, services.Options{Log: o.ServicesLog})
	if err != nil {
		return nil, fmt.Errorf("start local services: %w", err)
	}
	s.Services = svc
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
	deps := app.NewDeps(env, cfg, log)
	// Same clients as deployed, pointed at the local servers.
	deps.DynamoDB = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBEndpoint) })
	deps.SQS = sqsqueue.NewClient(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) })

	prefix := "kb-local-"
	if s.Tables, err = dynamo.CreateTables(ctx, deps.DynamoDB, prefix); err != nil {
		return nil, err
	}
	if s.Queues, err = sqsqueue.CreateQueues(ctx, deps.SQS, prefix); err != nil {
		return nil, err
	}
	vals[schema.Idempotency.EnvVar] = s.Tables[schema.Idempotency.ID]
	vals[schema.Bridge.EnvVar] = s.Tables[schema.Bridge.ID]
	vals[schema.Lifecycle.EnvVar] = s.Queues[schema.Lifecycle.ID].URL
	vals[schema.Messages.EnvVar] = s.Queues[schema.Messages.ID].URL

	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:"+vals["PORT"]); err != nil {
			return nil, fmt.Errorf("listen for kapso-bridge: %w", err)
		}
	}
	s.URL = "http://" + ln.Addr().String()
	if o.Listener != nil && o.Settings["PUBLIC_BASE_URL"] == "" {
		vals["PUBLIC_BASE_URL"] = s.URL
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	if vals["KAPSO_API_BASE_URL"] == "" {
		sln := o.SimListener
		if sln == nil {
			if sln, err = net.Listen("tcp", "127.0.0.1:"+vals["SIM_PORT"]); err != nil {
				return nil, fmt.Errorf("listen for the Kapso simulator: %w", err)
			}
		}
		s.SimURL = "http://" + sln.Addr().String()
		s.Sim = kapsosim.New(kapsosim.Options{
			PublicURL:            s.SimURL,
			APIKey:               vals["KAPSO_API_KEY"],
			ProjectWebhookURL:    vals["PUBLIC_BASE_URL"] + "/webhooks/kapso",
			ProjectWebhookSecret: vals["KAPSO_PROJECT_WEBHOOK_SECRET"],
			RetrySchedule:        o.SimRetrySchedule,
			Logger:               log.With("component", "kapso-simulator"),
		})
		vals["KAPSO_API_BASE_URL"] = s.SimURL + "/platform/v1"
		s.serve(sln, s.Sim, log)
	}
	s.Env = env

	mux := http.NewServeMux()
	ingest, err := app.Ingest(ctx, deps)
	if err != nil {
		return nil, err
	}
	mux.Handle("/webhooks/", ingest)
	if err := s.mountOnboarding(runCtx, ctx, mux, deps, log); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	s.serve(ln, mux, log)
	ok = true
	return s, nil
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

// poll runs a worker on a queue until the stack stops.
func (s *Stack) poll(ctx context.Context, q schema.Queue, h sqsqueue.BatchHandler, deps app.Deps) {
	p := &sqsqueue.Poller{Client: deps.SQS, QueueURL: s.Queues[q.ID].URL, Handler: h, BatchSize: 10,
		Timeout: q.ConsumerTimeout, Log: deps.Log.With("queue", q.ID)}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); p.Run(ctx) }()
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
