package reconcile

import (
	"context"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// DefaultTemplateSyncInterval is how old a WABA's reading of its templates
// may be before a run reads them again.
const DefaultTemplateSyncInterval = time.Hour

// templateStatuses are the tenant statuses whose templates are read: a
// number that can send (or will again once its restriction ends).
var templateStatuses = []onboarding.TenantStatus{onboarding.TenantConnected, onboarding.TenantRestricted}

// syncTemplates reads, through Kapso's Meta proxy, the templates of each
// connected WABA whose last reading is older than TemplateSyncInterval,
// and stores what changed: Kapso sends no webhook when Meta approves,
// rejects, pauses or disables a template. A sweep of Limits.TemplateTenants
// tenants a run; a tenant read recently costs one store read and no Kapso
// call.
func (r *run) syncTemplates(ctx context.Context) error {
	if r.Templates == nil || r.TemplateKapso == nil {
		return nil
	}
	return r.sweep(ctx, "templates", templateStatuses, r.lim.TemplateTenants, func(ctx context.Context, t onboarding.TenantItem) int {
		r.syncTenantTemplates(ctx, t.TenantID)
		return 1
	})
}

func (r *run) syncTenantTemplates(ctx context.Context, tenantID string) {
	conn, found, err := r.Store.Load(ctx, tenantID)
	if err != nil || !found {
		if err != nil {
			r.itemFailed(ctx, "load tenant to read its templates", err, "tenant_id", tenantID)
		}
		return
	}
	wabas := conn.ConnectedAccounts()
	if len(wabas) == 0 {
		return
	}
	cat, err := r.Templates.Catalog(ctx, tenantID)
	if err != nil {
		r.itemFailed(ctx, "load templates", err, "tenant_id", tenantID)
		return
	}
	for _, waba := range wabas {
		if at := cat.SyncedAt(waba); !at.IsZero() && r.now.Sub(at) < r.templateSyncInterval() {
			continue
		}
		r.rep.Templates.Checked++
		res, err := templates.Sync(ctx, r.TemplateKapso, r.Templates, tenantID, waba, templates.SourceReconciler, r.now)
		if err != nil {
			r.itemFailed(ctx, "read templates", err, "tenant_id", tenantID, "business_account_id", waba)
			if r.rep.StoppedBy != "" {
				return
			}
			continue
		}
		r.rep.Templates.Found += res.Changed
		r.rep.Templates.Fixed += res.Changed
	}
}

func (r *run) templateSyncInterval() time.Duration {
	if r.TemplateSyncInterval > 0 {
		return r.TemplateSyncInterval
	}
	return DefaultTemplateSyncInterval
}
