package outboundworker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// erase erases the person of phone from the fixture's number at at: the
// job and its tombstone, as the tenant API stores them.
func (f *fixture) erase(t *testing.T, phone string, at time.Time) *erasure.Check {
	t.Helper()
	h, err := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	jobs := &memstore.Erasures{}
	ids := erasure.Identities{Phone: phone}
	j, err := erasure.NewJob("era_1", tenant, number, "h", ids, at)
	if err != nil {
		t.Fatal(err)
	}
	stone := erasure.Tombstone{TenantID: tenant, PhoneNumberID: number, Hash: h.Hashes(tenant, number, ids)[0], ErasedAt: at, JobID: j.ID}
	if _, _, err := jobs.Open(context.Background(), j, []erasure.Tombstone{stone}); err != nil {
		t.Fatal(err)
	}
	return &erasure.Check{Marks: jobs, Guard: erasure.Guard{Hasher: h, Tombstones: jobs}, Now: func() time.Time { return f.now }}
}

// A send asked for before its person was erased, and not sent yet, is
// never sent: dropped and acknowledged, nothing accepted or stored. One
// asked for after the erasure goes.
func TestASendToAPersonErasedSinceIsNeverSent(t *testing.T) {
	f := newFixture(t)
	before := f.queued(t, "key-before")
	f.now = f.now.Add(time.Minute)
	f.w.Erasures = f.erase(t, "16505551234", f.now)
	f.now = f.now.Add(time.Minute)
	after := f.queued(t, "key-after")
	if resp := f.handle(t, before); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	if n := f.kapso.calls.Load(); n != 0 {
		t.Fatalf("%d sends to an erased person", n)
	}
	if m := f.stored(t, before); m.State != messaging.OutQueued || m.WAMID != "" {
		t.Errorf("the erased send moved: %+v", m)
	}
	// The reconciler's requeue is dropped the same way.
	f.now = f.now.Add(10 * time.Minute)
	f.handle(t, before)
	if n := f.kapso.calls.Load(); n != 0 {
		t.Fatalf("%d sends to an erased person", n)
	}
	f.handle(t, after)
	if m := f.stored(t, after); m.State != messaging.OutAccepted || f.kapso.calls.Load() != 1 {
		t.Errorf("a send asked for after the erasure: %+v, %d calls", m, f.kapso.calls.Load())
	}
}

// erasedMeanwhile is the outbox of a send whose outbound item the erasure
// deleted after the worker read it: the moves named in gone find nothing.
type erasedMeanwhile struct {
	*memstore.Messages
	gone  map[messaging.OutboundState]bool
	after *memstore.Messages
}

func (o erasedMeanwhile) MoveOutbound(ctx context.Context, tenantID, id string, t messaging.Transition) (messaging.OutboundMessage, error) {
	if o.gone[t.To] {
		return o.after.MoveOutbound(ctx, tenantID, id, t)
	}
	return o.Messages.MoveOutbound(ctx, tenantID, id, t)
}

// A send whose outbound item the erasure deleted after the worker read
// it: before the claim, it is not sent; during the call, nothing is
// recorded of it again. Either way the job is acknowledged at once.
func TestASendErasedWhileInHandIsNotRecorded(t *testing.T) {
	for _, c := range []struct {
		name  string
		gone  messaging.OutboundState
		calls int32
	}{{"before the claim", messaging.OutSending, 0}, {"during the call", messaging.OutAccepted, 1}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			j := f.queued(t, "key-1")
			after := &memstore.Messages{}
			f.w.Outbox = erasedMeanwhile{Messages: f.store, gone: map[messaging.OutboundState]bool{c.gone: true}, after: after}
			start := time.Now()
			if resp := f.handle(t, j); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("failures %v", resp.BatchItemFailures)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("the worker tried %s to record an erased send", d)
			}
			if n := f.kapso.calls.Load(); n != c.calls {
				t.Errorf("%d calls to Kapso, want %d", n, c.calls)
			}
			if _, ok, _ := after.Message(context.Background(), tenant, "wamid."+number+".1"); ok {
				t.Error("the erased send's message was stored")
			}
			if jobs := f.queue.Take(time.Hour); len(jobs) != 0 {
				t.Errorf("requeued: %v", jobs)
			}
		})
	}
}
