package reconcile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

const sendNumber = "106540352242922"

// listingKapso lists the number's messages it holds, newest first, and
// nothing else.
type listingKapso struct {
	reconcile.KapsoClient
	messages []messaging.ListedMessage
	lists    int
}

func (k *listingKapso) ListMessages(_ context.Context, phoneNumberID, _ string, _ int) (messaging.ListedPage[messaging.ListedMessage], error) {
	k.lists++
	if phoneNumberID != sendNumber {
		return messaging.ListedPage[messaging.ListedMessage]{}, nil
	}
	return messaging.ListedPage[messaging.ListedMessage]{Items: k.messages}, nil
}

func (k *listingKapso) ListWebhookDeliveries(context.Context, string, string, int) (messaging.ListedPage[messaging.WebhookDelivery], error) {
	return messaging.ListedPage[messaging.WebhookDelivery]{}, nil
}

// listed is an outbound text as Kapso's message list shows it.
func listed(wamid, to, body string, at time.Time) messaging.ListedMessage {
	raw := fmt.Sprintf(`{"id":%q,"timestamp":"%d","type":"text","text":{"body":%q},"to":%q,`+
		`"kapso":{"direction":"outbound","status":"sent"}}`, wamid, at.Unix(), body, to)
	return messaging.ListedMessage{ID: wamid, Timestamp: at, Direction: "outbound", Status: "sent", Raw: []byte(raw)}
}

type outboundRig struct {
	store *memstore.Messages
	kapso *listingKapso
	queue *memstore.OutboundQueue
	rec   *reconcile.Reconciler
	now   time.Time
}

