package tenantapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// A write that succeeded is recorded once, with the token's name, the
// route's pattern, the tenant and the id the answer named; a refused
// write and a read are not.
func TestWritesAreAudited(t *testing.T) {
	s := newTokenStack(t)
	onboarder := s.create("onboarding", access.Onboard)
	reader := s.create("dashboard", access.Read)
	rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", onboarder, "")
	if rec.Code != http.StatusCreated {
		t.Fatalf("link: %d %s", rec.Code, rec.Body)
	}
	var a linkAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	s.do(http.MethodPost, "/v1/tenants/acme/setup-links", reader, "")           // 403
	s.do(http.MethodPost, "/v1/tenants/acme/setup-links", onboarder, `{"x":1}`) // 400
	s.do(http.MethodPost, "/v1/tenants/acme/setup-links", "kb_nothing", "")     // 401
	s.do(http.MethodGet, "/v1/tenants/acme/connection", reader, "")             // a read
	s.clock.Advance(time.Second)
	s.do(http.MethodPost, "/v1/tenants/beta/setup-links", apiToken, "")
	got := s.audit.Entries()
	if len(got) != 2 {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	first := got[0]
	if first.Token != "onboarding" || first.Method != "POST" || first.Route != "/v1/tenants/{tenant_id}/setup-links" ||
		first.TenantID != "acme" || first.ResourceID != a.SetupLink.ID || first.Status != 201 || !first.At.Equal(s.clock.Now().Add(-time.Second)) {
		t.Errorf("entry %+v", first)
	}
	if got[1].Token != tenantapi.ConfiguredTokenName || got[1].TenantID != "beta" {
		t.Errorf("entry of the configured token %+v", got[1])
	}
}

// GET /v1/audit needs admin and lists newest first, paged, since a time.
func TestListAudit(t *testing.T) {
	s := newTokenStack(t)
	admin := s.create("ops", access.Admin)
	for _, tenant := range []string{"t1", "t2", "t3"} {
		s.clock.Advance(time.Minute)
		if rec := s.do(http.MethodPost, "/v1/tenants/"+tenant+"/setup-links", admin, ""); rec.Code != http.StatusCreated {
			t.Fatalf("link: %d", rec.Code)
		}
	}
	if rec := s.do(http.MethodGet, "/v1/audit", s.create("all-but-admin", access.Read, access.Send, access.Onboard, access.Erase), ""); rec.Code != http.StatusForbidden ||
		rec.Header().Get("WWW-Authenticate") != `Bearer realm="kapso-bridge", error="insufficient_scope", scope="admin"` {
		t.Fatalf("without admin: %d %v", rec.Code, rec.Header())
	}
	list := func(query string) tenantapi.AuditList {
		t.Helper()
		rec := s.do(http.MethodGet, "/v1/audit"+query, admin, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
		}
		var l tenantapi.AuditList
		if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	p1 := list("?limit=2")
	if len(p1.Entries) != 2 || p1.Entries[0].TenantID != "t3" || p1.Entries[1].TenantID != "t2" || p1.NextCursor == "" ||
		p1.Entries[0].Token != "ops" || p1.Entries[0].Status != 201 {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := list("?limit=2&cursor=" + url.QueryEscape(p1.NextCursor))
	if len(p2.Entries) != 1 || p2.Entries[0].TenantID != "t1" || p2.NextCursor != "" {
		t.Fatalf("page 2: %+v", p2)
	}
	since := p1.Entries[1].At.Format(time.RFC3339Nano)
	if l := list("?since=" + url.QueryEscape(since)); len(l.Entries) != 2 {
		t.Fatalf("since %s: %+v", since, l)
	}
	for q, code := range map[string]string{"?cursor=x": "invalid_cursor", "?since=yesterday": "invalid", "?limit=0": "invalid", "?tenant_id=t1": "invalid"} {
		rec := s.do(http.MethodGet, "/v1/audit"+q, admin, "")
		if rec.Code != http.StatusBadRequest || errorCode(t, rec) != code {
			t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
		}
	}
}

// failingAudit refuses every entry.
type failingAudit struct{ access.AuditLog }

func (failingAudit) Record(context.Context, access.Entry) error {
	return errors.New("dynamodb: throttled")
}

// An entry that cannot be recorded leaves the write's answer as it was:
// the write happened.
func TestAuditFailureKeepsTheAnswer(t *testing.T) {
	s := newTokenStack(t)
	s.mux = http.NewServeMux()
	s.api.Audit = failingAudit{}
	s.api.Register(s.mux)
	s.createLink("acme", "")
}

// The token that asked for a setup link is on the link's attempt.
func TestSetupLinkNamesItsToken(t *testing.T) {
	s := newTokenStack(t)
	id := s.createLinkAs(s.create("onboarding", access.Onboard))
	rec := s.do(http.MethodGet, "/v1/tenants/acme/connection", apiToken, "")
	var v tenantapi.ConnectionView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || len(v.Attempts) != 1 {
		t.Fatalf("connection: %d %s", rec.Code, rec.Body)
	}
	if a := v.Attempts[0]; a.SetupLinkID != id || a.CreatedBy != "onboarding" {
		t.Errorf("attempt %+v", a)
	}
}

func (s *tokenStack) createLinkAs(token string) string {
	s.t.Helper()
	rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", token, "")
	var a linkAnswer
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &a) != nil {
		s.t.Fatalf("link: %d %s", rec.Code, rec.Body)
	}
	return a.SetupLink.ID
}

// A send made with a named token carries its name, in the answer, the
// outbox and the audit trail.
func TestSendNamesItsToken(t *testing.T) {
	tokens, audit := &memstore.Tokens{}, &memstore.AuditLog{}
	s := newSendAPIWith(t, func(a *tenantapi.API) { a.Tokens, a.Audit = tokens, audit })
	secret, h, _ := access.NewSecret(rand.Reader)
	if err := tokens.CreateToken(context.Background(), h, access.Token{Name: "ci", Scopes: []access.Scope{access.Send}, CreatedAt: s.now}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/tenants/acme/messages",
		strings.NewReader(`{"to":"+5215512345678","type":"text","text":{"body":"Your bread is ready"}}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Idempotency-Key", "k-ci")
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	var out struct {
		Message struct {
			ID        string `json:"id"`
			CreatedBy string `json:"created_by"`
		} `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusAccepted || out.Message.CreatedBy != "ci" {
		t.Fatalf("send: %d %s", rec.Code, rec.Body)
	}
	if m, _, _ := s.msgs.Outbound(context.Background(), "acme", out.Message.ID); m.CreatedBy != "ci" {
		t.Errorf("stored %+v", m)
	}
	e := audit.Entries()
	if len(e) != 1 || e[0].Token != "ci" || e[0].ResourceID != out.Message.ID || e[0].Status != http.StatusAccepted ||
		e[0].Route != "/v1/tenants/{tenant_id}/messages" || e[0].TenantID != "acme" {
		t.Errorf("audit %+v", e)
	}
}
