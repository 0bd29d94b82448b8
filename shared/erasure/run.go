package erasure

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Runner advances jobs page by page, saving the position after each, so
// that a crash goes on from the last page saved.
type Runner struct {
	Jobs   Jobs
	Eraser Eraser
	Now    func() time.Time
	// PageSize is the most items a page deletes; DefaultPageSize when 0.
	PageSize int
	// Reserve is the time left before the context's deadline at which a
	// run stops starting pages; DefaultReserve when 0.
	Reserve time.Duration
}

// Defaults of a Runner.
const (
	DefaultPageSize = 25
	DefaultReserve  = 2 * time.Second
)

// Run advances j by at most maxPages pages, and stops sooner when it is
// done, waiting for its final sweep, or near the context's deadline. It
// answers the job as saved. A job another runner moved meanwhile answers
// ErrMoved, and is left to it.
func (r Runner) Run(ctx context.Context, j Job, maxPages int) (Job, error) {
	size, reserve := r.PageSize, r.Reserve
	if size <= 0 {
		size = DefaultPageSize
	}
	if reserve <= 0 {
		reserve = DefaultReserve
	}
	for range maxPages {
		now := r.Now()
		if !j.State.Open() || j.Waiting(now) {
			return j, nil
		}
		if d, ok := ctx.Deadline(); ok && d.Sub(now) < reserve {
			return j, nil
		}
		if err := ctx.Err(); err != nil {
			return j, err
		}
		page, err := r.Eraser.Erase(ctx, j, j.Position.Step, j.Position.Cursor, size)
		if err != nil {
			return j, fmt.Errorf("erasure %s: %s: %w", j.ID, j.Position.Step, err)
		}
		j.Identities = j.Identities.Found(page.Conversations)
		next := j.Advanced(page.Counts, page.Next, page.Finished, r.Now())
		if err := r.Jobs.Save(ctx, next, j.Position); err != nil {
			if errors.Is(err, ErrMoved) {
				return j, err
			}
			return j, fmt.Errorf("save erasure %s: %w", j.ID, err)
		}
		j = next
	}
	return j, nil
}
