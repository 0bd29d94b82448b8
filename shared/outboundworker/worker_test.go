package outboundworker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/outboundworker"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

const (
	tenant = "acme"
	number = "106540352242922"
)

// kapso answers each send with the next of its scripted outcomes, then
// with a new WAMID.
type kapso struct {
	mu       sync.Mutex
	script   []error
	calls    atomic.Int32
	accepted atomic.Int32
}

func (k *kapso) Send(_ context.Context, phoneNumberID string, message []byte) (messaging.SendResult, error) {
	n := k.calls.Add(1)
	k.mu.Lock()
	var err error
	if len(k.script) > 0 {
		err, k.script = k.script[0], k.script[1:]
	}
	k.mu.Unlock()
	if err != nil {
		return messaging.SendResult{}, err
	}
	k.accepted.Add(1)
	return messaging.SendResult{WAMID: fmt.Sprintf("wamid.%s.%d", phoneNumberID, n)}, nil
}

// refusal is a send Kapso or Meta answered with reason, as the Meta proxy
// classifies it: code says whether it may go again.
func refusal(code errs.Code, reason messaging.StatusError, retryAfter time.Duration) error {
	return &errs.Error{Code: code, Message: "Kapso or Meta refused the message", RetryAfter: retryAfter,
		Err: &messaging.SendRefusal{Reason: reason, Err: errors.New("send message: refused")}}
}

type fixture struct {
	store *memstore.Messages
	kapso *kapso
	queue *memstore.OutboundQueue
	w     *outboundworker.Worker
	now   time.Time
}

func newFixture(t *testing.T, script ...error) *fixture {
	f := &fixture{store: &memstore.Messages{}, kapso: &kapso{script: script}, queue: &memstore.OutboundQueue{},
		now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	f.w = &outboundworker.Worker{Outbox: f.store, Queue: f.queue, Kapso: f.kapso, Pacer: &memstore.SendPacer{Rate: 20},
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }}
	return f
}

// queued stores a text message as the API does and returns its job.
func (f *fixture) queued(t *testing.T, key string) messaging.OutboundJob {
	t.Helper()
	req := messaging.OutboundRequest{PhoneNumberID: number, To: "+16505551234", Type: messaging.OutTypeText,
		OutContent: messaging.OutContent{Text: &messaging.OutText{Body: "Your order shipped"}}}
	m, err := messaging.NewOutbound(tenant, key, req, number, "", f.now)
	if err != nil {
		t.Fatal(err)
	}
	m.ConversationID = "conv-1"
	if _, created, err := f.store.CreateOutbound(context.Background(), m); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	return messaging.OutboundJob{TenantID: tenant, ID: m.ID}
}

func (f *fixture) handle(t *testing.T, jobs ...messaging.OutboundJob) events.SQSEventResponse {
	t.Helper()
	var ev events.SQSEvent
	for i, j := range jobs {
		b, _ := json.Marshal(j)
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint(i), Body: string(b)})
	}
	resp, err := f.w.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (f *fixture) stored(t *testing.T, j messaging.OutboundJob) messaging.OutboundMessage {
	t.Helper()
	m, ok, err := f.store.Outbound(context.Background(), j.TenantID, j.ID)
	if err != nil || !ok {
		t.Fatalf("outbound %s: %v %v", j.ID, ok, err)
	}
	return m
}

func TestSendIsRecordedAndARedeliveryCallsKapsoNoMore(t *testing.T) {
	f := newFixture(t)
	j := f.queued(t, "k1")
	f.handle(t, j)
	f.handle(t, j) // SQS delivers at least once
	m := f.stored(t, j)
	if m.State != messaging.OutAccepted || m.WAMID == "" || f.kapso.calls.Load() != 1 {
		t.Fatalf("state %s wamid %q after %d calls", m.State, m.WAMID, f.kapso.calls.Load())
	}
	got, ok, err := f.store.Message(context.Background(), tenant, j.ID)
	if err != nil || !ok || got.WAMID != m.WAMID || got.Outbound == nil || got.Outbound.ID != j.ID {
		t.Errorf("read model: %+v %v %v", got, ok, err)
	}
}

