package reconcile_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycle"
	"github.com/kapso-bridge/kapso-bridge/shared/memstore"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

// rig is the in-memory stores (their DynamoDB adapters pass the same
// contract suite), a simulated Kapso, and the lifecycle worker the
// reconciler confirms through.
type rig struct {
	sim     *kapsosim.Simulator
	client  *kapsoapi.Client
	store   *memstore.Onboarding
	numbers *memstore.Numbers
	hints   *memstore.Hints
	worker  *lifecycle.Worker
	rec     *reconcile.Reconciler
}

func newRig(t *testing.T, opts kapsosim.Options) *rig {
	t.Helper()
	sim := kapsosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	client := kapsoapi.New(srv.URL+"/platform/v1", opts.APIKey, kapsoapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	store, numbers, hints := &memstore.Onboarding{}, &memstore.Numbers{}, &memstore.Hints{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	worker := &lifecycle.Worker{Store: store, Numbers: numbers, Kapso: client, PublicBaseURL: "https://bridge.example",
		Rejects: &memstore.Rejects{}, Log: log}
	return &rig{sim: sim, client: client, store: store, numbers: numbers, hints: hints, worker: worker,
		rec: &reconcile.Reconciler{Store: store, Numbers: numbers, Kapso: client, Confirmer: worker, Hints: hints,
			Checkpoints: &memstore.Checkpoints{}, Log: log}}
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
	link, err := client.CreateSetupLink(ctx, customer, kapsoapi.SetupLinkOptions{})
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
	if err != nil || report.LinksExpired != 1 || report.NumbersConfirmed != 1 || report.Errors != 0 {
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
	if err != nil || report.LinksExpired != 0 || report.NumbersConfirmed != 0 || report.WebhooksChecked != 0 {
		t.Fatalf("second report %+v %v", report, err)
	}
}

// connectedWithoutWebhook connects a number for the tenant as a confirmation
// whose webhook registration failed at the time leaves it: confirmed in the
// tenant's facts, and listed as missing its webhook.
func (r *rig) connectedWithoutWebhook(t *testing.T, tenantID string) string {
	t.Helper()
	ctx := context.Background()
	link, err := r.client.CreateSetupLink(ctx, r.customer(t, tenantID), kapsoapi.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, number, err := r.sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	created := onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: number}, time.Now())
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
	if err != nil || report.WebhooksChecked != 1 || report.Errors != 0 || len(r.sim.Webhooks(number)) != 1 {
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
	*memstore.Onboarding
	failed bool
}

func (s *factsFailingOnce) AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error) {
	if f.Kind == onboarding.FactWebhookRegistered && !s.failed {
		s.failed = true
		return onboarding.Connection{}, onboarding.Change{}, errors.New("store unavailable")
	}
	return s.Onboarding.AppendFact(ctx, tenantID, f)
}

// listFailingOnce fails the first WebhookRecorded, as an outage after the
// fact is stored and before the number leaves the list would.
type listFailingOnce struct {
	*memstore.Numbers
	failed bool
}

func (s *listFailingOnce) WebhookRecorded(ctx context.Context, phoneNumberID string) error {
	if !s.failed {
		s.failed = true
		return errors.New("store unavailable")
	}
	return s.Numbers.WebhookRecorded(ctx, phoneNumberID)
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
		{"fact not stored", func(r *rig) { r.worker.Store = &factsFailingOnce{Onboarding: r.store} }, false},
		{"number not taken off the list", func(r *rig) { r.worker.Numbers = &listFailingOnce{Numbers: r.numbers} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, kapsosim.Options{APIKey: "k"})
			number := r.connectedWithoutWebhook(t, "acme")
			tt.interrupt(r)

			report, err := r.rec.Run(ctx)
			if err != nil || report.WebhooksChecked != 1 || report.Errors != 1 {
				t.Fatalf("interrupted run: %+v %v", report, err)
			}
			if registered, _ := r.webhookView(t, "acme", number); registered != tt.viewAfter || r.missing(t) != 1 {
				t.Fatalf("after the interrupted run: view registered %v, %d numbers listed; want %v, 1",
					registered, r.missing(t), tt.viewAfter)
			}

			report, err = r.rec.Run(ctx)
			if err != nil || report.WebhooksChecked != 1 || report.Errors != 0 {
				t.Fatalf("repairing run: %+v %v", report, err)
			}
			if registered, facts := r.webhookView(t, "acme", number); !registered || facts != 1 || r.missing(t) != 0 {
				t.Fatalf("after the repairing run: registered %v by %d facts, %d numbers listed", registered, facts, r.missing(t))
			}
			if n := len(r.sim.Webhooks(number)); n != 1 {
				t.Fatalf("%d webhooks at Kapso, want 1", n)
			}
			if report, _ := r.rec.Run(ctx); report.WebhooksChecked != 0 {
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
	link, err := r.client.CreateSetupLink(ctx, r.customer(t, "acme"), kapsoapi.SetupLinkOptions{})
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
	if err != nil || report.RedirectsReplayed != 1 || report.Errors != 0 {
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
	if err != nil || report.RedirectsReplayed != 0 || report.NumbersConfirmed != 0 {
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
		if err != nil || report.RedirectsReplayed != 0 || report.Errors != 1 {
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
		time.Sleep(2 * time.Millisecond) // distinct update times
	}
	// One full run registers the webhooks and checks every number: the
	// tenants are settled and the sweep is back at its start.
	if _, err := r.rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	r.rec.Limit = 1
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
		if rep.NumbersChecked != 1 {
			t.Fatalf("run %d checked %d numbers", run, rep.NumbersChecked)
		}
	}
	if st := status(); st != onboarding.NumberStatusDisconnected {
		t.Fatalf("after three runs: %s", st)
	}
}
