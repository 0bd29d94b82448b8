package docs_test

import (
	"context"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// offboarder is the world's offboarding runner: its in-memory stores'
// erasers, and Kapso as api reaches it.
func (w *world) offboarder(jobs offboarding.Store, tenants offboarding.Runner, api tenantapi.KapsoClient) *offboarding.Runner {
	kapso, _ := api.(offboarding.Kapso)
	tenants.Store, tenants.Kapso = jobs, kapso
	tenants.Erasers = memstore.Erasers(w.onboarding, nil, w.messages, nil, nil, nil, w.feed, w.objects)
	return &tenants
}

// seedLinkOnly gives tenant id a Kapso customer and an active setup link.
func (w *world) seedLinkOnly(t *testing.T, id string) {
	ctx := context.Background()
	_, err := onboarding.EnsureCustomer(ctx, w.onboarding, id, id, func(context.Context) (string, error) {
		return "customer-" + id, nil
	})
	must(t, err)
	at := time.Now().UTC().Add(-time.Hour)
	_, err = w.onboarding.RecordLink(ctx, id, onboarding.LinkDetails{SetupLinkID: "link-" + id,
		URL: "https://app.kapso.ai/setup/link-" + id, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)})
	must(t, err)
}

// offboardRequests are the situations of a tenant's offboarding: done at
// once, asked again, held up by Kapso, never known.
func offboardRequests() []request {
	del := func(name, id string, want int) request {
		return request{name: name, method: "DELETE", path: "/v1/tenants/" + id, header: auth, want: want}
	}
	gone := del("a tenant deleted within the request", "gone", 200)
	gone.before = func(t *testing.T, w *world) { w.seedLinkOnly(t, "gone") }
	stuck := del("Kapso failing: the offboarding waits", "stuck", 202)
	stuck.on, stuck.before = kapsoDown, func(t *testing.T, w *world) { w.seedLinkOnly(t, "stuck") }
	stuckAgain := del("asked again while deleting", "stuck", 202)
	stuckAgain.on = kapsoDown
	query := del("a query parameter", "gone", 400)
	query.path += "?force=true"
	query.invalid = true
	return []request{gone, del("asked again once deleted", "gone", 200), stuck, stuckAgain,
		del("a tenant never known", "nobody", 404), query}
}