func TestCopiesOfOneJobAtOnceMakeOneCall(t *testing.T) {
	f := newFixture(t)
	j := f.queued(t, "k1")
	jobs := make([]messaging.OutboundJob, 10)
	for i := range jobs {
		jobs[i] = j
	}
	if resp := f.handle(t, jobs...); len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures: %v", resp.BatchItemFailures)
	}
	if n := f.kapso.calls.Load(); n != 1 {
		t.Errorf("%d Kapso calls for one message", n)
	}
	// The copies that found the claim in flight come back after it.
	for _, d := range f.queue.Take(messaging.MaxEnqueueDelay) {
		if d.Delay <= 0 {
			t.Errorf("a copy was requeued without a delay")
		}
	}
	f.handle(t, j)
	if n := f.kapso.calls.Load(); n != 1 || f.stored(t, j).State != messaging.OutAccepted {
		t.Errorf("%d calls, state %s", n, f.stored(t, j).State)
	}
}

func TestRefusalsAreRetriedLaterAndThenSent(t *testing.T) {
	for name, refusal := range map[string]error{
		"5xx":        refusal(errs.Unavailable, messaging.StatusError{Code: 2}, 0),
		"429":        refusal(errs.RateLimited, messaging.StatusError{Code: 130429}, 40*time.Second),
		"never sent": errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("connection refused")),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, refusal)
			j := f.queued(t, "k1")
			f.handle(t, j)
			m := f.stored(t, j)
			again := f.queue.Take(messaging.MaxEnqueueDelay)
			if m.State != messaging.OutQueued || len(again) != 1 || again[0].Job != j || again[0].Delay <= 0 {
				t.Fatalf("after the refusal: state %s, requeued %v", m.State, again)
			}
			if e, _ := errs.As(refusal); e.RetryAfter > 0 && again[0].Delay < e.RetryAfter {
				t.Errorf("requeued after %s, before Retry-After %s", again[0].Delay, e.RetryAfter)
			}
			f.handle(t, j)
			if m := f.stored(t, j); m.State != messaging.OutAccepted || f.kapso.accepted.Load() != 1 || m.Attempts != 2 {
				t.Errorf("state %s, %d accepted, %d attempts", m.State, f.kapso.accepted.Load(), m.Attempts)
			}
		})
	}
}

func TestUnknownOutcomeIsNeverSentAgain(t *testing.T) {
	f := newFixture(t, errs.E(errs.OutcomeUnknown, "the message may have been sent", context.DeadlineExceeded))
	j := f.queued(t, "k1")
	f.handle(t, j)
	f.handle(t, j)
	if m := f.stored(t, j); m.State != messaging.OutUnknown || f.kapso.calls.Load() != 1 {
		t.Errorf("state %s after %d calls", m.State, f.kapso.calls.Load())
	}
}

func TestPermanentRefusalFailsWithMetasError(t *testing.T) {
	f := newFixture(t, refusal(errs.Unprocessable,
		messaging.StatusError{Code: 131026, Title: "Message undeliverable", Message: "(#131026) Message undeliverable"}, 0))
	j := f.queued(t, "k1")
	f.handle(t, j)
	m := f.stored(t, j)
	if m.State != messaging.OutFailed || m.Reason != messaging.ReasonRejected || m.Error == nil ||
		m.Error.Code != 131026 || m.Error.Title != "Message undeliverable" {
		t.Fatalf("failed message: %+v", m)
	}
	f.handle(t, j)
	if f.kapso.calls.Load() != 1 {
		t.Errorf("%d calls", f.kapso.calls.Load())
	}
}

