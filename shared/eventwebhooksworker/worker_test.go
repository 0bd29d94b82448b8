package eventwebhooksworker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventwebhooksworker"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// secret is a Standard Webhooks secret (the specification's example).
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

const event = `{"id":"evt_4f1c","type":"message.received","timestamp":"2026-12-07T10:00:00Z","tenant_id":"acme",` +
	`"source":"webhook","subject":"message:wamid.1","version":1,"data":{"tenant_id":"acme","message":{` +
	`"id":"wamid.1","phone_number_id":"111","direction":"inbound","type":"text","text":"Oi! Tem pão?",` +
	`"from":{"business_scoped_user_id":"","parent_business_scoped_user_id":"","username":"","phone_number":"5215512345678","name":"Ana"},` +
	`"to":{"business_scoped_user_id":"","parent_business_scoped_user_id":"","username":"","phone_number":"15550001111","name":""},` +
	`"known":true,"statuses":[]}}}`

func key(t *testing.T) []byte {
	t.Helper()
	k, err := bridgeevents.Secret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// received is one request the receiver took.
type received struct {
	header http.Header
	body   []byte
}

// receiver answers each request with answer(n), n counting from 1, and
// keeps what it received.
type receiver struct {
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, received{r.Header.Clone(), body})
	n := len(rc.got)
	rc.mu.Unlock()
	rc.answer(n, w, r)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// fixture is a worker sending to a test receiver.
type fixture struct {
	w       *eventwebhooksworker.Worker
	rc      *receiver
	srv     *httptest.Server
	holds   *memstore.Visibility
	rejects *memstore.Rejects
	clock   *testclock.Clock
	logs    *bytes.Buffer
}

func newFixture(t *testing.T, answer func(int, http.ResponseWriter, *http.Request)) *fixture {
	t.Helper()
	f := &fixture{rc: &receiver{answer: answer}, holds: &memstore.Visibility{}, rejects: &memstore.Rejects{},
		clock: testclock.New(time.Now().Truncate(time.Second)), logs: &bytes.Buffer{}}
	f.srv = httptest.NewServer(f.rc)
	t.Cleanup(f.srv.Close)
	f.w = &eventwebhooksworker.Worker{URL: f.srv.URL + "/events?token=url-token-7", Key: key(t), Queue: f.holds,
		Rejects: f.rejects, Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxAttempts: schema.EventWebhooks.MaxReceiveCount, Now: f.clock.Now}
	return f
}

func msg(id, body string, attempt int) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(attempt), "SentTimestamp": "1796637600000"}}
}

