package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// tenantsStack is GET /v1/tenants on the in-memory onboarding store, seeded
// through the Store methods the workers call, asked two hours after t0:
//
//	acme   not_started, named, with a Kapso customer   04:00
//	beta   failed                                      04:02
//	gamma  awaiting_confirmation (for over an hour)    04:04
//	delta  connected, webhook not registered           04:06
//	omega  connected                                   04:09
type tenantsStack struct {
	t   *testing.T
	mux *http.ServeMux
}

func newTenantsStack(t *testing.T, store tenantapi.OnboardingStore) *tenantsStack {
	t.Helper()
	if store == nil {
		store = seededTenants(t)
	}
	mux := http.NewServeMux()
	(&tenantapi.API{Store: store, Token: apiToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return t0.Add(2 * time.Hour) }}).Register(mux)
	return &tenantsStack{t: t, mux: mux}
}

func seededTenants(t *testing.T) *memstore.Onboarding {
	t.Helper()
	ctx := context.Background()
	s := &memstore.Onboarding{Now: func() time.Time { return t0 }}
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	fact := func(tenantID string, f onboarding.Fact) {
		t.Helper()
		_, _, err := s.AppendFact(ctx, tenantID, f)
		must(err)
	}
	_, err := onboarding.EnsureCustomer(ctx, s, "acme", "Acme Inc", func(context.Context) (string, error) { return "cus_acme", nil })
	must(err)
	for i, id := range []string{"beta", "gamma", "delta", "omega"} {
		must(s.EnsureTenant(ctx, id, ""))
		_, err := s.RecordLink(ctx, id, onboarding.LinkDetails{SetupLinkID: "sl_" + id, CreatedAt: at(1 + 2*i)})
		must(err)
	}
	fact("beta", onboarding.SetupFailed("sl_beta", "signup_cancelled", at(2)))
	fact("gamma", onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: "sl_gamma", PhoneNumberID: "300"}, at(4)))
	fact("delta", onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: "400", SetupLinkID: "sl_delta"}, at(6)))
	fact("omega", onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: "700", SetupLinkID: "sl_omega"}, at(8)))
	fact("omega", onboarding.WebhookRegistered("700", "wh_700", at(9)))
	return s
}

func (s *tenantsStack) get(path, token string) *httptest.ResponseRecorder {
	return serveGet(s.mux, path, token)
}

// want checks that GET path answers status with exactly the JSON body want
// (written with any white space).
func (s *tenantsStack) want(path string, status int, want string) {
	s.t.Helper()
	rec := s.get(path, apiToken)
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(want)); err != nil {
		s.t.Fatalf("expected body of %s: %v", path, err)
	}
	if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != status || got != compact.String() {
		s.t.Errorf("GET %s:\n got %d %s\nwant %d %s", path, rec.Code, got, status, compact.String())
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		s.t.Errorf("GET %s: Cache-Control %q", path, cc)
	}
}

