package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/app/reconcileapp"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycleworker"
	"github.com/kapso-bridge/kapso-bridge/shared/messagesworker"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// rig is the reconciler on one backend's stores (in memory, or the
// DynamoDB adapters on DynamoDB Local with the messages queue on fauxqs), a
// simulated Kapso, the lifecycle worker it confirms through, and the
// messages worker its catch-up feeds.
type rig struct {
	sim      *kapsosim.Simulator
	client   *kapsoapi.Client
	proxy    *kapsoapi.MetaProxy
	store    onboarding.Store
	numbers  numberStore
	hints    onboarding.RedirectHints
	messages storetest.MessagesReader
	worker   *lifecycleworker.Worker
	rec      *reconcile.Reconciler
	// calls counts the DynamoDB calls of the messages stores (nil in memory).
	calls *awstest.Calls
	// queued counts what the messages queue holds (nil in memory).
	queued func(t *testing.T) int
	// clock is what the rig's workers, facts and simulated Kapso read: the
	// real time, until a test moves it ahead.
	clock *testclock.Running
}

// numberStore is what the rig needs of the number store.
type numberStore interface {
	lifecycleworker.NumberStore
	NumbersMissingWebhook(ctx context.Context, limit int) ([]onboarding.Number, error)
}

// backends are the rig's stores: in memory, where the catch-up hands its
// deliveries straight to the messages worker, and DynamoDB Local, where
// they go through a fauxqs queue read by a poller, as in the local stack.
var backends = map[string]func(t *testing.T, w *messagesworker.Worker) backend{
	"memory": func(t *testing.T, w *messagesworker.Worker) backend {
		return backend{store: &memstore.Onboarding{}, numbers: &memstore.Numbers{}, hints: &memstore.Hints{},
			checkpoints: &memstore.Checkpoints{}, messages: &memstore.Messages{}, pending: &memstore.Pending{},
			rejects: &memstore.Rejects{}, queue: directQueue{worker: w}}
	},
	"dynamodb": func(t *testing.T, w *messagesworker.Worker) backend {
		db, table := awstest.DynamoDB(t), awstest.Bridge(awstest.Tables(t))
		// The messages worker's stores (and the catch-up's reads of them)
		// have their calls counted.
		calls := &awstest.Calls{}
		mdb := awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
		client := awstest.SQS(t)
		q := awstest.Queues(t)[schema.Messages.ID]
		poller := &sqsqueue.Poller{Client: client, QueueURL: q.URL, Handler: w.Handle, BatchSize: 10,
			Timeout: 30 * time.Second, Log: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); poller.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return backend{store: &dynamo.Onboarding{DB: db, Table: table}, numbers: &dynamo.Numbers{DB: db, Table: table},
			hints: &dynamo.Hints{DB: db, Table: table}, checkpoints: &dynamo.Checkpoints{DB: db, Table: table},
			messages: &dynamo.Messages{DB: mdb, Table: table}, pending: &dynamo.Pending{DB: mdb, Table: table},
			rejects: &dynamo.Rejects{DB: mdb, Table: table}, queue: &sqsqueue.DeliveryQueue{Client: client}, queueURL: q.URL,
			calls: calls, queued: func(t *testing.T) int { return awstest.Queued(t, client, q.URL) }}
	},
}

type backend struct {
	store       onboarding.Store
	numbers     numberStore
	hints       onboarding.RedirectHints
	checkpoints reconcile.Checkpoints
	messages    interface {
		messaging.Store
		storetest.MessagesReader
	}
	pending messaging.PendingStore
	rejects interface {
		Keep(context.Context, string, string, time.Time, []byte) error
	}
	queue    envelope.Enqueuer
	queueURL string
	// calls counts the DynamoDB calls of the messages stores (nil in memory).
	calls *awstest.Calls
	// queued counts what the queue holds (nil in memory).
	queued func(t *testing.T) int
}

// directQueue hands a delivery to the messages worker as SQS would.
type directQueue struct{ worker *messagesworker.Worker }