func (f *fixture) handle(t *testing.T, msgs ...events.SQSMessage) []string {
	t.Helper()
	res, err := f.w.Handle(context.Background(), events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, x := range res.BatchItemFailures {
		failed = append(failed, x.ItemIdentifier)
	}
	return failed
}

// A delivery carries the Standard Webhooks headers, verifiable with
// bridgeevents.Verify against the body, which is the event byte for byte.
func TestDeliveryIsSignedAsStandardWebhooks(t *testing.T) {
	f := newFixture(t, status(http.StatusNoContent))
	if failed := f.handle(t, msg("m1", event, 1)); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	got := f.rc.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	r := got[0]
	if !bytes.Equal(r.body, []byte(event)) {
		t.Errorf("body %s\nwant %s", r.body, event)
	}
	h := r.header
	if h.Get("Content-Type") != "application/json" || h.Get(bridgeevents.HeaderID) != "evt_4f1c" ||
		h.Get(bridgeevents.HeaderTimestamp) != strconv.FormatInt(f.clock.Now().Unix(), 10) ||
		!strings.HasPrefix(h.Get(bridgeevents.HeaderSignature), "v1,") {
		t.Errorf("headers %v", h)
	}
	if err := bridgeevents.Verify(key(t), h, r.body, f.clock.Now()); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := bridgeevents.Verify(key(t), h, append([]byte(" "), r.body...), f.clock.Now()); !errors.Is(err, bridgeevents.ErrBadSignature) {
		t.Errorf("a changed body verifies: %v", err)
	}
	if len(f.holds.Held()) != 0 {
		t.Errorf("a delivered event was held back: %v", f.holds.Held())
	}
}

// Every attempt of an event carries its id as webhook-id, with that
// attempt's time, signed anew: a receiver drops the repeats by id.
func TestEveryAttemptCarriesTheEventID(t *testing.T) {
	f := newFixture(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 4 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	var sent []time.Time
	for attempt := 1; attempt <= 4; attempt++ {
		sent = append(sent, f.clock.Now())
		failed := f.handle(t, msg("m1", event, attempt))
		if (attempt < 4) != slices.Equal(failed, []string{"m1"}) {
			t.Fatalf("attempt %d: failed %v", attempt, failed)
		}
		f.clock.Advance(eventwebhooksworker.Retries().After(attempt))
	}
	got := f.rc.requests()
	if len(got) != 4 {
		t.Fatalf("%d requests", len(got))
	}
	for i, r := range got {
		if id := r.header.Get(bridgeevents.HeaderID); id != "evt_4f1c" {
			t.Errorf("attempt %d: webhook-id %q", i+1, id)
		}
		if ts := r.header.Get(bridgeevents.HeaderTimestamp); ts != strconv.FormatInt(sent[i].Unix(), 10) {
			t.Errorf("attempt %d: webhook-timestamp %s, want %d", i+1, ts, sent[i].Unix())
		}
		if err := bridgeevents.Verify(key(t), r.header, r.body, sent[i]); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	if want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute}; !slices.Equal(f.holds.Held(), want) {
		t.Errorf("held %v, want %v", f.holds.Held(), want)
	}
}

// Only a 2xx within the timeout delivers: every other answer, no answer,
// a refused connection and a redirect (not followed) fail the attempt,
// which comes back after the schedule's wait.
func TestOnlyA2xxInTimeDelivers(t *testing.T) {
	elsewhere := &receiver{answer: status(http.StatusOK)}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	redirect := func(code int) func(int, http.ResponseWriter, *http.Request) {
		return func(_ int, w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, other.URL, code) }
	}
	for _, tc := range []struct {
		name      string
		answer    func(int, http.ResponseWriter, *http.Request)
		delivered bool
	}{
		{"200", status(http.StatusOK), true},
		{"202", status(http.StatusAccepted), true},
		{"204", status(http.StatusNoContent), true},
		{"299", status(299), true},
		{"301 followed by nothing", redirect(http.StatusMovedPermanently), false},
		{"302", redirect(http.StatusFound), false},
		{"307", redirect(http.StatusTemporaryRedirect), false},
		{"304", status(http.StatusNotModified), false},
		{"400", status(http.StatusBadRequest), false},
		{"401", status(http.StatusUnauthorized), false},
		{"404", status(http.StatusNotFound), false},
		{"410", status(http.StatusGone), false},
		{"429", status(http.StatusTooManyRequests), false},
		{"500", status(http.StatusInternalServerError), false},
		{"503", status(http.StatusServiceUnavailable), false},
		{"no answer in time", func(_ int, _ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, false},
		{"connection refused", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.answer)
			f.w.Timeout = 200 * time.Millisecond
			if tc.answer == nil {
				f.srv.Close()
			}
			failed := f.handle(t, msg("m1", event, 3))
			if tc.delivered {
				if len(failed) != 0 || len(f.holds.Held()) != 0 {
					t.Errorf("failed %v, held %v", failed, f.holds.Held())
				}
				return
			}
			if !slices.Equal(failed, []string{"m1"}) {
				t.Errorf("failed %v, want [m1]", failed)
			}
			if want := []time.Duration{2 * time.Minute}; !slices.Equal(f.holds.Held(), want) {
				t.Errorf("held %v, want %v", f.holds.Held(), want)
			}
			if tc.answer != nil && len(f.rc.requests()) != 1 {
				t.Errorf("%d requests, want 1", len(f.rc.requests()))
			}
		})
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("a redirect was followed %d times", n)
	}
}

