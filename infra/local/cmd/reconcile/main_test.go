package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
)

func TestRunPrintsTheReportFromPORT(t *testing.T) {
	var method, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.Path
		_, _ = w.Write([]byte(`{"report":{"open_tenants":{"checked":2,"found":1,"fixed":1},"errors":0,` +
			`"finished":true,"kapso":{"calls":7,"budget":2400},"dlqs":[{"queue":"messages-dlq","depth":3,"oldest_age_seconds":60}]}}`))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	var out bytes.Buffer
	env := func(k string) string {
		if k == "PORT" {
			return u.Port()
		}
		return ""
	}
	if err := run(nil, env, &out); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != stack.ReconcilePath || !strings.Contains(out.String(), "tenants with an open attempt        2      1      1") ||
		!strings.Contains(out.String(), "kapso: 7 calls of a budget of 2400") ||
		!strings.Contains(out.String(), "dead letters in messages-dlq: 3 (oldest 60 s)") ||
		!strings.Contains(out.String(), "errors: 0; finished") {
		t.Fatalf("%s %s printed %q", method, path, out.String())
	}
}

func TestRunFailsOnAFailedPassOrNoStack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"report":{"errors":1},"error":"list links: throttled"}`))
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := run([]string{"-url", srv.URL}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "throttled") || !strings.Contains(out.String(), "errors: 1") {
		t.Fatalf("err %v, printed %q", err, out.String())
	}
	srv.Close()
	if err := run([]string{"-url", srv.URL}, func(string) string { return "" }, &out); err == nil ||
		!strings.Contains(err.Error(), "is make dev running") {
		t.Fatalf("no stack: %v", err)
	}
}
