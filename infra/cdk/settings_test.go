package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func TestSettingsDefaults(t *testing.T) {
	s, err := LoadSettings(mapLookup(map[string]string{"appSuccessUrl": testSuccessURL, "appFailureUrl": testFailureURL}), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		StackName: "KapsoBridge", AssetDir: "build/lambda", KapsoAPIBaseURL: "https://api.kapso.ai/platform/v1",
		AppSuccessURL: testSuccessURL, AppFailureURL: testFailureURL, LogLevel: "INFO", LogRetentionDays: 30,
		ReconcileSchedule: "rate(15 minutes)", APIThrottleRate: 50, APIThrottleBurst: 100, WebhookThrottleRate: 100, WebhookThrottleBurst: 200, ReserveConcurrency: true,
		ReconcileKapsoCalls: 2400, ReconcileKapsoPerMinute: 300,
		KapsoMetaBaseURL: "https://api.kapso.ai/meta/whatsapp", SendRatePerNumber: 20, OutboundUnconfirmedAfter: time.Hour, MediaURLTTL: 15 * time.Minute, TemplateSyncInterval: time.Hour,
		EventsRetentionDays: 30,
	}
	if s != want {
		t.Errorf("settings = %+v\nwant %+v", s, want)
	}
}

func TestSettingsContextWinsOverEnvironment(t *testing.T) {
	env := map[string]string{
		"APP_SUCCESS_URL": "https://env.example.com/ok", "APP_FAILURE_URL": "https://env.example.com/fail",
		"STACK_NAME": "FromEnv", "LOG_LEVEL": "debug", "PUBLIC_BASE_URL": "https://hooks.example.com/",
	}
	s, err := LoadSettings(mapLookup(map[string]string{"stackName": "FromContext", "logRetentionDays": "90"}),
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.StackName != "FromContext" || s.AppSuccessURL != env["APP_SUCCESS_URL"] || s.LogLevel != "DEBUG" ||
		s.LogRetentionDays != 90 || s.PublicBaseURL != "https://hooks.example.com" {
		t.Errorf("settings = %+v", s)
	}
}

func TestSettingsReportEveryProblem(t *testing.T) {
	_, err := LoadSettings(mapLookup(map[string]string{
		"kapsoApiBaseUrl": "http://api.kapso.ai", "logLevel": "LOUD", "logRetentionDays": "31",
		"reconcileSchedule": "every 15 minutes", "apiThrottleRate": "-1", "apiThrottleBurst": "many", "webhookThrottleRate": "0", "webhookThrottleBurst": "1.5", "apiIamAuth": "sometimes",
		"reserveConcurrency": "maybe", "reconcileKapsoCalls": "0", "reconcileKapsoPerMinute": "fast",
		"kapsoMetaBaseUrl": "http://api.kapso.ai/meta/whatsapp", "sendRatePerNumber": "-3",
		"outboundUnconfirmedAfter": "an hour", "mediaUrlTtl": "46m", "eventsWebhookUrl": "http://saas.example.com/events",
		"eventsRetentionDays": "0", "templateSyncInterval": "30s",
	}), noEnv)
	if err == nil {
		t.Fatal("invalid settings accepted")
	}
	for _, want := range []string{
		"appSuccessUrl is required: pass -c appSuccessUrl=... or set APP_SUCCESS_URL",
		"appFailureUrl is required", "kapsoApiBaseUrl must be an absolute https URL", "logLevel", "logRetentionDays",
		"reconcileSchedule", "apiThrottleRate", "apiThrottleBurst", "webhookThrottleRate must be a positive number",
		"webhookThrottleBurst must be a positive integer", "apiIamAuth must be true or false", "reserveConcurrency",
		"reconcileKapsoCalls must be a positive integer", "reconcileKapsoPerMinute must be a positive integer",
		"kapsoMetaBaseUrl must be an absolute https URL", "sendRatePerNumber must be a positive integer",
		"outboundUnconfirmedAfter must be a positive Go duration",
		"templateSyncInterval must be a Go duration of a minute or more",
		"mediaUrlTtl must be a Go duration from 1s to 45m",
		"eventsWebhookUrl must be an absolute https URL", "eventsRetentionDays must be a positive integer",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A deploy may send no webhooks: eventsWebhookUrl may be left out.
func TestEventsWebhookURLMayBeLeftOut(t *testing.T) {
	s, err := LoadSettings(mapLookup(map[string]string{"appSuccessUrl": testSuccessURL, "appFailureUrl": testFailureURL}), noEnv)
	if err != nil || s.EventsWebhookURL != "" {
		t.Fatalf("without eventsWebhookUrl: %+v %v", s, err)
	}
}

func TestContextLookupReadsCdkJSONTypes(t *testing.T) {
	ctx := map[string]any{"logRetentionDays": 90.0, "reserveConcurrency": false, "stackName": "S"}
	lookup := contextLookup(func(k string) any { return ctx[k] })
	for key, want := range map[string]string{"logRetentionDays": "90", "reserveConcurrency": "false", "stackName": "S"} {
		if got, ok := lookup(key); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", key, got, ok, want)
		}
	}
	if _, ok := lookup("missing"); ok {
		t.Error("missing key reported present")
	}
}

func TestCheckAssets(t *testing.T) {
	dir := t.TempDir()
	err := checkAssets(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ingest", "bootstrap")) || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("missing binaries: err = %v", err)
	}
	for _, f := range functions {
		_ = os.MkdirAll(filepath.Join(dir, string(f.Name)), 0o755)
		_ = os.WriteFile(filepath.Join(dir, string(f.Name), "bootstrap"), nil, 0o755)
	}
	if err := checkAssets(dir); err != nil {
		t.Errorf("all binaries present: %v", err)
	}
}

func TestEnvironmentIsAgnosticWithoutAccount(t *testing.T) {
	if env := environment(noEnv); env != nil {
		t.Errorf("environment without CDK_DEFAULT_* = %+v", env)
	}
	vars := map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}
	env := environment(func(k string) string { return vars[k] })
	if env == nil || *env.Account != "123456789012" || *env.Region != "eu-west-1" {
		t.Errorf("environment = %+v", env)
	}
}

// A custom domain replaces the API endpoint in every URL the bridge hands out.
func TestPublicBaseURLOverridesTheEndpoint(t *testing.T) {
	b := &bridge{
		stack:    awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Domain"), nil),
		settings: Settings{PublicBaseURL: "https://hooks.example.com", LogRetentionDays: 30, APIThrottleRate: 1, APIThrottleBurst: 1},
		values:   map[string]*string{},
	}
	b.addAPI()
	b.addSettings()
	if got := *b.values["PUBLIC_BASE_URL"]; got != "https://hooks.example.com" || *b.baseURL != got {
		t.Errorf("PUBLIC_BASE_URL = %q", got)
	}
}

// Every setting is read from its context key and, failing that, from its
// environment variable, as docs/deploy.md documents them.
func TestSettingsKeysAndVariables(t *testing.T) {
	cases := []struct {
		key, env, value string
		field           func(Settings) any
		want            any
	}{
		{"stackName", "STACK_NAME", "S", func(s Settings) any { return s.StackName }, "S"},
		{"assetDir", "ASSET_DIR", "out", func(s Settings) any { return s.AssetDir }, "out"},
		{"kapsoApiBaseUrl", "KAPSO_API_BASE_URL", "https://k.example/", func(s Settings) any { return s.KapsoAPIBaseURL }, "https://k.example"},
		{"appSuccessUrl", "APP_SUCCESS_URL", "http://a.example/ok", func(s Settings) any { return s.AppSuccessURL }, "http://a.example/ok"},
		{"appFailureUrl", "APP_FAILURE_URL", "http://a.example/no", func(s Settings) any { return s.AppFailureURL }, "http://a.example/no"},
		{"publicBaseUrl", "PUBLIC_BASE_URL", "https://p.example", func(s Settings) any { return s.PublicBaseURL }, "https://p.example"},
		{"logLevel", "LOG_LEVEL", "warn", func(s Settings) any { return s.LogLevel }, "WARN"},
		{"logRetentionDays", "LOG_RETENTION_DAYS", "7", func(s Settings) any { return s.LogRetentionDays }, 7},
		{"reconcileSchedule", "RECONCILE_SCHEDULE", "rate(1 hour)", func(s Settings) any { return s.ReconcileSchedule }, "rate(1 hour)"},
		{"apiThrottleRate", "API_THROTTLE_RATE", "5", func(s Settings) any { return s.APIThrottleRate }, 5.0},
		{"apiThrottleBurst", "API_THROTTLE_BURST", "6", func(s Settings) any { return s.APIThrottleBurst }, 6},
		{"webhookThrottleRate", "WEBHOOK_THROTTLE_RATE", "7", func(s Settings) any { return s.WebhookThrottleRate }, 7.0},
		{"webhookThrottleBurst", "WEBHOOK_THROTTLE_BURST", "8", func(s Settings) any { return s.WebhookThrottleBurst }, 8},
		{"apiIamAuth", "API_IAM_AUTH", "true", func(s Settings) any { return s.APIIAMAuth }, true},
		{"reserveConcurrency", "RESERVE_CONCURRENCY", "false", func(s Settings) any { return s.ReserveConcurrency }, false},
		{"reconcileKapsoCalls", "RECONCILE_KAPSO_CALLS", "900", func(s Settings) any { return s.ReconcileKapsoCalls }, 900},
		{"reconcileKapsoPerMinute", "RECONCILE_KAPSO_PER_MINUTE", "60", func(s Settings) any { return s.ReconcileKapsoPerMinute }, 60},
		{"kapsoMetaBaseUrl", "KAPSO_META_BASE_URL", "https://m.example/meta/", func(s Settings) any { return s.KapsoMetaBaseURL }, "https://m.example/meta"},
		{"sendRatePerNumber", "SEND_RATE_PER_NUMBER", "5", func(s Settings) any { return s.SendRatePerNumber }, 5},
		{"outboundUnconfirmedAfter", "OUTBOUND_UNCONFIRMED_AFTER", "90m", func(s Settings) any { return s.OutboundUnconfirmedAfter }, 90 * time.Minute},
		{"templateSyncInterval", "TEMPLATE_SYNC_INTERVAL", "6h", func(s Settings) any { return s.TemplateSyncInterval }, 6 * time.Hour},
		{"mediaUrlTtl", "MEDIA_URL_TTL", "5m", func(s Settings) any { return s.MediaURLTTL }, 5 * time.Minute},
		{"mediaUrlTtl", "MEDIA_URL_TTL", "45m", func(s Settings) any { return s.MediaURLTTL }, 45 * time.Minute},
		{"eventsWebhookUrl", "EVENTS_WEBHOOK_URL", "https://e.example/hook", func(s Settings) any { return s.EventsWebhookURL }, "https://e.example/hook"},
		{"eventsRetentionDays", "EVENTS_RETENTION_DAYS", "7", func(s Settings) any { return s.EventsRetentionDays }, 7},
	}
	required := map[string]string{"APP_SUCCESS_URL": testSuccessURL, "APP_FAILURE_URL": testFailureURL}
	for _, c := range cases {
		env := map[string]string{c.env: c.value}
		for k, v := range required {
			if k != c.env {
				env[k] = v
			}
		}
		fromEnv, err := LoadSettings(mapLookup(nil), func(k string) string { return env[k] })
		if err != nil || c.field(fromEnv) != c.want {
			t.Errorf("%s=%s: got %v (%v), want %v", c.env, c.value, c.field(fromEnv), err, c.want)
		}
		fromContext, err := LoadSettings(mapLookup(map[string]string{c.key: c.value}), func(k string) string { return required[k] })
		if err != nil || c.field(fromContext) != c.want {
			t.Errorf("-c %s=%s: got %v (%v), want %v", c.key, c.value, c.field(fromContext), err, c.want)
		}
	}
}

// Every deploy setting a function reads reaches it: LoadSettings reads it
// and addSettings gives it a value, so the stack never leaves a function on
// the code's default while the operator set another.
func TestEveryFunctionDeploySettingHasAValue(t *testing.T) {
	b := &bridge{
		stack:    awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Values"), nil),
		settings: Settings{LogRetentionDays: 30, APIThrottleRate: 1, APIThrottleBurst: 1},
		values:   map[string]*string{},
	}
	b.addAPI()
	b.addSettings()
	for _, st := range config.Settings {
		if st.Context != "" && len(st.Functions) > 0 && b.values[st.Name] == nil {
			t.Errorf("%s (-c %s) is read by %v but the stack gives it no value", st.Name, st.Context, st.Functions)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 90 * time.Minute: "1h30m", 45 * time.Minute: "45m", 90 * time.Second: "1m30s",
		2*time.Hour + 5*time.Second: "2h0m5s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		} else if back, err := time.ParseDuration(got); err != nil || back != d {
			t.Errorf("%q parses to %v (%v), want %v", got, back, err, d)
		}
	}
}