// The wait after a failed attempt is the schedule's for its number, which
// SQS's receive count gives: 5 s, 30 s, 2 min, 10 min, 1 h, then hourly.
func TestFailedAttemptWaitsAsTheScheduleSays(t *testing.T) {
	f := newFixture(t, status(http.StatusBadGateway))
	want := map[int]time.Duration{1: 5 * time.Second, 2: 30 * time.Second, 3: 2 * time.Minute, 4: 10 * time.Minute,
		5: time.Hour, 6: time.Hour, 17: time.Hour, 29: time.Hour}
	for attempt := 1; attempt <= schema.EventWebhooks.MaxReceiveCount; attempt++ {
		f.holds.Take()
		if failed := f.handle(t, msg("m1", event, attempt)); len(failed) != 1 {
			t.Fatalf("attempt %d: failed %v", attempt, failed)
		}
		held := f.holds.Held()
		if len(held) != 1 {
			t.Fatalf("attempt %d: held %v", attempt, held)
		}
		if w, ok := want[attempt]; ok && held[0] != w {
			t.Errorf("attempt %d: held %v, want %v", attempt, held[0], w)
		}
		if attempt > 5 && held[0] != time.Hour {
			t.Errorf("attempt %d: held %v, want 1h", attempt, held[0])
		}
	}
	// A message without a receive count is taken as a first attempt.
	f.holds.Take()
	f.handle(t, events.SQSMessage{MessageId: "m2", ReceiptHandle: "rh-m2", Body: event})
	if held := f.holds.Held(); !slices.Equal(held, []time.Duration{5 * time.Second}) {
		t.Errorf("no receive count: held %v", held)
	}
	if !strings.Contains(f.logs.String(), "it goes to the DLQ") {
		t.Errorf("the last attempt's failure is not told:\n%s", f.logs.String())
	}
	// A queue that cannot hold the message back still fails it: it comes
	// back after the visibility timeout.
	f.holds.Fail(errors.New("sqs down"))
	if failed := f.handle(t, msg("m3", event, 1)); !slices.Equal(failed, []string{"m3"}) {
		t.Errorf("failed %v", failed)
	}
}

// The queue's receive limit is the schedule's: its last attempt is a day
// or more after the first, and the one before less than a day; the queue
// keeps a message longer than that, and every wait fits SQS's 12 hours.
func TestTheQueueMatchesTheSchedule(t *testing.T) {
	s := eventwebhooksworker.Retries()
	q := schema.EventWebhooks
	if got := s.Attempts(24 * time.Hour); got != q.MaxReceiveCount {
		t.Fatalf("the schedule takes %d attempts to reach a day; the queue's maxReceiveCount is %d", got, q.MaxReceiveCount)
	}
	var last, beforeLast time.Duration
	for n := 1; n < q.MaxReceiveCount; n++ {
		beforeLast = last
		last += s.After(n)
		if s.After(n) > 12*time.Hour || s.After(n)%time.Second != 0 {
			t.Errorf("wait %d is %v: SQS takes whole seconds up to 12 h", n, s.After(n))
		}
	}
	if last < 24*time.Hour || beforeLast >= 24*time.Hour {
		t.Errorf("last attempt at %v, the one before at %v", last, beforeLast)
	}
	if q.Retention < last+s.After(q.MaxReceiveCount)+q.VisibilityTimeout() {
		t.Errorf("retention %v ends before the schedule's %v", q.Retention, last)
	}
	// A batch of 10 ends within the consumer timeout.
	batches := (10 + eventwebhooksworker.DefaultConcurrency - 1) / eventwebhooksworker.DefaultConcurrency
	if time.Duration(batches)*eventwebhooksworker.DefaultTimeout >= q.ConsumerTimeout {
		t.Errorf("a batch can outlast the %v timeout", q.ConsumerTimeout)
	}
	if got := (eventwebhooksworker.Schedule{time.Second}).Attempts(3 * time.Second); got != 4 {
		t.Errorf("Attempts of a 1 s schedule over 3 s = %d, want 4", got)
	}
}

