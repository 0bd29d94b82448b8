package reconcile

import (
	"context"
	"errors"
	"time"
)

// DefaultOffboardTime bounds the time one run spends on one offboarding,
// so that a large tenant does not starve the other steps; the next run
// goes on from its saved place.
const DefaultOffboardTime = 2 * time.Minute

// offboardings resumes the tenants' unfinished offboardings, least
// recently worked on first, each for at most Limits.OffboardTime: the
// tenant API only starts them.
func (r *run) offboardings(ctx context.Context) error {
	if r.Offboard == nil {
		return nil
	}
	jobs, err := r.Offboard.Store.Unfinished(ctx, r.lim.Items)
	if err != nil {
		return err
	}
	c := &r.rep.Offboardings
	for _, j := range jobs {
		if r.stopping(ctx) {
			return nil
		}
		c.Checked++
		c.Found++
		jctx, cancel := context.WithTimeout(ctx, r.lim.OffboardTime)
		j, err := r.Offboard.Run(jctx, j)
		cancel()
		if err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
			r.itemFailed(ctx, "offboard tenant", err, "tenant_id", j.TenantID, "phase", string(j.Phase))
			continue
		}
		if j.Done() {
			c.Fixed++
		}
	}
	return nil
}
