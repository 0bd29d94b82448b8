package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/faults"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
)

// config of a run.
type config struct {
	Deliveries  int
	Tenants     int
	FaultRate   float64
	Kills       int
	Seed        uint64
	Timeout     time.Duration
	Concurrency int
	// TimeScale shortens Kapso's retry schedule (0 s, 10 s, 40 s, 90 s).
	TimeScale float64
	// DupRate is the share of number webhooks the wire sends twice at once.
	DupRate float64
	// FinalReconciles is how many reconciler passes run once the traffic
	// has settled.
	FinalReconciles int
	// ReceiverFailRate is the share of event webhook deliveries the
	// receiver answers 500; ReceiverRestarts how often it is stopped and
	// started again mid-traffic.
	ReceiverFailRate float64
	ReceiverRestarts int
	// EventSchedule is the event webhooks' waits between attempts in the
	// run (KB_EVENT_WEBHOOKS_SCHEDULE), for 5 s, 30 s, 2 min…
	EventSchedule string
	// EventsWait bounds the wait, once everything is stored, for the
	// receiver to hold every event.
	EventsWait time.Duration
	Verbose    bool
	Progress   io.Writer
}

func defaultConfig() config {
	return config{Deliveries: 10000, Tenants: 50, FaultRate: 0.05, Kills: 2, Seed: 1, Timeout: 30 * time.Minute,
		Concurrency: 16, TimeScale: 0.05, DupRate: 0.03, FinalReconciles: 2, ReceiverFailRate: 0.05,
		ReceiverRestarts: 1, EventSchedule: "1s,2s,5s", EventsWait: 5 * time.Minute}
}

// result is what a run found.
type result struct {
	Deliveries       int
	DeliveryAttempts int
	FaultsInjected   int
	AWSFaults        int
	KapsoFaults      int
	Restarts         int
	Lost             int
	Doubled          int
	WrongStatus      int
	Unexpected       int
	TenantsWrong     int
	DLQ              int
	DLQUnexplained   int
	Messages         int
	FailedDeliveries int
	// Sends through the tenant API: how many it accepted, how many the
	// simulator's Meta proxy took, how many failed unsent; and the
	// mismatches: sends left on their way, the proxy's count against the
	// sends with a WAMID, and correct requests the API refused.
	Sends           int
	SentByKapso     int
	SendsFailed     int
	SendsUnresolved int
	SendsMismatched int
	SendsRefused    int
	// Media: inbound messages with media the simulator sent, those stored
	// with the simulator's bytes, those failed for an injected wrong
	// sha256, and the rest (pending, another failure, other bytes); the
	// media fault windows set on the simulator; whether this process ran
	// the media worker, and then how often a copy was left for another
	// attempt.
	Media               int
	MediaStored         int
	MediaFailedChecksum int
	MediaWrong          int
	MediaFaultWindows   string
	MediaPoller         string
	MediaRetries        int
	// Events: the distinct ids the receiver took and the feed lists; every
	// POST that reached the receiver, those it failed on purpose, and the
	// repeated deliveries of an id it had taken; deliveries it refused
	// (bad signature, no event) and those of an id it had with another
	// body. The mismatches: a stored inbound message without its one
	// message.received, or with several ids; a status a send passed
	// through without its event, or with several ids; an event of no
	// stored change; ids in only one of the feed and the receiver.
	EventsReceived        int
	EventsInFeed          int
	EventAttempts         int
	EventsFailedOnPurpose int
	EventDuplicates       int
	EventsBadSignature    int
	EventsNotEvent        int
	EventsChangedBody     int
	ReceiverRestarts      int
	EventsDLQ             int
	ReceivedMissing       int
	ReceivedDoubled       int
	StatusEventsMissing   int
	StatusEventsDoubled   int
	EventsUnfounded       int
	FeedOnly              int
	ReceiverOnly          int
	// Deletions: the people erased mid-traffic and how many erasures
	// ended done; whether the tenant offboarded mid-traffic ended deleted,
	// and the tenant.deleted ids the receiver took for it. The
	// mismatches: anything of an erased person dated before the erasure
	// readable again (a message, a send, a feed event, the contact), any
	// of their or the offboarded tenant's media objects still in the
	// bucket, and anything readable of the offboarded tenant.
	Erasures            int
	ErasuresDone        int
	Offboarded          int
	TenantDeletedEvents int
	ErasedBack          int
	ErasedMediaBack     int
	OffboardedBack      int
	// What was sent again once they were done: kept deliveries naming
	// them, and dead letters moved back to their queues.
	ReplayedAfterDeletion int
	RedrivenAfterDeletion int
	Duration              time.Duration
	Dir                   string
}

