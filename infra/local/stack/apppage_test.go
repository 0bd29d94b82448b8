package stack

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// fakeStore holds connections and lists tenants two to a page, so the page
// must follow cursors.
type fakeStore struct {
	conns map[string]onboarding.Connection
	items []onboarding.TenantItem // least recently updated first, as stores list
}

func (f *fakeStore) Load(_ context.Context, id string) (onboarding.Connection, bool, error) {
	c, ok := f.conns[id]
	return c, ok, nil
}

func (f *fakeStore) ListTenants(_ context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error) {
	start := 0
	if q.Cursor != "" {
		for i, t := range f.items {
			if t.TenantID == q.Cursor {
				start = i + 1
			}
		}
	}
	end := min(start+2, len(f.items))
	next := ""
	if end < len(f.items) {
		next = f.items[end-1].TenantID
	}
	return f.items[start:end], next, nil
}

// noMessages is an empty message store.
type noMessages struct{ messaging.Reader }

func (noMessages) Conversations(context.Context, string, messaging.Page) ([]messaging.ConversationView, string, error) {
	return nil, "", nil
}

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

func conn(id string, status onboarding.TenantStatus, attempts []onboarding.Attempt, numbers ...onboarding.PhoneNumber) onboarding.Connection {
	return onboarding.Connection{Tenant: onboarding.Tenant{ID: id, Status: status, KapsoCustomerID: "cust-" + id,
		UpdatedAt: time.Now()}, Attempts: attempts, PhoneNumbers: numbers}
}

func connected(webhook bool) onboarding.PhoneNumber {
	return onboarding.PhoneNumber{PhoneNumberID: "645542809322606", Status: onboarding.NumberStatusConnected, WebhookRegistered: webhook}
}

