package eventwebhooksworker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventwebhooksworker"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// endpoint is the SaaS's webhook endpoint: it verifies each delivery and
// answers 500 until open, then 200.
type endpoint struct {
	t   *testing.T
	key []byte

	mu        sync.Mutex
	open      bool
	attempts  map[string][]string // event id → webhook-id of each attempt
	delivered map[string][]byte   // event id → the body it took with a 200
}

func newEndpoint(t *testing.T) *endpoint {
	return &endpoint{t: t, key: key(t), attempts: map[string][]string{}, delivered: map[string][]byte{}}
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := bridgeevents.Verify(e.key, r.Header, body, time.Now()); err != nil {
		e.t.Errorf("delivery does not verify: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ev, err := bridgeevents.Decode(body)
	if err != nil {
		e.t.Errorf("delivery is no event: %v", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.attempts[ev.ID] = append(e.attempts[ev.ID], r.Header.Get(bridgeevents.HeaderID))
	if !e.open {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if _, twice := e.delivered[ev.ID]; twice {
		e.t.Errorf("%s delivered again after a 200", ev.ID)
	}
	e.delivered[ev.ID] = body
}

func (e *endpoint) setOpen(open bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.open = open
}

func (e *endpoint) tried(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.attempts[id])
}

func (e *endpoint) deliveredCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.delivered)
}

// topic is a fresh events topic with an event-webhooks queue (webhooks:
// the schema's, or one with a shorter receive limit) subscribed to it as
// the schema says, the worker polling that queue as Lambda would, and the
// other queues of the test.
type topic struct {
	arn    string
	sns    *sns.Client
	sqs    *sqs.Client
	queues map[string]sqsqueue.QueueURLs
}

func newTopic(t *testing.T, webhooks schema.Queue) *topic {
	t.Helper()
	ctx := context.Background()
	tp := &topic{sns: awstest.SNS(t), sqs: awstest.SQS(t), queues: awstest.Queues(t)}
	prefix := awstest.Prefix(t)
	out, err := tp.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(prefix + schema.EventsTopic.ID)})
	if err != nil {
		t.Fatal(err)
	}
	tp.arn = aws.ToString(out.TopicArn)
	urls, err := sqsqueue.CreateQueue(ctx, tp.sqs, webhooks, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range []string{urls.URL, urls.DLQURL} {
			_, _ = tp.sqs.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(q)})
		}
	})
	tp.queues[schema.EventWebhooks.ID] = urls
	tp.subscribe(t, schema.EventWebhooksSubscription, tp.queues[schema.EventWebhooks.ID].URL)
	return tp
}

func (tp *topic) subscribe(t *testing.T, s schema.Subscription, url string) {
	t.Helper()
	arn, err := sqsqueue.QueueARN(context.Background(), tp.sqs, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snstopic.Subscribe(context.Background(), tp.sns, s, tp.arn, arn); err != nil {
		t.Fatal(err)
	}
}

// publish puts an event on the topic as the publisher does: its JSON, with
// its type and tenant as message attributes.
func (tp *topic) publish(t *testing.T, body string) {
	t.Helper()
	ev, err := bridgeevents.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) snstypes.MessageAttributeValue {
		return snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
	}
	if _, err := tp.sns.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(tp.arn), Message: aws.String(body),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			schema.EventAttrType: str(ev.Type), schema.EventAttrTenant: str(ev.TenantID)}}); err != nil {
		t.Fatal(err)
	}
}

