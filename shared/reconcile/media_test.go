package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// mediaQueue keeps the events sent to the media queue.
type mediaQueue struct {
	mu   sync.Mutex
	sent []bridgeevents.Event
	err  error
}

func (q *mediaQueue) Send(_ context.Context, ev bridgeevents.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.sent = append(q.sent, ev)
	return nil
}

func (q *mediaQueue) take() []bridgeevents.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.sent
	q.sent = nil
	return out
}

type mediaRig struct {
	store *memstore.Messages
	queue *mediaQueue
	rec   *reconcile.Reconciler
	now   time.Time
}

func newMediaRig() *mediaRig {
	r := &mediaRig{store: &memstore.Messages{}, queue: &mediaQueue{}, now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	r.rec = &reconcile.Reconciler{Store: &memstore.Onboarding{}, Numbers: &memstore.Numbers{}, Kapso: &listingKapso{},
		Checkpoints: &memstore.Checkpoints{}, Messages: r.store, Media: r.store, MediaQueue: r.queue,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return r.now },
		Limits: reconcile.Limits{KapsoPerMinute: 1 << 30}}
	return r
}

// failed stores a person's image received at, whose copy failed for
// reason, due again at due; it answers the message.received event the
// publisher told of the message.
func (r *mediaRig) failed(t *testing.T, wamid string, at time.Time, reason string, due time.Time) bridgeevents.Event {
	t.Helper()
	ctx := context.Background()
	m := messaging.Message{WAMID: wamid, PhoneNumberID: sendNumber, Direction: messaging.Inbound, Type: "image",
		Timestamp: at, From: messaging.Person{Phone: "16505551234"}, Media: &messaging.Media{ID: "media-" + wamid, MIMEType: "image/jpeg"}}
	if err := r.store.PutMessage(ctx, "acme", m, nil); err != nil {
		t.Fatal(err)
	}
	stored, _, err := r.store.Message(ctx, "acme", wamid)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := eventing.Derive(eventing.Change{At: at.Add(time.Second),
		Message: &eventing.Pair[eventing.MessageItem]{After: &eventing.MessageItem{TenantID: "acme", Message: stored}}})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	info := media.Info{State: media.Failed, Error: media.Failure(reason, "kapso answered 503"), At: due.Add(-time.Hour), Attempts: 1}
	if err := r.store.SetMedia(ctx, "acme", wamid, info, due); err != nil {
		t.Fatal(err)
	}
	return evs[0]
}