// cursor is the cursor a page of list ends with after the tenant updated at
// updatedAt.
func cursor(list, updatedAt, tenantID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"l":"` + list + `","u":"` + updatedAt + `","t":"` + tenantID + `"}`))
}

// The items of the seeded tenants, as the API shows them.
const (
	acmeJSON = `{"tenant_id":"acme","name":"Acme Inc","status":"not_started","updated_at":"2026-11-29T04:00:00Z",
		"kapso_customer_id":"cus_acme","needs_attention":[]}`
	betaJSON = `{"tenant_id":"beta","name":"","status":"failed","updated_at":"2026-11-29T04:02:00Z",
		"kapso_customer_id":"","needs_attention":["failed"]}`
	gammaJSON = `{"tenant_id":"gamma","name":"","status":"awaiting_confirmation","updated_at":"2026-11-29T04:04:00Z",
		"kapso_customer_id":"","needs_attention":["confirmation_overdue"]}`
	deltaJSON = `{"tenant_id":"delta","name":"","status":"connected","updated_at":"2026-11-29T04:06:00Z",
		"kapso_customer_id":"","needs_attention":["webhook_not_registered"]}`
	omegaJSON = `{"tenant_id":"omega","name":"","status":"connected","updated_at":"2026-11-29T04:09:00Z",
		"kapso_customer_id":"","needs_attention":[]}`
)

// Pages follow each other least recently updated first, each tenant once,
// and the last has no next_cursor.
func TestListTenantsPages(t *testing.T) {
	s := newTenantsStack(t, nil)
	first := cursor("tenants", "2026-11-29T04:02:00Z", "beta")
	second := cursor("tenants", "2026-11-29T04:06:00Z", "delta")
	s.want("/v1/tenants?limit=2", 200, `{"tenants":[`+acmeJSON+`,`+betaJSON+`],"next_cursor":"`+first+`"}`)
	s.want("/v1/tenants?limit=2&cursor="+first, 200, `{"tenants":[`+gammaJSON+`,`+deltaJSON+`],"next_cursor":"`+second+`"}`)
	s.want("/v1/tenants?limit=2&cursor="+second, 200, `{"tenants":[`+omegaJSON+`]}`)
	// The default page holds them all; an empty cursor is the first page.
	all := `{"tenants":[` + strings.Join([]string{acmeJSON, betaJSON, gammaJSON, deltaJSON, omegaJSON}, ",") + `]}`
	s.want("/v1/tenants", 200, all)
	s.want("/v1/tenants?cursor=&needs_attention=false", 200, all)
	// A page that ends the list exactly has no cursor either.
	s.want("/v1/tenants?limit=5", 200, all)
}

func TestListTenantsFilters(t *testing.T) {
	s := newTenantsStack(t, nil)
	s.want("/v1/tenants?status=failed", 200, `{"tenants":[`+betaJSON+`]}`)
	s.want("/v1/tenants?status=connected", 200, `{"tenants":[`+deltaJSON+`,`+omegaJSON+`]}`)
	s.want("/v1/tenants?status=expired", 200, `{"tenants":[]}`)
	s.want("/v1/tenants?needs_attention=true", 200, `{"tenants":[`+betaJSON+`,`+gammaJSON+`,`+deltaJSON+`]}`)
	s.want("/v1/tenants?status=connected&needs_attention=true", 200, `{"tenants":[`+deltaJSON+`]}`)
	s.want("/v1/tenants?needs_attention=true&status=link_active", 200, `{"tenants":[]}`)

	attention := cursor("tenants;needs_attention", "2026-11-29T04:04:00Z", "gamma")
	s.want("/v1/tenants?needs_attention=true&limit=2", 200, `{"tenants":[`+betaJSON+`,`+gammaJSON+`],"next_cursor":"`+attention+`"}`)
	s.want("/v1/tenants?needs_attention=true&limit=2&cursor="+attention, 200, `{"tenants":[`+deltaJSON+`]}`)
	connected := cursor("tenants;status=connected", "2026-11-29T04:06:00Z", "delta")
	s.want("/v1/tenants?status=connected&limit=1", 200, `{"tenants":[`+deltaJSON+`],"next_cursor":"`+connected+`"}`)
	s.want("/v1/tenants?status=connected&limit=1&cursor="+connected, 200, `{"tenants":[`+omegaJSON+`]}`)
}

// updated_since keeps the tenants updated at or after it, with the other
// filters and paging as usual.
func TestListTenantsUpdatedSince(t *testing.T) {
	s := newTenantsStack(t, nil)
	s.want("/v1/tenants?updated_since=2026-11-29T04:04:00Z", 200, `{"tenants":[`+gammaJSON+`,`+deltaJSON+`,`+omegaJSON+`]}`)
	s.want("/v1/tenants?updated_since=2026-11-29T04:04:00.000000001Z", 200, `{"tenants":[`+deltaJSON+`,`+omegaJSON+`]}`)
	// Any offset is the same instant.
	s.want("/v1/tenants?updated_since="+url.QueryEscape("2026-11-29T06:04:00+02:00"), 200, `{"tenants":[`+gammaJSON+`,`+deltaJSON+`,`+omegaJSON+`]}`)
	s.want("/v1/tenants?updated_since=2026-11-29T04:10:00Z", 200, `{"tenants":[]}`)
	s.want("/v1/tenants?updated_since=2026-11-29T04:03:00Z&needs_attention=true", 200, `{"tenants":[`+gammaJSON+`,`+deltaJSON+`]}`)
	next := cursor("tenants", "2026-11-29T04:04:00Z", "gamma")
	s.want("/v1/tenants?updated_since=2026-11-29T04:03:00Z&limit=1", 200, `{"tenants":[`+gammaJSON+`],"next_cursor":"`+next+`"}`)
	s.want("/v1/tenants?updated_since=2026-11-29T04:03:00Z&limit=5&cursor="+next, 200, `{"tenants":[`+deltaJSON+`,`+omegaJSON+`]}`)
}

func TestListTenantsRefusesBadInput(t *testing.T) {
	s := newTenantsStack(t, nil)
	statuses := "not_started, link_active, awaiting_confirmation, connected, restricted, disabled, failed, expired, " +
		"disconnected, reconnect_required, deleting"
	invalid := func(message string) string {
		b, _ := json.Marshal(map[string]map[string]string{"error": {"code": "invalid", "message": message}})
		return string(b)
	}
	badCursor := `{"error":{"code":"invalid_cursor","message":"cursor: not a cursor of this list; start again without one"}}`
	for path, body := range map[string]string{
		"/v1/tenants?status=bogus":                              invalid(`status: "bogus" is not one of ` + statuses),
		"/v1/tenants?status=":                                   invalid(`status: "" is not one of ` + statuses),
		"/v1/tenants?status=Connected":                          invalid(`status: "Connected" is not one of ` + statuses),
		"/v1/tenants?status=failed&status=expired":              invalid("status: give one status"),
		"/v1/tenants?needs_attention=yes":                       invalid("needs_attention: must be true or false, once"),
		"/v1/tenants?needs_attention=1":                         invalid("needs_attention: must be true or false, once"),
		"/v1/tenants?needs_attention=true&needs_attention=true": invalid("needs_attention: must be true or false, once"),
		"/v1/tenants?limit=0":                                   invalid("limit: must be one integer from 1 to 200"),
		"/v1/tenants?limit=201":                                 invalid("limit: must be one integer from 1 to 200"),
		"/v1/tenants?limit=ten":                                 invalid("limit: must be one integer from 1 to 200"),
		"/v1/tenants?statsu=failed":                             invalid(`unknown query parameter "statsu"`),
		"/v1/tenants?status=failed&tenant_id=acme":              invalid(`unknown query parameter "tenant_id"`),
		"/v1/tenants?limit=%zz":                                 invalid("query string: not a valid query string"),
		"/v1/tenants?updated_since=yesterday":                   invalid("updated_since: must be one RFC 3339 time, such as 2026-03-01T12:00:00Z"),
		"/v1/tenants?updated_since=2026-11-29":                  invalid("updated_since: must be one RFC 3339 time, such as 2026-03-01T12:00:00Z"),
		"/v1/tenants?updated_since=2026-11-29T04:00:00":         invalid("updated_since: must be one RFC 3339 time, such as 2026-03-01T12:00:00Z"),
		"/v1/tenants?updated_since=1764388800":                  invalid("updated_since: must be one RFC 3339 time, such as 2026-03-01T12:00:00Z"),
		"/v1/tenants?updated_since=":                            invalid("updated_since: must be one RFC 3339 time, such as 2026-03-01T12:00:00Z"),
		"/v1/tenants?updated_since=2026-11-29T04:00:00Z&updated_since=2026-11-29T04:00:00Z": invalid("updated_since: must be one RFC 3339 time, such as 2026-03-01T12:00:00Z"),
		"/v1/tenants?cursor=not-a-cursor":                 badCursor,
		"/v1/tenants?cursor=" + strings.Repeat("a", 5000): badCursor,
		// Forged: well formed, but no position a list hands out.
		"/v1/tenants?cursor=" + cursor("tenants", "yesterday", "beta"):            badCursor,
		"/v1/tenants?cursor=" + cursor("tenants", "2026-11-29T04:02:00Z", "../x"): badCursor,
		// Foreign: a cursor of the same list under other filters.
		"/v1/tenants?cursor=" + cursor("tenants;needs_attention", "2026-11-29T04:02:00Z", "beta"):                badCursor,
		"/v1/tenants?needs_attention=true&cursor=" + cursor("tenants", "2026-11-29T04:02:00Z", "beta"):           badCursor,
		"/v1/tenants?status=failed&cursor=" + cursor("tenants;status=connected", "2026-11-29T04:02:00Z", "beta"): badCursor,
	} {
		rec := s.get(path, apiToken)
		if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != http.StatusBadRequest || got != body {
			t.Errorf("GET %s:\n got %d %s\nwant 400 %s", path, rec.Code, got, body)
		}
	}
	// A cursor of another list altogether: a tenant's conversations.
	m := newMessagesStack(t)
	m.seed()
	foreign := m.getJSON("/v1/tenants/acme/conversations?limit=1")["next_cursor"].(string)
	s.want("/v1/tenants?cursor="+url.QueryEscape(foreign), 400, badCursor)
	// And the token, as on every /v1 route.
	for _, token := range []string{"", "wrong"} {
		if rec := s.get("/v1/tenants", token); rec.Code != http.StatusUnauthorized {
			t.Errorf("token %q: %d %s", token, rec.Code, rec.Body)
		}
	}
}

// failingTenants fails the list with an error that must stay in the logs.
type failingTenants struct{ *memstore.Onboarding }

func (failingTenants) ListTenants(context.Context, onboarding.TenantQuery) ([]onboarding.TenantItem, string, error) {
	return nil, "", errSecret
}

func TestListTenantsStoreFailureIsOpaque(t *testing.T) {
	s := newTenantsStack(t, failingTenants{&memstore.Onboarding{}})
	s.want("/v1/tenants", 503, `{"error":{"code":"unavailable","message":"try again"}}`)
}
