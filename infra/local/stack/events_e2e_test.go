package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	samples "github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// told is one event a subscribed queue received, with its message
// attributes.
type told struct {
	bridgeevents.Event
	attrs map[string]string
}

// eventQueue is a queue of the test's own subscribed to the events topic
// (raw delivery, as a SaaS subscribes), read in the background.
type eventQueue struct {
	t    *testing.T
	mu   sync.Mutex
	got  []told
	bad  []string
	done chan struct{}
}

// subscribe subscribes a new queue to the stack's events topic, with the
// filter policy when not "", and reads it until the test ends.
func subscribe(t *testing.T, s *stack.Stack, policy string) *eventQueue {
	t.Helper()
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	topics := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	url := awstest.SubscribedQueue(t, q, topics, s.Topics[schema.EventsTopic.ID], policy)
	readCtx, cancel := context.WithCancel(ctx)
	eq := &eventQueue{t: t, done: make(chan struct{})}
	go eq.read(readCtx, q, url)
	t.Cleanup(func() { cancel(); <-eq.done })
	return eq
}

func (eq *eventQueue) read(ctx context.Context, q *sqs.Client, url string) {
	defer close(eq.done)
	for ctx.Err() == nil {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			continue
		}
		for _, m := range out.Messages {
			e, err := bridgeevents.Decode([]byte(aws.ToString(m.Body)))
			eq.mu.Lock()
			if err != nil {
				eq.bad = append(eq.bad, fmt.Sprintf("%v: %s", err, aws.ToString(m.Body)))
			} else {
				a := map[string]string{}
				for k, v := range m.MessageAttributes {
					a[k] = aws.ToString(v.StringValue)
				}
				eq.got = append(eq.got, told{Event: e, attrs: a})
			}
			eq.mu.Unlock()
			_, _ = q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
	}
}

// events is every event received so far that keep keeps.
func (eq *eventQueue) events(keep func(told) bool) []told {
	eq.mu.Lock()
	defer eq.mu.Unlock()
	var out []told
	for _, e := range eq.got {
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits until the events keep keeps satisfy enough.
func (eq *eventQueue) waitFor(what string, keep func(told) bool, enough func([]told) bool) []told {
	eq.t.Helper()
	var got []told
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		got = eq.events(keep)
		return enough(got)
	}) {
		eq.t.Fatalf("%s never came: %s", what, describe(got))
	}
	return got
}

func describe(evs []told) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %s v%d %s %s", e.ID, e.Type, e.Subject, e.Version, e.Source, e.Data)
	}
	return b.String()
}

// record decodes an event's data.
func record[T any](t *testing.T, e told) T {
	t.Helper()
	r, err := e.Record()
	v, ok := r.(*T)
	if err != nil || !ok {
		t.Fatalf("%s: %T %v", e.ID, r, err)
	}
	return *v
}

// distinct is the events with distinct ids, first copies, by version.
func distinct(evs []told) []told {
	seen := map[string]bool{}
	var out []told
	for _, e := range evs {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b told) int { return int(a.Version - b.Version) })
	return out
}

func ofType(typ, tenant string) func(told) bool {
	return func(e told) bool { return e.Type == typ && e.TenantID == tenant }
}

