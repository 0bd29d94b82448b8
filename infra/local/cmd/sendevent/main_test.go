package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

type received struct {
	path   string
	header http.Header
	body   []byte
}

// bridge stands in for kapso-bridge and records the last request.
func bridge(t *testing.T) (*httptest.Server, *received) {
	t.Helper()
	var got received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path = r.URL.Path
		got.header = r.Header.Clone()
		got.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// The simulator's world: tenant acme's customer and its connected number
// with the webhook kapso-bridge registered, and a number not connected yet.
const (
	simNumberID   = "645542809322606"
	simSecret     = "number-secret-1"
	simCustomerID = "502d65a4-dd04-40ac-9cf8-5a34bc5bf7a0"
	sampleNumber  = "106540352242922"
	sampleCust    = "c2a7e1d4-5b3f-4e8a-a9d6-71f0b2c4e815"
)

func simulator(t *testing.T) *httptest.Server { return simulatorWith(t, "CONNECTED") }

// simulatorWith is the simulator's world with the connected number in
// status.
func simulatorWith(t *testing.T, status string) *httptest.Server {
	t.Helper()
	state := map[string]any{
		"customers": []any{map[string]any{"id": simCustomerID, "name": "Acme", "external_customer_id": "acme"}},
		"phone_numbers": []any{
			map[string]any{"phone_number_id": "999000111222333", "customer_id": simCustomerID, "status": "PENDING"},
			map[string]any{"phone_number_id": simNumberID, "customer_id": simCustomerID, "status": status},
		},
		"webhooks": []any{map[string]any{"phone_number_id": simNumberID, "secret_key": simSecret, "kind": "kapso",
			"active": true, "url": "http://x/webhooks/kapso/" + simNumberID}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_sim/state" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(state)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// runDev runs sendevent with PORT naming a make dev whose servers are b
// and sim (nil: nothing listening), as its state file says.
func runDev(t *testing.T, b, sim *httptest.Server, args []string, out io.Writer) error {
	t.Helper()
	st := devstate.State{PID: os.Getpid(), Port: "18080", URL: "http://127.0.0.1:1", SimURL: "http://127.0.0.1:1"}
	if b != nil {
		st.URL = b.URL
	}
	if sim != nil {
		st.SimURL = sim.URL
	}
	dir := t.TempDir()
	if err := devstate.Write(dir, st); err != nil {
		t.Fatal(err)
	}
	return run(args, func(k string) string { return map[string]string{"PORT": "18080"}[k] }, dir, out)
}

func sample(t *testing.T, path string) (string, []byte) {
	t.Helper()
	file := filepath.Join("..", "..", "..", "..", "events", filepath.FromSlash(path))
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return file, raw
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// A message sample goes to the number route of the simulator's connected
// number on $PORT, signed with that number's secret, with the sample's
// phone_number_id rewritten and every other byte kept; the output names the
// tenant's app page.
// A restricted number still receives messages: it is the default when no
// number is connected, and a number that is not listed as receiving is not.
func TestNumberSampleGoesToARestrictedNumber(t *testing.T) {
	for status, ok := range map[string]bool{"RESTRICTED": true, "FLAGGED": true, "DISCONNECTED": false} {
		b, got := bridge(t)
		file, _ := sample(t, "kapso/whatsapp.message.received.json")
		err := runDev(t, b, simulatorWith(t, status), []string{"-file", file}, io.Discard)
		if sent := got.path == "/webhooks/kapso/"+simNumberID; sent != ok || (err == nil) != ok {
			t.Errorf("%s: sent %v, err %v", status, sent, err)
		}
	}
}

func TestNumberSampleGoesToAConnectedNumberOnPORT(t *testing.T) {
	b, got := bridge(t)
	sim := simulator(t)
	file, raw := sample(t, "kapso/whatsapp.message.received.json")
	var out bytes.Buffer
	if err := runDev(t, b, sim, []string{"-file", file}, &out); err != nil {
		t.Fatal(err)
	}
	if got.path != "/webhooks/kapso/"+simNumberID {
		t.Errorf("sent to %q, want the number route of %s", got.path, simNumberID)
	}
	want := bytes.ReplaceAll(raw, []byte(`"`+sampleNumber+`"`), []byte(`"`+simNumberID+`"`))
	if !bytes.Equal(got.body, want) {
		t.Errorf("body: phone_number_id not rewritten, or other bytes changed:\n%s", got.body)
	}
	if !kapso.VerifySignature(simSecret, got.body, got.header.Get("X-Webhook-Signature")) {
		t.Error("not signed with the number's webhook secret")
	}
	if e := got.header.Get("X-Webhook-Event"); e != kapso.EventMessageReceived {
		t.Errorf("event header %q", e)
	}
	if k := got.header.Get("X-Idempotency-Key"); !uuidV4.MatchString(k) {
		t.Errorf("key %q is not a UUIDv4", k)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	s := out.String()
	if !strings.Contains(s, "200 OK") || !strings.Contains(s, `{"ok":true}`) ||
		!strings.Contains(s, b.URL+"/app/connected?tenant_id=acme") || !strings.Contains(s, "tenant acme") {
		t.Errorf("output:\n%s", s)
	}
}

// A Meta sample goes to the number's Meta route, signed with its secret.
func TestMetaSampleGoesToTheMetaRoute(t *testing.T) {
	b, got := bridge(t)
	sim := simulator(t)
	file, _ := sample(t, "meta/messages.multi-change.json")
	if err := runDev(t, nil, sim, []string{"-file", file, "-url", b.URL}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got.path != "/webhooks/meta/"+simNumberID {
		t.Errorf("sent to %q", got.path)
	}
	if bytes.Contains(got.body, []byte(sampleNumber)) || !bytes.Contains(got.body, []byte(simNumberID)) {
		t.Error("phone_number_id not rewritten")
	}
	if !kapso.VerifySignature(simSecret, got.body, got.header.Get("X-Webhook-Signature")) {
		t.Error("not signed with the number's webhook secret")
	}
	if _, ok := got.header["X-Webhook-Event"]; ok {
		t.Error("a Meta sample has no event header")
	}
}

// A project sample goes to the project route, signed with the project
// secret. Its customer is one no tenant owns: a warning says so and what to
// pass; -customer and -number aim it at a tenant.
func TestProjectSampleWarnsOfAnOrphanCustomer(t *testing.T) {
	b, got := bridge(t)
	sim := simulator(t)
	file, raw := sample(t, "kapso/whatsapp.phone_number.disconnected.json")
	var out bytes.Buffer
	if err := runDev(t, b, sim, []string{"-file", file}, &out); err != nil {
		t.Fatal(err)
	}
	if got.path != "/webhooks/kapso" || !bytes.Equal(got.body, raw) {
		t.Errorf("sent to %q, body changed: %v", got.path, !bytes.Equal(got.body, raw))
	}
	if !kapso.VerifySignature(defaultSecret, raw, got.header.Get("X-Webhook-Signature")) {
		t.Error("not signed with make dev's project secret")
	}
	s := out.String()
	if !strings.Contains(s, "warning: no tenant owns customer "+sampleCust) || !strings.Contains(s, "-customer") ||
		!strings.Contains(s, simCustomerID+" (tenant acme)") || !strings.Contains(s, "kept aside") {
		t.Errorf("no orphan warning:\n%s", s)
	}

	out.Reset()
	if err := runDev(t, b, sim, []string{"-file", file, "-customer", simCustomerID}, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.body, bytes.ReplaceAll(raw, []byte(sampleCust), []byte(simCustomerID))) {
		t.Errorf("-customer not applied:\n%s", got.body)
	}
	if strings.Contains(out.String(), "warning") || !strings.Contains(out.String(), "tenant_id=acme") {
		t.Errorf("output:\n%s", out.String())
	}

	// -number puts the number in and its customer follows.
	if err := runDev(t, b, sim, []string{"-file", file, "-number", simNumberID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte(sampleCust), []byte(simCustomerID)), []byte(sampleNumber), []byte(simNumberID))
	if got.path != "/webhooks/kapso" || !bytes.Equal(got.body, want) {
		t.Errorf("-number on a project sample:\n%s", got.body)
	}
}

func TestFlagsOverrideDefaults(t *testing.T) {
	b, got := bridge(t)
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, []byte(`{"x":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == secretEnv {
			return "from-env"
		}
		return ""
	}
	// A -url with a path is the endpoint itself.
	err := run([]string{"-file", file, "-url", b.URL + "/custom", "-event", "custom.event", "-key", "k-1"}, getenv, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.path != "/custom" {
		t.Errorf("path %q", got.path)
	}
	if !kapso.VerifySignature("from-env", []byte(`{"x":1}`), got.header.Get("X-Webhook-Signature")) {
		t.Error("not signed with the secret from the environment")
	}
	if got.header.Get("X-Webhook-Event") != "custom.event" || got.header.Get("X-Idempotency-Key") != "k-1" {
		t.Errorf("headers %v", got.header)
	}

	if err := run([]string{"-file", file, "-url", b.URL, "-event", "", "-secret", "s"}, getenv, "", io.Discard); err != nil {
		t.Fatal(err)
	}
	if got.path != "/webhooks/kapso" {
		t.Errorf("path %q", got.path)
	}
	if _, ok := got.header["X-Webhook-Event"]; ok {
		t.Error(`-event "" still sent an event header`)
	}
	if !kapso.VerifySignature("s", []byte(`{"x":1}`), got.header.Get("X-Webhook-Signature")) {
		t.Error("-secret ignored")
	}

	// -route number with -number and -secret needs no simulator.
	err = run([]string{"-file", file, "-url", b.URL, "-event", "e", "-route", "number", "-number", "42", "-secret", "n"}, getenv, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.path != "/webhooks/kapso/42" || !kapso.VerifySignature("n", got.body, got.header.Get("X-Webhook-Signature")) {
		t.Errorf("-route number: %q", got.path)
	}
}

func TestRunErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unlisted.json")
	if err := os.WriteFile(file, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	msg, _ := sample(t, "kapso/whatsapp.message.received.json")
	sim := simulator(t)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"customers":null,"phone_numbers":null,"webhooks":null}`))
	}))
	t.Cleanup(empty.Close)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", nil, "usage"},
		{"missing file", []string{"-file", "nope.json"}, "read sample"},
		{"not in manifest", []string{"-file", file}, "not in events/manifest.json"},
		{"bad route", []string{"-file", file, "-route", "x"}, "-route"},
		{"unreachable", []string{"-file", file, "-event", "e", "-url", "http://127.0.0.1:1/x"}, "post"},
		{"no simulator", []string{"-file", msg, "-url", "http://127.0.0.1:1", "-sim", "http://127.0.0.1:1"}, "no simulator"},
		{"no connected number", []string{"-file", msg, "-url", "http://127.0.0.1:1", "-sim", empty.URL}, "no connected number"},
		{"unknown number", []string{"-file", msg, "-url", "http://127.0.0.1:1", "-sim", sim.URL, "-number", "1"}, "knows no number 1"},
		{"number without webhook", []string{"-file", msg, "-url", "http://127.0.0.1:1", "-sim", sim.URL, "-number", "999000111222333"},
			"no webhook"},
		// Without -url the make dev of PORT is needed: none in an empty folder.
		{"no make dev", []string{"-file", msg}, "no make dev runs with PORT=8080"},
		{"no make dev to ask for the secret", []string{"-file", msg, "-url", "http://127.0.0.1:1"}, "no make dev runs with PORT=8080"},
	}
	for _, tt := range tests {
		err := run(tt.args, func(string) string { return "" }, t.TempDir(), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// sendevent goes to the make dev of its PORT, not to another one's, and
// refuses one that is gone.
func TestSendsToTheMakeDevOfItsPort(t *testing.T) {
	mine, got := bridge(t)
	other, gotOther := bridge(t)
	sim := simulator(t)
	dir := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, st := range []devstate.State{
		{PID: os.Getpid(), Port: "18080", URL: other.URL, SimURL: sim.URL},
		{PID: os.Getpid(), Port: "18081", URL: mine.URL, SimURL: sim.URL},
		{PID: gone.Process.Pid, Port: "18082", URL: mine.URL, SimURL: sim.URL},
	} {
		if err := devstate.Write(dir, st); err != nil {
			t.Fatal(err)
		}
	}
	file, _ := sample(t, "kapso/whatsapp.message.received.json")
	port := func(p string) func(string) string {
		return func(k string) string { return map[string]string{"PORT": p}[k] }
	}
	if err := run([]string{"-file", file}, port("18081"), dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got.path != "/webhooks/kapso/"+simNumberID || gotOther.path != "" {
		t.Errorf("PORT=18081 reached %q, the other make dev %q", got.path, gotOther.path)
	}
	got.path = ""
	if err := run([]string{"-file", file}, port("18082"), dir, io.Discard); err == nil || !strings.Contains(err.Error(), "no longer running") ||
		got.path != "" || gotOther.path != "" {
		t.Errorf("stale make dev: %v, sent to %q %q", err, got.path, gotOther.path)
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
