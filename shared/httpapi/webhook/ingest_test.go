package webhook_test

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
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const (
	projectSecret = "project-secret"
	numberID      = "106540352242922"
	numberSecret  = "number-secret"
	metaAppSecret = "meta-app-secret"
)

// stack is one ingest wired to its own real tables and queues.
type stack struct {
	t       *testing.T
	ingest  *webhook.Ingest
	mux     *http.ServeMux
	clock   *testclock.Clock
	queues  map[string]sqsqueue.QueueURLs
	tables  map[string]string
	sqs     *sqs.Client
	db      *dynamodb.Client
	sender  *sqsqueue.DeliveryQueue
	claims  *dynamo.Claims
	payload *dynamo.Payloads
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, clock: testclock.New(time.Now()), queues: awstest.Queues(t), tables: awstest.Tables(t),
		sqs: awstest.SQS(t), db: awstest.DynamoDB(t)}
	s.claims = &dynamo.Claims{DB: s.db, Table: awstest.Idempotency(s.tables), Now: s.clock.Now}
	s.payload = &dynamo.Payloads{DB: s.db, Table: awstest.Idempotency(s.tables)}
	s.sender = &sqsqueue.DeliveryQueue{Client: s.sqs, Bodies: s.payload}
	secrets := &dynamo.Numbers{DB: s.db, Table: awstest.Bridge(s.tables)}
	if err := secrets.PutSecret(context.Background(), numberID, numberSecret); err != nil {
		t.Fatal(err)
	}
	s.ingest = &webhook.Ingest{
		Claims:            s.claims,
		Queue:             s.sender,
		Secrets:           &webhook.SecretCache{Source: secrets, TTL: time.Minute, NegativeTTL: time.Second},
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

// queued is one message found on a queue: its header and its body, loaded
// from the payload store when it was kept aside.
type queued struct {
	envelope.Delivery
	Body []byte
}

// drain receives every message on a queue (and deletes them).
func (s *stack) drain(queueURL string) []queued {
	s.t.Helper()
	var out []queued
	deadline := time.Now().Add(30 * time.Second)
	var wait int32
	for {
		res, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: 1,
		})
		if err != nil {
			s.t.Fatalf("receive: %v", err)
		}
		// An empty short poll is not proof of an empty queue: ask the queue.
		// Messages in flight come back when their visibility ends: the next
		// receive waits for them on the server.
		wait = 0
		if len(res.Messages) == 0 {
			if s.pending(queueURL) == 0 {
				return out
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("queue never drained: %d messages pending", s.pending(queueURL))
			}
			wait = 1
		}
		for _, m := range res.Messages {
			d, body, err := envelope.Decode(aws.ToString(m.Body))
			if err != nil {
				s.t.Fatalf("queue message is not a delivery: %v", err)
			}
			if d.BodyRef != "" {
				if len(body) != 0 {
					s.t.Fatalf("delivery %s has both a body and a reference", d.Key)
				}
				if body, err = s.payload.Get(context.Background(), d.BodyRef); err != nil {
					s.t.Fatalf("load body kept aside: %v", err)
				}
			}
			out = append(out, queued{d, body})
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

func (s *stack) lifecycle() []queued { return s.drain(s.queues[schema.Lifecycle.ID].URL) }
func (s *stack) messages() []queued  { return s.drain(s.queues[schema.Messages.ID].URL) }

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
// accepted one lands whole, as one message, on the right queue.
func TestEverySampleEvent(t *testing.T) {
	samples, err := events.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t)
	for _, sm := range samples {
		t.Run(sm.Path, func(t *testing.T) {
			d := delivery{body: sm.Body, event: sm.Event, key: "key-" + sm.Path}
			wantSource, wantNumber := envelope.SourceKapsoNumber, numberID
			switch sm.Route {
			case events.RouteProject:
				d.path, d.secret = "/webhooks/kapso", projectSecret
				wantSource, wantNumber = envelope.SourceKapsoProject, ""
			case events.RouteNumber:
				d.path, d.secret = "/webhooks/kapso/"+numberID, numberSecret
			case events.RouteMeta:
				d.path, d.secret = "/webhooks/meta/"+numberID, numberSecret
				wantSource = envelope.SourceMeta
			case events.RouteBad:
				d.path, d.secret = "/webhooks/kapso/"+numberID, numberSecret
				before := s.claimCount()
				wantStatus(t, s.post(d), http.StatusBadRequest)
				if got := len(s.messages()); got != 0 {
					t.Fatalf("bad input enqueued %d messages", got)
				}
				if s.claimCount() != before {
					t.Fatal("bad input left a claim behind")
				}
				return
			}
			wantStatus(t, s.post(d), http.StatusOK)
			var got []queued
			if sm.Route == events.RouteProject {
				got = s.lifecycle()
				if n := len(s.messages()); n != 0 {
					t.Fatalf("project delivery went to the messages queue (%d)", n)
				}
			} else {
				got = s.messages()
				if n := len(s.lifecycle()); n != 0 {
					t.Fatalf("number delivery went to the lifecycle queue (%d)", n)
				}
			}
			if len(got) != 1 {
				t.Fatalf("enqueued %d messages, want the delivery as one", len(got))
			}
			q := got[0]
			if !bytes.Equal(q.Body, sm.Body) {
				t.Fatal("the queued body is not the received body byte for byte")
			}
			if q.Source != wantSource || q.PhoneNumberID != wantNumber || q.Event != sm.Event ||
				q.IdempotencyKey != d.key || !strings.HasSuffix(q.Key, "#"+d.key) || q.ReceivedAt.IsZero() {
				t.Fatalf("bad delivery header %+v", q.Delivery)
			}
		})
	}
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
	if len(got) != 1 || got[0].Source != envelope.SourceMeta || !bytes.Equal(got[0].Body, body) ||
		got[0].IdempotencyKey == "" {
		t.Fatalf("enqueued %+v", got)
	}
}

// Meta's app signature covers every number of the app: at the route of a
// number kapso-bridge holds no secret for it is refused like any unknown
// number, and costs nothing but the secret's read. (numberID has a secret
// and no connection: known, not connected, it is accepted above.)
func TestMetaAppSignatureForAnUnknownNumberIsRefused(t *testing.T) {
	s := newStack(t)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"w","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"999"},"statuses":[{"id":"wamid.1","status":"read","timestamp":"1"}]}}]}]}`)
	rec := s.post(delivery{path: "/webhooks/meta/999", body: body, key: "meta-unknown",
		headers: map[string]string{"X-Hub-Signature-256": meta.Sign(metaAppSecret, body)}})
	wantStatus(t, rec, http.StatusUnauthorized)
	if n := s.claimCount(); n != 0 {
		t.Fatalf("%d claims stored for a refused delivery", n)
	}
	if n := len(s.messages()); n != 0 {
		t.Fatalf("%d messages enqueued for a refused delivery", n)
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
	if got := s.lifecycle(); len(got) != 1 || !bytes.Equal(got[0].Body, createdBody) {
		t.Fatalf("queue holds %+v", got)
	}
}

// gate blocks the first Send until released, so a second copy can arrive
// while the first is in flight.
type gate struct {
	next    envelope.Enqueuer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) Send(ctx context.Context, url string, d envelope.Delivery, body []byte, aside bool) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.next.Send(ctx, url, d, body, aside)
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

func (crashing) Send(context.Context, string, envelope.Delivery, []byte, bool) error {
	panic("process killed")
}

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
	s.clock.Advance(webhook.DefaultIngestLease + time.Second)
	wantStatus(t, s.post(d), http.StatusOK)
	if got := s.lifecycle(); len(got) != 1 {
		t.Fatalf("enqueued %d, want 1", len(got))
	}
}

// failOnce points the first Send at a queue that does not exist: a real SQS error.
type failOnce struct {
	next  envelope.Enqueuer
	calls int
}

func (f *failOnce) Send(ctx context.Context, url string, d envelope.Delivery, body []byte, aside bool) error {
	f.calls++
	if f.calls == 1 {
		url = url + "-missing"
	}
	return f.next.Send(ctx, url, d, body, aside)
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
	s.ingest.Deadline = webhook.DefaultIngestTimeout
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
	if len(got) != 1 || got[0].BodyRef == "" || !bytes.Equal(got[0].Body, body) {
		t.Fatalf("want the delivery as one message referring to its body kept aside, got %d messages", len(got))
	}
}

// A body that fits in a message travels inside it; a larger one, or one
// holding characters SQS refuses, travels as a reference to its body.
func TestBodiesTravelInlineOrAside(t *testing.T) {
	s := newStack(t)
	textBody := func(text string) []byte {
		return []byte(`{"message":{"id":"wamid.big","type":"text","text":{"body":"` + text + `"}},"phone_number_id":"` + numberID + `"}`)
	}
	cases := []struct {
		name  string
		body  []byte
		aside bool
	}{
		{"900 KB inline", textBody(strings.Repeat("é", 450_000)), false},
		{"1.2 MB aside", textBody(strings.Repeat("é", 600_000)), true},
		{"U+FFFF aside", textBody("non-character \uffff raw: \xef\xbf\xbf"), true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := delivery{path: "/webhooks/kapso/" + numberID, body: c.body, event: "whatsapp.message.received",
				key: "big-" + strconv.Itoa(i), secret: numberSecret}
			wantStatus(t, s.post(d), http.StatusOK)
			got := s.messages()
			if len(got) != 1 || (got[0].BodyRef != "") != c.aside || !bytes.Equal(got[0].Body, c.body) {
				t.Fatalf("want one message (aside %v) with the body whole, got %d", c.aside, len(got))
			}
		})
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
	if got := s.lifecycle(); len(got) != 1 || got[0].Event != "whatsapp.brand_new.event" {
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

func TestBadEventHeaderIsRefused(t *testing.T) {
	s := newStack(t)
	for _, event := range []string{strings.Repeat("e", 129), "whatsapp.message.received\x00", "two words"} {
		d := delivery{path: "/webhooks/kapso", body: createdBody, event: event, key: "ev", secret: projectSecret}
		wantStatus(t, s.post(d), http.StatusBadRequest)
	}
	if s.claimCount() != 0 || len(s.lifecycle()) != 0 {
		t.Fatal("refused delivery left a claim or a message")
	}
}

// A signed body is still checked: valid UTF-8 JSON of the route's shape, or
// 400 with nothing stored.
func TestSignedBodyOfTheWrongShapeIsRefused(t *testing.T) {
	s := newStack(t)
	cases := map[string]delivery{
		"meta entry not an array": {path: "/webhooks/meta/" + numberID, body: []byte(`{"object":"whatsapp_business_account","entry":{}}`)},
		"meta without object":     {path: "/webhooks/meta/" + numberID, body: []byte(`{"entry":[]}`)},
		"meta array":              {path: "/webhooks/meta/" + numberID, body: []byte(`[{"object":"x","entry":[]}]`)},
		"invalid UTF-8":           {path: "/webhooks/kapso/" + numberID, body: []byte("{\"text\":\"\xff\xfe\"}")},
		"kapso scalar":            {path: "/webhooks/kapso", body: []byte(`"hello"`)},
		"trailing garbage":        {path: "/webhooks/kapso", body: []byte(`{"a":1} x`)},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			d.key, d.secret = name, numberSecret
			if d.path == "/webhooks/kapso" {
				d.secret = projectSecret
			}
			rec := s.post(d)
			wantStatus(t, rec, http.StatusBadRequest)
		})
	}
	if s.claimCount() != 0 || len(s.lifecycle())+len(s.messages()) != 0 {
		t.Fatal("refused deliveries left a claim or a message")
	}
}
