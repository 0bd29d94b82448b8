package tenantapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// flakyKapso is the real client that Kapso answers with outages while down.
type flakyKapso struct {
	*kapsoapi.Client
	down atomic.Bool
}

func (k *flakyKapso) RevokeSetupLink(ctx context.Context, customerID, id string) (onboarding.SetupLink, error) {
	if k.down.Load() {
		return onboarding.SetupLink{}, errs.E(errs.Unavailable, "kapso down", errors.New("connection refused"))
	}
	return k.Client.RevokeSetupLink(ctx, customerID, id)
}

func (k *flakyKapso) DeleteWebhook(ctx context.Context, number, id string) error {
	if k.down.Load() {
		return errs.E(errs.Unavailable, "kapso down", errors.New("connection refused"))
	}
	return k.Client.DeleteWebhook(ctx, number, id)
}

func offboardingOf(t *testing.T, body []byte) tenantapi.OffboardingView {
	t.Helper()
	var v tenantapi.OffboardingView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("offboarding answer %s: %v", body, err)
	}
	return v
}

// A connected tenant is offboarded: deleting while Kapso is down, shown so
// everywhere, refused a new link; then done, gone, its webhook and link
// gone at Kapso, and a new link for its id starts a new Kapso customer.
func TestDeleteTenant(t *testing.T) {
	ctx := context.Background()
	s := newOnboardingStack(t)
	kapso := &flakyKapso{Client: s.kapso}
	s.api.Offboard = &offboarding.Runner{Store: &memstore.Offboardings{}, Tenants: s.store, Kapso: kapso,
		Erasers: memstore.Erasers(s.store, nil, nil, nil, nil, nil, nil, nil)}
	first := s.createLink("acme", "")
	_, number, err := s.sim.CompleteLink(first, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	hook, err := s.kapso.CreateWebhook(ctx, number, onboarding.WebhookRegistration{URL: "https://bridge.example/webhooks/kapso/" + number,
		SecretKey: "s", Events: []string{"whatsapp.message.received"}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	for _, f := range []onboarding.Fact{onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: number, SetupLinkID: first}, at),
		onboarding.WebhookRegistered(number, hook.ID, at)} {
		if _, _, err := s.store.AppendFact(ctx, "acme", f); err != nil {
			t.Fatal(err)
		}
	}
	second := s.createLink("acme", "") // active: revoked by the offboarding
	oldCustomer := s.state().SetupLinks[0].CustomerID

	kapso.down.Store(true)
	for range 2 {
		rec := s.do(http.MethodDelete, "/v1/tenants/acme", apiToken, "")
		v := offboardingOf(t, rec.Body.Bytes())
		if rec.Code != http.StatusAccepted || v.Status != "deleting" || v.Phase != offboarding.PhaseKapso || v.DeletedAt != nil {
			t.Fatalf("while Kapso is down: %d %s", rec.Code, rec.Body)
		}
	}
	if rec := s.do(http.MethodGet, "/v1/tenants/acme/connection", apiToken, ""); !strings.Contains(rec.Body.String(), `"status":"deleting"`) {
		t.Errorf("connection while deleting: %d %s", rec.Code, rec.Body)
	}
	if rec := s.do(http.MethodGet, "/v1/tenants?status=deleting", apiToken, ""); !strings.Contains(rec.Body.String(), `"tenant_id":"acme"`) {
		t.Errorf("deleting tenants: %s", rec.Body)
	}
	if rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", apiToken, ""); rec.Code != http.StatusConflict ||
		!strings.Contains(rec.Body.String(), "tenant is being deleted") {
		t.Errorf("a link while deleting: %d %s", rec.Code, rec.Body)
	}

	kapso.down.Store(false)
	rec := s.do(http.MethodDelete, "/v1/tenants/acme", apiToken, "")
	finished := rec.Body.String()
	done := offboardingOf(t, rec.Body.Bytes())
	if rec.Code != http.StatusOK || done.Status != "deleted" || done.DeletedAt == nil ||
		done.Counts.LinksRevoked != 1 || done.Counts.WebhooksDeleted != 1 || done.Counts.Items == 0 {
		t.Fatalf("once Kapso is back: %d %s", rec.Code, rec.Body)
	}
	if hooks, err := s.kapso.ListWebhooks(ctx, number); err != nil || len(hooks) != 0 {
		t.Errorf("webhooks left at Kapso: %+v %v", hooks, err)
	}
	for _, l := range s.state().SetupLinks {
		if l.ID == second && l.Status != "revoked" {
			t.Errorf("the active link is %s at Kapso", l.Status)
		}
	}
	if rec := s.do(http.MethodGet, "/v1/tenants/acme/connection", apiToken, ""); rec.Code != http.StatusNotFound {
		t.Errorf("connection once deleted: %d %s", rec.Code, rec.Body)
	}
	if rec := s.do(http.MethodGet, "/v1/tenants", apiToken, ""); strings.Contains(rec.Body.String(), `"acme"`) {
		t.Errorf("listed once deleted: %s", rec.Body)
	}
	// Asked again once done: the tombstone, as the request that finished it answered.
	again := s.do(http.MethodDelete, "/v1/tenants/acme", apiToken, "")
	if again.Code != http.StatusOK || again.Body.String() != finished {
		t.Errorf("asked again: %d %s, want %s", again.Code, again.Body, finished)
	}

	// The same id again: a new tenant on a new Kapso customer.
	s.createLink("acme", "")
	st := s.state()
	if last := st.SetupLinks[len(st.SetupLinks)-1]; last.CustomerID == oldCustomer {
		t.Errorf("the new tenant's link is on the old customer %s", oldCustomer)
	}
	want := "acme~" + strconv.FormatInt(done.DeletedAt.Unix(), 10)
	if !slices.ContainsFunc(st.Customers, func(c simCustomer) bool { return c.ExternalCustomerID == want }) {
		t.Errorf("no new customer for the new tenant: %+v", st.Customers)
	}
	conn, ok, err := s.store.Load(ctx, "acme")
	if err != nil || !ok || len(conn.PhoneNumbers) != 0 || conn.Tenant.Status != onboarding.TenantLinkActive {
		t.Errorf("the new tenant: %v %v %+v", ok, err, conn.Tenant)
	}
}

func TestDeleteTenantUnknown(t *testing.T) {
	s := newOnboardingStack(t)
	s.api.Offboard = &offboarding.Runner{Store: &memstore.Offboardings{}, Tenants: s.store, Kapso: s.kapso}
	rec := s.do(http.MethodDelete, "/v1/tenants/nobody", apiToken, "")
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Errorf("unknown tenant: %d %s", rec.Code, rec.Body)
	}
}
