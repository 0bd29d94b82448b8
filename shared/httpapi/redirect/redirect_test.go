package redirect_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// redirectStack is the redirect handler on the in-memory onboarding store
// (dynamo.Onboarding passes the same contract suite).
type redirectStack struct {
	t     *testing.T
	store *memstore.Onboarding
	queue *captureQueue
	mux   *http.ServeMux
}

// captureQueue records what the redirect handler enqueues, or fails.
type captureQueue struct {
	mu     sync.Mutex
	events []envelope.Event
	fail   error
}

// Send keeps each one-event delivery as the event a worker would make of it.
func (q *captureQueue) Send(_ context.Context, _ string, d envelope.Delivery, body []byte, _ bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.events = append(q.events, envelope.Event{ID: d.Key, Source: d.Source, Name: d.Event, ReceivedAt: d.ReceivedAt,
		Payload: body})
	return nil
}

func (q *captureQueue) all() []envelope.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]envelope.Event(nil), q.events...)
}

func newRedirectStack(t *testing.T) *redirectStack {
	s := &redirectStack{t: t, store: &memstore.Onboarding{}, queue: &captureQueue{}, mux: http.NewServeMux()}
	(&redirect.Handler{Store: s.store, Queue: s.queue, LifecycleQueueURL: "lifecycle",
		AppSuccessURL: "https://app.example/connected?from=kb", AppFailureURL: "https://app.example/failed",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(s.mux)
	return s
}

// link records the tenant, its Kapso customer and an active setup link, as
// the tenant API does, and returns the link's id.
func (s *redirectStack) link(tenantID string) string {
	s.t.Helper()
	ctx := context.Background()
	if _, err := onboarding.EnsureCustomer(ctx, s.store, tenantID, "", func(context.Context) (string, error) {
		return "customer-" + tenantID, nil
	}); err != nil {
		s.t.Fatal(err)
	}
	const id = "3f6b2a9c-1d4e-4f8a-9b7c-5e2d1a0f8c6b"
	now := time.Now().UTC()
	if _, err := s.store.RecordLink(ctx, tenantID, onboarding.LinkDetails{SetupLinkID: id,
		URL: "https://app.kapso.ai/setup/" + id, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
		s.t.Fatal(err)
	}
	return id
}

func (s *redirectStack) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func location(t *testing.T, rec *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	if rec.Code != http.StatusFound {
		t.Fatalf("want 302, got %d %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRedirects(t *testing.T) {
	s := newRedirectStack(t)
	linkID := s.link("acme")

	// Unknown or malformed link ids change nothing.
	for _, q := range []string{"setup_link_id=00000000-0000-0000-0000-000000000000&phone_number_id=123",
		"setup_link_id=%3Cscript%3E", ""} {
		rec := s.get("/connect/success?" + q)
		u := location(t, rec)
		if u.Host != "app.example" || u.Path != "/failed" || u.Query().Get("error_code") != "unknown_setup_link" {
			t.Fatalf("forged %q went to %s", q, u)
		}
	}
	if n := len(s.queue.all()); n != 0 {
		t.Fatalf("forged redirects enqueued %d events", n)
	}

	// A real one, with open-redirect attempts mixed in.
	q := url.Values{"setup_link_id": {linkID}, "status": {"completed"}, "phone_number_id": {"106540352242922"},
		"business_account_id": {"1234"}, "display_phone_number": {"+15550783881"},
		"redirect": {"https://evil.example"}, "next": {"//evil.example"}, "success_redirect_url": {"https://evil.example"}}
	rec := s.get("/connect/success?" + q.Encode())
	u := location(t, rec)
	got := u.Query()
	if u.Host != "app.example" || u.Path != "/connected" || got.Get("from") != "kb" || got.Get("tenant_id") != "acme" ||
		got.Get("status") != "completed" || got.Get("phone_number_id") != "106540352242922" || got.Get("redirect") != "" {
		t.Fatalf("success went to %s", u)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers %v", rec.Header())
	}
	// A double-click is the same event.
	s.get("/connect/success?" + q.Encode())
	evs := s.queue.all()
	if len(evs) != 2 || evs[0].ID != evs[1].ID || evs[0].Name != onboarding.EventRedirectSuccess ||
		evs[0].Source != envelope.SourceRedirect {
		t.Fatalf("events %+v", evs)
	}
	var p onboarding.Redirect
	if err := json.Unmarshal(evs[0].Payload, &p); err != nil || p.TenantID != "acme" || p.DisplayPhoneNumber != "+15550783881" {
		t.Fatalf("payload %s: %v", evs[0].Payload, err)
	}
	// Nothing is connected by a redirect alone.
	conn, _, _ := s.store.Load(context.Background(), "acme")
	if conn.Tenant.Status != onboarding.TenantLinkActive {
		t.Fatalf("status after a redirect: %s", conn.Tenant.Status)
	}

	// Failure, with a malformed code replaced.
	rec = s.get("/connect/failure?setup_link_id=" + linkID + "&error_code=DROP%20TABLE")
	u = location(t, rec)
	if u.Path != "/failed" || u.Query().Get("error_code") != "unknown" || u.Query().Get("status") != "failed" ||
		u.Query().Get("tenant_id") != "acme" {
		t.Fatalf("failure went to %s", u)
	}
	evs = s.queue.all()
	if len(evs) != 3 || evs[2].Name != onboarding.EventRedirectFailure {
		t.Fatalf("failure events %+v", evs)
	}
	if err := json.Unmarshal(evs[2].Payload, &p); err != nil || p.TenantID != "acme" || p.SetupLinkID != linkID ||
		p.ErrorCode != "unknown" {
		t.Fatalf("failure payload %s: %v", evs[2].Payload, err)
	}

	// The queue is down: the person still lands on a page, marked pending.
	s.queue.fail = errors.New("sqs down")
	u = location(t, s.get("/connect/success?"+q.Encode()))
	if u.Path != "/connected" || u.Query().Get("status") != "pending" {
		t.Fatalf("enqueue failure went to %s", u)
	}
}

// A person who opens a superseded link is sent on as superseded, not to the
// failure page: the tenant has a newer link. The redirect is still recorded,
// and recording it leaves the attempt superseded.
func TestRedirectThroughASupersededLink(t *testing.T) {
	s := newRedirectStack(t)
	ctx := context.Background()
	const old, newer = "0a1b2c3d-0000-4000-8000-000000000001", "0a1b2c3d-0000-4000-8000-000000000002"
	if _, err := onboarding.EnsureCustomer(ctx, s.store, "acme", "Acme", func(context.Context) (string, error) {
		return "customer-acme", nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, id := range []string{old, newer} {
		at := now.Add(time.Duration(i-2) * time.Minute)
		if _, err := s.store.RecordLink(ctx, "acme", onboarding.LinkDetails{SetupLinkID: id,
			URL: "https://app.kapso.ai/setup/" + id, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	paths := []string{
		"/connect/failure?setup_link_id=" + old + "&error_code=link_expired",
		"/connect/success?setup_link_id=" + old + "&status=completed&phone_number_id=106540352242922",
	}
	for i, path := range paths {
		u := location(t, s.get(path))
		want := url.Values{"from": {"kb"}, "status": {"superseded"}, "tenant_id": {"acme"}, "setup_link_id": {old}}
		if u.Host != "app.example" || u.Path != "/connected" || u.Query().Encode() != want.Encode() {
			t.Fatalf("%s went to %s, want /connected?%s", path, u, want.Encode())
		}
		// The lifecycle worker records the redirect as a fact.
		evs := s.queue.all()
		if len(evs) != i+1 {
			t.Fatalf("%d events after %d redirects", len(evs), i+1)
		}
		var p onboarding.Redirect
		if err := json.Unmarshal(evs[i].Payload, &p); err != nil {
			t.Fatal(err)
		}
		f := onboarding.FailureRedirect(p.SetupLinkID, p.ErrorCode, p.ReceivedAt)
		if evs[i].Name == onboarding.EventRedirectSuccess {
			f = onboarding.SuccessRedirect(p.Details(), p.ReceivedAt)
		}
		conn, _, err := s.store.AppendFact(ctx, "acme", f)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := conn.Attempt(old)
		if a.Status != onboarding.AttemptSuperseded || a.SupersededBy != newer || a.ErrorCode != "" ||
			conn.Tenant.Status != onboarding.TenantLinkActive || conn.Tenant.ActiveSetupLinkID != newer {
			t.Fatalf("after the redirect: attempt %+v, tenant %+v", a, conn.Tenant)
		}
		if last := a.History[len(a.History)-1]; !last.Late {
			t.Fatalf("the redirect is not in the history as late: %+v", a.History)
		}
	}

	// The queue down changes the record, not the page.
	s.queue.fail = errors.New("sqs down")
	if u := location(t, s.get(paths[0])); u.Path != "/connected" || u.Query().Get("status") != "superseded" {
		t.Fatalf("with the queue down: %s", u)
	}
	s.queue.fail = nil

	// The newest link's failure still goes to the failure page.
	u := location(t, s.get("/connect/failure?setup_link_id="+newer+"&error_code=waba_limit_reached"))
	if u.Path != "/failed" || u.Query().Get("status") != "failed" || u.Query().Get("error_code") != "waba_limit_reached" ||
		u.Query().Get("setup_link_id") != newer {
		t.Fatalf("the newest link's failure went to %s", u)
	}
}

// brokenLoad is the store with its connections unreadable.
type brokenLoad struct{ *memstore.Onboarding }

func (brokenLoad) Load(context.Context, string) (onboarding.Connection, bool, error) {
	return onboarding.Connection{}, false, errors.New("dynamodb down")
}

// When the connection cannot be read, the person goes where the redirect says.
func TestRedirectWithoutTheConnection(t *testing.T) {
	s := newRedirectStack(t)
	linkID := s.link("acme")
	mux := http.NewServeMux()
	(&redirect.Handler{Store: brokenLoad{s.store}, Queue: s.queue, LifecycleQueueURL: "lifecycle",
		AppSuccessURL: "https://app.example/connected", AppFailureURL: "https://app.example/failed"}).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/connect/failure?setup_link_id="+linkID+"&error_code=already_used", nil))
	if u := location(t, rec); u.Path != "/failed" || u.Query().Get("error_code") != "already_used" || len(s.queue.all()) != 1 {
		t.Fatalf("went to %s with %d events", u, len(s.queue.all()))
	}
}

// failingHints is a hint store that is down too.
type failingHints struct{}

func (failingHints) KeepRedirect(context.Context, string, time.Time, []byte) error {
	return errors.New("dynamodb down")
}

// With SQS down, the redirect is kept in the hint store, whole as the queue
// would have carried it, and the person is answered as if it were queued.
// With the hint store down too, the person still gets a page.
func TestRedirectKeptWhenTheQueueIsDown(t *testing.T) {
	s := newRedirectStack(t)
	linkID := s.link("acme")
	s.queue.fail = errors.New("sqs down")
	hints := &memstore.Hints{}
	handler := func(h redirect.HintKeeper) *http.ServeMux {
		mux := http.NewServeMux()
		(&redirect.Handler{Store: s.store, Queue: s.queue, Hints: h, LifecycleQueueURL: "lifecycle",
			AppSuccessURL: "https://app.example/connected", AppFailureURL: "https://app.example/failed"}).Register(mux)
		return mux
	}
	get := func(mux *http.ServeMux, path string) *url.URL {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return location(t, rec)
	}
	path := "/connect/success?setup_link_id=" + linkID + "&phone_number_id=106540352242922"

	u := get(handler(hints), path)
	if u.Path != "/connected" || u.Query().Get("status") != "completed" || u.Query().Get("tenant_id") != "acme" ||
		u.Query().Get("phone_number_id") != "106540352242922" {
		t.Fatalf("kept redirect went to %s", u)
	}
	kept, err := hints.Redirects(context.Background(), 10)
	if err != nil || len(kept) != 1 {
		t.Fatalf("kept %d hints: %v", len(kept), err)
	}
	d, body, err := envelope.Decode(string(kept[0].Raw))
	if err != nil || d.Source != envelope.SourceRedirect || d.Event != onboarding.EventRedirectSuccess ||
		d.Key != kept[0].ID || !d.ReceivedAt.Equal(kept[0].ReceivedAt) {
		t.Fatalf("kept hint %+v: %v", d, err)
	}
	var p onboarding.Redirect
	if err := json.Unmarshal(body, &p); err != nil || p.TenantID != "acme" || p.SetupLinkID != linkID ||
		p.PhoneNumberID != "106540352242922" {
		t.Fatalf("kept payload %s: %v", body, err)
	}

	// Both down: today's answer, the success page marked pending.
	u = get(handler(failingHints{}), path)
	if u.Path != "/connected" || u.Query().Get("status") != "pending" {
		t.Fatalf("unrecorded redirect went to %s", u)
	}
	if kept, _ := hints.Redirects(context.Background(), 10); len(kept) != 1 || len(s.queue.all()) != 0 {
		t.Fatalf("%d hints, %d queued", len(kept), len(s.queue.all()))
	}
}

// hangingQueue is SQS hanging until the request's deadline.
type hangingQueue struct{}

func (hangingQueue) Send(ctx context.Context, _ string, _ envelope.Delivery, _ []byte, _ bool) error {
	<-ctx.Done()
	return ctx.Err()
}

// A queue that hangs past the request's deadline still leaves time to keep the hint.
func TestRedirectKeptWhenTheQueueHangs(t *testing.T) {
	s := newRedirectStack(t)
	linkID := s.link("acme")
	hints := &memstore.Hints{}
	mux := http.NewServeMux()
	(&redirect.Handler{Store: s.store, Queue: hangingQueue{}, Hints: hints, LifecycleQueueURL: "lifecycle",
		AppSuccessURL: "https://app.example/connected", AppFailureURL: "https://app.example/failed",
		Timeout: 20 * time.Millisecond}).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/connect/failure?setup_link_id="+linkID+"&error_code=already_used", nil))
	if u := location(t, rec); u.Query().Get("status") != "failed" || u.Query().Get("error_code") != "already_used" {
		t.Fatalf("went to %s", u)
	}
	if kept, _ := hints.Redirects(context.Background(), 10); len(kept) != 1 {
		t.Fatalf("%d hints kept", len(kept))
	}
}
