package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
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

// The walkthrough's tool commands carry the PORT make dev runs on, which
// is all they need to find it.
func TestWalkthroughToolsUseThePort(t *testing.T) {
	settings, _ := stack.Resolve(func(k string) string {
		return map[string]string{"PORT": "18080", "SIM_PORT": "18090"}[k]
	})
	s := &stack.Stack{URL: "http://127.0.0.1:18080", SimURL: "http://127.0.0.1:18090", Env: env(nil)}
	w := walkthrough(s, settings, "")
	if !strings.Contains(w, "\n   PORT=18080 go run ./infra/local/cmd/sendevent -file events/kapso/whatsapp.message.received.json") ||
		!strings.Contains(w, "make PORT=18080 reconcile") || !strings.Contains(w, "make PORT=18080 redrive QUEUE=messages") {
		t.Errorf("walkthrough:\n%s", w)
	}
	settings, _ = stack.Resolve(func(string) string { return "" })
	if w := walkthrough(s, settings, ""); !strings.Contains(w, "\n   go run ./infra/local/cmd/sendevent -file") ||
		!strings.Contains(w, "\nmake reconcile") {
		t.Errorf("the default port needs no variable:\n%s", w)
	}
}

func env(m map[string]string) config.Env { return func(k string) string { return m[k] } }

// The banner names the Kapso bases the stack calls: the simulator's
// Platform API and Meta proxy when it runs, and no Kapso default then.
func TestBannerNamesTheKapsoBasesInUse(t *testing.T) {
	settings, defaulted := stack.Resolve(func(string) string { return "" })
	for _, name := range defaulted {
		if name == config.KapsoMetaBaseURL.Name {
			t.Errorf("defaults list %s=%s, which the simulator replaces", name, settings[name])
		}
	}
	sim := "http://127.0.0.1:8090"
	s := &stack.Stack{URL: "http://127.0.0.1:8080", SimURL: sim, Env: env(map[string]string{
		config.KapsoAPIBaseURL.Name: sim + "/platform/v1", config.KapsoMetaBaseURL.Name: sim + "/meta/whatsapp"})}
	w := walkthrough(s, settings, "/repo/.local/dynamodb-8080")
	if !strings.Contains(w, "Kapso Platform API: "+sim+"/platform/v1\n") || !strings.Contains(w, "Kapso Meta proxy (sends): "+sim+"/meta/whatsapp\n") ||
		strings.Contains(w, "api.kapso.ai") || !strings.Contains(w, "kept in /repo/.local/dynamodb-8080 across restarts") {
		t.Errorf("walkthrough:\n%s", w)
	}
	// Against Kapso itself, both of Kapso's bases.
	settings, _ = stack.Resolve(func(k string) string {
		return map[string]string{config.KapsoAPIBaseURL.Name: "https://api.kapso.ai/platform/v1"}[k]
	})
	if settings[config.KapsoMetaBaseURL.Name] != "https://api.kapso.ai/meta/whatsapp" {
		t.Errorf("Meta proxy default with Kapso's API: %q", settings[config.KapsoMetaBaseURL.Name])
	}
	s = &stack.Stack{URL: "http://127.0.0.1:8080", Env: env(settings)}
	if w := walkthrough(s, settings, ""); !strings.Contains(w, "Kapso Platform API: https://api.kapso.ai/platform/v1\nKapso Meta proxy (sends): https://api.kapso.ai/meta/whatsapp\n") {
		t.Errorf("walkthrough:\n%s", w)
	}
}

// make dev keeps DynamoDB's data across restarts against a real Kapso
// only: the simulator forgets its side at each start.
func TestDataIsKeptOnlyAgainstARealKapso(t *testing.T) {
	settings, _ := stack.Resolve(func(k string) string { return map[string]string{"PORT": "18080"}[k] })
	if got := keptData("/repo/.local", settings); got != "" {
		t.Errorf("with the simulator: kept in %q", got)
	}
	settings, _ = stack.Resolve(func(k string) string {
		return map[string]string{"PORT": "18080", config.KapsoAPIBaseURL.Name: "https://api.kapso.ai/platform/v1"}[k]
	})
	if got := keptData("/repo/.local", settings); got != "/repo/.local/dynamodb-18080" {
		t.Errorf("against Kapso: kept in %q", got)
	}
}