func TestRefusedTooOftenFails(t *testing.T) {
	refusals := make([]error, 3)
	for i := range refusals {
		refusals[i] = refusal(errs.Unavailable, messaging.StatusError{Message: "Service Unavailable"}, 0)
	}
	f := newFixture(t, refusals...)
	f.w.MaxAttempts = 3
	j := f.queued(t, "k1")
	for range 4 {
		f.handle(t, j)
	}
	if m := f.stored(t, j); m.State != messaging.OutFailed || m.Reason != messaging.ReasonRetriesExhausted || f.kapso.calls.Load() != 3 {
		t.Errorf("state %s reason %q after %d calls", m.State, m.Reason, f.kapso.calls.Load())
	}
}

func TestClaimOfADeadSenderBecomesUnknown(t *testing.T) {
	f := newFixture(t)
	j := f.queued(t, "k1")
	if _, err := f.store.MoveOutbound(context.Background(), tenant, j.ID, messaging.Transition{
		From: []messaging.OutboundState{messaging.OutQueued}, To: messaging.OutSending, At: f.now}); err != nil {
		t.Fatal(err)
	}
	f.handle(t, j) // the claim is fresh: its sender may be mid-call
	if m := f.stored(t, j); m.State != messaging.OutSending || len(f.queue.Take(messaging.MaxEnqueueDelay)) != 1 {
		t.Fatalf("fresh claim: state %s", m.State)
	}
	f.now = f.now.Add(messaging.DefaultClaimTimeout + time.Second)
	f.handle(t, j)
	if m := f.stored(t, j); m.State != messaging.OutUnknown || f.kapso.calls.Load() != 0 {
		t.Errorf("stale claim: state %s after %d calls", m.State, f.kapso.calls.Load())
	}
}

func TestABusyNumberIsRequeuedAndOthersGoOn(t *testing.T) {
	f := newFixture(t)
	f.w.Pacer = &memstore.SendPacer{Rate: 1, Horizon: 1}
	a, b := f.queued(t, "k1"), f.queued(t, "k2")
	f.handle(t, a, b)
	var sent, queued int
	for _, j := range []messaging.OutboundJob{a, b} {
		switch f.stored(t, j).State {
		case messaging.OutAccepted:
			sent++
		case messaging.OutQueued:
			queued++
		}
	}
	if sent != 1 || queued != 1 || len(f.queue.Take(messaging.MaxEnqueueDelay)) != 1 || f.kapso.calls.Load() != 1 {
		t.Errorf("%d sent, %d queued, %d calls at one message a second", sent, queued, f.kapso.calls.Load())
	}
}

func TestMalformedJobGoesBackToTheQueue(t *testing.T) {
	f := newFixture(t)
	resp, err := f.w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "x", Body: `{"tenant_id":"acme"}`}}})
	if err != nil || len(resp.BatchItemFailures) != 1 || f.kapso.calls.Load() != 0 {
		t.Errorf("%v %v", resp, err)
	}
}

// lostClaimAnswer applies the first claim, loses its answer, and answers
// the SDK's retry of the same write: the message is claimed already.
type lostClaimAnswer struct {
	*memstore.Messages
	lost bool
}

func (o *lostClaimAnswer) MoveOutbound(ctx context.Context, tenantID, id string, t messaging.Transition) (messaging.OutboundMessage, error) {
	m, err := o.Messages.MoveOutbound(ctx, tenantID, id, t)
	if err == nil && t.To == messaging.OutSending && !o.lost {
		o.lost = true
		return o.Messages.MoveOutbound(ctx, tenantID, id, t) // the retry
	}
	return m, err
}

func TestAClaimWhoseAnswerWasLostIsStillOurs(t *testing.T) {
	f := newFixture(t)
	j := f.queued(t, "k1")
	store := &lostClaimAnswer{Messages: f.store}
	f.w.Outbox = store
	f.handle(t, j)
	if m := f.stored(t, j); !store.lost || m.State != messaging.OutAccepted || f.kapso.calls.Load() != 1 {
		t.Errorf("lost claim answer: state %s after %d calls", m.State, f.kapso.calls.Load())
	}
}
