package redirect_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

const (
	fuzzSuccessURL = "https://app.example/connected?from=kb"
	fuzzFailureURL = "https://app.example/failed"
	fuzzLinkID     = "3f6b2a9c-1d4e-4f8a-9b7c-5e2d1a0f8c6b"
)

// FuzzRedirect sends random query strings through both redirect routes:
// never a panic or a 5xx, always a 302 to one of the configured app pages
// (its own query kept), and only well-formed values passed on or queued.
func FuzzRedirect(f *testing.F) {
	for _, q := range []string{
		"setup_link_id=" + fuzzLinkID + "&status=completed&phone_number_id=106540352242922&business_account_id=1" +
			"&provisioned_phone_number_id=p-1&whatsapp_config_id=c-1&display_phone_number=+15551234567",
		"setup_link_id=" + fuzzLinkID + "&display_phone_number=%2B15551234567",
		"setup_link_id=" + fuzzLinkID + "&error_code=phone_number_already_registered",
		"setup_link_id=" + fuzzLinkID + "&setup_link_id=other",
		"setup_link_id=unknown-link",
		"setup_link_id=%zz",
		"setup_link_id=" + fuzzLinkID + "&error_code=%0D%0ALocation:%20https://evil.example",
		"setup_link_id=" + fuzzLinkID + "&phone_number_id=1;2",
		"a=" + strings.Repeat("x", 5000),
		"",
	} {
		f.Add(q, true)
		f.Add(q, false)
	}
	ctx := context.Background()
	store := &memstore.Onboarding{}
	if _, err := onboarding.EnsureCustomer(ctx, store, "acme", "", func(context.Context) (string, error) {
		return "customer-acme", nil
	}); err != nil {
		f.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := store.RecordLink(ctx, "acme", onboarding.LinkDetails{SetupLinkID: fuzzLinkID,
		URL: "https://app.kapso.ai/setup/" + fuzzLinkID, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	f.Fuzz(func(t *testing.T, rawQuery string, success bool) {
		if len(rawQuery) > 1<<20 {
			t.Skip()
		}
		queue := &captureQueue{}
		mux := http.NewServeMux()
		(&redirect.Handler{Store: store, Queue: queue, LifecycleQueueURL: "lifecycle",
			AppSuccessURL: fuzzSuccessURL, AppFailureURL: fuzzFailureURL, Log: log}).Register(mux)
		path := "/connect/failure"
		if success {
			path = "/connect/success"
		}
		req := httptest.NewRequest(http.MethodGet, "http://bridge.example"+path, nil)
		req.URL.RawQuery = rawQuery
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			t.Fatalf("GET %s?%s: %d %s", path, rawQuery, rec.Code, rec.Body)
		}
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil {
			t.Fatalf("Location %q: %v", rec.Header().Get("Location"), err)
		}
		var app *url.URL
		for _, target := range []string{fuzzSuccessURL, fuzzFailureURL} {
			u, _ := url.Parse(target)
			if loc.Scheme == u.Scheme && loc.Host == u.Host && loc.Path == u.Path && loc.User == nil && loc.Fragment == "" {
				app = u
			}
		}
		if app == nil {
			t.Fatalf("GET %s?%s sent the browser to %s", path, rawQuery, loc)
		}
		got := loc.Query()
		for k, vs := range app.Query() {
			if strings.Join(got[k], ",") != strings.Join(vs, ",") {
				t.Fatalf("app parameter %s=%v became %v", k, vs, got[k])
			}
		}
		for k, vs := range got {
			if len(vs) != 1 || !safeParam(vs[0]) {
				t.Fatalf("parameter %s=%q passed on to the app", k, vs)
			}
		}
		for _, ev := range queue.all() {
			var r onboarding.Redirect
			if err := json.Unmarshal(ev.Payload, &r); err != nil {
				t.Fatalf("queued %s: %v", ev.Payload, err)
			}
			if r.SetupLinkID != fuzzLinkID || r.TenantID != "acme" {
				t.Fatalf("queued a redirect of link %q tenant %q", r.SetupLinkID, r.TenantID)
			}
			for _, v := range []string{r.Status, r.PhoneNumberID, r.BusinessAccountID, r.ProvisionedPhoneNumberID,
				r.WhatsAppConfigID, r.DisplayPhoneNumber, r.ErrorCode} {
				if !safeParam(v) {
					t.Fatalf("queued value %q", v)
				}
			}
		}
	})
}

// safeParam: the characters of every value the handler keeps (ids, codes,
// statuses, E.164 numbers).
func safeParam(s string) bool {
	if len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '+') {
			return false
		}
	}
	return true
}