func (r *mediaRig) run(t *testing.T) reconcile.Report {
	t.Helper()
	rep, err := r.rec.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (r *mediaRig) info(t *testing.T, wamid string) media.Info {
	t.Helper()
	info, _, err := r.store.MediaState(context.Background(), "acme", wamid)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A failed copy that is due goes back to the media worker as the event the
// publisher told (same id, the message as it reads now), and not again
// for an hour.
func TestFailedMediaGoesBackToTheWorkerHourly(t *testing.T) {
	r := newMediaRig()
	ev := r.failed(t, "wamid.1", r.now.Add(-2*time.Hour), media.ReasonUnavailable, r.now.Add(-time.Minute))
	r.failed(t, "wamid.2", r.now.Add(-2*time.Hour), media.ReasonChecksum, r.now.Add(10*time.Minute))
	rep := r.run(t)
	sent := r.queue.take()
	if len(sent) != 1 {
		t.Fatalf("sent %d events", len(sent))
	}
	if got := sent[0]; got.ID != ev.ID || got.Type != bridgeevents.MessageReceived || got.TenantID != "acme" ||
		got.Subject != ev.Subject || got.Version != ev.Version {
		t.Errorf("sent %+v\nwant %+v", got, ev)
	}
	// The same message, as it reads now: its copy failed.
	var told, was bridgeevents.MessageReceivedData
	if err := json.Unmarshal(sent[0].Data, &told); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ev.Data, &was); err != nil {
		t.Fatal(err)
	}
	if m := told.Message; m.WAMID != was.Message.WAMID || m.PhoneNumberID != was.Message.PhoneNumberID || m.Media == nil ||
		m.Media.ID != was.Message.Media.ID || m.Media.State != string(media.Failed) {
		t.Errorf("sent the message %+v, want %+v with its copy failed", m, was.Message)
	}
	if rep.Media != (reconcile.Counts{Checked: 1, Found: 1, Fixed: 1}) {
		t.Errorf("report %+v", rep.Media)
	}
	// The failure stays as recorded; only its turn moved on.
	if info := r.info(t, "wamid.1"); info.State != media.Failed || info.Attempts != 1 ||
		!strings.HasPrefix(info.Error, media.ReasonUnavailable) {
		t.Errorf("info %+v", info)
	}
	r.now = r.now.Add(30 * time.Minute)
	r.run(t)
	if sent := r.queue.take(); len(sent) != 1 || sent[0].Subject != "message:wamid.2" {
		t.Errorf("half an hour on, sent %v: want only wamid.2's", sent)
	}
	r.now = r.now.Add(31 * time.Minute)
	r.run(t)
	if sent := r.queue.take(); len(sent) != 1 || sent[0].ID != ev.ID {
		t.Errorf("an hour on, sent %v", sent)
	}
	// Stored meanwhile: no more turns.
	if err := r.store.SetMedia(context.Background(), "acme", "wamid.1", media.Info{State: media.Stored, Key: "k"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r.now = r.now.Add(2 * time.Hour)
	r.run(t)
	if sent := r.queue.take(); len(sent) != 1 || sent[0].Subject != "message:wamid.2" {
		t.Errorf("after wamid.1 was stored, sent %v", sent)
	}
}

// A message older than Meta's media id lifetime is not sent again: its
// copy is recorded failed for good (expired), and never due again.
func TestMediaPastItsIDLifetimeFailsForGood(t *testing.T) {
	r := newMediaRig()
	r.failed(t, "wamid.old", r.now.Add(-media.WebhookIDLifetime-time.Minute), media.ReasonUnavailable, r.now.Add(-time.Minute))
	r.failed(t, "wamid.young", r.now.Add(-media.WebhookIDLifetime+time.Hour), media.ReasonNotFound, r.now.Add(-time.Minute))
	rep := r.run(t)
	if sent := r.queue.take(); len(sent) != 1 || sent[0].Subject != "message:wamid.young" {
		t.Errorf("sent %v", sent)
	}
	if info := r.info(t, "wamid.old"); info.State != media.Failed || !strings.HasPrefix(info.Error, media.ReasonExpired+": ") ||
		!info.At.Equal(r.now) {
		t.Errorf("info %+v", info)
	}
	if rep.Media != (reconcile.Counts{Checked: 2, Found: 2, Fixed: 1}) || rep.Errors != 0 {
		t.Errorf("report %+v, %d errors", rep.Media, rep.Errors)
	}
	due, err := r.store.DueMediaRetries(context.Background(), r.now.Add(30*24*time.Hour), 10)
	if err != nil || !slices.Equal(due, []media.Retry{{TenantID: "acme", WAMID: "wamid.young"}}) {
		t.Errorf("due %v %v", due, err)
	}
}

// A run hands on at most Limits.Items copies, oldest due first; the rest
// wait for the next run. A queue that fails costs the copy its hour, never
// a second send within it, and counts as an error.
func TestMediaRetriesAreBoundedPerRun(t *testing.T) {
	r := newMediaRig()
	r.rec.Limits.Items = 2
	for i, w := range []string{"wamid.c", "wamid.a", "wamid.b"} {
		r.failed(t, w, r.now.Add(-time.Hour), media.ReasonUnavailable, r.now.Add(-time.Duration(3-i)*time.Minute))
	}
	r.run(t)
	var subjects []string
	for _, ev := range r.queue.take() {
		subjects = append(subjects, ev.Subject)
	}
	if !slices.Equal(subjects, []string{"message:wamid.c", "message:wamid.a"}) {
		t.Errorf("sent %v", subjects)
	}
	r.queue.err = errors.New("sqs down")
	if rep := r.run(t); rep.Errors != 1 || rep.Media.Fixed != 0 {
		t.Errorf("report %+v, %d errors", rep.Media, rep.Errors)
	}
	r.queue.err = nil
	r.now = r.now.Add(10 * time.Minute)
	if r.run(t); len(r.queue.take()) != 0 {
		t.Error("a copy whose send failed was sent again within its hour")
	}
	// Without the media store, the queue or the messages, no pass.
	r.now = r.now.Add(2 * time.Hour)
	r.rec.MediaQueue = nil
	if rep := r.run(t); rep.Media.Checked != 0 {
		t.Errorf("report %+v", rep.Media)
	}
}
