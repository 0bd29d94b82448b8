package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/awstest"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const (
	projectSecret = "project-secret"
	numberID      = "106540352242922"
	numberSecret  = "number-secret"
	metaAppSecret = "meta-app-secret"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// stack is one ingest wired to its own real tables and queues.
type stack struct {
	t       *testing.T
	ingest  *httpapi.Ingest
	mux     *http.ServeMux
	clock   *clock
	queues  map[string]sqsqueue.QueueURLs
	tables  map[string]string
	sqs     *sqs.Client
	db      *dynamodb.Client
	sender  *sqsqueue.Sender
	claims  *dynamo.Claims
	payload *dynamo.Payloads
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, clock: &clock{t: time.Now()}, queues: awstest.Queues(t), tables: awstest.Tables(t),
		sqs: awstest.SQS(t), db: awstest.DynamoDB(t)}
	s.claims = &dynamo.Claims{DB: s.db, Table: awstest.Idempotency(s.tables), Now: s.clock.Now}
	s.payload = &dynamo.Payloads{DB: s.db, Table: awstest.Idempotency(s.tables)}
	s.sender = &sqsqueue.Sender{Client: s.sqs, Bodies: s.payload}
	secrets := &dynamo.WebhookSecrets{DB: s.db, Table: awstest.Bridge(s.tables)}
	if err := secrets.PutSecret(context.Background(), numberID, numberSecret); err != nil {
		t.Fatal(err)
	}
	s.ingest = &httpapi.Ingest{
		Claims:            s.claims,
		Queue:             s.sender,
		Secrets:           &httpapi.SecretCache{Source: secrets, TTL: time.Minute, NegativeTTL: time.Second},
		ProjectSecret:     projectSecret,
		MetaAppSecret:     metaAppSecret,
		LifecycleQueueURL: s.queues[schema.Lifecycle.ID].URL,
		MessagesQueueURL:  s.queues[schema.Messages.ID].URL,
		Deadline:          3 * time.Second,
		Log:               slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:               s.clock.Now,
	}
	s.mux = http.NewServeMux()
	s.ingest.Register(s.mux)
	return s
}

type delivery struct {
	path    string
	body    []byte
	event   string
	key     string
	secret  string // "" = unsigned
	headers map[string]string
}

func (s *stack) post(d delivery) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, d.path, bytes.NewReader(d.body))
	if d.event != "" {
		req.Header.Set("X-Webhook-Event", d.event)
	}
	if d.key != "" {
		req.Header.Set("X-Idempotency-Key", d.key)
	}
	if d.secret != "" {
		req.Header.Set("X-Webhook-Signature", kapso.Sign(d.secret, d.body))
	}
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return rec
}

// drain receives every message on a queue (and deletes them).
func (s *stack) drain(queueURL string) []envelope.Event {
	s.t.Helper()
	var out []envelope.Event
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 1,
		})
		if err != nil {
			s.t.Fatalf("receive: %v", err)
		}
		// An empty short poll is not proof of an empty queue: ask the queue.
		if len(res.Messages) == 0 {
			if s.pending(queueURL) == 0 {
				return out
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("queue never drained: %d messages pending", s.pending(queueURL))
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, m := range res.Messages {
			var ev envelope.Event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				s.t.Fatalf("queue message is not an envelope: %v", err)
			}
			out = append(out, ev)
			_, _ = s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// pending counts messages visible or in flight: a receive whose answer was
// lost (and retried by the SDK) leaves its messages in flight for a while.
func (s *stack) pending(queueURL string) int {
	a, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		s.t.Fatalf("queue attributes: %v", err)
	}
	visible, _ := strconv.Atoi(a.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ := strconv.Atoi(a.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible + inFlight
}

func (s *stack) lifecycle() []envelope.Event { return s.drain(s.queues[schema.Lifecycle.ID].URL) }
func (s *stack) messages() []envelope.Event  { return s.drain(s.queues[schema.Messages.ID].URL) }

func (s *stack) claimCount() int {
	out, err := s.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(awstest.Idempotency(s.tables))})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(out.Items)
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body.String())
	}
}

