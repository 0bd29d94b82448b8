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
		_, _ = w.Write([]byte(`{"report":{"numbers_confirmed":1,"errors":0}}`))
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
	if method != http.MethodPost || path != stack.ReconcilePath || !strings.Contains(out.String(), `"numbers_confirmed": 1`) {
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
	if err == nil || !strings.Contains(err.Error(), "throttled") || !strings.Contains(out.String(), `"errors": 1`) {
		t.Fatalf("err %v, printed %q", err, out.String())
	}
	srv.Close()
	if err := run([]string{"-url", srv.URL}, func(string) string { return "" }, &out); err == nil ||
		!strings.Contains(err.Error(), "is make dev running") {
		t.Fatalf("no stack: %v", err)
	}
}
