package reconcile_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// fastRetries runs Kapso's delivery retry schedule (2.5 minutes) in about
// 15 ms, so a delivery gives up within a test.
const fastRetries = 0.0001

// downIngest stands for the ingest while it answers 503 to everything:
// every delivery Kapso makes to it fails.
func downIngest(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// connected makes the tenant connected with its number's webhook
// registered at Kapso, as the lifecycle worker leaves it.
func (r *rig) connected(t *testing.T, tenantID string) string {
	t.Helper()
	number := r.connectedWithoutWebhook(t, tenantID)
	if err := r.worker.RegisterWebhook(context.Background(), tenantID, number); err != nil {
		t.Fatal(err)
	}
	return number
}

func (r *rig) run(t *testing.T, ctx context.Context) reconcile.Report {
	t.Helper()
	rep, err := r.rec.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, rep)
	}
	if rep.Errors != 0 {
		t.Fatalf("run counted %d errors: %+v", rep.Errors, rep)
	}
	return rep
}

// eventually polls f for up to 10 s: on DynamoDB the caught-up messages
// travel through the fauxqs queue to the messages worker.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	if !poll.Until(10*time.Second, 20*time.Millisecond, f) {
		t.Fatalf("not after 10 s: %s", what)
	}
}

func (r *rig) message(t *testing.T, tenantID, wamid string) messaging.StoredMessage {
	t.Helper()
	m, ok, err := r.messages.Message(context.Background(), tenantID, wamid)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return messaging.StoredMessage{}
	}
	return m
}

func (r *rig) timeline(t *testing.T, tenantID string) onboarding.Connection {
	t.Helper()
	conn, found, err := r.store.Load(context.Background(), tenantID)
	if err != nil || !found {
		t.Fatalf("load %s: %v %v", tenantID, found, err)
	}
	return conn
}

// reconcilerEntries are the tenant's timeline entries the reconciler made.
func reconcilerEntries(conn onboarding.Connection) []onboarding.Fact {
	var out []onboarding.Fact
	for _, f := range conn.Facts {
		// A health reading is no repair: every pass records the first.
		if f.Source == onboarding.SourceReconciler && f.Kind != onboarding.FactHealthRead {
			out = append(out, f)
		}
	}
	return out
}

// Each pass refreshes a connected number's health from the answer it
// already reads to check the number: the first reading and each change are
// recorded once, an unchanged health writes nothing, and no call is added.
func TestNumberHealthIsRefreshedWithinTheChecks(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		number := r.connected(t, "t1")
		health := func() (onboarding.NumberHealth, int) {
			t.Helper()
			conn := r.timeline(t, "t1")
			n, _ := conn.PhoneNumber(number)
			h, _ := n.Health()
			readings := 0
			for _, f := range conn.Facts {
				if f.Kind == onboarding.FactHealthRead {
					readings++
				}
			}
			return h, readings
		}
		first := r.run(t, ctx)
		if h, n := health(); n != 1 || h.QualityRating != "GREEN" || h.MessagingLimitTier != "TIER_1K" {
			t.Fatalf("first pass: %d readings, %+v", n, h)
		}
		r.clock.Advance(time.Minute)
		if err := r.sim.SetNumberHealth(number, kapsosim.NumberHealth{QualityRating: "RED"}); err != nil {
			t.Fatal(err)
		}
		second := r.run(t, ctx)
		if h, n := health(); n != 2 || h.QualityRating != "RED" {
			t.Fatalf("after RED: %d readings, %+v", n, h)
		}
		r.clock.Advance(time.Minute)
		third := r.run(t, ctx)
		if _, n := health(); n != 2 {
			t.Fatalf("an unchanged health was written again: %d readings", n)
		}
		if first.Kapso.Calls != second.Kapso.Calls || second.Kapso.Calls != third.Kapso.Calls || first.Numbers.Checked != 1 {
			t.Fatalf("calls %d, %d, %d; numbers %+v", first.Kapso.Calls, second.Kapso.Calls, third.Kapso.Calls, first.Numbers)
		}
		items, _, err := r.store.ListTenants(ctx, onboarding.TenantQuery{NeedsAttention: true})
		if err != nil || len(items) != 1 || !slices.Contains(items[0].Attention, onboarding.AttentionQualityLow) {
			t.Fatalf("needing attention: %+v, %v", items, err)
		}
	})
}