func (r result) ok() bool {
	return r.Lost == 0 && r.Doubled == 0 && r.WrongStatus == 0 && r.DLQUnexplained == 0 && r.TenantsWrong == 0 &&
		r.Unexpected == 0 && r.SendsUnresolved == 0 && r.SendsMismatched == 0 && r.SendsRefused == 0 &&
		r.MediaWrong == 0 && r.Deliveries > 0 && r.eventsOK() && r.deletionsOK()
}

// deletionsOK: every erasure and the offboarding finished, the receiver
// took one tenant.deleted, and nothing deleted came back.
func (r result) deletionsOK() bool {
	return r.ErasuresDone == r.Erasures && r.TenantDeletedEvents == r.Offboarded && r.ErasedBack == 0 &&
		r.ErasedMediaBack == 0 && r.OffboardedBack == 0
}

// eventsOK: every change reached the receiver under one id, no event came
// without its change, and the feed holds the receiver's ids.
func (r result) eventsOK() bool {
	return r.EventsReceived > 0 && r.EventsBadSignature == 0 && r.EventsNotEvent == 0 && r.ReceivedMissing == 0 &&
		r.ReceivedDoubled == 0 && r.StatusEventsMissing == 0 && r.StatusEventsDoubled == 0 && r.EventsUnfounded == 0 &&
		r.FeedOnly == 0 && r.ReceiverOnly == 0
}

func (r result) print(w io.Writer) {
	for _, l := range []struct {
		k string
		v any
	}{
		{"deliveries", r.Deliveries}, {"delivery_attempts", r.DeliveryAttempts},
		{"faults_injected", r.FaultsInjected}, {"faults_aws", r.AWSFaults}, {"faults_kapso_api", r.KapsoFaults},
		{"restarts", r.Restarts}, {"messages_checked", r.Messages}, {"kapso_failed_deliveries", r.FailedDeliveries},
		{"lost", r.Lost}, {"doubled", r.Doubled}, {"wrong_status", r.WrongStatus}, {"unexpected", r.Unexpected},
		{"tenants_wrong", r.TenantsWrong}, {"dlq", r.DLQ}, {"dlq_unexplained", r.DLQUnexplained},
		{"sends", r.Sends}, {"sent_by_kapso", r.SentByKapso}, {"sends_failed_unsent", r.SendsFailed},
		{"sends_unresolved", r.SendsUnresolved}, {"sends_mismatched", r.SendsMismatched}, {"sends_refused", r.SendsRefused},
		{"media", r.Media}, {"media_stored", r.MediaStored}, {"media_failed_checksum", r.MediaFailedChecksum},
		{"media_wrong", r.MediaWrong}, {"media_fault_windows", r.MediaFaultWindows}, {"media_poller", r.MediaPoller}, {"media_retries", r.MediaRetries},
		{"events_received", r.EventsReceived}, {"events_in_feed", r.EventsInFeed}, {"event_attempts", r.EventAttempts},
		{"events_failed_on_purpose", r.EventsFailedOnPurpose}, {"event_duplicates", r.EventDuplicates},
		{"receiver_restarts", r.ReceiverRestarts}, {"events_bad_signature", r.EventsBadSignature},
		{"events_not_event", r.EventsNotEvent}, {"events_changed_body", r.EventsChangedBody}, {"events_dlq", r.EventsDLQ},
		{"received_missing", r.ReceivedMissing}, {"received_doubled", r.ReceivedDoubled},
		{"status_events_missing", r.StatusEventsMissing}, {"status_events_doubled", r.StatusEventsDoubled},
		{"events_unfounded", r.EventsUnfounded}, {"events_feed_only", r.FeedOnly}, {"events_receiver_only", r.ReceiverOnly},
		{"erasures", r.Erasures}, {"erasures_done", r.ErasuresDone}, {"offboarded", r.Offboarded},
		{"tenant_deleted_events", r.TenantDeletedEvents}, {"erased_back", r.ErasedBack},
		{"erased_media_back", r.ErasedMediaBack}, {"offboarded_back", r.OffboardedBack},
		{"replayed_after_deletion", r.ReplayedAfterDeletion}, {"redriven_after_deletion", r.RedrivenAfterDeletion},
		{"duration_s", fmt.Sprintf("%.1f", r.Duration.Seconds())},
	} {
		fmt.Fprintf(w, "%s %v\n", l.k, l.v)
	}
}

