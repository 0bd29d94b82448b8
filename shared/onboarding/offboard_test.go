package onboarding

import "testing"

func TestOffboardRequestedMakesTheTenantDeleting(t *testing.T) {
	connected := applyAll(t, factFirstLnk, factCreated, linkCreated("sl_2", 20))
	if connected.Tenant.Status != TenantConnected || connected.Tenant.ActiveSetupLinkID != "sl_2" {
		t.Fatalf("before: status %s, link %q", connected.Tenant.Status, connected.Tenant.ActiveSetupLinkID)
	}
	c, change := Apply(connected, OffboardRequested(minute(30)))
	if !change.Applied() || change.TenantStatusFrom != TenantConnected || change.TenantStatusTo != TenantDeleting {
		t.Fatalf("change = %+v", change)
	}
	if c.Tenant.ActiveSetupLinkID != "" {
		t.Errorf("a deleting tenant offers link %q", c.Tenant.ActiveSetupLinkID)
	}
	last := c.Timeline[len(c.Timeline)-1]
	if last.Kind != FactOffboardRequested || last.Source != SourceAPI {
		t.Errorf("timeline ends with %+v", last)
	}
	// Nothing that comes after brings the tenant back.
	for _, f := range []Fact{linkCreated("sl_3", 40), numberCreated("pn_2", "sl_3", 41),
		NumberReconnected("pn_1", minute(42)), AccountReinstated(AccountRef{}, minute(43))} {
		c, _ = Apply(c, f)
		if c.Tenant.Status != TenantDeleting {
			t.Fatalf("after %s: status %s", f.Kind, c.Tenant.Status)
		}
	}
	// The request is one fact: asked again at the same time, it is a duplicate.
	if _, again := Apply(c, OffboardRequested(minute(30))); !again.Duplicate {
		t.Errorf("the same request again: %+v", again)
	}
	if got := Derive(testTenant, reversed(c.Facts)); canonical(t, got) != canonical(t, c) {
		t.Errorf("the order of the facts changed the deleting tenant")
	}
}