// Messages delivered while the ingest answered 503 for longer than Kapso's
// retries are recovered from the Platform API, with the right text,
// direction and final status, once; Kapso's failed-delivery record is what
// points the reconciler at the number.
func TestMessagesMissedWhileTheIngestWasDownAreRecovered(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k", TimeScale: fastRetries}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		r.worker.PublicBaseURL = downIngest(t)
		number := r.connected(t, "acme")
		in, err := r.sim.SendInbound(ctx, number, kapsosim.Inbound{Text: "is my order on its way?", FromPhone: "15550001111", Name: "Ana"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.sim.SendOutbound(ctx, number, kapsosim.Outbound{Text: "yes, tomorrow", ToPhone: "15550001111"})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []string{"delivered", "read"} {
			if _, err := r.sim.SetMessageStatus(ctx, out.WAMID, kapsosim.StatusChange{Status: st}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "Kapso gives up the four deliveries", func() bool { return len(r.sim.FailedDeliveries()) >= 4 })

		rep := r.run(t, ctx)
		if rep.FailedDeliveries.Found < 4 || rep.FailedDeliveries.Fixed != 1 || rep.Messages.Fixed < 2 || !rep.Finished {
			t.Fatalf("report %+v", rep)
		}
		eventually(t, "both messages stored", func() bool {
			return r.message(t, "acme", in.WAMID).Known && r.message(t, "acme", out.WAMID).Delivery.Status == messaging.Read
		})
		got := r.message(t, "acme", in.WAMID)
		if got.Text != "is my order on its way?" || got.Direction != messaging.Inbound {
			t.Fatalf("inbound: %+v", got.Message)
		}
		sent := r.message(t, "acme", out.WAMID)
		if sent.Text != "yes, tomorrow" || sent.Direction != messaging.Outbound || sent.Delivery.Status != messaging.Read {
			t.Fatalf("outbound: %+v %+v", sent.Message, sent.Delivery)
		}

		// Another run reads the same listing again (within the overlap),
		// finds both messages stored as Kapso lists them, hands nothing on
		// and changes nothing: still one conversation of two messages.
		if again := r.run(t, ctx); again.Messages.Checked < 2 || again.Messages.Found != 0 {
			t.Fatalf("second report %+v", again.Messages)
		}
		r.settled(t) // what it queued, if anything, is applied
		convs, _, err := r.messages.Conversations(ctx, "acme", messaging.Page{Limit: 10})
		if err != nil || len(convs) != 1 {
			t.Fatalf("%d conversations, %v", len(convs), err)
		}
		msgs, _, err := r.messages.ConversationMessages(ctx, "acme", convs[0].ID, messaging.Page{Limit: 10})
		if err != nil || len(msgs) != 2 {
			t.Fatalf("%d messages in the conversation, %v", len(msgs), err)
		}
		if again := r.message(t, "acme", out.WAMID); again.Delivery.Status != messaging.Read {
			t.Fatalf("status moved back to %s", again.Delivery.Status)
		}
	})
}

// A message whose webhook Kapso never sent at all (no failed delivery to
// point at it) is found by the number's turn in the sweep.
func TestDroppedMessageWebhookIsRecoveredByTheSweep(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		r.worker.PublicBaseURL = downIngest(t)
		number := r.connected(t, "acme")
		r.run(t, ctx) // the number's mark is set
		if err := r.sim.SetNumberWebhookMode(number, "drop"); err != nil {
			t.Fatal(err)
		}
		in, err := r.sim.SendInbound(ctx, number, kapsosim.Inbound{Text: "hello", FromBSUID: "US.1234567890123456789"})
		if err != nil {
			t.Fatal(err)
		}
		rep := r.run(t, ctx)
		if rep.Messages.Found != 1 || rep.Messages.Fixed != 1 || rep.FailedDeliveries.Found != 0 {
			t.Fatalf("report %+v", rep)
		}
		eventually(t, "the message stored", func() bool { return r.message(t, "acme", in.WAMID).Text == "hello" })
	})
}