// Secrets shared by the simulator, this driver and the child.
const (
	kapsoKey      = "chaos-kapso-api-key"
	projectSecret = "chaos-project-webhook-secret"
	metaSecret    = "chaos-meta-app-secret"
	bridgeToken   = "chaos-bridge-token"
	queuePrefix   = "kb-local-"
)

// chaos is one run in progress.
type chaos struct {
	cfg    config
	log    io.Writer
	sim    *kapsosim.Simulator
	simURL string
	kapso  *faults.HTTP
	meta   *faults.HTTP // Kapso's Meta proxy, failing like the Platform API
	wire   *wire
	br     *bridge
	sqs    *sqs.Client
	s3     *s3.Client
	http   *http.Client
	dir    string

	rngMu sync.Mutex
	rng   *rand.Rand

	restarts atomic.Int64
	metaSent atomic.Int64 // Meta deliveries made by the driver (distinct bodies)
	replays  atomic.Int64 // duplicates sent again by the driver
	// passMu keeps a SIGKILL from landing in a reconciler pass: a killed
	// pass holds the reconciler's lease until its deadline (an hour here,
	// where the child's own ticker is off), and every later pass skips.
	passMu sync.Mutex
	// passCancel ends the pass in flight: its run stops and releases the
	// lease before the kill.
	passCancelMu sync.Mutex
	passCancel   context.CancelFunc
	// killPending holds back new passes while a kill waits for one to end.
	killPending atomic.Bool
	// passesHeld is when passes may run again (Unix nanoseconds): after an
	// offboarding's settle.
	passesHeld atomic.Int64
	expect     *expectations
	sends      *sends
	media      *mediaRun
	del        *deletions
	tenants    []*tenant
	faultPath  string
	// recv is the SaaS's event webhook endpoint.
	recv *receiver
	// What verify read: every expected message, the messages stored, and
	// every send at its end.
	checked    map[string]*expected
	stored     map[string]storedMessage
	back       map[string]bool
	finalSends map[string]sendView
}

func (c *chaos) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "%s chaos: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (c *chaos) intn(n int) int {
	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	return c.rng.IntN(n)
}

// deliveries counts every distinct delivery made so far: the simulator's
// (by idempotency key, the re-sent singles of a failed batch included),
// the driver's Meta deliveries, and every duplicate sent again.
func (c *chaos) deliveries() int {
	return c.wire.distinct() + int(c.metaSent.Load()) + int(c.replays.Load()) + int(c.wire.concurrent.Load())
}

