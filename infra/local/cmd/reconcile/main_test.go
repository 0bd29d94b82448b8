package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
)

func TestRunPrintsTheReportFromPORT(t *testing.T) {
	var method, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path = r.Method, r.URL.Path
		_, _ = w.Write([]byte(`{"report":{"open_tenants":{"checked":2,"found":1,"fixed":1},"templates":{"checked":1,"found":3,"fixed":3},"retention":{"checked":1000,"found":40,"fixed":39},` +
			`"offboardings":{"checked":1,"found":1,"fixed":1},"erasures":{"checked":2,"found":1,"fixed":1},"errors":0,` +
			`"finished":true,"kapso":{"calls":7,"budget":2400},"dlqs":[{"queue":"messages-dlq","depth":3,"oldest_age_seconds":60}]}}`))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	// The make dev of PORT is the one its state file names; another PORT's
	// is not used.
	dir := t.TempDir()
	for port, at := range map[string]string{u.Port(): srv.URL, "1": "http://127.0.0.1:1"} {
		if err := devstate.Write(dir, devstate.State{PID: os.Getpid(), Port: port, URL: at}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	env := func(k string) string {
		if k == "PORT" {
			return u.Port()
		}
		return ""
	}
	if err := run(nil, env, dir, &out); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != stack.ReconcilePath || !strings.Contains(out.String(), "tenants with an open attempt        2      1      1") ||
		!strings.Contains(out.String(), "WABAs' templates (read, changed)        1      3      3") ||
		!strings.Contains(out.String(), "items under the message retention     1000     40     39") ||
		!strings.Contains(out.String(), "            tenants being deleted        1      1      1") ||
		!strings.Contains(out.String(), "erasures (open, advanced, done)        2      1      1") ||
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
	err := run([]string{"-url", srv.URL}, func(string) string { return "" }, "", &out)
	if err == nil || !strings.Contains(err.Error(), "throttled") || !strings.Contains(out.String(), "errors: 1") {
		t.Fatalf("err %v, printed %q", err, out.String())
	}
	srv.Close()
	if err := run([]string{"-url", srv.URL}, func(string) string { return "" }, "", &out); err == nil ||
		!strings.Contains(err.Error(), "is make dev running") {
		t.Fatalf("no stack: %v", err)
	}
}

// Without -url, no make dev on PORT, or one that is gone, is said so.
func TestRunFindsNoMakeDevOnItsPort(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for port, pid := range map[string]int{"18080": os.Getpid(), "18082": gone.Process.Pid} {
		if err := devstate.Write(dir, devstate.State{PID: pid, Port: port, URL: "http://127.0.0.1:" + port}); err != nil {
			t.Fatal(err)
		}
	}
	for port, want := range map[string]string{
		"18081": "no make dev runs with PORT=18081 (no " + devstate.Path(dir, "18081") + "): start make dev, or set PORT",
		"18082": "no longer running",
		"":      "PORT=8080",
	} {
		err := run(nil, func(k string) string { return map[string]string{"PORT": port}[k] }, dir, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make dev runs with PORT=18080") {
			t.Errorf("PORT=%q: %v, want %q", port, err, want)
		}
	}
}
