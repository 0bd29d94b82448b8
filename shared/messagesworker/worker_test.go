package messagesworker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	samples "github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/messagesworker"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

const (
	numberA = "106540352242922" // the number of every sample
	numberB = "999000111222333"
	tenantA = "acme"
	tenantB = "globex"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// stores are what the worker writes to and the tests read from.
type stores struct {
	store interface {
		messaging.Store
		messaging.Reader
	}
	pending messaging.PendingStore
	numbers interface {
		messagesworker.Numbers
		AddNumber(ctx context.Context, tenantID, phoneNumberID string) error
	}
	rejects interface {
		messagesworker.RejectStore
		List(ctx context.Context, day time.Time) ([]envelope.Rejected, error)
	}
}

// backends run each test on the in-memory stores and on the DynamoDB
// adapters against DynamoDB Local: the worker's behaviour is proven on the
// real thing, and the twins stay honest.
var backends = map[string]func(t *testing.T) stores{
	"memory": func(*testing.T) stores {
		return stores{store: &memstore.Messages{}, pending: &memstore.Pending{}, numbers: &memstore.Numbers{},
			rejects: &memstore.Rejects{}}
	},
	"dynamodb": func(t *testing.T) stores {
		db, table := awstest.DynamoDB(t), awstest.Bridge(awstest.Tables(t))
		return stores{store: &dynamo.Messages{DB: db, Table: table}, pending: &dynamo.Pending{DB: db, Table: table},
			numbers: &dynamo.Numbers{DB: db, Table: table}, rejects: &dynamo.Rejects{DB: db, Table: table}}
	},
}

// rig is the worker on one backend's stores.
type rig struct {
	t *testing.T
	stores
	worker *messagesworker.Worker
	seq    atomic.Int64
}

// each runs f on a fresh rig of every backend.
func each(t *testing.T, f func(t *testing.T, r *rig)) {
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) { f(t, newRig(t, backend(t))) })
	}
}

func newRig(t *testing.T, s stores) *rig {
	t.Helper()
	r := &rig{t: t, stores: s}
	r.worker = &messagesworker.Worker{Store: r.store, Pending: r.pending, Numbers: r.numbers, Payloads: &memstore.Payloads{},
		Rejects: r.rejects, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.connect(tenantA, numberA)
	return r
}

func (r *rig) connect(tenant, number string) {
	r.t.Helper()
	if err := r.numbers.AddNumber(context.Background(), tenant, number); err != nil {
		r.t.Fatal(err)
	}
}

// message is a queue message as the ingest makes it, under a fresh key.
func (r *rig) message(source envelope.Source, number, event string, body []byte) events.SQSMessage {
	r.t.Helper()
	n := r.seq.Add(1)
	d := envelope.Delivery{Source: source, Key: fmt.Sprintf("%s#%s#key-%d", source, number, n), PhoneNumberID: number,
		Event: event, IdempotencyKey: fmt.Sprintf("key-%d", n), ReceivedAt: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)}
	msg, err := envelope.Encode(d, body)
	if err != nil {
		r.t.Fatal(err)
	}
	return events.SQSMessage{MessageId: fmt.Sprintf("m-%d", n), Body: msg}
}

// handle runs the worker on the messages and fails the test on any failed one.
func (r *rig) handle(msgs ...events.SQSMessage) {
	r.t.Helper()
	resp, err := r.worker.Handle(context.Background(), events.SQSEvent{Records: msgs})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(resp.BatchItemFailures) > 0 {
		r.t.Fatalf("failed messages: %+v", resp.BatchItemFailures)
	}
}

func (r *rig) kapso(number, event string, body []byte) events.SQSMessage {
	return r.message(envelope.SourceKapsoNumber, number, event, body)
}

func (r *rig) meta(number string, body []byte) events.SQSMessage {
	return r.message(envelope.SourceMeta, number, "", body)
}

func (r *rig) get(tenant, wamid string) (messaging.StoredMessage, bool) {
	r.t.Helper()
	m, ok, err := r.store.Message(context.Background(), tenant, wamid)
	if err != nil {
		r.t.Fatal(err)
	}
	return m, ok
}

