package tenantapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// OffboardingView is the answer of DELETE /v1/tenants/{tenant_id}: where
// the tenant's offboarding stands.
type OffboardingView struct {
	TenantID string `json:"tenant_id"`
	// Status is "deleting" until everything is deleted, then "deleted".
	Status      string            `json:"status"`
	Phase       offboarding.Phase `json:"phase"`
	RequestedAt time.Time         `json:"requested_at"`
	// RequestedBy is the name of the API token that asked for it.
	RequestedBy string             `json:"requested_by,omitempty"`
	DeletedAt   *time.Time         `json:"deleted_at"`
	Counts      offboarding.Counts `json:"counts"`
}

// Offboarding statuses as OffboardingView shows them.
const (
	OffboardingDeleting = string(onboarding.TenantDeleting)
	OffboardingDeleted  = "deleted"
)

// DefaultOffboardBudget is how long a DELETE works on the offboarding
// before it answers; the reconciler does the rest.
const DefaultOffboardBudget = 4 * time.Second

func offboardingView(j offboarding.Job) OffboardingView {
	v := OffboardingView{TenantID: j.TenantID, Status: OffboardingDeleting, Phase: j.Phase,
		RequestedAt: j.RequestedAt.UTC(), RequestedBy: j.RequestedBy, Counts: j.Counts}
	if j.Done() {
		at := j.DeletedAt.UTC()
		v.Status, v.DeletedAt = OffboardingDeleted, &at
	}
	return v
}

// deleteTenant serves DELETE /v1/tenants/{tenant_id}: it starts the
// tenant's offboarding, or resumes the one running, works on it for the
// budget, and answers where it stands: 202 while deleting, 200 once done.
// Asked again after it is done, it answers the tombstone, 200; a tenant
// never known is 404.
func (a *API) deleteTenant(ctx context.Context, w http.ResponseWriter, _ *http.Request, tenantID string, log *slog.Logger) error {
	if a.Offboard == nil {
		return errs.E(errs.Unavailable, "try again", fmt.Errorf("offboarding is not wired"))
	}
	job, found, err := a.Offboard.Store.Job(ctx, tenantID)
	if err != nil {
		return storeError(err, "read offboarding")
	}
	if !found || job.Done() {
		conn, exists, err := a.Store.Load(ctx, tenantID)
		switch {
		case err != nil:
			return storeError(err, "load tenant")
		case exists:
			// A tenant never offboarded, or made again since its tombstone.
			plan := offboarding.Plan(conn, a.now())
			if tok, ok := access.FromContext(ctx); ok {
				plan.RequestedBy = tok.Name
			}
			if job, _, err = a.Offboard.Store.Start(ctx, plan); err != nil {
				return storeError(err, "start offboarding")
			}
			log.Info("offboarding started", "phase", string(job.Phase))
		case found:
			httpapi.WriteJSON(w, http.StatusOK, offboardingView(job))
			return nil
		default:
			return onboarding.ErrTenantNotFound
		}
	}
	noteResource(ctx, tenantID)
	budget := a.OffboardBudget
	if budget <= 0 {
		budget = DefaultOffboardBudget
	}
	runCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if job, err = a.Offboard.Run(runCtx, job); err != nil {
		// The job keeps its place; the next DELETE or the reconciler resumes it.
		log.Warn("offboarding paused", "phase", string(job.Phase), "err", err)
	}
	status := http.StatusAccepted
	if job.Done() {
		status = http.StatusOK
		log.Info("tenant deleted", "items", job.Counts.Items, "objects", job.Counts.Objects)
	}
	httpapi.WriteJSON(w, status, offboardingView(job))
	return nil
}

// customerExternalID is the external_customer_id of the tenant's Kapso
// customer: the tenant id, until the tenant is offboarded. A tenant made
// again after its tombstone gets a new customer, named by the tenant id
// and when the old one was deleted ('~' is in no tenant id), so the old
// customer's numbers never attach to it. A tenant being deleted gets none.
func (a *API) customerExternalID(ctx context.Context, tenantID string) (string, error) {
	if a.Offboard == nil {
		return tenantID, nil
	}
	job, found, err := a.Offboard.Store.Job(ctx, tenantID)
	switch {
	case err != nil:
		return "", storeError(err, "read offboarding")
	case !found:
		return tenantID, nil
	case !job.Done():
		return "", onboarding.ErrTenantDeleting
	}
	return tenantID + "~" + strconv.FormatInt(job.DeletedAt.Unix(), 10), nil
}