// Every change a SaaS can observe reaches a queue subscribed to the events
// topic as one event id, decoded by bridgeevents with its type and tenant
// as message attributes, which a filter policy selects on: a tenant
// connecting, a person writing (also when the delivery is duplicated and
// when a batch is sent again message by message), a send going to read;
// and a reconciler pass over state that did not change tells nothing.
func TestEveryChangeIsToldOnceOnTheEventsTopic(t *testing.T) {
	// The reconciler runs when the test asks. The send's automatic
	// statuses come apart, as Meta's do: two that reach the messages worker
	// in one batch are stored as one change, told once (the stronger).
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"},
		func(o *stack.Options) { o.SimAutoStatusDelay = time.Second })
	t.Cleanup(s.Stop)
	all := subscribe(t, s, "")
	acmeOnly := subscribe(t, s, `{"tenant_id":["acme"]}`)

	// A tenant connecting: its statuses, in the order of their versions,
	// each once, from link_active to connected.
	number, _ := connect(t, s, "acme")
	connect(t, s, "globex")
	statuses := all.waitFor("acme connected", ofType(bridgeevents.TenantStatusChanged, "acme"), func(evs []told) bool {
		return slices.ContainsFunc(evs, func(e told) bool { return strings.Contains(string(e.Data), `"status":"connected"`) })
	})
	previous, version := "not_started", int64(0)
	for _, e := range distinct(statuses) {
		d := record[bridgeevents.TenantStatus](t, e)
		if d.PreviousStatus != previous || e.Version <= version || e.Subject != "tenant:acme" || d.Reason == "" ||
			!slices.Contains([]string{"api", "redirect", "webhook"}, e.Source) {
			t.Errorf("tenant events out of order:%s", describe(statuses))
		}
		previous, version = d.Status, e.Version
	}
	if first := record[bridgeevents.TenantStatus](t, distinct(statuses)[0]); first.Status != "link_active" || previous != "connected" {
		t.Errorf("tenant statuses %s … %s:%s", first.Status, previous, describe(statuses))
	}

	// A person writing: a batch of three, the same batch again under
	// another key, the same delivery again, then each message alone under
	// new keys, as Kapso re-sends a failed batch.
	batch, err := samples.Lookup("kapso/whatsapp.message.received.batch.json")
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.ReplaceAll(batch.Body, []byte("106540352242922"), []byte(number))
	var shape struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &shape); err != nil || len(shape.Data) != 3 {
		t.Fatalf("batch sample: %v", err)
	}
	deliver := func(payload []byte, key string) {
		t.Helper()
		codes, err := s.Sim.SendNumberEvent(context.Background(), number, "whatsapp.message.received", payload, key)
		if err != nil || len(codes) != 1 || codes[0] != http.StatusOK {
			t.Fatalf("deliver: %v %v", codes, err)
		}
	}
	deliver(body, "batch-1")
	deliver(body, "batch-2")
	deliver(body, "batch-2")
	for i, item := range shape.Data {
		deliver(item, fmt.Sprintf("single-%d", i))
	}
	var wamids []string
	for _, item := range shape.Data {
		var m struct {
			Message struct{ ID string } `json:"message"`
		}
		_ = json.Unmarshal(item, &m)
		wamids = append(wamids, m.Message.ID)
		waitMessage(t, s, "acme", url.PathEscape(m.Message.ID), func(map[string]any) bool { return true })
	}

	// A send going to read, to a person who just wrote.
	if err := s.Sim.SetAutoStatuses(number, []string{"delivered", "read"}); err != nil {
		t.Fatal(err)
	}
	ana := sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": "¿Tienen pan?", "from_phone": "+5215512345678", "name": "Ana"})
	wamids = append(wamids, ana.WAMID)
	waitMessage(t, s, "acme", url.PathEscape(ana.WAMID), func(map[string]any) bool { return true })
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/5215512345678", "")
		return status == http.StatusOK
	}) {
		t.Fatal("the person who wrote was never stored")
	}
	status, answer := send(t, s, "acme", "events-1", `{"to":"+5215512345678","type":"text","text":{"body":"¡Sí!"}}`)
	if status != http.StatusAccepted && status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("send: %d %v", status, answer)
	}
	out := message(answer)["id"].(string)
	sent := waitMessage(t, s, "acme", out, hasStatus("read"))
	wamid := sent["wamid"].(string)
	ofSend := func(e told) bool {
		return e.Type == bridgeevents.MessageStatusChanged && (e.Subject == "message:"+out || e.Subject == "message:"+wamid)
	}
	sendEvents := all.waitFor("the send's statuses", ofSend, func(evs []told) bool {
		return slices.ContainsFunc(evs, func(e told) bool { return strings.Contains(string(e.Data), `"status":"read"`) })
	})

	// The first reconciler pass reads each connected number's health:
	// one number.health_changed each, and nothing else.
	settleEvents(t, s, all)
	before := len(all.events(nil))
	reconcileNow(t, s)
	settleEvents(t, s, all)
	if firstPass := all.events(nil)[before:]; len(distinct(firstPass)) != 2 ||
		slices.ContainsFunc(firstPass, func(e told) bool { return e.Type != bridgeevents.NumberHealthChanged }) {
		t.Errorf("the first reconciler pass told:%s", describe(firstPass))
	}

	// A reconciler pass over what did not change tells nothing.
	before = len(all.events(nil))
	reconcileNow(t, s)
	settleEvents(t, s, all)
	if after := all.events(nil); len(after) != before {
		t.Errorf("the reconciler's pass told %d events:%s", len(after)-before, describe(after[before:]))
	}

	// Each WAMID was received once, under one id, as the API shows it.
	received := all.events(ofType(bridgeevents.MessageReceived, "acme"))
	for _, w := range wamids {
		var ids []told
		for _, e := range distinct(received) {
			if d := record[bridgeevents.MessageReceivedData](t, e); d.Message.ID == w {
				ids = append(ids, e)
				if d.Message.Direction != "inbound" || !d.Message.Known || d.Message.MessageContent == nil ||
					d.Message.Text == "" || e.Subject != "message:"+w || e.Version != 1 {
					t.Errorf("%s received as %s", w, e.Data)
				}
			}
		}
		if len(ids) != 1 {
			t.Errorf("%s received under %d ids:%s", w, len(ids), describe(received))
		}
	}
	if n := len(distinct(all.events(ofType(bridgeevents.MessageReceived, "acme")))); n != len(wamids) {
		t.Errorf("%d messages received, want %d", n, len(wamids))
	}
	// The send: queued, sending, accepted, sent, delivered, read, each once,
	// in the order of their versions.
	var got []string
	for _, e := range distinct(sendEvents) {
		d := record[bridgeevents.MessageStatus](t, e)
		got = append(got, d.Status)
		if e.Subject == "message:"+out && d.MessageID != out || d.WAMID == "" && d.Status != "queued" && d.Status != "sending" {
			t.Errorf("%s: %s", e.ID, e.Data)
		}
	}
	if want := []string{"queued", "sending", "accepted", "sent", "delivered", "read"}; !slices.Equal(got, want) {
		t.Errorf("the send's statuses %v, want %v:%s", got, want, describe(sendEvents))
	}
	// Every event decoded, with its type and tenant as attributes; the
	// filtered queue got acme's alone, all of them.
	if len(all.bad) > 0 || len(acmeOnly.bad) > 0 {
		t.Errorf("undecodable messages: %v %v", all.bad, acmeOnly.bad)
	}
	var acmeIDs, filteredIDs []string
	for _, e := range all.events(nil) {
		if e.attrs[schema.EventAttrType] != e.Type || e.attrs[schema.EventAttrTenant] != e.TenantID {
			t.Errorf("%s: attributes %v", e.ID, e.attrs)
		}
		if e.TenantID == "acme" {
			acmeIDs = append(acmeIDs, e.ID)
		}
	}
	if !slices.ContainsFunc(all.events(nil), func(e told) bool { return e.TenantID == "globex" }) {
		t.Error("no event of globex")
	}
	for _, e := range acmeOnly.events(nil) {
		filteredIDs = append(filteredIDs, e.ID)
	}
	slices.Sort(acmeIDs)
	slices.Sort(filteredIDs)
	if !slices.Equal(slices.Compact(acmeIDs), slices.Compact(filteredIDs)) {
		t.Errorf("the filtered queue got %d events, acme has %d", len(filteredIDs), len(acmeIDs))
	}
	// The feed has them too.
	_, feed := api(t, s, http.MethodGet, "/v1/tenants/acme/events?limit=200", "")
	if list, _ := feed["events"].([]any); len(list) == 0 {
		t.Errorf("feed: %v", feed)
	}
}

// settleEvents waits until the queues are drained, every change stored
// is told and the subscribed queue has stopped receiving.
func settleEvents(t *testing.T, s *stack.Stack, eq *eventQueue) {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	drained := func() bool {
		for _, queue := range s.Queues {
			out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queue.URL),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
					sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
			if err != nil || out.Attributes["ApproximateNumberOfMessages"] != "0" || out.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
				return false
			}
		}
		return true
	}
	count, since := -1, time.Now()
	if !poll.Until(60*time.Second, 200*time.Millisecond, func() bool {
		if !drained() {
			since = time.Now()
			return false
		}
		n := len(eq.events(nil))
		if n != count {
			count, since = n, time.Now()
			return false
		}
		// Told since the queues drained, and nothing new for two seconds.
		return s.Told(since) && time.Since(since) > 2*time.Second
	}) {
		t.Fatal("the stack never settled")
	}
}
