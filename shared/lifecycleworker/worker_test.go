package lifecycleworker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycleworker"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// stack is the worker on the in-memory stores (their DynamoDB adapters pass
// the same contract suite), the redirect handler, and a simulated Kapso
// behind the real Platform API client.
type stack struct {
	t        *testing.T
	store    *memstore.Onboarding
	numbers  *memstore.Numbers
	payloads *memstore.Payloads
	rejects  *memstore.Rejects
	sim      *kapsosim.Simulator
	kapso    *kapsoapi.Client
	worker   *lifecycleworker.Worker
	redirect *redirect.Handler
	queue    *capture
	// connected lists the numbers announced as connected, in order.
	connected *announcements
	bridge    string // kapso-bridge's public URL: its number webhook verifier
}

type announcements struct {
	mu      sync.Mutex
	numbers []string
}

func (a *announcements) NumberConnected(_ context.Context, phoneNumberID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.numbers = append(a.numbers, phoneNumberID)
	return nil
}

type capture struct {
	mu     sync.Mutex
	events []envelope.Event
}

// Send keeps each one-event delivery as the event a worker would make of it.
func (c *capture) Send(_ context.Context, _ string, d envelope.Delivery, body []byte, _ bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, envelope.Event{ID: d.EventID(0), Source: d.Source, Name: d.Event,
		ReceivedAt: d.ReceivedAt, Payload: body})
	return nil
}

func newStack(t *testing.T) *stack {
	t.Helper()
	sim := kapsosim.New(kapsosim.Options{APIKey: "k"})
	simSrv := httptest.NewServer(sim)
	s := &stack{t: t, sim: sim, queue: &capture{}, connected: &announcements{},
		store: &memstore.Onboarding{}, numbers: &memstore.Numbers{}, payloads: &memstore.Payloads{}, rejects: &memstore.Rejects{},
		kapso: kapsoapi.New(simSrv.URL+"/platform/v1", "k", kapsoapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))}
	// Stands in for the ingest: verifies a number's delivery with the stored secret.
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/webhooks/kapso/")
		body, _ := io.ReadAll(r.Body)
		secret, err := s.numbers.Secret(r.Context(), id)
		if err != nil || !kapso.VerifySignature(secret, body, r.Header.Get("X-Webhook-Signature")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() { bridge.Close(); simSrv.Close(); sim.Close() })
	s.bridge = bridge.URL
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.worker = &lifecycleworker.Worker{Store: s.store, Numbers: s.numbers, Kapso: s.kapso, Payloads: s.payloads,
		Rejects: s.rejects, Connected: s.connected, PublicBaseURL: bridge.URL, Log: log}
	s.redirect = &redirect.Handler{Store: s.store, Queue: s.queue, AppSuccessURL: "https://app.example/ok",
		AppFailureURL: "https://app.example/ko", Log: log}
	return s
}

// tenant creates the tenant, its Kapso customer and a setup link, as the
// tenant API does, and returns the customer and link ids.
func (s *stack) tenant(id string) (string, string) {
	s.t.Helper()
	ctx := context.Background()
	customer, err := onboarding.EnsureCustomer(ctx, s.store, id, "", func(ctx context.Context) (string, error) {
		c, err := s.kapso.CreateCustomer(ctx, id, id)
		return c.ID, err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	l, err := s.kapso.CreateSetupLink(ctx, customer, onboarding.SetupLinkOptions{
		SuccessRedirectURL: "https://bridge.example/connect/success", FailureRedirectURL: "https://bridge.example/connect/failure"})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.store.RecordLink(ctx, id, onboarding.LinkDetails{SetupLinkID: l.ID, URL: l.URL, CreatedAt: l.CreatedAt,
		ExpiresAt: l.ExpiresAt}); err != nil {
		s.t.Fatal(err)
	}
	return customer, l.ID
}

// complete finishes the link at the simulator and returns the redirect URL and number.
func (s *stack) complete(linkID, connType string) (string, string) {
	s.t.Helper()
	redirect, number, err := s.sim.CompleteLink(linkID, connType)
	if err != nil {
		s.t.Fatal(err)
	}
	return redirect, number
}

// follow sends the browser's redirect through the handler and returns the
// lifecycle event it enqueued.
func (s *stack) follow(redirectURL string) envelope.Event {
	s.t.Helper()
	u, _ := url.Parse(redirectURL)
	mux := http.NewServeMux()
	s.redirect.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.Path+"?"+u.RawQuery, nil))
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	if rec.Code != http.StatusFound || len(s.queue.events) == 0 {
		s.t.Fatalf("redirect: %d, %d events", rec.Code, len(s.queue.events))
	}
	return s.queue.events[len(s.queue.events)-1]
}

