package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The registry spelled out again: a setting's name, default and readers are
// a contract with operators and deployed stacks, so an edit to one of them
// must also be made here.
func TestSettings(t *testing.T) {
	all := "ingest tenantapi redirect lifecycle reconcile messages outbound publisher eventwebhooks media"
	type want struct {
		def, kind, functions, context string
	}
	wants := map[string]want{
		"BRIDGE_TABLE":                 {"", "resource", all, ""},
		"IDEMPOTENCY_TABLE":            {"", "resource", "ingest lifecycle messages", ""},
		"EVENTS_TABLE":                 {"", "resource", "tenantapi publisher reconcile", ""},
		"EVENTS_TOPIC_ARN":             {"", "resource", "publisher", ""},
		"EVENTS_RETENTION_DAYS":        {"30", "", "publisher", "eventsRetentionDays"},
		"MESSAGE_RETENTION_DAYS":       {"", "optional", "ingest tenantapi messages outbound reconcile publisher", "messageRetentionDays"},
		"LIFECYCLE_QUEUE_URL":          {"", "resource", "ingest redirect", ""},
		"MESSAGES_QUEUE_URL":           {"", "resource", "ingest lifecycle reconcile", ""},
		"LIFECYCLE_DLQ_URL":            {"", "resource", "reconcile", ""},
		"MESSAGES_DLQ_URL":             {"", "resource", "reconcile", ""},
		"OUTBOUND_QUEUE_URL":           {"", "resource", "tenantapi outbound reconcile", ""},
		"OUTBOUND_DLQ_URL":             {"", "resource", "reconcile", ""},
		"EVENT_WEBHOOKS_QUEUE_URL":     {"", "resource", "eventwebhooks", ""},
		"EVENT_WEBHOOKS_DLQ_URL":       {"", "resource", "reconcile", ""},
		"EVENTS_WEBHOOK_URL":           {"", "", "eventwebhooks", "eventsWebhookUrl"},
		"EVENTS_WEBHOOK_SECRET":        {"", "secret", "eventwebhooks", ""},
		"MEDIA_BUCKET":                 {"", "resource", "media tenantapi reconcile", ""},
		"MEDIA_READ_ROLE_ARN":          {"", "optional resource", "tenantapi", ""},
		"MEDIA_QUEUE_URL":              {"", "resource", "media reconcile", ""},
		"MEDIA_DLQ_URL":                {"", "resource", "reconcile", ""},
		"KAPSO_META_BASE_URL":          {"https://api.kapso.ai/meta/whatsapp", "", "outbound media tenantapi reconcile", "kapsoMetaBaseUrl"},
		"MEDIA_URL_TTL":                {"15m", "", "tenantapi", "mediaUrlTtl"},
		"TEMPLATE_SYNC_INTERVAL":       {"1h", "", "reconcile", "templateSyncInterval"},
		"SEND_RATE_PER_NUMBER":         {"20", "", "outbound", "sendRatePerNumber"},
		"OUTBOUND_UNCONFIRMED_AFTER":   {"1h", "", "reconcile", "outboundUnconfirmedAfter"},
		"RECONCILE_KAPSO_CALLS":        {"2400", "", "reconcile", "reconcileKapsoCalls"},
		"RECONCILE_KAPSO_PER_MINUTE":   {"300", "", "reconcile", "reconcileKapsoPerMinute"},
		"KAPSO_API_KEY":                {"", "secret", "tenantapi lifecycle reconcile outbound media", ""},
		"KAPSO_PROJECT_WEBHOOK_SECRET": {"", "secret", "ingest", ""},
		"META_APP_SECRET":              {"", "optional secret", "ingest", ""},
		"BRIDGE_API_TOKEN":             {"", "secret", "tenantapi", ""},
		"ERASURE_HASH_KEY":             {"", "secret", "tenantapi messages outbound", ""},
		"KAPSO_API_BASE_URL":           {"https://api.kapso.ai/platform/v1", "", "tenantapi lifecycle reconcile", "kapsoApiBaseUrl"},
		"PUBLIC_BASE_URL":              {"", "", "tenantapi lifecycle reconcile", "publicBaseUrl"},
		"APP_SUCCESS_URL":              {"", "", "redirect", "appSuccessUrl"},
		"APP_FAILURE_URL":              {"", "", "redirect", "appFailureUrl"},
		"INGEST_DEADLINE":              {"7s", "", "ingest", ""},
		"LOG_LEVEL":                    {"info", "", all, "logLevel"},
		"STACK_NAME":                   {"KapsoBridge", "", "", "stackName"},
		"ASSET_DIR":                    {"build/lambda", "", "", "assetDir"},
		"LOG_RETENTION_DAYS":           {"30", "", "", "logRetentionDays"},
		"RECONCILE_SCHEDULE":           {"rate(15 minutes)", "", "", "reconcileSchedule"},
		"API_THROTTLE_RATE":            {"50", "", "", "apiThrottleRate"},
		"API_THROTTLE_BURST":           {"100", "", "", "apiThrottleBurst"},
		"WEBHOOK_THROTTLE_RATE":        {"100", "", "", "webhookThrottleRate"},
		"WEBHOOK_THROTTLE_BURST":       {"200", "", "", "webhookThrottleBurst"},
		"API_IAM_AUTH":                 {"false", "", "", "apiIamAuth"},
		"RESERVE_CONCURRENCY":          {"true", "", "", "reserveConcurrency"},
		"MEDIA_RETENTION_DAYS":         {"", "", "", "mediaRetentionDays"},
		"PORT":                         {"8080", "local", "", ""},
		"SIM_PORT":                     {"8090", "local", "", ""},
		"RECONCILE_EVERY":              {"1m", "local", "", ""},
	}
	got := map[string]want{}
	for _, s := range Settings {
		if _, dup := got[s.Name]; dup {
			t.Errorf("%s is listed twice", s.Name)
		}
		var kind []string
		for _, k := range []struct {
			on   bool
			name string
		}{{s.Optional, "optional"}, {s.Secret, "secret"}, {s.Resource, "resource"}, {s.Local, "local"}} {
			if k.on {
				kind = append(kind, k.name)
			}
		}
		var fns []string
		for _, f := range s.Functions {
			fns = append(fns, string(f))
		}
		got[s.Name] = want{s.Default, strings.Join(kind, " "), strings.Join(fns, " "), s.Context}
		if s.Help == "" {
			t.Errorf("%s has no help", s.Name)
		}
	}
	if !reflect.DeepEqual(got, wants) {
		for name, w := range wants {
			if got[name] != w {
				t.Errorf("%s = %+v, want %+v", name, got[name], w)
			}
		}
		for name := range got {
			if _, ok := wants[name]; !ok {
				t.Errorf("%s is not expected", name)
			}
		}
	}
}