func (r *rig) kept() []envelope.Rejected {
	r.t.Helper()
	got, err := r.rejects.List(context.Background(), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

func sample(t *testing.T, path string) samples.Sample {
	t.Helper()
	s, err := samples.Lookup(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawIDs lists the message and status WAMIDs a sample's body holds, read
// with encoding/json into maps rather than with the worker's readers.
func rawIDs(t *testing.T, s samples.Sample) (msgs map[string]string, statuses []string) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(s.Body, &v); err != nil {
		t.Fatal(err)
	}
	msgs = map[string]string{}
	addMsg := func(m any) {
		if m, ok := m.(map[string]any); ok && m["id"] != nil {
			msgs[m["id"].(string)] = m["type"].(string)
		}
	}
	if s.Route == samples.RouteMeta {
		for _, e := range v["entry"].([]any) {
			for _, c := range e.(map[string]any)["changes"].([]any) {
				val, _ := c.(map[string]any)["value"].(map[string]any)
				ms, _ := val["messages"].([]any)
				for _, m := range ms {
					addMsg(m)
				}
				ss, _ := val["statuses"].([]any)
				for _, st := range ss {
					statuses = append(statuses, st.(map[string]any)["id"].(string))
				}
			}
		}
		return msgs, statuses
	}
	payloads := []any{v}
	if d, ok := v["data"].([]any); ok {
		payloads = d
	} else if d, ok := v["data"].(map[string]any); ok {
		payloads = []any{d}
	}
	for _, p := range payloads {
		addMsg(p.(map[string]any)["message"])
	}
	return msgs, statuses
}

// Every message and status of every number sample is stored for the
// number's tenant; nothing is failed and only events kapso-bridge has no
// use for are kept aside.
func TestEverySampleIsStored(t *testing.T) {
	all, err := samples.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range all {
		if s.Route != samples.RouteNumber && s.Route != samples.RouteMeta {
			continue
		}
		t.Run(s.Path, func(t *testing.T) {
			each(t, func(t *testing.T, r *rig) {
				if s.Route == samples.RouteMeta {
					r.handle(r.meta(numberA, s.Body))
				} else {
					r.handle(r.kapso(numberA, s.Event, s.Body))
				}
				msgs, statuses := rawIDs(t, s)
				for id, typ := range msgs {
					m, ok := r.get(tenantA, id)
					if !ok || !m.Known {
						t.Fatalf("message %s not stored", id)
					}
					if m.Type != typ || m.Text == "" || m.Timestamp.IsZero() || m.ConversationID == "" {
						t.Errorf("message %s stored as type %q text %q at %v in %q", id, m.Type, m.Text, m.Timestamp, m.ConversationID)
					}
				}
				for _, id := range statuses {
					m, ok := r.get(tenantA, id)
					if !ok || m.Delivery.Status == "" {
						t.Errorf("status of %s not stored", id)
					}
				}
				if _, ok := r.get(tenantB, anyKey(msgs)); ok {
					t.Error("another tenant reads the message")
				}
				for _, k := range r.kept() {
					if !strings.HasPrefix(k.Reason, "unhandled: ") {
						t.Errorf("kept aside %s: %s", k.ID, k.Reason)
					}
				}
			})
		})
		n++
	}
	if n < 15 {
		t.Fatalf("only %d number samples", n)
	}
}

func anyKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return "wamid.none"
}

// metaStatus is a Meta delivery of one status of wamid.
func metaStatus(number, wamid, status string, at int64) []byte {
	errs := ""
	if status == "failed" {
		errs = `,"errors":[{"code":131047,"title":"Re-engagement message","message":"More than 24 hours have passed","error_data":{"details":"outside the window"}}]`
	}
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":"16505551234"%s}]}}]}]}`,
		number, wamid, status, at, errs)
}

func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// Statuses in every order, each its own delivery and then the message
// itself, end in the same state: read wins, failed keeps its error, the
// history has all four.
func TestStatusesInEveryOrder(t *testing.T) {
	sent := sample(t, "kapso/whatsapp.message.sent.json")
	const wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QUJDMDAwMDAwMDAwMDAwMDEA"
	times := map[string]int64{"sent": 1773151561, "delivered": 1773151570, "failed": 1773151575, "read": 1773151580}
	orders := permutations([]string{"sent", "delivered", "read", "failed"})
	if len(orders) != 24 {
		t.Fatalf("%d orders", len(orders))
	}
	for _, order := range orders {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			each(t, func(t *testing.T, r *rig) {
				for _, st := range order {
					r.handle(r.meta(numberA, metaStatus(numberA, wamid, st, times[st])))
				}
				if m, ok := r.get(tenantA, wamid); !ok || m.Known || m.Direction != messaging.Outbound {
					t.Fatalf("before the message: ok %v known %v direction %q", ok, m.Known, m.Direction)
				}
				r.handle(r.kapso(numberA, sent.Event, sent.Body))
				m, _ := r.get(tenantA, wamid)
				d := m.Delivery
				if !m.Known || d.Status != messaging.Read || len(d.History) != 4 {
					t.Fatalf("known %v status %q history %+v", m.Known, d.Status, d.History)
				}
				if d.Error == nil || d.Error.Code != 131047 || d.Error.Title != "Re-engagement message" {
					t.Fatalf("error %+v", d.Error)
				}
				if !d.At.Equal(time.Unix(times["read"], 0)) {
					t.Errorf("read at %v", d.At)
				}
			})
		})
	}
}