// A message that is not an event is kept aside with its reason, never
// sent, never retried.
func TestNotAnEventIsKeptAside(t *testing.T) {
	f := newFixture(t, status(http.StatusOK))
	bad := map[string]string{
		"n1": "not json",
		"n2": `{"id":"evt_1","type":"message.received","data":{"message":"x"}}`,
		"n3": `{"Type":"Notification","Message":"{}"}`,
		"n4": strings.Replace(event, `"id":"evt_4f1c"`, `"id":"evt 4f1c"`, 1),
		"n5": strings.Replace(event, `"id":"evt_4f1c"`, `"id":"evt\n4f1c"`, 1),
	}
	var msgs []events.SQSMessage
	for id, body := range bad {
		msgs = append(msgs, msg(id, body, 1))
	}
	if failed := f.handle(t, msgs...); len(failed) != 0 {
		t.Errorf("failed %v: a message that is not an event is not retried", failed)
	}
	if n := len(f.rc.requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
	if len(f.holds.Held()) != 0 {
		t.Errorf("held %v", f.holds.Held())
	}
	kept, _ := f.rejects.List(context.Background(), time.UnixMilli(1796637600000))
	if len(kept) != len(bad) {
		t.Fatalf("kept %d, want %d: %+v", len(kept), len(bad), kept)
	}
	for _, k := range kept {
		id := strings.TrimPrefix(k.ID, "message#")
		if !strings.HasPrefix(k.Reason, "unusable: not a kapso-bridge event") || string(k.Raw) != bad[id] {
			t.Errorf("kept %s: %q %q", k.ID, k.Reason, k.Raw)
		}
	}
	// Without a store to keep it in, it stays on the queue.
	f.w.Rejects = nil
	if failed := f.handle(t, msg("n6", "not json", 1)); !slices.Equal(failed, []string{"n6"}) {
		t.Errorf("failed %v", failed)
	}
}

// A batch's POSTs run at most Concurrency at once, and one slow endpoint
// answer delays no other event beyond its own timeout.
func TestConcurrencyIsBounded(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	f := newFixture(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	f.w.Concurrency = 3
	var msgs []events.SQSMessage
	for i := range 10 {
		msgs = append(msgs, msg("m"+strconv.Itoa(i), strings.Replace(event, "evt_4f1c", "evt_"+strconv.Itoa(i), 1), 1))
	}
	if failed := f.handle(t, msgs...); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if len(f.rc.requests()) != 10 || most > 3 || most < 2 {
		t.Errorf("%d requests, at most %d at once", len(f.rc.requests()), most)
	}
}

// The log says which event, which attempt and what answered, and never
// the body, the secret or the URL (whose query may hold a token).
func TestLogsNameTheEventNotItsContent(t *testing.T) {
	f := newFixture(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	f.handle(t, msg("m1", event, 1))
	f.handle(t, msg("m1", event, 2))
	f.srv.Close()
	f.handle(t, msg("m1", event, 3))
	logs := f.logs.String()
	for _, want := range []string{"event_id=evt_4f1c", "type=message.received", "attempt=1", "status=500", "attempt=2", "status=200",
		"event delivered", "attempt=3", "next_attempt_in=2m0s"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, never := range []string{"Tem pão", "5215512345678", secret, strings.TrimPrefix(secret, "whsec_"), "url-token-7", "/events"} {
		if strings.Contains(logs, never) {
			t.Errorf("logs show %q:\n%s", never, logs)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{"https://saas.example.com/kapso/events", "https://203.0.113.7:8443/e?token=x",
		"http://127.0.0.1:8070/events", "http://localhost:8070/events", "http://[::1]:8070/events", "http://127.0.0.9/x"} {
		if err := eventwebhooksworker.CheckURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for raw, want := range map[string]string{
		"":                              "not an absolute URL",
		"saas.example.com/events":       "not an absolute URL",
		"/events":                       "not an absolute URL",
		"https://":                      "not an absolute URL",
		"http://saas.example.com/e":     "use https",
		"http://10.0.0.5/e":             "use https",
		"http://localhost.example.com/": "use https",
		"ftp://saas.example.com/e":      `scheme "ftp"`,
		"://bad":                        "not an absolute URL",
	} {
		if err := eventwebhooksworker.CheckURL(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", raw, err, want)
		}
	}
}