// A phone_number.created webhook the simulator dropped is recovered: the
// first connection by the check of tenants with an open attempt, and a
// second number of an already connected tenant by the number sweep; each
// on the timeline as the reconciler's finding.
func TestDroppedConnectionsAreRecovered(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k", ProjectWebhookURL: "http://127.0.0.1:1/webhooks/kapso"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		r.sim.SetWebhookMode(kapsosim.ModeDrop)
		link := r.recordedLink(t, "acme", r.customer(t, "acme"))
		_, first, err := r.sim.CompleteLink(link.ID, "dedicated")
		if err != nil {
			t.Fatal(err)
		}
		rep := r.run(t, ctx)
		conn := r.timeline(t, "acme")
		if n, _ := conn.PhoneNumber(first); rep.OpenTenants.Fixed != 1 || conn.Tenant.Status != onboarding.TenantConnected ||
			n.Status != onboarding.NumberStatusConnected || !n.WebhookRegistered {
			t.Fatalf("after the first run: %+v; %s %+v", rep, conn.Tenant.Status, n)
		}

		// A second number through a link the tenant API recorded; its
		// webhook is dropped too, and no browser comes back.
		link2 := r.recordedLink(t, "acme", conn.Tenant.KapsoCustomerID)
		_, second, err := r.sim.CompleteLink(link2.ID, "dedicated")
		if err != nil {
			t.Fatal(err)
		}
		rep = r.run(t, ctx)
		conn = r.timeline(t, "acme")
		n, _ := conn.PhoneNumber(second)
		if rep.UnknownNumbers.Found != 1 || rep.UnknownNumbers.Fixed != 1 || n.Status != onboarding.NumberStatusConnected ||
			!n.WebhookRegistered || len(r.sim.Webhooks(second)) != 1 {
			t.Fatalf("after the second run: %+v; %+v", rep, n)
		}
		found := 0
		for _, f := range reconcilerEntries(conn) {
			if f.Kind == onboarding.FactAPIConfirmed && strings.HasPrefix(f.Reason, "found by the reconciler") {
				found++
			}
		}
		if found != 2 {
			t.Fatalf("%d confirmations found by the reconciler on the timeline, want 2: %+v", found, conn.Facts)
		}
		if rep := r.run(t, ctx); rep.UnknownNumbers.Found != 0 || rep.OpenTenants.Found != 0 {
			t.Fatalf("a third run found more: %+v", rep)
		}
	})
}

// A webhook Kapso paused, and one pointed elsewhere, are made to deliver
// to kapso-bridge again, once, each repair on the timeline.
func TestPausedAndRetargetedWebhooksAreRepaired(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		number := r.connected(t, "acme")
		ours := r.sim.Webhooks(number)[0].URL
		inactive := false
		if _, err := r.sim.SetWebhookState(number, &inactive, ""); err != nil {
			t.Fatal(err)
		}
		if rep := r.run(t, ctx); rep.Webhooks.Found != 1 || rep.Webhooks.Fixed != 1 {
			t.Fatalf("report %+v", rep)
		}
		if h := r.sim.Webhooks(number); len(h) != 1 || !h[0].Active || h[0].URL != ours {
			t.Fatalf("after the repair: %+v", h)
		}
		if rep := r.run(t, ctx); rep.Webhooks.Found != 0 || rep.Webhooks.Checked != 1 {
			t.Fatalf("a second run: %+v", rep)
		}

		if _, err := r.sim.SetWebhookState(number, nil, "https://elsewhere.example/hook"); err != nil {
			t.Fatal(err)
		}
		if rep := r.run(t, ctx); rep.Webhooks.Fixed != 1 {
			t.Fatalf("report %+v", rep)
		}
		if h := r.sim.Webhooks(number); len(h) != 1 || !h[0].Active || h[0].URL != ours {
			t.Fatalf("after pointing back: %+v", h)
		}
		var reasons []string
		for _, f := range reconcilerEntries(r.timeline(t, "acme")) {
			if f.Kind == onboarding.FactWebhookRegistered {
				reasons = append(reasons, f.Reason)
			}
		}
		if len(reasons) != 2 || !strings.Contains(reasons[0], "inactive") || !strings.Contains(reasons[1], "elsewhere.example") {
			t.Fatalf("timeline reasons %q", reasons)
		}
	})
}

// A link whose creation timed out after Kapso made it (and revoked the
// tenant's previous link) is adopted, so the tenant has exactly the one
// active link Kapso has.
func TestLinkWhoseCreationTimedOutIsAdopted(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		customer := r.customer(t, "acme")
		first, err := r.client.CreateSetupLink(ctx, customer, onboarding.SetupLinkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.store.RecordLink(ctx, "acme", onboarding.LinkDetails{SetupLinkID: first.ID, URL: first.URL,
			CreatedAt: first.CreatedAt, ExpiresAt: first.ExpiresAt}); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Millisecond) // a later creation time
		r.sim.StallLinkCreation(1, 5*time.Second)
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err = r.client.CreateSetupLink(short, customer, onboarding.SetupLinkOptions{})
		cancel()
		if err == nil {
			t.Fatal("the stalled creation answered")
		}

		rep := r.run(t, ctx)
		if rep.SetupLinks.Found != 1 || rep.SetupLinks.Fixed != 1 {
			t.Fatalf("report %+v", rep)
		}
		active, err := r.client.ListSetupLinks(ctx, customer, "active")
		if err != nil || len(active) != 1 {
			t.Fatalf("Kapso's active links %+v %v", active, err)
		}
		conn := r.timeline(t, "acme")
		newest := conn.NewestAttempt()
		if newest == nil || newest.SetupLinkID != active[0].ID || newest.Status != onboarding.AttemptActive ||
			conn.Tenant.Status != onboarding.TenantLinkActive {
			t.Fatalf("tenant %s, newest attempt %+v, Kapso's active link %s", conn.Tenant.Status, newest, active[0].ID)
		}
		old, _ := conn.Attempt(first.ID)
		if old.Status == onboarding.AttemptActive {
			t.Fatalf("the link Kapso revoked is still active here: %+v", old)
		}
		if rep := r.run(t, ctx); rep.SetupLinks.Found != 0 {
			t.Fatalf("a second run found more: %+v", rep)
		}
	})
}