// A failure is never overwritten by a late sent or delivered.
func TestFailedStaysFailed(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		const wamid = "wamid.late"
		r.handle(r.meta(numberA, metaStatus(numberA, wamid, "failed", 1773151575)))
		r.handle(r.meta(numberA, metaStatus(numberA, wamid, "delivered", 1773151570)),
			r.meta(numberA, metaStatus(numberA, wamid, "sent", 1773151561)))
		m, _ := r.get(tenantA, wamid)
		if m.Delivery.Status != messaging.Failed || m.Delivery.Error == nil || len(m.Delivery.History) != 3 {
			t.Fatalf("%+v", m.Delivery)
		}
	})
}

// Kapso re-sends a failed batch's messages one by one under new keys: the
// conversation still has each message once.
func TestBatchResentAsSingles(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		batch := sample(t, "kapso/whatsapp.message.received.batch.json")
		r.handle(r.kapso(numberA, batch.Event, batch.Body))
		var v struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(batch.Body, &v); err != nil {
			t.Fatal(err)
		}
		var singles []events.SQSMessage
		for _, d := range v.Data {
			singles = append(singles, r.kapso(numberA, batch.Event, d))
		}
		r.handle(singles...)
		r.handle(singles...) // and SQS delivers them again
		got, next, err := r.store.ConversationMessages(context.Background(), tenantA, "0b8e3f2a-6c1d-4e59-a7b3-4d2f8c9e1a70",
			messaging.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || next != "" {
			t.Fatalf("%d messages, next %q", len(got), next)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Timestamp.Before(got[i-1].Timestamp) {
				t.Error("messages out of conversation order")
			}
		}
		convs, _, err := r.store.Conversations(context.Background(), tenantA, messaging.Page{})
		if err != nil || len(convs) != 1 {
			t.Fatalf("%d conversations, %v", len(convs), err)
		}
	})
}

// The same delivery handled twice at once stores its message once.
func TestConcurrentDuplicates(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		s := sample(t, "kapso/whatsapp.message.received.json")
		var wg sync.WaitGroup
		for range 8 {
			m := r.kapso(numberA, s.Event, s.Body)
			wg.Add(1)
			go func() { defer wg.Done(); r.handle(m) }()
		}
		wg.Wait()
		convs, _, err := r.store.Conversations(context.Background(), tenantA, messaging.Page{})
		if err != nil || len(convs) != 1 {
			t.Fatalf("%d conversations, %v", len(convs), err)
		}
		got, _, err := r.store.ConversationMessages(context.Background(), tenantA, convs[0].ID, messaging.Page{})
		if err != nil || len(got) != 1 {
			t.Fatalf("%d messages, %v", len(got), err)
		}
	})
}