func newOutboundRig() *outboundRig {
	r := &outboundRig{store: &memstore.Messages{}, kapso: &listingKapso{}, queue: &memstore.OutboundQueue{},
		now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	r.rec = &reconcile.Reconciler{Store: &memstore.Onboarding{}, Numbers: &memstore.Numbers{}, Kapso: r.kapso,
		Checkpoints: &memstore.Checkpoints{}, Outbox: r.store, Outbound: r.queue,
		UnconfirmedAfter: time.Hour, ClaimTimeout: 30 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
		Limits: reconcile.Limits{KapsoPerMinute: 1 << 30}}
	return r
}

// outbound stores a text to +16505551234 created at, moved through states.
func (r *outboundRig) outbound(t *testing.T, key, body string, at time.Time, states ...messaging.OutboundState) messaging.OutboundMessage {
	t.Helper()
	ctx := context.Background()
	req := messaging.OutboundRequest{PhoneNumberID: sendNumber, To: "16505551234", Type: messaging.OutTypeText,
		OutContent: messaging.OutContent{Text: &messaging.OutText{Body: body}}}
	m, err := messaging.NewOutbound("acme", key, req, sendNumber, "", at)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.store.CreateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	from := messaging.OutQueued
	for _, st := range states {
		if m, err = r.store.MoveOutbound(ctx, "acme", m.ID, messaging.Transition{
			From: []messaging.OutboundState{from}, To: st, At: at}); err != nil {
			t.Fatal(err)
		}
		from = st
	}
	return m
}

func (r *outboundRig) state(t *testing.T, m messaging.OutboundMessage) messaging.OutboundMessage {
	t.Helper()
	got, ok, err := r.store.Outbound(context.Background(), "acme", m.ID)
	if err != nil || !ok {
		t.Fatalf("outbound %s: %v %v", m.ID, ok, err)
	}
	return got
}

func TestOpenSendsAreRequeuedOrMarkedUnknown(t *testing.T) {
	r := newOutboundRig()
	stale := r.outbound(t, "k1", "old", r.now.Add(-10*time.Minute))
	fresh := r.outbound(t, "k2", "new", r.now.Add(-time.Minute))
	deadClaim := r.outbound(t, "k3", "claimed long ago", r.now.Add(-time.Minute), messaging.OutSending)
	liveClaim := r.outbound(t, "k4", "claimed now", r.now.Add(-5*time.Second), messaging.OutSending)
	rep, err := r.rec.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if jobs := r.queue.Take(0); len(jobs) != 1 || jobs[0].Job.ID != stale.ID {
		t.Errorf("requeued %v, want only %s (not %s)", jobs, stale.ID, fresh.ID)
	}
	if st := r.state(t, deadClaim).State; st != messaging.OutUnknown {
		t.Errorf("a claim past the sender's timeout is %s, want unknown", st)
	}
	if st := r.state(t, liveClaim).State; st != messaging.OutSending {
		t.Errorf("a live claim is %s", st)
	}
	if rep.Outbound.Checked != 4 || rep.Outbound.Fixed != 2 {
		t.Errorf("report %+v", rep.Outbound)
	}
}

func TestUnknownSendIsAdoptedFromKapsosList(t *testing.T) {
	r := newOutboundRig()
	sentAt := r.now.Add(-3 * time.Minute)
	unknown := r.outbound(t, "k1", "Your order shipped", sentAt, messaging.OutSending, messaging.OutUnknown)
	// The same text, sent on purpose under another key and already
	// recorded, holds the newest matching WAMID.
	twin := r.outbound(t, "k2", "Your order shipped", sentAt, messaging.OutSending)
	if _, err := r.store.MoveOutbound(context.Background(), "acme", twin.ID, messaging.Transition{
		From: []messaging.OutboundState{messaging.OutSending}, To: messaging.OutAccepted, WAMID: "wamid.twin", At: sentAt}); err != nil {
		t.Fatal(err)
	}
	r.kapso.messages = []messaging.ListedMessage{ // newest first
		listed("wamid.twin", "16505551234", "Your order shipped", sentAt.Add(2*time.Second)),
		listed("wamid.other-text", "16505551234", "Something else", sentAt.Add(time.Second)),
		listed("wamid.other-person", "16505559999", "Your order shipped", sentAt.Add(time.Second)),
		listed("wamid.ours", "16505551234", "Your order shipped", sentAt.Add(time.Second)),
		listed("wamid.too-old", "16505551234", "Your order shipped", sentAt.Add(-2*time.Hour)),
	}
	if _, err := r.rec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.state(t, unknown)
	if got.State != messaging.OutAccepted || got.WAMID != "wamid.ours" {
		t.Fatalf("adopted %s %q, want accepted wamid.ours", got.State, got.WAMID)
	}
	m, ok, err := r.store.Message(context.Background(), "acme", unknown.ID)
	if err != nil || !ok || m.WAMID != "wamid.ours" {
		t.Errorf("read model after adoption: %+v %v %v", m, ok, err)
	}
}

func TestUnknownSendNeverListedFailsAsUnconfirmed(t *testing.T) {
	r := newOutboundRig()
	unknown := r.outbound(t, "k1", "Your order shipped", r.now.Add(-10*time.Minute), messaging.OutSending, messaging.OutUnknown)
	if _, err := r.rec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := r.state(t, unknown).State; st != messaging.OutUnknown {
		t.Fatalf("after 10 minutes: %s, want still unknown", st)
	}
	r.now = r.now.Add(time.Hour)
	if _, err := r.rec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.state(t, unknown)
	if got.State != messaging.OutFailed || got.Reason != messaging.ReasonUnconfirmed || got.WAMID != "" {
		t.Errorf("after the wait: %s %q", got.State, got.Reason)
	}
	if r.kapso.lists != 2 {
		t.Errorf("Kapso's list read %d times, want once a run", r.kapso.lists)
	}
}

func TestUnknownSendsOfOneNumberReadKapsosListOnce(t *testing.T) {
	r := newOutboundRig()
	sentAt := r.now.Add(-3 * time.Minute)
	a := r.outbound(t, "k1", "First", sentAt, messaging.OutSending, messaging.OutUnknown)
	b := r.outbound(t, "k2", "Second", sentAt, messaging.OutSending, messaging.OutUnknown)
	r.kapso.messages = []messaging.ListedMessage{
		listed("wamid.b", "16505551234", "Second", sentAt.Add(2*time.Second)),
		listed("wamid.a", "16505551234", "First", sentAt.Add(time.Second)),
	}
	if _, err := r.rec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ga, gb := r.state(t, a), r.state(t, b); ga.WAMID != "wamid.a" || gb.WAMID != "wamid.b" {
		t.Errorf("adopted %q and %q", ga.WAMID, gb.WAMID)
	}
	if r.kapso.lists != 1 {
		t.Errorf("Kapso's list read %d times for two sends of one number, want once", r.kapso.lists)
	}
}

// erasedOutbox lists open sends that an erasure has deleted since: the
// index lags the table, so the list still shows them, and every move
// finds nothing (after holds what the moves write).
type erasedOutbox struct {
	*memstore.Messages
	after *memstore.Messages
}

func (o erasedOutbox) MoveOutbound(ctx context.Context, tenantID, id string, t messaging.Transition) (messaging.OutboundMessage, error) {
	return o.after.MoveOutbound(ctx, tenantID, id, t)
}

// Open sends the erasure deleted after the list was read: a stale claim,
// an unknown send Kapso lists (adoptable) and one to fail as unconfirmed.
// Nothing of them is recorded again, no message stored, and no error
// counted: the sends are gone with their person.
func TestOpenSendsErasedSinceTheListAreLeftGone(t *testing.T) {
	r := newOutboundRig()
	sentAt := r.now.Add(-3 * time.Minute)
	r.outbound(t, "k1", "claimed long ago", r.now.Add(-time.Minute), messaging.OutSending)
	adoptable := r.outbound(t, "k2", "Your order shipped", sentAt, messaging.OutSending, messaging.OutUnknown)
	r.outbound(t, "k3", "never listed", r.now.Add(-2*time.Hour), messaging.OutSending, messaging.OutUnknown)
	r.kapso.messages = []messaging.ListedMessage{listed("wamid.ours", "16505551234", "Your order shipped", sentAt.Add(time.Second))}
	after := &memstore.Messages{}
	r.rec.Outbox = erasedOutbox{Messages: r.store, after: after}
	rep, err := r.rec.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Outbound.Checked != 3 || rep.Outbound.Fixed != 0 {
		t.Errorf("report: %d errors, outbound %+v", rep.Errors, rep.Outbound)
	}
	for _, id := range []string{"wamid.ours", adoptable.ID} {
		if m, ok, _ := after.Message(context.Background(), "acme", id); ok {
			t.Errorf("%s stored again: %+v", id, m)
		}
	}
}
