package stack

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// Only names of this machine reach the local server; PUBLIC_BASE_URL's
// host, when it is another, reaches kapso-bridge's own routes and not the
// local pages.
func TestLocalServerAnswersOnlyLoopbackHosts(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	g, err := newLocalGuard("https://kb.tunnel.example", "")
	if err != nil {
		t.Fatal(err)
	}
	h := g.hosts(ok)
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"127.0.0.1:8080", "/app/connected", 204},
		{"127.0.0.1", "/", 204},
		{"localhost:8080", "/_dev/reconcile", 204},
		{"LocalHost", "/app/send", 204},
		{"[::1]:8080", "/v1/tenants", 204},
		{"[::1]", "/", 204},
		{"evil.example", "/app/connected", 421},
		{"evil.example:8080", "/v1/tenants", 421},
		{"127.0.0.1.evil.example:8080", "/", 421},
		{"localhost.evil.example", "/", 421},
		{"127.0.0.2:8080", "/", 421},
		{"0.0.0.0:8080", "/", 421},
		{"", "/", 421},
		{"kb.tunnel.example", "/webhooks/kapso", 204},
		{"KB.tunnel.example", "/connect/success", 204},
		{"kb.tunnel.example", "/v1/tenants", 204},
		{"kb.tunnel.example", "/", 421},
		{"kb.tunnel.example", "/app/connected", 421},
		{"kb.tunnel.example", "/_dev/reconcile", 421},
		{"kb.tunnel.example:8443", "/webhooks/kapso", 421},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Host %q %s: %d, want %d", tc.host, tc.path, rec.Code, tc.want)
		}
		if tc.want == 421 && !strings.Contains(rec.Body.String(), `"code":"misdirected"`) {
			t.Errorf("Host %q: body %s", tc.host, rec.Body)
		}
	}
	// A loopback PUBLIC_BASE_URL opens nothing more.
	if g, _ := newLocalGuard("http://127.0.0.1:8080", ""); g.publicHost != "" {
		t.Errorf("public host %q", g.publicHost)
	}
}

// A page token is bound to the process, the tenant and the form's key.
func TestPageTokens(t *testing.T) {
	g, other := testGuard(), testGuard()
	tok := g.pageToken("acme", "app-K")
	if !g.validToken(tok, "acme", "app-K") {
		t.Fatal("the token drawn is refused")
	}
	for _, tc := range []struct{ token, tenant, key string }{
		{"", "acme", "app-K"},
		{tok, "acme", "app-L"},
		{tok, "other", "app-K"},
		{other.pageToken("acme", "app-K"), "acme", "app-K"},
		{tok[:len(tok)-1], "acme", "app-K"},
	} {
		if g.validToken(tc.token, tc.tenant, tc.key) {
			t.Errorf("token %q for %s/%s taken", tc.token, tc.tenant, tc.key)
		}
	}
}

// Every local page forbids framing and sniffing and runs only the script
// and style marked with its answer's nonce.
func TestPagesSendSecurityHeaders(t *testing.T) {
	app, index := pages(newStore())
	for _, tc := range []struct {
		h      http.Handler
		target string
	}{{app, "/app/connected?tenant_id=acme"}, {app, "/app/failed"}, {index, "/"}} {
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
		csp := rec.Header().Get("Content-Security-Policy")
		_, after, _ := strings.Cut(csp, "script-src 'nonce-")
		nonce, _, _ := strings.Cut(after, "'")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") || nonce == "" ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", tc.target, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", tc.target, rec.Header())
		}
		body := rec.Body.String()
		for _, tag := range []string{"<script", "<style"} {
			if n, marked := strings.Count(body, tag), strings.Count(body, tag+` nonce="`+nonce+`"`); n != marked {
				t.Errorf("%s: %d of %d %s elements carry the nonce", tc.target, marked, n, tag)
			}
		}
	}
}

// With PUBLIC_BASE_URL on another host (a tunnel Kapso comes through), the
// browser still lands on the app pages on this machine, where they answer.
func TestAppPagesStayLocalUnderAPublicBaseURL(t *testing.T) {
	v, _ := Resolve(func(k string) string {
		return map[string]string{"PUBLIC_BASE_URL": "https://kb.tunnel.example", "PORT": "18080"}[k]
	})
	if v["APP_SUCCESS_URL"] != "http://127.0.0.1:18080/app/connected" || v["APP_FAILURE_URL"] != "http://127.0.0.1:18080/app/failed" ||
		v["PUBLIC_BASE_URL"] != "https://kb.tunnel.example" {
		t.Errorf("settings %v", v)
	}
}

// The app page loads images from this server and from the local S3
// endpoint's origin alone (the media bucket's presigned URLs); the other
// pages from this server alone; an endpoint that is no plain origin adds
// nothing.
func TestAppPageLoadsImagesOnlyFromTheMediaEndpoint(t *testing.T) {
	imgSrc := func(h http.Handler, target string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		for _, d := range strings.Split(rec.Header().Get("Content-Security-Policy"), ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(d), "img-src "); ok {
				return v
			}
		}
		return ""
	}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct{ endpoint, want string }{
		{"http://127.0.0.1:45123", "'self' http://127.0.0.1:45123"},
		{"http://127.0.0.1:45123/", "'self' http://127.0.0.1:45123"},
		{"HTTP://LocalHost:9000", "'self' http://localhost:9000"},
		{"https://[::1]:9000", "'self' https://[::1]:9000"},
		{"", "'self'"},
		{"*", "'self'"},
		{"http://*:9000", "'self'"},
		{"http://127.0.0.1:9000/kb-local-media", "'self'"},
		{"http://127.0.0.1:9000?x", "'self'"},
		{"http://127.0.0.1:9000; script-src *", "'self'"},
		{"http://u:p@127.0.0.1:9000", "'self'"},
		{"data:image/png;base64,AAAA", "'self'"},
		{"javascript://127.0.0.1/", "'self'"},
		{"127.0.0.1:9000", "'self'"},
	} {
		g, err := newLocalGuard("", tc.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		app := appPage(newStore(), noMessages{}, nil, &memstore.Feed{}, "", g, log)
		if got := imgSrc(app, "/app/connected?tenant_id=acme"); got != tc.want {
			t.Errorf("endpoint %q: app page img-src %q, want %q", tc.endpoint, got, tc.want)
		}
		if got := imgSrc(indexPage(newStore(), "", log), "/"); got != "'self'" {
			t.Errorf("endpoint %q: index img-src %q", tc.endpoint, got)
		}
	}
}