// Events of a number no tenant owns are kept, not failed, and applied when
// the number connects.
func TestEventsBeforeTheConnection(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		s := sample(t, "meta/messages.multi-change.json")
		body := []byte(strings.ReplaceAll(string(s.Body), numberA, numberB))
		r.handle(r.meta(numberB, body))
		msgs, statuses := rawIDs(t, s)
		for id := range msgs {
			if _, ok := r.get(tenantB, id); ok {
				t.Fatalf("%s stored before the number had a tenant", id)
			}
		}
		kept, err := r.pending.Pending(context.Background(), numberB, "", 100)
		if err != nil || len(kept) != len(msgs)+len(statuses) {
			t.Fatalf("%d kept, want %d (%v)", len(kept), len(msgs)+len(statuses), err)
		}

		r.connect(tenantB, numberB)
		d, trigger := envelope.NumberConnected(numberB, time.Now())
		msg, err := envelope.Encode(d, trigger)
		if err != nil {
			t.Fatal(err)
		}
		r.handle(events.SQSMessage{MessageId: "connected", Body: msg})
		for id := range msgs {
			if m, ok := r.get(tenantB, id); !ok || !m.Known {
				t.Errorf("%s not applied on connection", id)
			}
		}
		for _, id := range statuses {
			if m, ok := r.get(tenantB, id); !ok || m.Delivery.Status == "" {
				t.Errorf("status of %s not applied on connection", id)
			}
		}
		if kept, _ := r.pending.Pending(context.Background(), numberB, "", 100); len(kept) != 0 {
			t.Errorf("%d events still kept", len(kept))
		}
	})
}

// A Meta delivery through number A's webhook that names number B changes
// nothing for B's tenant (nor A's) and is kept aside as suspicious; the
// parts naming A are applied.
func TestForeignNumberIsSuspicious(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		r.connect(tenantB, numberB)
		s := sample(t, "meta/messages.multi-change.json")
		var v map[string]any
		if err := json.Unmarshal(s.Body, &v); err != nil {
			t.Fatal(err)
		}
		changes := v["entry"].([]any)[0].(map[string]any)["changes"].([]any)
		if len(changes) < 2 {
			t.Fatal("sample has one change")
		}
		// The first change (messages) names B; the second (statuses) names A.
		foreign := changes[0].(map[string]any)["value"].(map[string]any)
		foreign["metadata"].(map[string]any)["phone_number_id"] = numberB
		body, _ := json.Marshal(v)
		r.handle(r.meta(numberA, body))

		msgs, statuses := rawIDs(t, s)
		for id := range msgs {
			_, inA := r.get(tenantA, id)
			_, inB := r.get(tenantB, id)
			if inA || inB {
				t.Errorf("%s stored: for A %v, for B %v", id, inA, inB)
			}
		}
		for _, id := range statuses {
			if m, ok := r.get(tenantA, id); !ok || m.Delivery.Status == "" {
				t.Errorf("status of %s not applied", id)
			}
		}
		suspicious := 0
		for _, k := range r.kept() {
			if strings.HasPrefix(k.Reason, "suspicious: ") {
				suspicious++
			}
		}
		if suspicious != len(msgs) {
			t.Fatalf("%d kept as suspicious, want %d", suspicious, len(msgs))
		}
	})
}

// A received message's body replayed under the failed event's name stays
// an inbound message with no status.
func TestReplayUnderAnotherName(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		s := sample(t, "kapso/whatsapp.message.received.json")
		r.handle(r.kapso(numberA, "whatsapp.message.failed", s.Body))
		msgs, _ := rawIDs(t, s)
		m, ok := r.get(tenantA, anyKey(msgs))
		if !ok || m.Direction != messaging.Inbound || m.Delivery.Status != "" {
			t.Fatalf("ok %v direction %q status %q", ok, m.Direction, m.Delivery.Status)
		}
		// A batch names itself in its signed body: the header cannot rename it.
		batch := sample(t, "kapso/whatsapp.message.received.batch.json")
		r.handle(r.kapso(numberA, "whatsapp.contact.identity_changed", batch.Body))
		ids, _ := rawIDs(t, batch)
		for id := range ids {
			if m, ok := r.get(tenantA, id); !ok || m.Direction != messaging.Inbound {
				t.Errorf("%s under another header: ok %v direction %q", id, ok, m.Direction)
			}
		}
	})
}

