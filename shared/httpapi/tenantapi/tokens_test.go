package tenantapi_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// Every /v1 route has its scope, and it is the one the API promises: reads
// need read, a setup link onboard, what sends or shapes a send send.
func TestEveryRouteHasItsScope(t *testing.T) {
	want := map[routes.Route]access.Scope{
		routes.CreateSetupLink: access.Onboard,
		routes.SendMessage:     access.Send, routes.UploadMedia: access.Send,
		routes.CreateTemplate: access.Send, routes.SyncTemplates: access.Send,
		routes.ListAudit: access.Admin, routes.DeleteTenant: access.Erase,
		routes.EraseContact: access.Erase, routes.GetErasure: access.Erase,
	}
	for _, r := range routes.TenantAPI {
		got, ok := tenantapi.ScopeOf(r)
		w, named := want[r]
		switch {
		case !ok:
			t.Errorf("%s has no scope", r.Pattern())
		case named && got != w, !named && r.Method == http.MethodGet && got != access.Read:
			t.Errorf("%s needs %s", r.Pattern(), got)
		case !named && r.Method != http.MethodGet:
			t.Errorf("%s: a write without a scope said here", r.Pattern())
		}
	}
	if _, ok := tenantapi.ScopeOf(routes.ProjectWebhook); ok {
		t.Error("a webhook route has a /v1 scope")
	}
}

// countingTokens counts the lookups that reach the store, and fails them
// when down.
type countingTokens struct {
	*memstore.Tokens
	lookups atomic.Int32
	down    atomic.Bool
}

func (s *countingTokens) TokenByHash(ctx context.Context, h access.Hash) (access.Token, bool, error) {
	s.lookups.Add(1)
	if s.down.Load() {
		return access.Token{}, false, errors.New("dynamodb: connection refused")
	}
	return s.Tokens.TokenByHash(ctx, h)
}

type tokenStack struct {
	*onboardingStack
	tokens *countingTokens
	audit  *memstore.AuditLog
	clock  *testclock.Clock
}

func newTokenStack(t *testing.T) *tokenStack {
	s := &tokenStack{onboardingStack: newOnboardingStack(t), tokens: &countingTokens{Tokens: &memstore.Tokens{}},
		clock: testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))}
	s.audit = &memstore.AuditLog{Now: s.clock.Now}
	s.mux = http.NewServeMux()
	s.api = &tenantapi.API{Store: s.store, Kapso: s.kapso, Token: apiToken, Tokens: s.tokens, Audit: s.audit,
		PublicBaseURL: "https://bridge.example", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeout: 5 * time.Second, Now: s.clock.Now}
	s.api.Register(s.mux)
	return s
}