func projectDelivery(body []byte, key string) delivery {
	return delivery{path: "/webhooks/kapso", body: body, event: "whatsapp.phone_number.created", key: key, secret: projectSecret}
}

var createdBody = []byte(`{"phone_number_id":"123456789012345","project":{"id":"p1"},"customer":{"id":"c1"}}`)

// Every sample in events/ gets the answer its route promises, and every
// event of an accepted one lands on the right queue.
func TestEverySampleEvent(t *testing.T) {
	samples, err := events.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t)
	for _, sm := range samples {
		t.Run(sm.Path, func(t *testing.T) {
			var want []kapsoOrMetaItem
			d := delivery{body: sm.Body, event: sm.Event, key: "key-" + sm.Path}
			switch sm.Route {
			case events.RouteProject:
				d.path, d.secret = "/webhooks/kapso", projectSecret
				want = kapsoItems(t, sm)
			case events.RouteNumber:
				d.path, d.secret = "/webhooks/kapso/"+numberID, numberSecret
				want = kapsoItems(t, sm)
			case events.RouteMeta:
				d.path, d.secret = "/webhooks/meta/"+numberID, numberSecret
				items, err := meta.Split(sm.Body)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					want = append(want, kapsoOrMetaItem{it.Name, it.Payload})
				}
			case events.RouteBad:
				d.path, d.secret = "/webhooks/kapso/"+numberID, numberSecret
				before := s.claimCount()
				wantStatus(t, s.post(d), http.StatusBadRequest)
				if got := len(s.messages()); got != 0 {
					t.Fatalf("bad input enqueued %d events", got)
				}
				if s.claimCount() != before {
					t.Fatal("bad input left a claim behind")
				}
				return
			}
			wantStatus(t, s.post(d), http.StatusOK)
			var got []envelope.Event
			if sm.Route == events.RouteProject {
				got = s.lifecycle()
				if n := len(s.messages()); n != 0 {
					t.Fatalf("project event went to the messages queue (%d)", n)
				}
			} else {
				got = s.messages()
				if n := len(s.lifecycle()); n != 0 {
					t.Fatalf("number event went to the lifecycle queue (%d)", n)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("enqueued %d events, want %d", len(got), len(want))
			}
			names := map[string]int{}
			for _, w := range want {
				names[w.name]++
			}
			for _, ev := range got {
				names[ev.Name]--
				if ev.DeliveryKey != d.key || !json.Valid(ev.Payload) {
					t.Fatalf("bad envelope %+v", ev)
				}
			}
			for n, c := range names {
				if c != 0 {
					t.Fatalf("event %s count off by %d", n, c)
				}
			}
		})
	}
}

type kapsoOrMetaItem struct {
	name    string
	payload json.RawMessage
}

func kapsoItems(t *testing.T, sm events.Sample) []kapsoOrMetaItem {
	items, err := kapso.Split(sm.Event, sm.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []kapsoOrMetaItem
	for _, it := range items {
		out = append(out, kapsoOrMetaItem{it.Name, it.Payload})
	}
	return out
}

func TestSignatureFailuresStoreNothing(t *testing.T) {
	s := newStack(t)
	reserialised, _ := json.Marshal(json.RawMessage(`{"phone_number_id": "1",  "project": {"id": "p"}}`))
	cases := map[string]delivery{
		"unsigned":                   {path: "/webhooks/kapso", body: createdBody, key: "a"},
		"wrong secret":               {path: "/webhooks/kapso", body: createdBody, key: "b", secret: "guess"},
		"number's secret on project": {path: "/webhooks/kapso", body: createdBody, key: "c", secret: numberSecret},
		"unknown number":             {path: "/webhooks/kapso/999", body: createdBody, key: "d", secret: numberSecret},
		"prefixed signature": {path: "/webhooks/kapso", body: createdBody, key: "e",
			headers: map[string]string{"X-Webhook-Signature": "sha256=" + kapso.Sign(projectSecret, createdBody)}},
		"re-serialised body": {path: "/webhooks/kapso", body: reserialised, key: "f",
			headers: map[string]string{"X-Webhook-Signature": kapso.Sign(projectSecret, []byte(`{"phone_number_id": "1",  "project": {"id": "p"}}`))}},
		"bad meta signature": {path: "/webhooks/meta/" + numberID, body: []byte(`{"object":"whatsapp_business_account","entry":[]}`), key: "g",
			headers: map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, s.post(d), http.StatusUnauthorized)
		})
	}
	if n := s.claimCount(); n != 0 {
		t.Fatalf("%d claims stored for refused deliveries", n)
	}
	if n := len(s.lifecycle()) + len(s.messages()); n != 0 {
		t.Fatalf("%d events enqueued for refused deliveries", n)
	}
}

