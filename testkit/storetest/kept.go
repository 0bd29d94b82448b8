package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

// RunBodies holds a store of bodies kept aside to its contract.
func RunBodies(t *testing.T, newStore func(t *testing.T) Bodies) {
	t.Run("bodies round trip", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		p := newStore(t)
		body := bytes.Repeat([]byte("0123456789abcdef"), 70_000) // ~1.1 MB: above a queue message, several table items
		if err := p.Put(ctx, "ref-1", body); err != nil {
			t.Fatal(err)
		}
		if err := p.Put(ctx, "ref-1", body); err != nil {
			t.Fatalf("writing the same ref twice: %v", err)
		}
		got, err := p.Get(ctx, "ref-1")
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("round trip: len %d err %v", len(got), err)
		}
		if _, err := p.Get(ctx, "missing"); !errors.Is(err, envelope.ErrBodyNotFound) {
			t.Fatalf("missing payload: %v", err)
		}
	})
}

// RunRejects holds a store of rejected events to its contract.
func RunRejects(t *testing.T, newStore func(t *testing.T, now func() time.Time) Rejects) {
	t.Run("rejected events are kept per day, once each", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		// Today at noon, not the suites' epoch: a kept event's expiry is a
		// TTL attribute, and DynamoDB Local deletes items whose TTL has
		// passed by the wall clock, so events kept at epoch could vanish.
		epoch := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
		now := epoch.Add(10 * time.Hour)
		r := newStore(t, func() time.Time { return now })
		keep := func(id string, at time.Time) {
			t.Helper()
			if err := r.Keep(ctx, id, "reason of "+id, at, []byte("raw "+id)); err != nil {
				t.Fatal(err)
			}
		}
		keep("late", epoch.Add(2*time.Hour+time.Second))
		keep("early", epoch.Add(2*time.Hour+500*time.Millisecond))
		keep("early", epoch.Add(2*time.Hour+500*time.Millisecond)) // a redelivery
		keep("undated", time.Time{})
		keep("yesterday", epoch.Add(-13*time.Hour))
		kept, err := r.List(ctx, epoch)
		if err != nil || len(kept) != 3 {
			t.Fatalf("kept %+v %v", kept, err)
		}
		want := []string{"early", "late", "undated"}
		for i, k := range kept {
			if k.ID != want[i] || k.Reason != "reason of "+want[i] || string(k.Raw) != "raw "+want[i] || k.Truncated {
				t.Errorf("kept[%d] = %+v, want %s", i, k, want[i])
			}
		}
		if !kept[2].ReceivedAt.Equal(now) || !kept[0].ReceivedAt.Equal(epoch.Add(2*time.Hour+500*time.Millisecond)) {
			t.Errorf("receive times %v, %v", kept[0].ReceivedAt, kept[2].ReceivedAt)
		}
		if other, _ := r.List(ctx, epoch.Add(-24*time.Hour)); len(other) != 1 || other[0].ID != "yesterday" {
			t.Errorf("the day before: %+v", other)
		}
	})
}
