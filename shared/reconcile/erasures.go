package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
)

// Bounds of the erasures a run advances.
const (
	// erasuresPerRun is the most open erasures one run reads.
	erasuresPerRun = 50
	// erasurePagesPerJob is the most pages one run deletes of one erasure.
	erasurePagesPerJob = 200
)

// erasures advances every open erasure, oldest first, by a bounded number
// of pages each: those a request left unfinished, and the final sweep each
// one waits for. A job another runner holds (the request still running it)
// is left to it; a job that fails is tried again on the next run.
func (r *run) erasures(ctx context.Context) error {
	if r.Erasures == nil || r.Eraser == nil {
		return nil
	}
	jobs, _, err := r.Erasures.Unfinished(ctx, "", erasuresPerRun)
	if err != nil {
		return fmt.Errorf("list open erasures: %w", err)
	}
	runner := erasure.Runner{Jobs: r.Erasures, Eraser: r.Eraser, Now: r.Reconciler.now}
	c := &r.rep.Erasures
	for _, j := range jobs {
		if r.stopping(ctx) {
			return nil
		}
		c.Checked++
		if j.Waiting(r.now) {
			continue
		}
		c.Found++
		done, err := runner.Run(ctx, j, erasurePagesPerJob)
		if errors.Is(err, erasure.ErrMoved) {
			continue
		}
		if err != nil {
			r.itemFailed(ctx, "erase", err, "tenant_id", j.TenantID, "erasure_id", j.ID)
			continue
		}
		if done.State == erasure.Done {
			c.Fixed++
		}
	}
	return nil
}