// run polls the event-webhooks queue with w until the test ends.
func (tp *topic) run(t *testing.T, w *eventwebhooksworker.Worker) {
	t.Helper()
	url := tp.queues[schema.EventWebhooks.ID].URL
	w.Queue = &sqsqueue.Visibility{Client: tp.sqs, URL: url}
	p := &sqsqueue.Poller{Client: tp.sqs, QueueURL: url, Handler: w.Handle, BatchSize: 10,
		Timeout: schema.EventWebhooks.ConsumerTimeout, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func eventN(i int) string {
	return strings.NewReplacer(`"id":"evt_4f1c"`, fmt.Sprintf(`"id":"evt_%d"`, i), "wamid.1", fmt.Sprintf("wamid.%d", i)).Replace(event)
}

func worker(t *testing.T, url string, schedule eventwebhooksworker.Schedule) *eventwebhooksworker.Worker {
	return &eventwebhooksworker.Worker{URL: url, Key: key(t), Rejects: &memstore.Rejects{}, Schedule: schedule,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// Events published to the topic reach the SaaS's endpoint through the
// subscribed queue and the worker. An endpoint that fails for a while
// still gets every event, each under its own id on every attempt, and
// once; the topic's other subscribers get every event at once, whatever
// the endpoint does.
func TestEveryEventReachesAFailingEndpointOnceItRecovers(t *testing.T) {
	e := newEndpoint(t)
	srv := httptest.NewServer(e)
	defer srv.Close()
	tp := newTopic(t, schema.EventWebhooks)
	// Another subscriber of the topic: a queue of the SaaS's own.
	theirs := tp.queues[schema.Messages.ID].URL
	tp.subscribe(t, schema.Subscription{Topic: schema.EventsTopic, Queue: schema.Messages, Raw: true}, theirs)
	tp.run(t, worker(t, srv.URL+"/kapso/events", eventwebhooksworker.Schedule{0, time.Second}))

	const n = 6
	var published []string
	for i := range n {
		published = append(published, eventN(i))
		tp.publish(t, published[i])
	}
	// While the endpoint fails, each event is tried again and again, and
	// the other subscriber already has them all.
	if !poll.Until(20*time.Second, 50*time.Millisecond, func() bool {
		for i := range n {
			if e.tried(fmt.Sprintf("evt_%d", i)) < 3 {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("the events were not tried 3 times each: %v", e.attempts)
	}
	var got []string
	for len(got) < n {
		out, err := tp.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(theirs),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("the other subscriber got %d of %d events while the endpoint failed", len(got), n)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(published)); !slices.Equal(got, want) {
		t.Errorf("the other subscriber got\n%q\nwant\n%q", got, want)
	}
	if e.deliveredCount() != 0 {
		t.Fatal("delivered while failing")
	}

	e.setOpen(true)
	if !poll.Until(20*time.Second, 50*time.Millisecond, func() bool { return e.deliveredCount() == n }) {
		t.Fatalf("delivered %d of %d once the endpoint recovered", e.deliveredCount(), n)
	}
	for i := range n {
		id := fmt.Sprintf("evt_%d", i)
		e.mu.Lock()
		ids, body := e.attempts[id], e.delivered[id]
		e.mu.Unlock()
		if string(body) != published[i] {
			t.Errorf("%s delivered as %s\nwant %s", id, body, published[i])
		}
		for _, wid := range ids {
			if wid != id {
				t.Errorf("%s: an attempt under webhook-id %q", id, wid)
			}
		}
	}
	if !poll.Until(10*time.Second, 50*time.Millisecond, func() bool {
		return awstest.Queued(t, tp.sqs, tp.queues[schema.EventWebhooks.ID].URL) == 0
	}) {
		t.Error("delivered events are still on the queue")
	}
	if d := awstest.Queued(t, tp.sqs, tp.queues[schema.EventWebhooks.ID].DLQURL); d != 0 {
		t.Errorf("%d events in the DLQ", d)
	}
}

// An event whose attempts run out goes to the DLQ, and a redrive (make
// redrive QUEUE=event-webhooks) delivers it under the same id.
func TestAnEventPastItsAttemptsWaitsInTheDLQForARedrive(t *testing.T) {
	e := newEndpoint(t)
	srv := httptest.NewServer(e)
	defer srv.Close()
	short := schema.EventWebhooks
	short.MaxReceiveCount = 3
	tp := newTopic(t, short)
	tp.run(t, worker(t, srv.URL, eventwebhooksworker.Schedule{0}))
	urls := tp.queues[schema.EventWebhooks.ID]

	tp.publish(t, event)
	if !poll.Until(20*time.Second, 50*time.Millisecond, func() bool {
		return awstest.Queued(t, tp.sqs, urls.DLQURL) == 1
	}) {
		t.Fatalf("not in the DLQ after %d attempts", e.tried("evt_4f1c"))
	}
	if got := e.tried("evt_4f1c"); got != short.MaxReceiveCount {
		t.Errorf("%d attempts, want %d", got, short.MaxReceiveCount)
	}
	e.setOpen(true)
	rep, err := sqsqueue.Redrive(context.Background(), tp.sqs, urls.DLQURL, urls.URL, sqsqueue.RedriveOptions{})
	if err != nil || rep.Moved != 1 {
		t.Fatalf("redrive: %+v %v", rep, err)
	}
	if !poll.Until(20*time.Second, 50*time.Millisecond, func() bool { return e.deliveredCount() == 1 }) {
		t.Fatal("not delivered after the redrive")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if string(e.delivered["evt_4f1c"]) != event || slices.ContainsFunc(e.attempts["evt_4f1c"], func(id string) bool { return id != "evt_4f1c" }) {
		t.Errorf("after the redrive: %q under %q", e.delivered["evt_4f1c"], e.attempts["evt_4f1c"])
	}
}
