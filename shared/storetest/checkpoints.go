package storetest

import (
	"context"
	"testing"
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
