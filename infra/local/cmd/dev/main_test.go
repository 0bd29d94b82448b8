package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// make dev's log is readable lines, not JSON, and a key repeated down a
// With chain (the lifecycle worker's tenant_id) shows once.
func TestDevLogIsReadableLinesWithoutRepeatedKeys(t *testing.T) {
	settings, _ := stack.Resolve(func(string) string { return "" })
	var buf bytes.Buffer
	log := logger(settings, &buf)
	log.With("phone_number_id", "645542809322606", "tenant_id", "acme").
		Info("fact recorded", "tenant_id", "acme", "kind", "webhook_registered", "duplicate", false)
	log.Debug("hidden at the default level")
	line := buf.String()
	if strings.Count(line, "\n") != 1 || strings.HasPrefix(line, "{") {
		t.Fatalf("not one readable line: %q", line)
	}
	if !strings.Contains(line, " INFO  fact recorded  phone_number_id=645542809322606 tenant_id=acme kind=webhook_registered duplicate=false") {
		t.Errorf("line %q", line)
	}
	if n := strings.Count(line, "tenant_id="); n != 1 {
		t.Errorf("tenant_id shown %d times: %q", n, line)
	}
	settings[config.LogLevel.Name] = "debug"
	buf.Reset()
	logger(settings, &buf).Debug("shown")
	if !strings.Contains(buf.String(), "DEBUG shown") {
		t.Errorf("LOG_LEVEL=debug ignored: %q", buf.String())
	}
}

// The walkthrough's sendevent command carries the ports make dev runs on.
func TestWalkthroughSendeventUsesThePorts(t *testing.T) {
	settings, _ := stack.Resolve(func(k string) string {
		return map[string]string{"PORT": "18080", "SIM_PORT": "18090"}[k]
	})
	s := &stack.Stack{URL: "http://127.0.0.1:18080", SimURL: "http://127.0.0.1:18090"}
	w := walkthrough(s, settings)
	if !strings.Contains(w, "PORT=18080 SIM_PORT=18090 go run ./infra/local/cmd/sendevent -file events/kapso/whatsapp.message.received.json") {
		t.Errorf("walkthrough:\n%s", w)
	}
	settings, _ = stack.Resolve(func(string) string { return "" })
	if w := walkthrough(s, settings); !strings.Contains(w, "\n   go run ./infra/local/cmd/sendevent -file") {
		t.Errorf("default ports need no variables:\n%s", w)
	}
}