// heldConfirmer holds the first webhook repair until released, so that a
// second run starts while the first is in the middle of its work.
type heldConfirmer struct {
	reconcile.Confirmer
	once              sync.Once
	entered, released chan struct{}
}

func (h *heldConfirmer) RepairWebhook(ctx context.Context, tenantID, phoneNumberID string) (string, error) {
	h.once.Do(func() { close(h.entered); <-h.released })
	return h.Confirmer.RepairWebhook(ctx, tenantID, phoneNumberID)
}

// Two runs at the same time: the one holding the lease does the work; the
// other, started while the first is in the middle of it, does nothing, so
// nothing is changed twice.
func TestTwoRunsAtOnceChangeNothingTwice(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		var numbers []string
		for _, id := range []string{"t1", "t2", "t3"} {
			numbers = append(numbers, r.connected(t, id))
		}
		for _, n := range numbers {
			inactive := false
			if _, err := r.sim.SetWebhookState(n, &inactive, ""); err != nil {
				t.Fatal(err)
			}
		}
		held := &heldConfirmer{Confirmer: r.rec.Confirmer, entered: make(chan struct{}), released: make(chan struct{})}
		first, second := *r.rec, *r.rec
		first.Confirmer = held
		var firstRep reconcile.Report
		var firstErr error
		done := make(chan struct{})
		go func() { defer close(done); firstRep, firstErr = first.Run(ctx) }()
		<-held.entered
		secondRep, err := second.Run(ctx)
		close(held.released)
		<-done
		if err := errors.Join(err, firstErr); err != nil {
			t.Fatal(err)
		}
		if !secondRep.Skipped || secondRep.Webhooks.Checked != 0 || firstRep.Skipped || !firstRep.Finished {
			t.Fatalf("first run %+v\nsecond run %+v", firstRep, secondRep)
		}
		if firstRep.Webhooks.Fixed != 3 {
			t.Fatalf("%d repairs, want 3", firstRep.Webhooks.Fixed)
		}
		for i, id := range []string{"t1", "t2", "t3"} {
			if got := len(reconcilerEntries(r.timeline(t, id))); got != 1 {
				t.Fatalf("%s has %d reconciler entries", id, got)
			}
			if h := r.sim.Webhooks(numbers[i]); len(h) != 1 || !h[0].Active {
				t.Fatalf("%s webhooks %+v", id, h)
			}
		}
		// The lease was given back: the next run runs, and finds nothing.
		if rep := r.run(t, ctx); rep.Skipped || rep.Webhooks.Found != 0 {
			t.Fatalf("next run %+v", rep)
		}
	})
}

// A run that reaches its deadline stops cleanly with its place kept, and
// the next run finishes the work, each repair made once.
func TestRunThatHitsItsDeadlineFinishesOnTheNext(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, testDeadline)
}

func testDeadline(t *testing.T, r *rig) {
	ctx := context.Background()
	ids := []string{"t1", "t2", "t3", "t4", "t5", "t6"}
	for _, id := range ids {
		n := r.connected(t, id)
		inactive := false
		if _, err := r.sim.SetWebhookState(n, &inactive, ""); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Millisecond) // distinct update times, a stable sweep order
	}
	// Paced at 4 calls a second, a run with 3 s left (2 s of which is the
	// margin it keeps) reaches only some tenants.
	r.rec.Limits.KapsoPerMinute = 240
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	rep, err := r.rec.Run(short)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Finished || rep.StoppedBy != reconcile.StoppedByDeadline || rep.Webhooks.Fixed >= len(ids) {
		t.Fatalf("first run %+v", rep)
	}
	r.rec.Limits.KapsoPerMinute = 1 << 30
	next := r.run(t, ctx)
	if !next.Finished || rep.Webhooks.Fixed+next.Webhooks.Fixed != len(ids) {
		t.Fatalf("first run fixed %d, next %+v", rep.Webhooks.Fixed, next)
	}
	for _, id := range ids {
		if got := len(reconcilerEntries(r.timeline(t, id))); got != 1 {
			t.Fatalf("%s has %d reconciler entries", id, got)
		}
	}
}