func createdEvent(id, phoneNumberID, customerID, externalID string) envelope.Event {
	body, _ := json.Marshal(map[string]any{"phone_number_id": phoneNumberID,
		"customer": map[string]string{"id": customerID, "external_customer_id": externalID}})
	return envelope.Event{ID: id, Source: envelope.SourceKapsoProject, Name: kapso.EventPhoneNumberCreated,
		ReceivedAt: time.Now().UTC(), Payload: body}
}

func (s *stack) handle(ev envelope.Event) {
	s.t.Helper()
	if err := s.worker.HandleEvent(context.Background(), ev); err != nil {
		s.t.Fatalf("handle %s: %v", ev.Name, err)
	}
}

func (s *stack) load(tenantID string) onboarding.Connection {
	s.t.Helper()
	conn, found, err := s.store.Load(context.Background(), tenantID)
	if err != nil || !found {
		s.t.Fatalf("load %s: %v %v", tenantID, found, err)
	}
	return conn
}

// assertWebhookOnce: one webhook at Kapso, and the simulator's signature
// with the secret we registered verifies against the stored secret.
func (s *stack) assertWebhookOnce(number string) {
	s.t.Helper()
	hooks := s.sim.Webhooks(number)
	if len(hooks) != 1 || hooks[0].URL != s.bridge+"/webhooks/kapso/"+number || hooks[0].PayloadVersion != "v2" ||
		len(hooks[0].Events) != len(lifecycleworker.NumberWebhookEvents) {
		s.t.Fatalf("webhooks of %s: %+v", number, hooks)
	}
	statuses, err := s.sim.SendNumberEvent(context.Background(), number, kapso.EventMessageReceived,
		[]byte(`{"message":{"id":"wamid.1"},"phone_number_id":"`+number+`"}`), "")
	if err != nil || len(statuses) != 1 || statuses[0] != http.StatusOK {
		s.t.Fatalf("signed delivery to our webhook: %v %v", statuses, err)
	}
}

func TestPhoneNumberCreatedMinimalPayload(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "coexistence")
	ev := createdEvent("d1#0", number, customer, "acme")
	s.handle(ev)
	conn := s.load("acme")
	n, ok := conn.PhoneNumber(number)
	if conn.Tenant.Status != onboarding.TenantConnected || !ok || n.BusinessAccountID == "" || n.DisplayPhoneNumber == "" ||
		n.ConnectionType != onboarding.ConnectionCoexistence || n.NameStatus != "APPROVED" || !n.WebhookRegistered {
		t.Fatalf("after created: %s %+v", conn.Tenant.Status, n)
	}
	s.assertWebhookOnce(number)
	version := conn.Tenant.Version

	// The same event again, and a copy under a new key received later: nothing new.
	s.handle(ev)
	copyEv := createdEvent("d2#0", number, customer, "acme")
	copyEv.ReceivedAt = ev.ReceivedAt.Add(time.Minute)
	s.handle(copyEv)
	if v := s.load("acme").Tenant.Version; v != version {
		t.Fatalf("duplicates changed the version: %d → %d", version, v)
	}
	s.assertWebhookOnce(number)
	if tenant, ok, _ := s.numbers.TenantOfPhoneNumber(context.Background(), number); !ok || tenant != "acme" {
		t.Fatalf("number lookup: %q", tenant)
	}
	// Each confirmation announces the number, after it is stored as the
	// tenant's, so the events kept for it are applied; repeats are harmless.
	if got := s.connected.numbers; len(got) == 0 || got[0] != number {
		t.Fatalf("announced %v", got)
	}
}

func TestConfigCreatedLegacyEvent(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	body, _ := json.Marshal(map[string]any{
		"whatsapp_config": map[string]any{"phone_number_id": number, "business_account_id": "999", "customer_id": customer,
			"display_phone_number": "+15550009999", "is_coexistence": false},
		"customer":   map[string]any{"id": customer},
		"setup_link": map[string]any{"id": link},
	})
	s.handle(envelope.Event{ID: "v1#0", Name: kapso.EventConfigCreated, ReceivedAt: time.Now(), Payload: body})
	conn := s.load("acme")
	n, _ := conn.PhoneNumber(number)
	a, _ := conn.Attempt(link)
	if conn.Tenant.Status != onboarding.TenantConnected || n.BusinessAccountID != "999" ||
		n.ConnectionType != onboarding.ConnectionDedicated || a.Status != onboarding.AttemptConfirmed ||
		a.ConfirmedBy[0] != onboarding.SourceConfigCreated {
		t.Fatalf("after config.created: %+v %+v", n, a)
	}
}

