package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// recordedLink creates a setup link at Kapso for the customer and records
// it for the tenant, as the tenant API does.
func (r *rig) recordedLink(t *testing.T, tenantID, customerID string) onboarding.SetupLink {
	t.Helper()
	ctx := context.Background()
	link, err := r.client.CreateSetupLink(ctx, customerID, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.RecordLink(ctx, tenantID, onboarding.LinkDetails{SetupLinkID: link.ID, URL: link.URL,
		CreatedAt: link.CreatedAt, ExpiresAt: link.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	return link
}

// A failure redirect is the browser's word. Typed by anyone for a link
// Kapso still lists active with no failure, it leaves the tenant link_active
// run after run. A real failure, which Kapso's setup link reports, makes
// the tenant failed; the person then connects on the same link with the
// project webhook lost, and the next run finds the connection.
func TestFailureRedirectsAreCheckedAgainstKapso(t *testing.T) {
	each(t, kapsosim.Options{APIKey: "k", ProjectWebhookURL: "http://127.0.0.1:1/webhooks/kapso"}, func(t *testing.T, r *rig) {
		ctx := context.Background()
		r.sim.SetWebhookMode(kapsosim.ModeDrop)
		link := r.recordedLink(t, "acme", r.customer(t, "acme"))
		reported := func(code string) {
			t.Helper()
			if _, _, err := r.store.AppendFact(ctx, "acme", onboarding.FailureRedirect(link.ID, code, time.Now())); err != nil {
				t.Fatal(err)
			}
		}

		reported("waba_limit_reached")
		for i := range 2 {
			rep := r.run(t, ctx)
			conn := r.timeline(t, "acme")
			a, _ := conn.Attempt(link.ID)
			if rep.SetupLinks.Found != 0 || rep.OpenTenants.Checked != 1 || conn.Tenant.Status != onboarding.TenantLinkActive ||
				conn.Tenant.ActiveSetupLinkID != link.ID || a.ErrorReportedBy != onboarding.ReportedByBrowser {
				t.Fatalf("run %d after a forged failure: %+v; %s %+v", i+1, rep, conn.Tenant.Status, a)
			}
		}

		if _, err := r.sim.FailLink(link.ID, "phone_verification_failed"); err != nil {
			t.Fatal(err)
		}
		reported("phone_verification_failed")
		rep := r.run(t, ctx)
		conn := r.timeline(t, "acme")
		a, _ := conn.Attempt(link.ID)
		if rep.SetupLinks.Found != 1 || rep.SetupLinks.Fixed != 1 || conn.Tenant.Status != onboarding.TenantFailed ||
			a.Status != onboarding.AttemptFailed || a.ErrorCode != "phone_verification_failed" ||
			a.ErrorReportedBy != onboarding.ReportedByKapso {
			t.Fatalf("after a failure Kapso reports: %+v; %s %+v", rep, conn.Tenant.Status, a)
		}
		if e := conn.Timeline[len(conn.Timeline)-1]; e.Kind != onboarding.FactSetupFailed || e.Source != onboarding.SourceReconciler {
			t.Fatalf("last timeline entry %+v", e)
		}

		_, number, err := r.sim.CompleteLink(link.ID, "dedicated")
		if err != nil {
			t.Fatal(err)
		}
		rep = r.run(t, ctx)
		conn = r.timeline(t, "acme")
		a, _ = conn.Attempt(link.ID)
		if n, _ := conn.PhoneNumber(number); rep.OpenTenants.Fixed != 1 || conn.Tenant.Status != onboarding.TenantConnected ||
			a.Status != onboarding.AttemptConfirmed || n.SetupLinkID != link.ID || !n.WebhookRegistered {
			t.Fatalf("after the connection: %+v; %s %+v %+v", rep, conn.Tenant.Status, a, n)
		}
		if rep := r.run(t, ctx); rep.OpenTenants.Found != 0 || rep.SetupLinks.Found != 0 {
			t.Fatalf("a run after found more: %+v", rep)
		}
	})
}