func TestMetaAppSignatureAloneIsEnough(t *testing.T) {
	s := newStack(t)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"w","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + numberID + `"},"statuses":[{"id":"wamid.1","status":"read","timestamp":"1"}]}}]}]}`)
	rec := s.post(delivery{path: "/webhooks/meta/" + numberID, body: body,
		headers: map[string]string{"X-Hub-Signature-256": meta.Sign(metaAppSecret, body)}})
	wantStatus(t, rec, http.StatusOK)
	got := s.messages()
	if len(got) != 1 || got[0].Name != "meta.status" || got[0].DeliveryKey == "" {
		t.Fatalf("enqueued %+v", got)
	}
}

func TestSameDeliveryTwiceIsEnqueuedOnce(t *testing.T) {
	s := newStack(t)
	d := projectDelivery(createdBody, "dup-1")
	wantStatus(t, s.post(d), http.StatusOK)
	wantStatus(t, s.post(d), http.StatusOK)
	if got := s.lifecycle(); len(got) != 1 {
		t.Fatalf("enqueued %d times, want once", len(got))
	}
	// Without a key, the body's hash is the key.
	d.key = ""
	wantStatus(t, s.post(d), http.StatusOK)
	wantStatus(t, s.post(d), http.StatusOK)
	if got := s.lifecycle(); len(got) != 1 {
		t.Fatalf("keyless copies enqueued %d times, want once", len(got))
	}
}

func TestSameKeyDifferentBodyIsRefused(t *testing.T) {
	s := newStack(t)
	wantStatus(t, s.post(projectDelivery(createdBody, "k")), http.StatusOK)
	other := []byte(`{"phone_number_id":"999","project":{"id":"p1"},"customer":{"id":"c1"}}`)
	rec := s.post(projectDelivery(other, "k"))
	wantStatus(t, rec, http.StatusConflict)
	if rec.Header().Get("Retry-After") != "" {
		t.Fatal("a body conflict is final; it must not invite a retry")
	}
	if got := s.lifecycle(); len(got) != 1 || !bytes.Contains(got[0].Payload, []byte(`"123456789012345"`)) {
		t.Fatalf("queue holds %+v", got)
	}
}

// gate blocks the first Send until released, so a second copy can arrive
// while the first is in flight.
type gate struct {
	next    httpapi.Enqueuer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) Send(ctx context.Context, url string, evs []envelope.Event) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.next.Send(ctx, url, evs)
}

func TestConcurrentCopiesOneAcceptedOneRetryLater(t *testing.T) {
	s := newStack(t)
	g := &gate{next: s.sender, entered: make(chan struct{}), release: make(chan struct{})}
	s.ingest.Queue = g
	d := projectDelivery(createdBody, "race")
	firstDone := make(chan *httptest.ResponseRecorder)
	go func() { firstDone <- s.post(d) }()
	<-g.entered
	second := s.post(d)
	wantStatus(t, second, http.StatusConflict)
	if ra, err := strconv.Atoi(second.Header().Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After = %q", second.Header().Get("Retry-After"))
	}
	if n := len(s.lifecycle()); n != 0 {
		t.Fatalf("second copy got a non-200 but %d events are queued before the first finished", n)
	}
	close(g.release)
	wantStatus(t, <-firstDone, http.StatusOK)
	wantStatus(t, s.post(d), http.StatusOK) // Kapso's retry of the 409
	if got := s.lifecycle(); len(got) != 1 {
		t.Fatalf("enqueued %d times, want once", len(got))
	}
}

// crashing stands for a Lambda that dies between claim and enqueue.
type crashing struct{}

func (crashing) Send(context.Context, string, []envelope.Event) error { panic("process killed") }

func TestCrashBetweenClaimAndEnqueue(t *testing.T) {
	s := newStack(t)
	d := projectDelivery(createdBody, "crash")
	s.ingest.Queue = crashing{}
	func() {
		defer func() { _ = recover() }()
		s.post(d)
		t.Fatal("the crash did not happen")
	}()
	s.ingest.Queue = s.sender
	wantStatus(t, s.post(d), http.StatusConflict) // the dead copy's lease still holds
	s.clock.Advance(httpapi.DefaultIngestLease + time.Second)
	wantStatus(t, s.post(d), http.StatusOK)
	if got := s.lifecycle(); len(got) != 1 {
		t.Fatalf("enqueued %d, want 1", len(got))
	}
}

// failOnce points the first Send at a queue that does not exist: a real SQS error.
type failOnce struct {
	next  httpapi.Enqueuer
	calls int
}

func (f *failOnce) Send(ctx context.Context, url string, evs []envelope.Event) error {
	f.calls++
	if f.calls == 1 {
		url = url + "-missing"
	}
	return f.next.Send(ctx, url, evs)
}

func TestSQSFailureAnswers503AndTheRetrySucceedsAtOnce(t *testing.T) {
	s := newStack(t)
	s.ingest.Queue = &failOnce{next: s.sender}
	d := projectDelivery(createdBody, "sqs-down")
	rec := s.post(d)
	wantStatus(t, rec, http.StatusServiceUnavailable)
	if strings.Contains(rec.Body.String(), "missing") || strings.Contains(rec.Body.String(), "queue") {
		t.Fatalf("internal error text leaked: %s", rec.Body.String())
	}
	wantStatus(t, s.post(d), http.StatusOK) // no wait for the lease: the claim was released
	if got := s.lifecycle(); len(got) != 1 {
		t.Fatalf("enqueued %d, want 1", len(got))
	}
}

// hangingClaims never answers, like a DynamoDB that stopped responding.
type hangingClaims struct{ idempotency.Store }

func (hangingClaims) Claim(ctx context.Context, _, _ string, _ time.Duration) (idempotency.Result, error) {
	<-ctx.Done()
	return idempotency.Result{}, fmt.Errorf("claim: %w", ctx.Err())
}

func TestHangingDependencyStillAnswersBeforeTheDeadline(t *testing.T) {
	s := newStack(t)
	s.ingest.Claims = hangingClaims{}
	s.ingest.Deadline = 2 * time.Second
	start := time.Now()
	rec := s.post(projectDelivery(createdBody, "hang"))
	wantStatus(t, rec, http.StatusServiceUnavailable)
	// Kapso gives up at 10 s; the answer must come from our own deadline.
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("answered after %s", took)
	}
}

func TestSizeLimit(t *testing.T) {
	s := newStack(t)
	s.ingest.MaxBodyBytes = 1 << 20
	big := append([]byte(`{"phone_number_id":"1","pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	big = append(big, `"}`...)
	wantStatus(t, s.post(projectDelivery(big, "big")), http.StatusRequestEntityTooLarge)
	if s.claimCount() != 0 {
		t.Fatal("oversized body left a claim")
	}
}

// Meta payloads reach 3 MB: such a delivery is accepted whole.
func TestThreeMegabyteMetaPayloadIsAccepted(t *testing.T) {
	s := newStack(t)
	// The deployed deadline: what a 3 MB delivery must fit in.
	s.ingest.Deadline = httpapi.DefaultIngestTimeout
	var statuses []string
	for i := range 9000 {
		statuses = append(statuses, fmt.Sprintf(`{"id":"wamid.%08d-%s","status":"delivered","timestamp":"1749416383","recipient_id":"16505551234","recipient_user_id":"US.13491208655302741918","pricing":{"billable":true,"pricing_model":"PMP","category":"marketing"}}`, i, strings.Repeat("z", 120)))
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"w","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + numberID + `"},"statuses":[` + strings.Join(statuses, ",") + `]}}]}]}`)
	if len(body) < 2<<20 {
		t.Fatalf("test payload only %d bytes", len(body))
	}
	wantStatus(t, s.post(delivery{path: "/webhooks/meta/" + numberID, body: body, secret: numberSecret}), http.StatusOK)
	got := s.messages()
	seen := map[string]bool{}
	for _, e := range got {
		seen[e.ID] = true
	}
	if len(got) != 9000 || len(seen) != 9000 {
		t.Fatalf("enqueued %d statuses (%d distinct), want 9000", len(got), len(seen))
	}
}