// Redirect and webhook in either order end in the same state.
func TestRedirectAndWebhookInEitherOrder(t *testing.T) {
	s := newStack(t)
	type outcome struct {
		status        onboarding.TenantStatus
		attempt       onboarding.AttemptStatus
		number        onboarding.PhoneNumberStatus
		webhook       bool
		redirectFacts int
	}
	run := func(tenant string, redirectFirst bool) outcome {
		customer, link := s.tenant(tenant)
		redirectURL, number := s.complete(link, "dedicated")
		redirect := s.follow(redirectURL)
		created := createdEvent(tenant+"#0", number, customer, tenant)
		if redirectFirst {
			s.handle(redirect)
			s.handle(created)
		} else {
			s.handle(created)
			s.handle(redirect)
		}
		s.handle(s.follow(redirectURL)) // the person reloads the page
		conn := s.load(tenant)
		n, _ := conn.PhoneNumber(number)
		a, _ := conn.Attempt(link)
		o := outcome{conn.Tenant.Status, a.Status, n.Status, n.WebhookRegistered, 0}
		for _, f := range conn.Facts {
			if f.Kind == onboarding.FactSuccessRedirect {
				o.redirectFacts++
			}
		}
		s.assertWebhookOnce(number)
		return o
	}
	first, second := run("redirect-first", true), run("webhook-first", false)
	want := outcome{onboarding.TenantConnected, onboarding.AttemptConfirmed, onboarding.NumberStatusConnected, true, 1}
	if first != want || second != want {
		t.Fatalf("redirect first %+v, webhook first %+v", first, second)
	}
}

func TestRedirectsThatProveNothing(t *testing.T) {
	s := newStack(t)
	_, linkA := s.tenant("tenant-a")
	_, linkB := s.tenant("tenant-b")
	_, numberB := s.complete(linkB, "dedicated")

	// Tenant A's link with tenant B's number: suspicious, A not connected.
	forged := "https://bridge.example/connect/success?" + url.Values{"setup_link_id": {linkA}, "status": {"completed"},
		"phone_number_id": {numberB}}.Encode()
	s.handle(s.follow(forged))
	conn := s.load("tenant-a")
	a, _ := conn.Attempt(linkA)
	if conn.Tenant.Status == onboarding.TenantConnected || a.Redirect == nil || !a.Redirect.Suspicious ||
		len(conn.PhoneNumbers) != 0 || len(s.sim.Webhooks(numberB)) != 0 {
		t.Fatalf("forged redirect: %s %+v", conn.Tenant.Status, a)
	}

	// A number Kapso does not know (yet): awaiting confirmation, never connected.
	_, linkC := s.tenant("tenant-c")
	s.handle(s.follow("https://bridge.example/connect/success?setup_link_id=" + linkC + "&phone_number_id=42"))
	if st := s.load("tenant-c").Tenant.Status; st != onboarding.TenantAwaitingConfirmation {
		t.Fatalf("unconfirmed redirect: %s", st)
	}

	// A failure redirect nobody signed, for a link Kapso still lists
	// active: the browser's report, shown, with the link still usable.
	_, linkD := s.tenant("tenant-d")
	s.handle(s.follow("https://bridge.example/connect/failure?setup_link_id=" + linkD + "&error_code=waba_limit_reached"))
	conn = s.load("tenant-d")
	a, _ = conn.Attempt(linkD)
	if conn.Tenant.Status != onboarding.TenantLinkActive || conn.Tenant.ActiveSetupLinkID != linkD ||
		a.Status != onboarding.AttemptActive || a.ErrorCode != "waba_limit_reached" || a.ErrorReportedBy != onboarding.ReportedByBrowser {
		t.Fatalf("failure: %s %+v", conn.Tenant.Status, conn.Attempts)
	}
}

func TestRegistrationOnceUnderConcurrency(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.worker.HandleEvent(context.Background(), createdEvent("c#"+string(rune('0'+i)), number, customer, "acme"))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent handling: %v", err)
		}
	}
	s.assertWebhookOnce(number)
}