func (q directQueue) Send(ctx context.Context, _ string, d envelope.Delivery, body []byte, _ bool) error {
	msg, err := envelope.Encode(d, body)
	if err != nil {
		return err
	}
	res, err := q.worker.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: d.Key, Body: msg}}})
	if err == nil && len(res.BatchItemFailures) > 0 {
		err = fmt.Errorf("the messages worker failed %s", d.Key)
	}
	return err
}

// each runs f on a fresh rig of every backend.
func each(t *testing.T, opts kapsosim.Options, f func(t *testing.T, r *rig)) {
	for _, name := range []string{"memory", "dynamodb"} {
		t.Run(name, func(t *testing.T) { f(t, newBackendRig(t, opts, backends[name])) })
	}
}

func newRig(t *testing.T, opts kapsosim.Options) *rig {
	return newBackendRig(t, opts, backends["memory"])
}

func newBackendRig(t *testing.T, opts kapsosim.Options, newBackend func(*testing.T, *messagesworker.Worker) backend) *rig {
	t.Helper()
	clock := testclock.NewRunning()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := kapsosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	client := kapsoapi.New(srv.URL+"/platform/v1", opts.APIKey, kapsoapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	proxy := kapsoapi.NewMetaProxy(srv.URL+"/meta/whatsapp", "", opts.APIKey, kapsoapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mw := &messagesworker.Worker{Payloads: &memstore.Payloads{}, Log: log}
	b := newBackend(t, mw)
	mw.Store, mw.Pending, mw.Numbers, mw.Rejects = b.messages, b.pending, b.numbers, b.rejects
	worker := &lifecycleworker.Worker{Store: b.store, Numbers: b.numbers, Kapso: client, PublicBaseURL: "https://bridge.example",
		Rejects: &memstore.Rejects{}, Log: log, Now: clock.Now}
	return &rig{sim: sim, client: client, proxy: proxy, store: b.store, numbers: b.numbers, hints: b.hints, messages: b.messages,
		worker: worker, calls: b.calls, queued: b.queued, clock: clock,
		rec: &reconcile.Reconciler{Store: b.store, Numbers: b.numbers, Kapso: client, Meters: reconcileapp.KapsoMeters{},
			Confirmer: worker, Hints: b.hints,
			Checkpoints: b.checkpoints, Queue: b.queue, MessagesQueueURL: b.queueURL, Messages: b.messages, Log: log, Now: clock.Now,
			// Unpaced: the simulator has no rate limit unless a test sets one.
			Limits: reconcile.Limits{KapsoPerMinute: 1 << 30}}}
}

// settled waits until the messages queue holds nothing: the poller deletes
// a delivery once the worker has applied it, so what a run queued is then
// applied. In memory the queue hands each delivery over at once.
func (r *rig) settled(t *testing.T) {
	t.Helper()
	if r.queued != nil {
		eventually(t, "the messages queue drained", func() bool { return r.queued(t) == 0 })
	}
}

// customer creates the tenant and its Kapso customer, as the tenant API does.
func (r *rig) customer(t *testing.T, tenantID string) string {
	t.Helper()
	customer, err := onboarding.EnsureCustomer(context.Background(), r.store, tenantID, "", func(ctx context.Context) (string, error) {
		c, err := r.client.CreateCustomer(ctx, tenantID, tenantID)
		return c.ID, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return customer
}

func TestReconcilerExpiresAndConfirms(t *testing.T) {
	ctx := context.Background()
	// A project webhook URL that would receive the connection event; the
	// drop mode loses it, as an outage past Kapso's retries would.
	r := newRig(t, kapsosim.Options{APIKey: "k", ProjectWebhookURL: "http://127.0.0.1:1/webhooks/kapso"})
	r.sim.SetWebhookMode(kapsosim.ModeDrop)
	sim, client, store, rec := r.sim, r.client, r.store, r.rec

	// A stale link, created long ago and never used.
	past := time.Now().Add(-40 * 24 * time.Hour)
	_ = store.EnsureTenant(ctx, "stale", "")
	if _, err := store.RecordLink(ctx, "stale", onboarding.LinkDetails{SetupLinkID: "old-link", CreatedAt: past,
		ExpiresAt: past.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// A tenant who finished signup; the redirect was seen before Kapso listed
	// the number, and the webhook was dropped.
	customer := r.customer(t, "waiting")
	link, err := client.CreateSetupLink(ctx, customer, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RecordLink(ctx, "waiting", onboarding.LinkDetails{SetupLinkID: link.ID, CreatedAt: link.CreatedAt,
		ExpiresAt: link.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	_, number, err := sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	redirect := onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: link.ID, PhoneNumberID: number}, time.Now())
	if _, _, err := store.AppendFact(ctx, "waiting", redirect); err != nil {
		t.Fatal(err)
	}

	report, err := rec.Run(ctx)
	if err != nil || report.ExpiredLinks.Fixed != 1 || report.OpenTenants.Fixed != 1 || report.Errors != 0 {
		t.Fatalf("report %+v %v", report, err)
	}
	stale, _, _ := store.Load(ctx, "stale")
	if stale.Tenant.Status != onboarding.TenantExpired || stale.Attempts[0].Status != onboarding.AttemptExpired {
		t.Fatalf("stale tenant: %s %+v", stale.Tenant.Status, stale.Attempts)
	}
	waiting, _, _ := store.Load(ctx, "waiting")
	n, _ := waiting.PhoneNumber(number)
	if waiting.Tenant.Status != onboarding.TenantConnected || !n.WebhookRegistered || len(sim.Webhooks(number)) != 1 ||
		n.ConfirmedBy[0] != onboarding.SourceAPI {
		t.Fatalf("waiting tenant: %s %+v", waiting.Tenant.Status, n)
	}

	// A second run finds nothing left to do.
	report, err = rec.Run(ctx)
	if err != nil || report.ExpiredLinks.Fixed != 0 || report.OpenTenants.Fixed != 0 || report.MissingWebhooks.Checked != 0 {
		t.Fatalf("second report %+v %v", report, err)
	}
}

// connectedWithoutWebhook connects a number for the tenant as a confirmation
// whose webhook registration failed at the time leaves it: confirmed in the
// tenant's facts, and listed as missing its webhook.
func (r *rig) connectedWithoutWebhook(t *testing.T, tenantID string) string {
	t.Helper()
	ctx := context.Background()
	link, err := r.client.CreateSetupLink(ctx, r.customer(t, tenantID), onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, number, err := r.sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	waba, err := r.sim.BusinessAccountID(number)
	if err != nil {
		t.Fatal(err)
	}
	created := onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: number, BusinessAccountID: waba}, r.clock.Now())
	if _, _, err := r.store.AppendFact(ctx, tenantID, created); err != nil {
		t.Fatal(err)
	}
	if err := r.numbers.AddNumber(ctx, tenantID, number); err != nil {
		t.Fatal(err)
	}
	return number
}

// webhookView is what the tenant's connection says about the number's
// webhook, and how many facts record it.
func (r *rig) webhookView(t *testing.T, tenantID, number string) (registered bool, facts int) {
	t.Helper()
	conn, found, err := r.store.Load(context.Background(), tenantID)
	if err != nil || !found {
		t.Fatalf("load %s: %v %v", tenantID, found, err)
	}
	for _, f := range conn.Facts {
		if f.Kind == onboarding.FactWebhookRegistered {
			facts++
		}
	}
	n, _ := conn.PhoneNumber(number)
	return n.WebhookRegistered, facts
}

func (r *rig) missing(t *testing.T) int {
	t.Helper()
	missing, err := r.numbers.NumbersMissingWebhook(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return len(missing)
}

// A number left without a webhook (registration failed at the time) is
// registered by the next run.
func TestReconcilerRegistersMissingWebhooks(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, kapsosim.Options{APIKey: "k"})
	number := r.connectedWithoutWebhook(t, "acme")
	report, err := r.rec.Run(ctx)
	if err != nil || report.MissingWebhooks.Checked != 1 || report.Errors != 0 || len(r.sim.Webhooks(number)) != 1 {
		t.Fatalf("report %+v %v, webhooks %d", report, err, len(r.sim.Webhooks(number)))
	}
	if secret, err := r.numbers.Secret(ctx, number); err != nil || secret == "" {
		t.Fatalf("secret %q %v", secret, err)
	}
	if registered, facts := r.webhookView(t, "acme", number); !registered || facts != 1 || r.missing(t) != 0 {
		t.Fatalf("registered %v by %d facts, %d numbers still listed", registered, facts, r.missing(t))
	}
}

// factsFailingOnce loses the first WebhookRegistered fact, as an outage
// between the webhook's creation and its record would.
type factsFailingOnce struct {
	onboarding.Store
	failed bool
}

func (s *factsFailingOnce) AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error) {
	if f.Kind == onboarding.FactWebhookRegistered && !s.failed {
		s.failed = true
		return onboarding.Connection{}, onboarding.Change{}, errors.New("store unavailable")
	}
	return s.Store.AppendFact(ctx, tenantID, f)
}

// listFailingOnce fails the first WebhookRecorded, as an outage after the
// fact is stored and before the number leaves the list would.
type listFailingOnce struct {
	numberStore
	failed bool
}

func (s *listFailingOnce) WebhookRecorded(ctx context.Context, phoneNumberID string) error {
	if !s.failed {
		s.failed = true
		return errors.New("store unavailable")
	}
	return s.numberStore.WebhookRecorded(ctx, phoneNumberID)
}

// A registration interrupted between its two writes (the fact, then the
// number off the list) never loses the number: it stays listed, and the
// next run repairs the connection view and the list, without a second
// webhook at Kapso.
func TestInterruptedRegistrationIsRepairedByTheNextRun(t *testing.T) {
	tests := []struct {
		name      string
		interrupt func(r *rig)
		// viewAfter is whether the view shows the webhook after the failed run.
		viewAfter bool
	}{
		{"fact not stored", func(r *rig) { r.worker.Store = &factsFailingOnce{Store: r.store} }, false},
		{"number not taken off the list", func(r *rig) { r.worker.Numbers = &listFailingOnce{numberStore: r.numbers} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, kapsosim.Options{APIKey: "k"})
			number := r.connectedWithoutWebhook(t, "acme")
			tt.interrupt(r)

			report, err := r.rec.Run(ctx)
			if err != nil || report.MissingWebhooks.Checked != 1 || report.Errors != 1 {
				t.Fatalf("interrupted run: %+v %v", report, err)
			}
			if registered, _ := r.webhookView(t, "acme", number); registered != tt.viewAfter || r.missing(t) != 1 {
				t.Fatalf("after the interrupted run: view registered %v, %d numbers listed; want %v, 1",
					registered, r.missing(t), tt.viewAfter)
			}

			report, err = r.rec.Run(ctx)
			if err != nil || report.MissingWebhooks.Checked != 1 || report.Errors != 0 {
				t.Fatalf("repairing run: %+v %v", report, err)
			}
			if registered, facts := r.webhookView(t, "acme", number); !registered || facts != 1 || r.missing(t) != 0 {
				t.Fatalf("after the repairing run: registered %v by %d facts, %d numbers listed", registered, facts, r.missing(t))
			}
			if n := len(r.sim.Webhooks(number)); n != 1 {
				t.Fatalf("%d webhooks at Kapso, want 1", n)
			}
			if report, _ := r.rec.Run(ctx); report.MissingWebhooks.Checked != 0 {
				t.Fatalf("a third run still found work: %+v", report)
			}
		})
	}
}

// downQueue is the lifecycle queue while SQS is unavailable.
type downQueue struct{}

func (downQueue) Send(context.Context, string, envelope.Delivery, []byte, bool) error {
	return errors.New("sqs unavailable")
}

// A redirect while SQS was down, replayed: the browser's hint is kept in the
// store, and the next run applies it as the lifecycle worker would have.
func TestRedirectKeptWhileTheQueueWasDownIsReplayed(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, kapsosim.Options{APIKey: "k", ProjectWebhookURL: "http://127.0.0.1:1/webhooks/kapso"})
	r.sim.SetWebhookMode(kapsosim.ModeDrop)
	link, err := r.client.CreateSetupLink(ctx, r.customer(t, "acme"), onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.RecordLink(ctx, "acme", onboarding.LinkDetails{SetupLinkID: link.ID, CreatedAt: link.CreatedAt,
		ExpiresAt: link.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	_, number, err := r.sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	(&redirect.Handler{Store: r.store, Queue: downQueue{}, Hints: r.hints, LifecycleQueueURL: "lifecycle",
		AppSuccessURL: "https://app.example/connected", AppFailureURL: "https://app.example/failed"}).Register(mux)
	res := httptest.NewRecorder()
	mux.ServeHTTP(res, httptest.NewRequest(http.MethodGet,
		"/connect/success?setup_link_id="+link.ID+"&phone_number_id="+number, nil))
	if loc := res.Header().Get("Location"); res.Code != http.StatusFound || !strings.Contains(loc, "status=completed") {
		t.Fatalf("browser answered %d %s", res.Code, loc)
	}
	if kept, _ := r.hints.Redirects(ctx, 10); len(kept) != 1 {
		t.Fatalf("%d hints kept", len(kept))
	}

	report, err := r.rec.Run(ctx)
	if err != nil || report.Redirects.Fixed != 1 || report.Errors != 0 {
		t.Fatalf("report %+v %v", report, err)
	}
	conn, _, _ := r.store.Load(ctx, "acme")
	a, _ := conn.Attempt(link.ID)
	n, _ := conn.PhoneNumber(number)
	if a.Redirect == nil || a.Redirect.PhoneNumberID != number || conn.Tenant.Status != onboarding.TenantConnected ||
		!n.WebhookRegistered {
		t.Fatalf("after the replay: %s %+v %+v", conn.Tenant.Status, a, n)
	}
	if kept, _ := r.hints.Redirects(ctx, 10); len(kept) != 0 {
		t.Fatalf("%d hints left after the replay", len(kept))
	}

	report, err = r.rec.Run(ctx)
	if err != nil || report.Redirects.Fixed != 0 || report.OpenTenants.Fixed != 0 {
		t.Fatalf("second report %+v %v", report, err)
	}
}

// A hint that cannot be read stays where it is, an error on every run, and
// holds up nothing else.
func TestUnreadableRedirectHintIsKeptAndCounted(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, kapsosim.Options{APIKey: "k"})
	if err := r.hints.KeepRedirect(ctx, "redirect#broken", time.Now(), []byte("not a queue message")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		report, err := r.rec.Run(ctx)
		if err != nil || report.Redirects.Fixed != 0 || report.Errors != 1 {
			t.Fatalf("report %+v %v", report, err)
		}
	}
	if kept, _ := r.hints.Redirects(ctx, 10); len(kept) != 1 {
		t.Fatalf("%d hints left", len(kept))
	}
}

// The number check goes on where the last run stopped: with a budget of one
// number per run, the third tenant's disconnection (whose webhook never
// came) is found on the third run, and the sweep then starts over. Reading
// the least recently updated tenants afresh each run would check the first
// tenant forever.
func TestNumberCheckGoesOnWhereTheLastRunStopped(t *testing.T) {
	r := newRig(t, kapsosim.Options{APIKey: "k"})
	ctx := context.Background()
	var numbers []string
	for _, id := range []string{"t1", "t2", "t3"} {
		numbers = append(numbers, r.connectedWithoutWebhook(t, id))
		r.clock.Advance(time.Millisecond) // distinct update times
	}
	// One full run registers the webhooks and checks every number: the
	// tenants are settled and the sweep is back at its start.
	if _, err := r.rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	r.rec.Limits.Numbers = 1
	if _, _, err := r.sim.ChangeNumber(numbers[2], "disconnected", ""); err != nil && !errors.Is(err, kapsosim.ErrNoWebhook) {
		t.Fatal(err)
	}
	status := func() onboarding.PhoneNumberStatus {
		conn, _, err := r.store.Load(ctx, "t3")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := conn.PhoneNumber(numbers[2])
		return n.Status
	}
	for run := 1; run <= 3; run++ {
		if st := status(); st != onboarding.NumberStatusConnected {
			t.Fatalf("before run %d: %s", run, st)
		}
		rep, err := r.rec.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Numbers.Checked != 1 {
			t.Fatalf("run %d checked %d numbers", run, rep.Numbers.Checked)
		}
	}
	if st := status(); st != onboarding.NumberStatusDisconnected {
		t.Fatalf("after three runs: %s", st)
	}
}