func TestSettingsAreConsistent(t *testing.T) {
	contexts := map[string]bool{}
	for _, s := range Settings {
		if s.Context != "" {
			if contexts[s.Context] {
				t.Errorf("context key %s is used twice", s.Context)
			}
			contexts[s.Context] = true
		}
		if (s.Secret || s.Resource) && (s.Default != "" || s.Context != "") {
			t.Errorf("%s: a secret or a resource has no default and no context key: the stacks provide it", s.Name)
		}
		// A resource the local stack has no service for (an IAM role) is
		// optional; the CDK stack gives every resource. A plain setting is
		// optional only when a deploy sets it (its context key) and leaving
		// it out turns something off (MESSAGE_RETENTION_DAYS: nothing expires).
		if s.Optional && !s.Secret && !s.Resource && s.Context == "" {
			t.Errorf("%s: only a secret, a resource or a deploy setting may be optional", s.Name)
		}
		if s.Local && (len(s.Functions) > 0 || s.Context != "") {
			t.Errorf("%s: a local setting is read by the local stack alone", s.Name)
		}
	}
	for _, fn := range Functions {
		if !LogLevel.ReadBy(fn) || !BridgeTable.ReadBy(fn) {
			t.Errorf("%s does not read LOG_LEVEL and BRIDGE_TABLE", fn)
		}
	}
	if d, err := time.ParseDuration(IngestDeadline.Default); err != nil || d != 7*time.Second {
		t.Errorf("INGEST_DEADLINE default %q", IngestDeadline.Default)
	}
	if got := ReadBy(Redirect); len(got) != 5 || got[0].Name != "BRIDGE_TABLE" {
		t.Errorf("ReadBy(redirect) = %v", got)
	}
}

// docs/deploy.md has one row per deploy setting, with its context key,
// variable and default; docs/configuration.md names every setting a
// function or make dev reads.
func TestSettingsAreDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	deploy, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	configuration, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(deploy), "\n") {
		if key, _, ok := strings.Cut(strings.TrimPrefix(line, "| `"), "`"); ok && strings.HasPrefix(line, "| `") {
			rows[key] = line
		}
	}
	for _, s := range Settings {
		if s.Context != "" {
			row := rows[s.Context]
			def := "required"
			if s.Default != "" {
				def = "`" + s.Default + "`"
			}
			ok := strings.Contains(row, "`"+s.Name+"`")
			// PUBLIC_BASE_URL defaults to the API's endpoint, which is no value.
			if s.Name != PublicBaseURL.Name {
				ok = ok && strings.Contains(strings.ToLower(row), strings.ToLower(def))
			}
			if !ok {
				t.Errorf("docs/deploy.md has no row for %s (%s, default %s): %q", s.Context, s.Name, def, row)
			}
		}
		if (len(s.Functions) > 0 || s.Local) && !strings.Contains(string(configuration), "`"+s.Name+"`") {
			t.Errorf("docs/configuration.md does not name %s", s.Name)
		}
	}
}
