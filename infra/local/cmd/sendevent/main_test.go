package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

type received struct {
	header http.Header
	body   []byte
}

func server(t *testing.T) (*httptest.Server, *received) {
	t.Helper()
	var got received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.header = r.Header.Clone()
		got.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func noEnv(string) string { return "" }

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRunSendsSignedSample(t *testing.T) {
	srv, got := server(t)
	file := filepath.Join("..", "..", "..", "..", "events", "kapso", "whatsapp.phone_number.created.json")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-file", file, "-url", srv.URL}, noEnv, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.body, raw) {
		t.Error("body was not sent byte for byte")
	}
	if !kapso.VerifySignature(defaultSecret, raw, got.header.Get("X-Webhook-Signature")) {
		t.Error("not signed with the default secret")
	}
	if e := got.header.Get("X-Webhook-Event"); e != kapso.EventPhoneNumberCreated {
		t.Errorf("event header %q", e)
	}
	if k := got.header.Get("X-Idempotency-Key"); !uuidV4.MatchString(k) {
		t.Errorf("key %q is not a UUIDv4", k)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	if !strings.HasPrefix(out.String(), "200 OK") || !strings.Contains(out.String(), `{"ok":true}`) {
		t.Errorf("output %q", out.String())
	}
}

func TestRunFlagsOverrideDefaults(t *testing.T) {
	srv, got := server(t)
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, []byte(`{"x":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == secretEnv {
			return "from-env"
		}
		return ""
	}
	var out bytes.Buffer
	err := run([]string{"-file", file, "-url", srv.URL, "-event", "custom.event", "-key", "k-1"}, env, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !kapso.VerifySignature("from-env", []byte(`{"x":1}`), got.header.Get("X-Webhook-Signature")) {
		t.Error("not signed with the secret from the environment")
	}
	if got.header.Get("X-Webhook-Event") != "custom.event" || got.header.Get("X-Idempotency-Key") != "k-1" {
		t.Errorf("headers %v", got.header)
	}

	if err := run([]string{"-file", file, "-url", srv.URL, "-event", "", "-secret", "s"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.header["X-Webhook-Event"]; ok {
		t.Error(`-event "" still sent an event header`)
	}
	if !kapso.VerifySignature("s", []byte(`{"x":1}`), got.header.Get("X-Webhook-Signature")) {
		t.Error("-secret ignored")
	}
}

func TestRunErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unlisted.json")
	if err := os.WriteFile(file, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", nil, "usage"},
		{"missing file", []string{"-file", "nope.json"}, "read sample"},
		{"not in manifest", []string{"-file", file}, "not in events/manifest.json"},
		{"unreachable", []string{"-file", file, "-event", "e", "-url", "http://127.0.0.1:1/x"}, "post"},
	}
	for _, tt := range tests {
		err := run(tt.args, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestNewUUID(t *testing.T) {
	a, err := newUUID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newUUID()
	if !uuidV4.MatchString(a) || a == b {
		t.Errorf("uuids %q %q", a, b)
	}
}