// An event too big for one SQS message travels as a reference to its body.
func TestOversizedEventIsKeptAsideNotLost(t *testing.T) {
	s := newStack(t)
	huge := strings.Repeat("é", 200_000) // 400 KB of text
	body := []byte(`{"message":{"id":"wamid.big","type":"text","text":{"body":"` + huge + `"}},"phone_number_id":"` + numberID + `"}`)
	wantStatus(t, s.post(delivery{path: "/webhooks/kapso/" + numberID, body: body, event: "whatsapp.message.received", key: "big", secret: numberSecret}), http.StatusOK)
	got := s.messages()
	if len(got) != 1 || got[0].PayloadRef == "" || len(got[0].Payload) != 0 {
		t.Fatalf("want one event by reference, got %+v", got)
	}
	stored, err := s.payload.Get(context.Background(), got[0].PayloadRef)
	if err != nil || !bytes.Equal(stored, body) {
		t.Fatalf("stored body: %d bytes, %v", len(stored), err)
	}
}

func TestBSUIDOnlyAndUnknownEventsAreKept(t *testing.T) {
	s := newStack(t)
	bsuid := []byte(`{"message":{"id":"wamid.b","timestamp":"1749416383","type":"text","text":{"body":"hi"},"from_user_id":"US.13491208655302741918","kapso":{"direction":"inbound"}},"conversation":{"id":"c","phone_number":null,"business_scoped_user_id":"US.13491208655302741918"},"phone_number_id":"` + numberID + `"}`)
	wantStatus(t, s.post(delivery{path: "/webhooks/kapso/" + numberID, body: bsuid, event: "whatsapp.message.received", key: "b", secret: numberSecret}), http.StatusOK)
	unknown := []byte(`{"anything":true}`)
	wantStatus(t, s.post(delivery{path: "/webhooks/kapso", body: unknown, event: "whatsapp.brand_new.event", key: "u", secret: projectSecret}), http.StatusOK)
	if got := s.messages(); len(got) != 1 || got[0].PhoneNumberID != numberID {
		t.Fatalf("bsuid message: %+v", got)
	}
	if got := s.lifecycle(); len(got) != 1 || got[0].Name != "whatsapp.brand_new.event" {
		t.Fatalf("unknown event: %+v", got)
	}
}

func TestBadIdempotencyKeyIsRefused(t *testing.T) {
	s := newStack(t)
	wantStatus(t, s.post(projectDelivery(createdBody, strings.Repeat("k", 300))), http.StatusBadRequest)
	if s.claimCount() != 0 {
		t.Fatal("refused delivery left a claim")
	}
}
