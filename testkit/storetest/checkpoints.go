package storetest

import (
	"context"
	"testing"
	"time"
)

// Checkpoints is what a checkpoint store offers.
type Checkpoints interface {
	Checkpoint(ctx context.Context, name string) (string, error)
	SaveCheckpoint(ctx context.Context, name, position string) error
}

// RunCheckpoints is the contract of a checkpoint store.
func RunCheckpoints(t *testing.T, newStore func(t *testing.T) Checkpoints) {
	ctx := context.Background()
	s := newStore(t)
	if p, err := s.Checkpoint(ctx, "numbers:connected"); err != nil || p != "" {
		t.Fatalf("unsaved checkpoint: %q %v", p, err)
	}
	for _, step := range []struct{ name, position string }{
		{"numbers:connected", "cursor-1"}, {"numbers:restricted", "other"}, {"numbers:connected", "cursor-2"},
	} {
		if err := s.SaveCheckpoint(ctx, step.name, step.position); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"numbers:connected": "cursor-2", "numbers:restricted": "other"} {
		if p, err := s.Checkpoint(ctx, name); err != nil || p != want {
			t.Errorf("%s: %q %v, want %q", name, p, err, want)
		}
	}
	if err := s.SaveCheckpoint(ctx, "numbers:connected", ""); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Checkpoint(ctx, "numbers:connected"); p != "" {
		t.Errorf("reset checkpoint reads %q", p)
	}
}

// Leases is what a lease store offers.
type Leases interface {
	TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// RunLeases is the contract of a lease store: one holder at a time, a lease
// taken over once its time has passed, and a release only by its holder.
func RunLeases(t *testing.T, newStore func(t *testing.T) Leases) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	take := func(holder string, now time.Time, want bool) {
		t.Helper()
		got, err := s.TakeLease(ctx, "reconcile", holder, now, now.Add(time.Minute))
		if err != nil || got != want {
			t.Fatalf("%s takes the lease at %s: %v %v, want %v", holder, now.Format(time.TimeOnly), got, err, want)
		}
	}
	take("run-a", t0, true)
	take("run-b", t0.Add(time.Second), false)
	take("run-a", t0.Add(2*time.Second), true) // its own lease, extended to t0+62s
	if ok, err := s.TakeLease(ctx, "other", "run-b", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("another lease name is free: %v %v", ok, err)
	}
	take("run-b", t0.Add(61*time.Second), false) // run-a's extension still holds
	take("run-b", t0.Add(63*time.Second), true)  // run-a died: its time passed
	if err := s.ReleaseLease(ctx, "reconcile", "run-a"); err != nil {
		t.Fatal(err)
	}
	take("run-c", t0.Add(64*time.Second), false) // run-a's release did not end run-b's lease
	if err := s.ReleaseLease(ctx, "reconcile", "run-b"); err != nil {
		t.Fatal(err)
	}
	take("run-c", t0.Add(65*time.Second), true)
}
