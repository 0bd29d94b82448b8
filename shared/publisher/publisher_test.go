package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/publisher"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

func TestMain(m *testing.M) { awstest.Main(m) }

var at = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

// changes answers each record's change by its sequence number: a record
// it does not know is an item no event tells of; one in bad is unreadable.
type changes struct {
	by  map[string]eventing.Change
	bad map[string]bool
}

func (c changes) Change(rec events.DynamoDBEventRecord) (eventing.Change, error) {
	if c.bad[rec.Change.SequenceNumber] {
		return eventing.Change{}, errors.New("an unreadable image")
	}
	return c.by[rec.Change.SequenceNumber], nil
}

// received is the change of an inbound message becoming known: one event.
func received(wamid string) eventing.Change {
	return eventing.Change{At: at, Message: &eventing.Pair[eventing.MessageItem]{After: &eventing.MessageItem{TenantID: "acme",
		Message: messaging.StoredMessage{Known: true, Message: messaging.Message{WAMID: wamid, PhoneNumberID: "106540352242922",
			Direction: messaging.Inbound, Type: "text", Text: "Oi!", Timestamp: at}}}}}
}

// createdEnded is a conversation created ended: two events.
func createdEnded(id string) eventing.Change {
	return eventing.Change{At: at, Conversation: &eventing.Pair[eventing.ConversationItem]{After: &eventing.ConversationItem{
		TenantID: "globex", Conversation: messaging.Conversation{ID: id, Status: messaging.ConversationEnded, LastActiveAt: at}}}}
}

// connected is a tenant connecting: one event.
func connected() eventing.Change {
	return eventing.Change{At: at, Tenant: &eventing.Pair[onboarding.Snapshot]{
		Before: &onboarding.Snapshot{TenantItem: onboarding.TenantItem{TenantID: "acme", Status: onboarding.TenantAwaitingConfirmation}, Version: 2},
		After:  &onboarding.Snapshot{TenantItem: onboarding.TenantItem{TenantID: "acme", Status: onboarding.TenantConnected}, Version: 3}}}
}

func batch(seqs ...string) events.DynamoDBEvent {
	var b events.DynamoDBEvent
	for _, s := range seqs {
		b.Records = append(b.Records, events.DynamoDBEventRecord{EventID: "e" + s, EventName: "MODIFY",
			Change: events.DynamoDBStreamRecord{SequenceNumber: s, ApproximateCreationDateTime: events.SecondsEpochTime{Time: at}}})
	}
	return b
}

// topic records what it was told, in calls of up to ten; it refuses an
// event whose id is in tooLarge, and fails every call once failFrom
// events were told.
type topic struct {
	mu       sync.Mutex
	told     []bridgeevents.Event
	calls    int
	tooLarge map[string]bool
	failFrom int
}

func (t *topic) Publish(_ context.Context, evs []bridgeevents.Event) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, e := range evs {
		if i%10 == 0 {
			t.calls++
		}
		if t.tooLarge[e.ID] {
			return i, errs.E(errs.TooLarge, "event "+e.ID+" too large", nil)
		}
		if t.failFrom > 0 && len(t.told) >= t.failFrom {
			return i, errors.New("topic down")
		}
		t.told = append(t.told, e)
	}
	return len(evs), nil
}

// failingFeed refuses every append.
type failingFeed struct{ eventing.Feed }

func (failingFeed) Append(context.Context, []bridgeevents.Event) error {
	return errors.New("feed down")
}

// failingRejects refuses to keep anything.
type failingRejects struct{}

func (failingRejects) Keep(context.Context, string, string, time.Time, []byte) error {
	return errors.New("rejects down")
}

type rig struct {
	feed    *memstore.Feed
	clock   time.Time
	topic   *topic
	rejects *memstore.Rejects
	worker  *publisher.Worker
}