// make dev-reset deletes the kept data of its PORT, and refuses while that
// make dev runs.
func TestResetDeletesTheKeptData(t *testing.T) {
	dir := t.TempDir()
	data := dataDir(dir, "18080")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := devstate.Write(dir, devstate.State{PID: os.Getpid(), Port: "18080"}); err != nil {
		t.Fatal(err)
	}
	if err := resetData(dir, "18080"); err == nil || !strings.Contains(err.Error(), "stop it before") {
		t.Fatalf("reset while running: %v", err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("data deleted under a running make dev: %v", err)
	}
	if err := devstate.Remove(dir, devstate.State{PID: os.Getpid(), Port: "18080"}); err != nil {
		t.Fatal(err)
	}
	if err := resetData(dir, "18080"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("data kept after reset: %v", err)
	}
}

// The banner names the events topic and how to subscribe a queue of one's
// own to it on fauxqs, and the feed.
func TestBannerSaysHowToSubscribeToTheEvents(t *testing.T) {
	settings, _ := stack.Resolve(func(string) string { return "" })
	const topic = "arn:aws:sns:us-east-1:000000000000:kb-local-events"
	s := &stack.Stack{URL: "http://127.0.0.1:8080", SimURL: "http://127.0.0.1:8090", SQSEndpoint: "http://127.0.0.1:4566",
		Env: env(nil), Topics: map[string]string{schema.EventsTopic.ID: topic}}
	w := walkthrough(s, settings, "")
	for _, want := range []string{
		"Events topic (every event, message attributes type and tenant_id): " + topic,
		"aws --endpoint-url http://127.0.0.1:4566 sns subscribe --topic-arn " + topic + " --protocol sqs",
		"--attributes RawMessageDelivery=true",
		"curl -s http://127.0.0.1:8080/v1/events -H 'Authorization: Bearer dev-bridge-token'",
		`"FilterPolicy":"{\"tenant_id\":[\"acme\"]}"`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("walkthrough lacks %q:\n%s", want, w)
		}
	}
}

// The walkthrough names the media bucket on fauxqs and how to make a
// person send a photo.
func TestWalkthroughNamesTheMediaBucket(t *testing.T) {
	settings, _ := stack.Resolve(func(string) string { return "" })
	s := &stack.Stack{URL: "http://127.0.0.1:8080", SimURL: "http://127.0.0.1:8090", SQSEndpoint: "http://127.0.0.1:4566",
		Env: env(nil), Buckets: map[string]string{schema.MediaBucket.ID: "kb-local-media"}}
	w := walkthrough(s, settings, "")
	for _, want := range []string{
		"Media bucket kb-local-media (S3 on fauxqs at http://127.0.0.1:4566, by path)",
		"media.url links a copy for 15m",
		`curl -s -X POST http://127.0.0.1:8090/_sim/numbers/<phone_number_id>/messages -d '{"type":"image","text":"o bolo"}'`,
		"event-webhooks, media) moves dead letters back",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("walkthrough lacks %q:\n%s", want, w)
		}
	}
	s.Buckets = nil
	if w := walkthrough(s, settings, ""); strings.Contains(w, "Media bucket") {
		t.Errorf("a stack without the bucket names one:\n%s", w)
	}
}

// The walkthrough says where the events go, with the secret that signs
// them; or, when they go nowhere, how to receive them with make autoreply.
func TestWalkthroughTellsWhereTheEventsGo(t *testing.T) {
	s := &stack.Stack{URL: "http://127.0.0.1:8080", Env: env(nil)}
	settings, defaulted := stack.Resolve(func(string) string { return "" })
	w := walkthrough(s, settings, "")
	if !strings.Contains(w, "EVENTS_WEBHOOK_URL=http://127.0.0.1:8070/events\nand make autoreply beside it") {
		t.Errorf("without EVENTS_WEBHOOK_URL:\n%s", w)
	}
	secret := settings[config.EventsWebhookSecret.Name]
	if !strings.HasPrefix(secret, "whsec_") || !slices.Contains(defaulted, config.EventsWebhookSecret.Name) {
		t.Errorf("make dev's signing secret %q is not a printed default (%v)", secret, defaulted)
	}
	settings, _ = stack.Resolve(func(k string) string {
		return map[string]string{config.EventsWebhookURL.Name: "http://127.0.0.1:9000/hooks", "PORT": "18080"}[k]
	})
	w = walkthrough(s, settings, "")
	if !strings.Contains(w, "Every event is POSTed to http://127.0.0.1:9000/hooks, signed with EVENTS_WEBHOOK_SECRET="+secret) ||
		!strings.Contains(w, "make PORT=18080 redrive QUEUE=messages (lifecycle, outbound,\nevent-webhooks, media)") {
		t.Errorf("with EVENTS_WEBHOOK_URL:\n%s", w)
	}
}

// make autoreply takes the events where the walkthrough sends them, with
// make dev's secret and token, and replies through make dev's API.
func TestMakeAutoreplyMeetsMakeDev(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	_, recipe, ok := strings.Cut(string(mk), "\nautoreply:\n")
	recipe, _, _ = strings.Cut(recipe, "\n\n")
	if !ok {
		t.Fatal("the Makefile has no autoreply target")
	}
	settings, _ := stack.Resolve(func(string) string { return "" })
	for _, want := range []string{
		"EVENTS_WEBHOOK_SECRET=\"$${EVENTS_WEBHOOK_SECRET:-" + settings[config.EventsWebhookSecret.Name] + "}\"",
		"BRIDGE_API_TOKEN=\"$${BRIDGE_API_TOKEN:-" + settings[config.BridgeAPIToken.Name] + "}\"",
		"-listen \"127.0.0.1:$${AUTOREPLY_PORT:-" + autoreplyPort + "}\"",
		"-api \"http://127.0.0.1:$${PORT:-" + config.Port.Default + "}\"",
	} {
		if !strings.Contains(recipe, want) {
			t.Errorf("make autoreply lacks %s:\n%s", want, recipe)
		}
	}
}