func TestDisconnectedAndOrphans(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	s.handle(createdEvent("c#0", number, customer, "acme"))
	body, _ := json.Marshal(map[string]string{"phone_number_id": number})
	s.change(number, "disconnected")
	s.handle(envelope.Event{ID: "x#0", Name: kapso.EventPhoneNumberDisconnected, ReceivedAt: time.Now().Add(time.Minute), Payload: body})
	conn := s.load("acme")
	if conn.Tenant.Status != onboarding.TenantReconnectRequired || conn.Support().ReconnectPhoneNumber == "" {
		t.Fatalf("after disconnected: %s %+v", conn.Tenant.Status, conn.Support())
	}

	// A customer no tenant owns: kept, not applied, not failed.
	orphan := createdEvent("o#0", "777", "cust-nobody", "not-a-tenant")
	s.handle(orphan)
	kept, err := s.store.Orphans(context.Background(), "cust-nobody")
	if err != nil || len(kept) != 1 || !strings.Contains(string(kept[0]), `"o#0"`) {
		t.Fatalf("orphans: %q %v", kept, err)
	}
	// Events the onboarding does not use are acknowledged.
	s.handle(envelope.Event{ID: "w#0", Name: kapso.EventWorkflowExecutionFailed, Payload: []byte(`{}`)})
}

// message encodes a delivery as the ingest puts it on the queue.
func message(t *testing.T, id string, d envelope.Delivery, body []byte) events.SQSMessage {
	t.Helper()
	msg, err := envelope.Encode(d, body)
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: id, Body: msg}
}

func projectDelivery(key, event string) envelope.Delivery {
	return envelope.Delivery{Source: envelope.SourceKapsoProject, Key: "kapso_project##" + key, Event: event,
		IdempotencyKey: key, ReceivedAt: time.Now().UTC()}
}

// A batch fails only the messages that can succeed later; what can never be
// applied is kept aside with its reason and acknowledged.
func TestBatchFailsOnlyTransientFailuresAndKeepsUnusableAside(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	created := createdEvent("", number, customer, "acme").Payload
	// A large body kept aside is loaded by reference.
	if err := s.payloads.Put(context.Background(), "ref-1", created); err != nil {
		t.Fatal(err)
	}
	byRef := projectDelivery("k-ref", kapso.EventPhoneNumberCreated)
	byRef.BodyRef = "ref-1"
	missingRef := projectDelivery("k-missing", kapso.EventPhoneNumberCreated)
	missingRef.BodyRef = "no-such-body"
	batch := events.SQSEvent{Records: []events.SQSMessage{
		message(t, "m-good", projectDelivery("k-good", kapso.EventPhoneNumberCreated), created),
		{MessageId: "m-garbage", Body: "not a delivery",
			Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10)}},
		message(t, "m-ref", byRef, nil),
		message(t, "m-malformed", projectDelivery("k-bad", kapso.EventPhoneNumberCreated), []byte(`{"phone_number_id":[1]}`)),
		message(t, "m-missing-body", missingRef, nil),
	}}
	resp, err := s.worker.Handle(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	// A body not found yet may be a read that raced its write: retried, and
	// the DLQ holds it if it never appears.
	if strings.Join(failed, ",") != "m-missing-body" {
		t.Fatalf("failures %v", failed)
	}
	if s.load("acme").Tenant.Status != onboarding.TenantConnected {
		t.Fatal("good messages were not applied")
	}
	kept, err := s.rejects.List(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, r := range kept {
		reasons = append(reasons, r.ID+": "+r.Reason)
	}
	if len(kept) != 2 || !strings.Contains(strings.Join(reasons, "\n"), "message#m-garbage: malformed queue message") ||
		!strings.Contains(strings.Join(reasons, "\n"), "kapso_project##k-bad#0") {
		t.Fatalf("kept aside: %q", reasons)
	}
	// The same batch again changes nothing: the effects are idempotent and
	// the rejected records are overwritten, not doubled.
	if _, err := s.worker.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.rejects.List(context.Background(), time.Now()); len(again) != 2 {
		t.Fatalf("rejected records after a redelivery: %d", len(again))
	}
}

// One delivery's unusable event does not hold up the delivery's other events.
func TestUnusableEventDoesNotBlockItsDelivery(t *testing.T) {
	s := newStack(t)
	customer, link := s.tenant("acme")
	_, number := s.complete(link, "dedicated")
	body := []byte(`{"type":"whatsapp.phone_number.created","batch":true,"data":[{"phone_number_id":[1]},` +
		string(createdEvent("", number, customer, "acme").Payload) + `]}`)
	resp, err := s.worker.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		message(t, "m", projectDelivery("k", kapso.EventPhoneNumberCreated), body)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	if s.load("acme").Tenant.Status != onboarding.TenantConnected {
		t.Fatal("the good event of the delivery was not applied")
	}
	if kept, _ := s.rejects.List(context.Background(), time.Now()); len(kept) != 1 || kept[0].ID != "kapso_project##k#0" {
		t.Fatalf("kept aside: %+v", kept)
	}
}