// A person known by BSUID gains a phone; then their BSUID changes. Both
// the phone and the old BSUID still find them.
func TestPersonGainsPhoneThenChangesIdentity(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		bsuidOnly := sample(t, "kapso/whatsapp.message.received.bsuid-only.json")
		r.handle(r.kapso(numberA, bsuidOnly.Event, bsuidOnly.Body))
		withPhone := sample(t, "kapso/whatsapp.message.received.json")
		r.handle(r.kapso(numberA, withPhone.Event, withPhone.Body))
		change := sample(t, "kapso/whatsapp.contact.identity_changed.json")
		r.handle(r.kapso(numberA, change.Event, change.Body))

		ctx := context.Background()
		for _, key := range []string{"US.13491208655302741918", "US.10293847561029384756", "16505551234"} {
			c, ok, err := r.store.Contact(ctx, tenantA, numberA, key)
			if err != nil || !ok {
				t.Fatalf("%s: ok %v err %v", key, ok, err)
			}
			if c.Person.BSUID != "US.13491208655302741918" {
				t.Errorf("%s finds %+v", key, c.Person)
			}
		}
		c, _, _ := r.store.Contact(ctx, tenantA, numberA, "US.13491208655302741918")
		if len(c.PreviousBSUIDs) != 1 || c.PreviousBSUIDs[0] != "US.10293847561029384756" {
			t.Errorf("previous BSUIDs %v", c.PreviousBSUIDs)
		}
	})
}

// Meta's user_changed_user_id system message moves the person too.
func TestMetaIdentityChange(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		s := sample(t, "meta/messages.system.user_changed_user_id.json")
		r.handle(r.meta(numberA, s.Body))
		c, ok, err := r.store.Contact(context.Background(), tenantA, numberA, "US.10293847561029384756")
		if err != nil || !ok || c.Person.BSUID != "US.13491208655302741918" {
			t.Fatalf("ok %v err %v contact %+v", ok, err, c.Person)
		}
	})
}

// Unknown events and malformed deliveries are kept aside, never failed.
func TestUnusableKeptNotFailed(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		r.handle(r.kapso(numberA, "whatsapp.something.new", []byte(`{"phone_number_id":"106540352242922"}`)),
			r.kapso(numberA, "whatsapp.message.received", []byte(`{"message":{"id":"wamid.x","timestamp":"bad"}}`)),
			events.SQSMessage{MessageId: "garbage", Body: "not a delivery",
				Attributes: map[string]string{"SentTimestamp": "1773154800000"}})
		reasons := map[string]int{}
		for _, k := range r.kept() {
			reasons[strings.SplitN(k.Reason, ":", 2)[0]]++
		}
		if reasons["unhandled"] != 1 || reasons["unusable"] != 2 {
			t.Fatalf("kept %v", reasons)
		}
	})
}

// failingStore fails every write, as DynamoDB does when throttled.
type failingStore struct{ messaging.Store }

func (failingStore) PutMessage(context.Context, string, messaging.Message, []messaging.StatusUpdate) error {
	return errors.New("throttled")
}

// A transient failure fails its message, so SQS delivers it again.
func TestTransientFailureFailsTheMessage(t *testing.T) {
	each(t, func(t *testing.T, r *rig) {
		r.worker.Store = failingStore{r.store}
		s := sample(t, "kapso/whatsapp.message.received.json")
		ok := r.kapso(numberA, "whatsapp.conversation.created", sample(t, "kapso/whatsapp.conversation.created.json").Body)
		bad := r.kapso(numberA, s.Event, s.Body)
		resp, err := r.worker.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{ok, bad}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad.MessageId {
			t.Fatalf("failures %+v", resp.BatchItemFailures)
		}
		if len(r.kept()) != 0 {
			t.Fatal("a transient failure was kept aside")
		}
	})
}