func run(ctx context.Context, cfg config) (res result, err error) {
	began := time.Now()
	defer func() { res.Duration = time.Since(began) }()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	c := &chaos{cfg: cfg, log: cfg.Progress, rng: rand.New(rand.NewPCG(cfg.Seed, 1)), expect: newExpectations(), sends: newSends(),
		del: &deletions{}, http: &http.Client{Timeout: 20 * time.Second}}
	root, err := services.FindRepoRoot()
	if err != nil {
		return res, err
	}
	if c.dir, err = os.MkdirTemp("", "kapso-bridge-chaos-"); err != nil {
		return res, err
	}
	res.Dir = c.dir
	c.logf("working in %s", c.dir)
	bin, err := buildBridge(ctx, root, c.dir)
	if err != nil {
		return res, err
	}
	c.logf("starting DynamoDB Local and fauxqs")
	svcLog, _ := os.Create(filepath.Join(c.dir, "services.log"))
	defer svcLog.Close()
	svc, err := services.Start(ctx, services.Options{RepoRoot: root, Log: svcLog})
	if err != nil {
		return res, err
	}
	defer svc.Stop()
	c.sqs = sqs.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) })
	c.s3 = s3media.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) })

	port, err := freePort()
	if err != nil {
		return res, err
	}
	bridgeURL := "http://127.0.0.1:" + strconv.Itoa(port)
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	c.simURL = "http://" + simLn.Addr().String()
	c.wire = newWire(cfg.Seed, cfg.DupRate)
	faultLog, err := os.OpenFile(filepath.Join(c.dir, "faults.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return res, err
	}
	defer faultLog.Close()
	c.faultPath = faultLog.Name()
	simLog, _ := os.Create(filepath.Join(c.dir, "simulator.log"))
	defer simLog.Close()
	c.sim = kapsosim.New(kapsosim.Options{PublicURL: c.simURL, APIKey: kapsoKey,
		ProjectWebhookURL: routes.ProjectWebhookURL(bridgeURL), ProjectWebhookSecret: projectSecret,
		TimeScale: cfg.TimeScale, Seed: cfg.Seed, HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: c.wire},
		Logger: slog.New(slog.NewTextHandler(simLog, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	c.meta = &faults.HTTP{Next: c.sim, Prefix: "/meta/", Rate: cfg.FaultRate, Seed: cfg.Seed ^ 0xdef,
		Hold: time.Second, RetryAfter: 1, Log: faultLog}
	c.kapso = &faults.HTTP{Next: c.meta, Prefix: "/platform/", Rate: cfg.FaultRate, Seed: cfg.Seed ^ 0xabc,
		Hold: time.Second, RetryAfter: 1, Log: faultLog}
	simSrv := &http.Server{Handler: c.kapso, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer func() {
		c.sim.Close()
		_ = simSrv.Close()
	}()

	secret, err := bridgeevents.NewSecret()
	if err != nil {
		return res, err
	}
	if c.recv, err = newReceiver(secret, cfg.ReceiverFailRate, cfg.Seed); err != nil {
		return res, err
	}
	if err := c.recv.start(); err != nil {
		return res, err
	}
	defer c.recv.stop()

	c.br = &bridge{bin: bin, url: bridgeURL, logPath: filepath.Join(c.dir, "kapso-bridge.log"),
		env: append(os.Environ(),
			"PORT="+strconv.Itoa(port), "PUBLIC_BASE_URL="+bridgeURL,
			"KAPSO_API_BASE_URL="+c.simURL+"/platform/v1", "KAPSO_API_KEY="+kapsoKey,
			"KAPSO_META_BASE_URL="+c.simURL+"/meta/whatsapp",
			// A claim a kill cut short, never sent, fails within the run.
			"OUTBOUND_UNCONFIRMED_AFTER=20s",
			"KAPSO_PROJECT_WEBHOOK_SECRET="+projectSecret, "META_APP_SECRET="+metaSecret,
			"BRIDGE_API_TOKEN="+bridgeToken, "RECONCILE_EVERY=1h", "LOG_LEVEL=warn",
			"KB_DYNAMODB_ENDPOINT="+svc.DynamoDBEndpoint, "KB_SQS_ENDPOINT="+svc.SQSEndpoint,
			"KB_FAULT_RATE="+strconv.FormatFloat(cfg.FaultRate, 'f', -1, 64),
			"KB_FAULT_SEED="+strconv.FormatUint(cfg.Seed, 10), "KB_FAULT_LOG="+c.faultPath,
			"KB_QUEUE_VISIBILITY=15s", "KB_POLLERS=4", "KB_AWS_RETRY_MAX_BACKOFF=200ms",
			// Every event POSTed to the receiver, retried on a schedule of
			// seconds.
			"EVENTS_WEBHOOK_URL="+c.recv.url(), "EVENTS_WEBHOOK_SECRET="+secret,
			"KB_EVENT_WEBHOOKS_SCHEDULE="+cfg.EventSchedule)}
	c.logf("starting kapso-bridge at %s", bridgeURL)
	if err := c.br.start(ctx); err != nil {
		return res, err
	}
	defer c.br.stop()
	mediaCtx, stopMedia := context.WithCancel(ctx)
	var mediaWG sync.WaitGroup
	defer func() { stopMedia(); mediaWG.Wait() }()
	if err := c.startMedia(mediaCtx, svc, &mediaWG); err != nil {
		return c.collect(res), err
	}

	// The tenants, their traffic, the settle; then the erasures and the
	// offboarding finish, and what they deleted is sent again.
	for _, step := range []func(context.Context) error{c.setupTenants, c.traffic, c.settle, c.settleSends,
		c.finishDeletions, c.readableAfterDeletion, c.bringBack, c.settleSends} {
		if err := step(ctx); err != nil {
			return c.collect(res), err
		}
	}
	res = c.collect(res)
	if err := c.verify(ctx, &res); err != nil {
		return res, err
	}
	return res, nil
}

// collect fills the counters known without the read API.
func (c *chaos) collect(res result) result {
	res.Deliveries = c.deliveries()
	res.DeliveryAttempts = int(c.wire.attempts.Load()) + int(c.wire.concurrent.Load()) + int(c.replays.Load())
	res.KapsoFaults = c.kapso.Total() + c.meta.Total()
	res.AWSFaults = countLines(c.faultPath, " aws ")
	res.FaultsInjected = res.AWSFaults + res.KapsoFaults
	res.Restarts = int(c.restarts.Load())
	res.FailedDeliveries = len(c.sim.FailedDeliveries())
	c.del.mu.Lock()
	res.ReplayedAfterDeletion, res.RedrivenAfterDeletion = c.del.replayed, len(c.del.redriven)
	c.del.mu.Unlock()
	if m := c.media; m != nil {
		res.MediaFaultWindows = fmt.Sprintf("failing:%d,expired:%d,wrong_sha256:%d", m.failing.Load(), m.expired.Load(),
			m.wrongSHA.Load())
		res.MediaPoller = "kapso-bridge"
		if m.ownPoller {
			res.MediaPoller = "chaos"
			res.MediaRetries = countLines(filepath.Join(c.dir, "media-worker.log"), "media not copied yet")
		}
	}
	return res
}

func countLines(path, substr string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range splitLines(string(b)) {
		if containsStr(line, substr) {
			n++
		}
	}
	return n
}

// cancelPass ends a reconciler pass in flight, and gives its run a moment
// to release the lease.
func (c *chaos) cancelPass() {
	c.passCancelMu.Lock()
	cancel := c.passCancel
	c.passCancelMu.Unlock()
	if cancel != nil {
		cancel()
		time.Sleep(time.Second)
	}
}

// restartBridge kills the child with SIGKILL and starts it again.
func (c *chaos) restartBridge(ctx context.Context) error {
	c.killPending.Store(true)
	c.cancelPass()
	c.passMu.Lock()
	defer c.passMu.Unlock()
	defer c.killPending.Store(false)
	c.logf("SIGKILL kapso-bridge (pid %d)", c.br.cmd.Process.Pid)
	c.br.kill()
	time.Sleep(time.Duration(200+c.intn(800)) * time.Millisecond)
	if err := c.br.start(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	c.restarts.Add(1)
	c.logf("kapso-bridge started again (pid %d)", c.br.cmd.Process.Pid)
	return nil
}

var errGaveUp = errors.New("gave up")

func splitLines(s string) []string { return strings.Split(s, "\n") }

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
