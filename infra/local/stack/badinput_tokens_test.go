package stack_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// tokens is the stack's store of named tokens.
func (e *biEnv) tokens() *dynamo.Tokens {
	return &dynamo.Tokens{DB: e.ddb, Table: e.tables[schema.Bridge.ID]}
}

// token makes a named token with the scopes given, and answers its secret.
func (e *biEnv) token(t *testing.T, name string, scopes ...access.Scope) string {
	t.Helper()
	secret, h, err := access.NewSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tokens().CreateToken(context.Background(), h, access.Token{Name: name, Scopes: scopes, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// The named tokens' door: a token without the route's scope, a revoked
// one, and secrets that are not tokens, against the stack's own table.
// Each is refused and nothing changes, not even the audit trail.
func TestBadInputTokens(t *testing.T) {
	e := badInputEnv(t)
	reader := e.token(t, "bi-reader", access.Read)
	sender := e.token(t, "bi-sender", access.Send, access.Onboard)
	revoked := e.token(t, "bi-revoked", access.Admin)
	if _, err := e.tokens().RevokeTokens(context.Background(), "bi-revoked", time.Now()); err != nil {
		t.Fatal(err)
	}
	unknown, _, _ := access.NewSecret(rand.Reader)
	as := func(secret, method, path, body string, hdr map[string]string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult {
			h := map[string]string{"Authorization": "Bearer " + secret}
			for k, v := range hdr {
				h[k] = v
			}
			return e.v1(t, method, path, body, h)
		}
	}
	send := `{"to":"+5215512345678","type":"text","text":{"body":"hi"}}`
	acme := "/v1/tenants/" + e.tenant
	challenge := func(want string) func(t *testing.T, r biResult) {
		return func(t *testing.T, r biResult) {
			if got := r.header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		}
	}
	invalidToken := challenge(`Bearer realm="kapso-bridge", error="invalid_token"`)
	scope := func(s string) func(t *testing.T, r biResult) {
		return challenge(`Bearer realm="kapso-bridge", error="insufficient_scope", scope="` + s + `"`)
	}
	sentBefore := e.s.Sim.SentByProxy()
	t.Cleanup(func() {
		if got := e.s.Sim.SentByProxy(); got != sentBefore {
			t.Errorf("refused sends reached the Meta proxy %d times", got-sentBefore)
		}
	})
	e.run(t, []biCase{
		{kind: "a read-only token sends", send: as(reader, http.MethodPost, acme+"/messages", send, map[string]string{"Idempotency-Key": "bi-tok-1"}),
			status: 403, code: "insufficient_scope", check: scope("send")},
		{kind: "a read-only token asks for a setup link", send: as(reader, http.MethodPost, "/v1/tenants/"+e.other+"/setup-links", "", nil),
			status: 403, code: "insufficient_scope", check: scope("onboard")},
		{kind: "a read-only token syncs templates", send: as(reader, http.MethodPost, acme+"/templates/sync", "", nil),
			status: 403, code: "insufficient_scope", check: scope("send")},
		{kind: "a sending token reads", send: as(sender, http.MethodGet, acme+"/connection", "", nil),
			status: 403, code: "insufficient_scope", check: scope("read")},
		{kind: "a token without admin reads the audit trail", send: as(sender, http.MethodGet, "/v1/audit", "", nil),
			status: 403, code: "insufficient_scope", check: scope("admin")},
		{kind: "a revoked admin token sends", send: as(revoked, http.MethodPost, acme+"/messages", send, map[string]string{"Idempotency-Key": "bi-tok-2"}),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a revoked admin token reads the audit trail", send: as(revoked, http.MethodGet, "/v1/audit", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a well-formed secret never made", send: as(unknown, http.MethodPost, "/v1/tenants/"+e.other+"/setup-links", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a secret one character short", send: as(reader[:len(reader)-1], http.MethodGet, acme+"/connection", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a secret with padding", send: as(reader[:len(reader)-1]+"=", http.MethodGet, acme+"/connection", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a secret in another case", send: as(strings.ToUpper(reader), http.MethodGet, acme+"/connection", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "the prefix alone", send: as(access.SecretPrefix, http.MethodGet, acme+"/connection", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a secret of 8 KiB", send: as(access.SecretPrefix+strings.Repeat("A", 8<<10), http.MethodGet, acme+"/connection", "", nil),
			status: 401, code: "unauthorized", check: invalidToken},
		{kind: "a secret's hash given as the secret", send: func(t *testing.T) biResult {
			h, _ := access.Parse(reader)
			return as(h.String(), http.MethodGet, acme+"/connection", "", nil)(t)
		}, status: 401, code: "unauthorized", check: invalidToken},
		{kind: "two tokens in one header", send: as(reader+","+sender, http.MethodGet, acme+"/connection", "", nil),
			status: 400, code: "invalid"},
	})
}
