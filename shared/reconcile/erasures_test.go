package reconcile_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// countingEraser finishes each step after two pages, and fails the pages
// of one job while failing is set.
type countingEraser struct {
	mu      sync.Mutex
	pages   map[string]int
	failing string
}

func (e *countingEraser) Erase(_ context.Context, j erasure.Job, _ erasure.Step, cursor string, _ int) (erasure.Page, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if j.ID == e.failing {
		return erasure.Page{}, errors.New("table down")
	}
	if e.pages == nil {
		e.pages = map[string]int{}
	}
	e.pages[j.ID]++
	return erasure.Page{Counts: erasure.Progress{Messages: 1}, Next: "p2", Finished: cursor != ""}, nil
}

// Each run advances every open erasure: round one at once, the final sweep
// once its delay has passed; a failing one is counted and tried again on
// the next run; a done one is never read again.
func TestRunsAdvanceOpenErasures(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	jobs := &memstore.Erasures{}
	for _, id := range []string{"era_a", "era_b"} {
		j, err := erasure.NewJob(id, "acme", "111", "p-"+id, erasure.Identities{Phone: "1555" + id[4:]}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := jobs.Open(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	e := &countingEraser{failing: "era_b"}
	rec := &reconcile.Reconciler{Store: &memstore.Onboarding{}, Numbers: &memstore.Numbers{}, Kapso: &listingKapso{},
		Checkpoints: &memstore.Checkpoints{}, Erasures: jobs, Eraser: e,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		Limits: reconcile.Limits{KapsoPerMinute: 1 << 30}}
	nerr := 0
	run := func() reconcile.Counts {
		t.Helper()
		rep, err := rec.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nerr = rep.Errors
		return rep.Erasures
	}
	if got := run(); got != (reconcile.Counts{Checked: 2, Found: 2}) || e.pages["era_a"] != 2*len(erasure.Steps) || nerr != 1 {
		t.Fatalf("first run: %+v, %d pages, %d errors", got, e.pages["era_a"], nerr)
	}
	j, _, _ := jobs.Job(ctx, "acme", "era_a")
	if j.State != erasure.Erasing || !j.Waiting(now) {
		t.Fatalf("after round one: %+v", j)
	}
	if got := run(); got != (reconcile.Counts{Checked: 2, Found: 1}) || e.pages["era_a"] != 2*len(erasure.Steps) {
		t.Fatalf("before the sweep: %+v, %d pages", got, e.pages["era_a"])
	}
	now = now.Add(erasure.SweepDelay)
	e.failing = ""
	// era_b, failing until now, does both rounds: its sweep is due too.
	if got := run(); got != (reconcile.Counts{Checked: 2, Found: 2, Fixed: 2}) {
		t.Fatalf("the sweep: %+v", got)
	}
	for _, id := range []string{"era_a", "era_b"} {
		if j, _, _ = jobs.Job(ctx, "acme", id); j.State != erasure.Done || j.Progress.Messages != 4*len(erasure.Steps) {
			t.Fatalf("done: %+v", j)
		}
	}
	if got := run(); got != (reconcile.Counts{}) {
		t.Fatalf("after: %+v", got)
	}
}