func (s *tokenStack) create(name string, scopes ...access.Scope) string {
	s.t.Helper()
	secret, h, err := access.NewSecret(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.tokens.CreateToken(context.Background(), h, access.Token{Name: name, Scopes: scopes, CreatedAt: s.clock.Now()}); err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// A token lacking the route's scope is 403 insufficient_scope, with the
// scope named in the challenge, and nothing reaches Kapso.
func TestTokenWithoutTheScope(t *testing.T) {
	s := newTokenStack(t)
	reader := s.create("dashboard", access.Read)
	if rec := s.do(http.MethodGet, "/v1/tenants", reader, ""); rec.Code != http.StatusOK {
		t.Fatalf("read with read: %d %s", rec.Code, rec.Body)
	}
	rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", reader, "")
	if rec.Code != http.StatusForbidden || errorCode(t, rec) != "insufficient_scope" ||
		rec.Header().Get("WWW-Authenticate") != `Bearer realm="kapso-bridge", error="insufficient_scope", scope="onboard"` {
		t.Fatalf("setup link with read: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if n := s.customersOf("acme"); n != 0 {
		t.Fatalf("a refused request reached Kapso: %d customers", n)
	}
	rec = s.do(http.MethodPost, "/v1/tenants/acme/messages", reader, "{}")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="send"`) {
		t.Fatalf("send with read: %d %v", rec.Code, rec.Header())
	}
	onboarder := s.create("onboarding", access.Onboard)
	if rec := s.do(http.MethodGet, "/v1/tenants", onboarder, ""); rec.Code != http.StatusForbidden {
		t.Fatalf("read with onboard: %d", rec.Code)
	}
	s.createLinkWith(onboarder)
	admin := s.create("ops", access.Admin)
	s.createLinkWith(admin)
	if rec := s.do(http.MethodGet, "/v1/tenants", admin, ""); rec.Code != http.StatusOK {
		t.Fatalf("read with admin: %d", rec.Code)
	}
}

func (s *tokenStack) createLinkWith(token string) {
	s.t.Helper()
	if rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", token, ""); rec.Code != http.StatusCreated {
		s.t.Fatalf("setup link: %d %s", rec.Code, rec.Body)
	}
}

// Rotation: two tokens of a name work at once; once the name is revoked,
// both stop within TokenCacheTTL, and the configured token keeps working.
func TestRevokedTokenStopsWithinTheCacheTTL(t *testing.T) {
	s := newTokenStack(t)
	old := s.create("ci", access.Read)
	if rec := s.do(http.MethodGet, "/v1/tenants", old, ""); rec.Code != http.StatusOK {
		t.Fatalf("old: %d", rec.Code)
	}
	next := s.create("ci", access.Read)
	if rec := s.do(http.MethodGet, "/v1/tenants", next, ""); rec.Code != http.StatusOK {
		t.Fatalf("next: %d", rec.Code)
	}
	if _, err := s.tokens.RevokeTokens(context.Background(), "ci", s.clock.Now()); err != nil {
		t.Fatal(err)
	}
	before := s.tokens.lookups.Load()
	s.clock.Advance(tenantapi.TokenCacheTTL - time.Second)
	if rec := s.do(http.MethodGet, "/v1/tenants", old, ""); rec.Code != http.StatusOK {
		t.Fatalf("cached: %d", rec.Code)
	}
	if s.tokens.lookups.Load() != before {
		t.Error("a cached token was looked up again")
	}
	s.clock.Advance(time.Second)
	for _, secret := range []string{old, next} {
		rec := s.do(http.MethodGet, "/v1/tenants", secret, "")
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != `Bearer realm="kapso-bridge", error="invalid_token"` {
			t.Fatalf("revoked: %d %v", rec.Code, rec.Header())
		}
	}
	if rec := s.do(http.MethodGet, "/v1/tenants", apiToken, ""); rec.Code != http.StatusOK {
		t.Fatalf("configured: %d", rec.Code)
	}
}

// A malformed secret is refused without a lookup; an unknown one is looked
// up once per MissCacheTTL; a flood of unknown ones reaches the store at
// most TokenLookupsPerSecond times a second, the rest 503.
func TestUnknownTokensSpareTheStore(t *testing.T) {
	s := newTokenStack(t)
	good := s.create("ci", access.Read)
	for _, bad := range []string{"kb_short", good + "x", strings.ToUpper(good), "kb_" + strings.Repeat("!", 43)} {
		if rec := s.do(http.MethodGet, "/v1/tenants", bad, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("%q: %d", bad, rec.Code)
		}
	}
	if n := s.tokens.lookups.Load(); n != 0 {
		t.Fatalf("malformed secrets made %d lookups", n)
	}
	unknown, _, _ := access.NewSecret(rand.Reader)
	for range 3 {
		if rec := s.do(http.MethodGet, "/v1/tenants", unknown, ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("unknown: %d", rec.Code)
		}
	}
	if n := s.tokens.lookups.Load(); n != 1 {
		t.Fatalf("an unknown secret made %d lookups, want 1", n)
	}
	s.clock.Advance(tenantapi.MissCacheTTL)
	s.do(http.MethodGet, "/v1/tenants", unknown, "")
	if n := s.tokens.lookups.Load(); n != 2 {
		t.Fatalf("after the miss expired: %d lookups, want 2", n)
	}

	s.clock.Advance(time.Minute)
	s.tokens.lookups.Store(0)
	codes := map[int]int{}
	for range 100 {
		secret, _, _ := access.NewSecret(rand.Reader)
		codes[s.do(http.MethodGet, "/v1/tenants", secret, "").Code]++
	}
	if n := s.tokens.lookups.Load(); n != tenantapi.TokenLookupsPerSecond {
		t.Errorf("a flood made %d lookups, want %d", n, tenantapi.TokenLookupsPerSecond)
	}
	if codes[401] != tenantapi.TokenLookupsPerSecond || codes[503] != 100-tenantapi.TokenLookupsPerSecond {
		t.Errorf("flood answers %v", codes)
	}
	s.clock.Advance(time.Second)
	if rec := s.do(http.MethodGet, "/v1/tenants", good, ""); rec.Code != http.StatusOK {
		t.Errorf("a good token after the flood: %d", rec.Code)
	}
}

// A store that fails is 503, never a 401 that would look like a revocation,
// and the failure is not cached.
func TestTokenStoreDown(t *testing.T) {
	s := newTokenStack(t)
	good := s.create("ci", access.Read)
	s.tokens.down.Store(true)
	rec := s.do(http.MethodGet, "/v1/tenants", good, "")
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "refused") {
		t.Fatalf("store down: %d %s", rec.Code, rec.Body)
	}
	s.tokens.down.Store(false)
	if rec := s.do(http.MethodGet, "/v1/tenants", good, ""); rec.Code != http.StatusOK {
		t.Fatalf("store back: %d", rec.Code)
	}
}