func newStore() *fakeStore {
	active := []onboarding.Attempt{{SetupLinkID: "link-1", Status: onboarding.AttemptActive, CreatedAt: t0}}
	failed := []onboarding.Attempt{{SetupLinkID: "link-2", Status: onboarding.AttemptFailed, CreatedAt: t0, ErrorCode: failureCode,
		History: []onboarding.AttemptEvent{{At: t0, Event: onboarding.AttemptEventFailure, ErrorCode: "waba_limit_reached"},
			{At: t0, Event: onboarding.AttemptEventFailure, ErrorCode: failureCode}}}}
	f := &fakeStore{conns: map[string]onboarding.Connection{
		"acme":     conn("acme", onboarding.TenantConnected, nil, connected(true)),
		"awaiting": conn("awaiting", onboarding.TenantAwaitingConfirmation, active),
		"hooking":  conn("hooking", onboarding.TenantConnected, nil, connected(false)),
		"linked":   conn("linked", onboarding.TenantLinkActive, active),
		"failed":   conn("failed", onboarding.TenantFailed, failed),
		"gone": conn("gone", onboarding.TenantReconnectRequired, nil, onboarding.PhoneNumber{PhoneNumberID: "1",
			Status: onboarding.NumberStatusDisconnected, StatusReason: "meta_token_expired"}),
		"limited": conn("limited", onboarding.TenantRestricted, nil, onboarding.PhoneNumber{PhoneNumberID: "2",
			Status: onboarding.NumberStatusConnected, WebhookRegistered: true, Restricted: true,
			RestrictedReason: "RESTRICTED_BIZ_INITIATED_MESSAGING"}),
	}}
	// A signup may take long: the link was created an hour ago.
	linked := f.conns["linked"]
	linked.Tenant.UpdatedAt = time.Now().Add(-time.Hour)
	f.conns["linked"] = linked
	stuck := conn("stuck", onboarding.TenantAwaitingConfirmation, active)
	stuck.Tenant.UpdatedAt = time.Now().Add(-time.Hour)
	f.conns["stuck"] = stuck
	for i, id := range []string{"stuck", "linked", "failed", "gone", "limited", "awaiting", "hooking", "acme"} {
		c := f.conns[id]
		f.items = append(f.items, onboarding.TenantItem{TenantID: id, Name: "Name " + id, Status: c.Tenant.Status,
			KapsoCustomerID: c.Tenant.KapsoCustomerID, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	return f
}

// failureCode is a code Kapso puts on a failure redirect.
const failureCode = "facebook_auth_failed"

func get(t *testing.T, h http.Handler, target string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", target, rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func pages(store appStore) (app, index http.Handler) {
	log := slog.New(slog.DiscardHandler)
	return appPage(store, noMessages{}, "http://127.0.0.1:8090", log), indexPage(store, "http://127.0.0.1:8090", log)
}

// The app page and the index list every tenant, newest change first, each
// linking to its app page.
func TestPagesListTenants(t *testing.T) {
	app, index := pages(newStore())
	for name, body := range map[string]string{
		"app page": get(t, app, "/app/connected"),
		"index":    get(t, index, "/"),
	} {
		want := []string{"acme", "hooking", "awaiting", "limited", "gone", "failed", "linked", "stuck"}
		last := -1
		for _, id := range want {
			i := strings.Index(body, `<a href="/app/connected?tenant_id=`+id+`">`+id+`</a>`)
			if i < 0 {
				t.Errorf("%s: tenant %s not listed", name, id)
				continue
			}
			if i < last {
				t.Errorf("%s: tenant %s out of order (newest first)", name, id)
			}
			last = i
		}
		if !strings.Contains(body, "Name acme") || !strings.Contains(body, "reconnect_required") {
			t.Errorf("%s: names or statuses missing", name)
		}
	}
	if body := get(t, app, "/app/connected?tenant_id=acme"); !strings.Contains(body, `class="tenant selected" data-id="acme"`) {
		t.Error("the open tenant is not marked in the list")
	}
}

// Error codes show with their meaning and next step: the one the browser
// came back with, each attempt's, and why a number does not work.
func TestAppPageExplainsErrorCodes(t *testing.T) {
	app, _ := pages(newStore())
	check := func(body, code string) {
		t.Helper()
		e := onboarding.DescribeError(code)
		if e.Meaning == "" || e.NextStep == "" {
			t.Fatalf("DescribeError(%q) has no meaning or next step: %+v", code, e)
		}
		for _, want := range []string{e.Meaning, e.NextStep} {
			if !strings.Contains(body, html.EscapeString(want)) {
				t.Errorf("%s: page lacks %q", code, want)
			}
		}
	}
	body := get(t, app, "/app/failed?tenant_id=failed&status=failed&error_code="+failureCode)
	if !strings.Contains(body, `<code id="error-code">`+failureCode+`</code>`) {
		t.Error("landing error code not shown")
	}
	check(body, failureCode)
	if strings.Count(body, `data-code="`+failureCode+`"`) != 2 {
		t.Error("want the code explained for the landing and for the attempt")
	}
	check(body, "waba_limit_reached") // an earlier failure of the same link
	check(get(t, app, "/app/connected?tenant_id=gone"), "meta_token_expired")
	check(get(t, app, "/app/connected?tenant_id=limited"), "RESTRICTED_BIZ_INITIATED_MESSAGING")
}

// The page reloads itself only while something is on its way; a settled
// page, an unknown tenant and the index stay still.
func TestAppPageReloadsOnlyWhilePending(t *testing.T) {
	app, index := pages(newStore())
	for _, tc := range []struct {
		target string
		reload bool
	}{
		{"/app/connected", false},
		{"/app/connected?tenant_id=nobody", false},
		{"/app/connected?tenant_id=acme", false},
		{"/app/connected?tenant_id=acme&status=completed", false},
		{"/app/connected?tenant_id=linked", false},
		{"/app/connected?tenant_id=failed", false},
		{"/app/failed?tenant_id=failed&status=failed&error_code=" + failureCode, false},
		{"/app/connected?tenant_id=gone", false},
		{"/app/connected?tenant_id=limited", false},
		{"/app/connected?tenant_id=awaiting", true},
		{"/app/connected?tenant_id=hooking", true},
		// Waiting for an hour is stuck: the page says so and stays still.
		{"/app/connected?tenant_id=stuck", false},
		// Back from the signup before the redirect reached the connection.
		{"/app/connected?tenant_id=linked&status=completed&phone_number_id=1", true},
	} {
		body := get(t, app, tc.target)
		if got := strings.Contains(body, "http-equiv"); got != tc.reload {
			t.Errorf("%s: reloads %v, want %v", tc.target, got, tc.reload)
		}
		if got := strings.Contains(body, `id="waiting"`); got != tc.reload {
			t.Errorf("%s: says it waits %v, want %v", tc.target, got, tc.reload)
		}
	}
	if body := get(t, app, "/app/connected?tenant_id=stuck"); !strings.Contains(body, `id="stuck"`) {
		t.Error("a stuck wait is not said to be stuck")
	}
	if body := get(t, app, "/app/connected?tenant_id=acme"); !strings.Contains(body, `id="inbox"`) {
		t.Error("a settled connected tenant shows no live inbox")
	}
	if body := get(t, app, "/app/connected?tenant_id=nobody"); !strings.Contains(body, `id="no-tenant"`) {
		t.Error("an unknown tenant is not said to be unknown")
	}
	if body := get(t, index, "/"); strings.Contains(body, "http-equiv") {
		t.Error("the index reloads")
	}
}
