package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// retentionCheckpoint keeps the backfill's place: "<days>:<position>" while
// a pass over the table is under way, "<days>:done" once it reached the
// end under that retention.
const retentionCheckpoint = "retention"

const retentionDone = "done"

// DefaultRetentionItems is Limits.RetentionItems' default: the items one
// run's backfill reads (docs/operations.md: the arithmetic).
const DefaultRetentionItems = 1000

// backfillRetention gives the items stored before MESSAGE_RETENTION_DAYS
// was set, or under other days, the current retention's expiry, up to
// RetentionItems items a run, from where the last run stopped. Once a pass
// has reached the end under the current days it does nothing until the
// setting changes: every write since carries the expiry itself. Unset, it
// does nothing at all: no expiry already given is taken back.
func (r *run) backfillRetention(ctx context.Context) error {
	if r.Backfill == nil || r.Checkpoints == nil || !r.Retention.Set() {
		return nil
	}
	raw, err := r.Checkpoints.Checkpoint(ctx, retentionCheckpoint)
	if err != nil {
		return fmt.Errorf("read the retention backfill's checkpoint: %w", err)
	}
	days, position, _ := strings.Cut(raw, ":")
	if days != strconv.Itoa(r.Retention.Days) {
		position = "" // another retention: a new pass from the start
	} else if position == retentionDone {
		return nil
	}
	pass, err := r.Backfill.ApplyRetention(ctx, r.Retention, position, r.lim.RetentionItems)
	r.rep.Retention.Checked += pass.Scanned
	r.rep.Retention.Found += pass.Stale
	r.rep.Retention.Fixed += pass.Updated
	next := pass.Next
	if err != nil {
		r.itemFailed(ctx, "apply the message retention", err, "days", r.Retention.Days)
		if next == "" {
			return nil // nothing done is kept: the next run starts where this one did
		}
	} else if next == "" {
		next = retentionDone
	}
	if err := r.Checkpoints.SaveCheckpoint(ctx, retentionCheckpoint, strconv.Itoa(r.Retention.Days)+":"+next); err != nil {
		return fmt.Errorf("save the retention backfill's checkpoint: %w", err)
	}
	return nil
}
