package kapsoapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

func TestClientAgainstSimulator(t *testing.T) {
	var sim *kapsosim.Simulator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.ServeHTTP(w, r) }))
	defer srv.Close()
	sim = kapsosim.New(kapsosim.Options{PublicURL: srv.URL, APIKey: testKey})
	defer sim.Close()
	c := New(srv.URL+"/platform/v1", testKey)
	c.perPage = 1 // every list spans several pages
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, ok, err := c.FindCustomerByExternalID(ctx, "tenant-1"); err != nil || ok {
		t.Fatalf("find before create: %v %v", ok, err)
	}
	cu, err := c.CreateCustomer(ctx, "Acme", "tenant-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCustomer(ctx, "Acme", "tenant-1"); !errs.Is(err, errs.Unprocessable) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := c.CreateCustomer(ctx, "Other", "tenant-2"); err != nil {
		t.Fatal(err)
	}
	found, ok, err := c.FindCustomerByExternalID(ctx, "tenant-1")
	if err != nil || !ok || found.ID != cu.ID || found.CreatedAt.IsZero() {
		t.Fatalf("find = %+v %v %v", found, ok, err)
	}

	lang := "es"
	first, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{SuccessRedirectURL: "https://app.example/ok", Language: &lang})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{AllowedConnectionTypes: []string{"dedicated"}})
	if err != nil {
		t.Fatal(err)
	}
	if second.ExpiresAt.Sub(second.CreatedAt) != 30*24*time.Hour || len(second.AllowedConnectionTypes) != 1 {
		t.Errorf("second link = %+v", second)
	}
	revoked, err := c.ListSetupLinks(ctx, cu.ID, "revoked")
	if err != nil || len(revoked) != 1 || revoked[0].ID != first.ID {
		t.Fatalf("revoked = %+v %v", revoked, err)
	}
	if _, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{ThemeConfig: map[string]string{"primary_color": "blue"}}); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("bad theme: %v", err)
	}
	third, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.RevokeSetupLink(ctx, cu.ID, third.ID); err != nil || l.Status != "revoked" {
		t.Fatalf("revoke = %+v %v", l, err)
	}
	fourth, err := c.CreateSetupLink(ctx, cu.ID, onboarding.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.ListSetupLinks(ctx, cu.ID, "")
	if err != nil || len(all) != 4 {
		t.Fatalf("all links = %d %v", len(all), err)
	}

	id, ok := sim.LinkIDFromURL(fourth.URL)
	if !ok || id != fourth.ID {
		t.Fatalf("LinkIDFromURL(%s) = %s %v", fourth.URL, id, ok)
	}
	_, pnid, err := sim.CompleteLink(id, "coexistence")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeSetupLink(ctx, cu.ID, fourth.ID); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("revoking a used link: %v", err)
	}
	n, err := c.GetPhoneNumber(ctx, pnid)
	if err != nil || !n.IsCoexistence || n.CustomerID != cu.ID || n.BusinessAccountID == "" || n.DisplayPhoneNumber == "" {
		t.Fatalf("number = %+v %v", n, err)
	}
	nums, err := c.ListPhoneNumbers(ctx, cu.ID)
	if err != nil || len(nums) != 1 || nums[0] != n {
		t.Fatalf("numbers = %+v %v", nums, err)
	}

	for _, url := range []string{"https://bridge.example/a", "https://bridge.example/b"} {
		if _, err := c.CreateWebhook(ctx, pnid, onboarding.WebhookRegistration{URL: url, SecretKey: "s", Events: []string{"whatsapp.message.received"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateWebhook(ctx, pnid, onboarding.WebhookRegistration{URL: "https://bridge.example/c", SecretKey: "s"}); !errs.Is(err, errs.Unprocessable) {
		t.Errorf("kapso webhook without events: %v", err)
	}
	hooks, err := c.ListWebhooks(ctx, pnid)
	if err != nil || len(hooks) != 2 || !hooks[0].Active || hooks[1].URL != "https://bridge.example/b" {
		t.Fatalf("hooks = %+v %v", hooks, err)
	}

	if _, err := c.GetPhoneNumber(ctx, "000000000000000"); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown number: %v", err)
	}
	if _, err := c.ListSetupLinks(ctx, "no-such-customer", ""); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown customer: %v", err)
	}
	bad := New(srv.URL+"/platform/v1", "wrong")
	if _, _, err := bad.FindCustomerByExternalID(ctx, "tenant-1"); !errs.Is(err, errs.Unauthorized) || errors.Is(err, ErrUnavailable) {
		t.Errorf("wrong key: %v", err)
	}
}