// Kapso's 429 is honoured: a short Retry-After is waited out within the
// run (every call under the run waits); one longer than the time left
// stops the run, which the next one finishes. A spent budget stops it too.
func TestRunMeetsKapsosRateLimit(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k"}, testRateLimit)
}

func testRateLimit(t *testing.T, r *rig) {
	ctx := context.Background()
	number := r.connected(t, "acme")
	inactive := false
	if _, err := r.sim.SetWebhookState(number, &inactive, ""); err != nil {
		t.Fatal(err)
	}

	r.sim.RateLimitNext(1, time.Second)
	start := time.Now()
	rep := r.run(t, ctx)
	if !rep.Finished || rep.Kapso.RateLimited != 1 || rep.Kapso.Waits < 1 || rep.Webhooks.Fixed != 1 ||
		time.Since(start) < 900*time.Millisecond {
		t.Fatalf("report %+v after %s", rep, time.Since(start))
	}

	if _, err := r.sim.SetWebhookState(number, &inactive, ""); err != nil {
		t.Fatal(err)
	}
	r.sim.RateLimitNext(1, time.Minute)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	rep, err := r.rec.Run(short)
	cancel()
	if err != nil || rep.Finished || rep.StoppedBy != reconcile.StoppedByKapsoRateLimit || rep.Errors != 0 ||
		rep.Webhooks.Fixed != 0 {
		t.Fatalf("rate-limited run %+v %v", rep, err)
	}
	if rep := r.run(t, ctx); !rep.Finished || rep.Webhooks.Fixed != 1 {
		t.Fatalf("next run %+v", rep)
	}

	if _, err := r.sim.SetWebhookState(number, &inactive, ""); err != nil {
		t.Fatal(err)
	}
	r.rec.Limits.KapsoCalls = 1
	rep, err = r.rec.Run(ctx)
	if err != nil || rep.Finished || rep.StoppedBy != reconcile.StoppedByKapsoBudget || rep.Kapso.Calls != 1 {
		t.Fatalf("budget run %+v %v", rep, err)
	}
	r.rec.Limits.KapsoCalls = 0
	if rep := r.run(t, ctx); !rep.Finished || rep.Webhooks.Fixed != 1 {
		t.Fatalf("run after the budget %+v", rep)
	}
}

// failingOnce fails the first hand-off of one message, as an SQS fault would.
type failingOnce struct {
	envelope.Enqueuer
	wamid  string
	failed bool
}

func (q *failingOnce) Send(ctx context.Context, url string, d envelope.Delivery, body []byte, aside bool) error {
	if !q.failed && strings.Contains(d.Key, q.wamid) {
		q.failed = true
		return errors.New("sqs unavailable")
	}
	return q.Enqueuer.Send(ctx, url, d, body, aside)
}

// A caught-up message whose hand-off failed is handed again by the next
// run: the number's mark does not move past it.
func TestCatchUpHandOffFailureIsRetriedNextRun(t *testing.T) {
	r := newRig(t, kapsosim.Options{APIKey: "k"})
	ctx := context.Background()
	r.worker.PublicBaseURL = downIngest(t)
	number := r.connected(t, "acme")
	r.run(t, ctx)
	if err := r.sim.SetNumberWebhookMode(number, "drop"); err != nil {
		t.Fatal(err)
	}
	first, err := r.sim.SendInbound(ctx, number, kapsosim.Inbound{Text: "one", FromPhone: "15550002222"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.sim.SendInbound(ctx, number, kapsosim.Inbound{Text: "two", FromPhone: "15550002222"})
	if err != nil {
		t.Fatal(err)
	}
	r.rec.Queue = &failingOnce{Enqueuer: r.rec.Queue, wamid: first.WAMID}
	rep, err := r.rec.Run(ctx)
	if err != nil || rep.Errors != 1 || rep.Messages.Fixed != 1 {
		t.Fatalf("report %+v %v", rep, err)
	}
	if r.message(t, "acme", first.WAMID).Known || !r.message(t, "acme", second.WAMID).Known {
		t.Fatal("after the failed hand-off: want only the second message stored")
	}
	r.run(t, ctx)
	if got := r.message(t, "acme", first.WAMID); got.Text != "one" {
		t.Fatalf("the failed message after the next run: %+v", got.Message)
	}
}