func newRig(c changes) *rig {
	r := &rig{clock: time.Now(), topic: &topic{}, rejects: &memstore.Rejects{}}
	r.feed = &memstore.Feed{Now: func() time.Time { return r.clock }}
	r.worker = &publisher.Worker{Changes: c, Feed: r.feed, Topic: r.topic, Rejects: r.rejects,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return r
}

func (r *rig) handle(t *testing.T, b events.DynamoDBEvent) []string {
	t.Helper()
	resp, err := r.worker.Handle(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// fed is the subjects of the feed's events, in order.
func (r *rig) fed(t *testing.T) []string {
	t.Helper()
	r.clock = r.clock.Add(time.Minute)
	p, err := r.feed.List(context.Background(), eventing.FeedQuery{Limit: eventing.MaxFeedLimit})
	if err != nil {
		t.Fatal(err)
	}
	return subjects(p.Events)
}

func subjects(evs []bridgeevents.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type+" "+e.Subject)
	}
	return out
}

// Each record's events go to the feed and the topic in record order;
// records of items no event tells of add nothing.
func TestHandleTellsEachRecordsEventsInOrder(t *testing.T) {
	r := newRig(changes{by: map[string]eventing.Change{"1": received("wamid.1"), "3": createdEnded("conv-1"), "4": connected()}})
	if failed := r.handle(t, batch("1", "2", "3", "4")); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	want := []string{"message.received message:wamid.1", "conversation.status_changed conversation:conv-1",
		"conversation.status_changed conversation:conv-1", "tenant.status_changed tenant:acme"}
	if got := r.fed(t); !slices.Equal(got, want) {
		t.Errorf("feed %v, want %v", got, want)
	}
	if got := subjects(r.topic.told); !slices.Equal(got, want) {
		t.Errorf("topic %v, want %v", got, want)
	}
	// A batch of records no event tells of calls nothing.
	r = newRig(changes{})
	if failed := r.handle(t, batch("5", "6")); len(failed) != 0 || r.topic.calls != 0 || len(r.fed(t)) != 0 {
		t.Errorf("failed %v, %d topic calls, feed %v", failed, r.topic.calls, r.fed(t))
	}
}

// A record that can never be read is kept aside whole, with why, and the
// shard goes on; if it cannot be kept, it and the records after it are
// handed again.
func TestHandleKeepsAsideARecordItCannotRead(t *testing.T) {
	c := changes{by: map[string]eventing.Change{"1": received("wamid.1"), "3": received("wamid.3")}, bad: map[string]bool{"2": true}}
	r := newRig(c)
	if failed := r.handle(t, batch("1", "2", "3")); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if got := r.fed(t); !slices.Equal(got, []string{"message.received message:wamid.1", "message.received message:wamid.3"}) {
		t.Errorf("feed %v", got)
	}
	kept, _ := r.rejects.List(context.Background(), at)
	if len(kept) != 1 || kept[0].ID != "stream#2" || !strings.Contains(kept[0].Reason, "an unreadable image") ||
		!strings.Contains(string(kept[0].Raw), `"SequenceNumber":"2"`) {
		t.Errorf("kept %+v", kept)
	}

	r = newRig(c)
	r.worker.Rejects = failingRejects{}
	if failed := r.handle(t, batch("1", "2", "3")); !slices.Equal(failed, []string{"2"}) {
		t.Errorf("failed %v, want [2]", failed)
	}
	if got := subjects(r.topic.told); !slices.Equal(got, []string{"message.received message:wamid.1"}) {
		t.Errorf("topic %v", got)
	}
}

// A failure to append or to publish hands the batch again from the first
// record whose events were not told; told again, they carry the same ids.
func TestHandleReportsTheFirstRecordNotTold(t *testing.T) {
	c := changes{by: map[string]eventing.Change{"2": received("wamid.2"), "3": createdEnded("conv-3"), "4": received("wamid.4")}}
	r := newRig(c)
	r.worker.Feed = failingFeed{}
	if failed := r.handle(t, batch("1", "2", "3", "4")); !slices.Equal(failed, []string{"2"}) {
		t.Errorf("feed down: failed %v, want [2]", failed)
	}
	if len(r.topic.told) != 0 {
		t.Errorf("told %v while the feed was down", subjects(r.topic.told))
	}

	r = newRig(c)
	r.topic.failFrom = 2 // the second event of record 3
	if failed := r.handle(t, batch("1", "2", "3", "4")); !slices.Equal(failed, []string{"3"}) {
		t.Errorf("topic down: failed %v, want [3]", failed)
	}
	first := slices.Clone(r.topic.told)
	r.topic.failFrom = 0
	if failed := r.handle(t, batch("3", "4")); len(failed) != 0 {
		t.Fatalf("again: failed %v", failed)
	}
	if r.topic.told[1].ID != r.topic.told[2].ID || len(r.topic.told) != 5 {
		t.Errorf("first %v, then %v", subjects(first), subjects(r.topic.told))
	}
}

// An event the topic can never take is kept aside, and the feed keeps it;
// the events after it are told.
func TestHandleKeepsAsideAnEventTooLarge(t *testing.T) {
	c := changes{by: map[string]eventing.Change{"1": received("wamid.1"), "2": received("wamid.2"), "3": received("wamid.3")}}
	r := newRig(c)
	evs, _ := eventing.Derive(received("wamid.2"))
	r.topic.tooLarge = map[string]bool{evs[0].ID: true}
	if failed := r.handle(t, batch("1", "2", "3")); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if got := subjects(r.topic.told); !slices.Equal(got, []string{"message.received message:wamid.1", "message.received message:wamid.3"}) {
		t.Errorf("topic %v", got)
	}
	if got := r.fed(t); len(got) != 3 {
		t.Errorf("feed %v", got)
	}
	kept, _ := r.rejects.List(context.Background(), at)
	if len(kept) != 1 || kept[0].ID != "event#"+evs[0].ID || !strings.Contains(kept[0].Reason, "too large") {
		t.Errorf("kept %+v", kept)
	}
}

// Many records: one append and as few calls to the topic as it takes.
func TestHandleBatchesItsCalls(t *testing.T) {
	c := changes{by: map[string]eventing.Change{}}
	var seqs []string
	for i := range 25 {
		seq := fmt.Sprint(i + 1)
		c.by[seq] = received("wamid." + seq)
		seqs = append(seqs, seq)
	}
	r := newRig(c)
	appends := 0
	r.worker.Feed = countingFeed{Feed: r.feed, n: &appends}
	if failed := r.handle(t, batch(seqs...)); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	if appends != 1 || r.topic.calls != 3 || len(r.topic.told) != 25 {
		t.Errorf("%d appends, %d topic calls, %d told", appends, r.topic.calls, len(r.topic.told))
	}
}

type countingFeed struct {
	eventing.Feed
	n *int
}

func (f countingFeed) Append(ctx context.Context, evs []bridgeevents.Event) error {
	*f.n++
	return f.Feed.Append(ctx, evs)
}

var _ envelope.RejectStore = failingRejects{}
