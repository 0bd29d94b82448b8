package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// TenantList is the answer of GET /v1/tenants.
type TenantList struct {
	Tenants    []TenantListItem `json:"tenants"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// TenantListItem is one tenant of GET /v1/tenants.
type TenantListItem struct {
	TenantID string                  `json:"tenant_id"`
	Name     string                  `json:"name"`
	Status   onboarding.TenantStatus `json:"status"`
	// UpdatedAt is the time of the tenant's latest fact: its status holds
	// since then at least.
	UpdatedAt       time.Time `json:"updated_at"`
	KapsoCustomerID string    `json:"kapso_customer_id"`
	// NeedsAttention says why the tenant needs a human; empty when it does not.
	NeedsAttention []onboarding.AttentionReason `json:"needs_attention"`
}

// listTenants serves GET /v1/tenants: every tenant, or those of a status or
// needing a human, or updated since a time, least recently updated first. A
// tenant updated while a caller pages through moves to the end: it may be
// listed again, never skipped.
func (a *API) listTenants(ctx context.Context, w http.ResponseWriter, r *http.Request, _ *slog.Logger) error {
	q, err := readTenantQuery(r)
	if err != nil {
		return err
	}
	q.Now = a.now()
	items, next, err := a.Store.ListTenants(ctx, q)
	if err != nil {
		if errors.Is(err, onboarding.ErrBadCursor) {
			return badCursor(err)
		}
		return storeError(err, "list tenants")
	}
	out := TenantList{Tenants: make([]TenantListItem, 0, len(items)), NextCursor: next}
	for _, t := range items {
		reasons := t.Attention
		if reasons == nil {
			reasons = []onboarding.AttentionReason{}
		}
		out.Tenants = append(out.Tenants, TenantListItem{TenantID: t.TenantID, Name: t.Name, Status: t.Status,
			UpdatedAt: t.UpdatedAt.UTC(), KapsoCustomerID: t.KapsoCustomerID, NeedsAttention: reasons})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// readTenantQuery reads the filters, updated_since, then limit and cursor as
// every list does.
func readTenantQuery(r *http.Request) (q onboarding.TenantQuery, err error) {
	v := r.URL.Query()
	if s, ok := v["status"]; ok {
		if len(s) != 1 {
			return q, errs.E(errs.Invalid, "status: give one status", nil)
		}
		if !onboarding.KnownTenantStatus(onboarding.TenantStatus(s[0])) {
			statuses := make([]string, 0, len(onboarding.TenantStatuses))
			for _, st := range onboarding.TenantStatuses {
				statuses = append(statuses, string(st))
			}
			return q, errs.E(errs.Invalid, fmt.Sprintf("status: %q is not one of %s", s[0], strings.Join(statuses, ", ")), nil)
		}
		q.Status = onboarding.TenantStatus(s[0])
	}
	if s, ok := v["needs_attention"]; ok {
		if len(s) != 1 || (s[0] != "true" && s[0] != "false") {
			return q, errs.E(errs.Invalid, "needs_attention: must be true or false, once", nil)
		}
		q.NeedsAttention = s[0] == "true"
	}
	if q.UpdatedSince, err = readUpdatedSince(r); err != nil {
		return q, err
	}
	page, err := readPage(r)
	if err != nil {
		return q, err
	}
	q.Limit, q.Cursor = page.Limit, page.Cursor
	return q, nil
}
