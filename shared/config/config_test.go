package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Env { return func(k string) string { return m[k] } }

type fakeSM struct {
	values map[string]string
	calls  int
}

func (f *fakeSM) SecretValue(_ context.Context, arn string) (string, error) {
	f.calls++
	v, ok := f.values[arn]
	if !ok {
		return "", errors.New("ResourceNotFoundException")
	}
	return v, nil
}

func TestSecretSources(t *testing.T) {
	ctx := context.Background()
	sm := &fakeSM{values: map[string]string{"arn:a": "from-sm", "arn:empty": ""}}
	direct := Setting{Name: "DIRECT", Secret: true}
	via := Setting{Name: "VIA", Secret: true}
	none := Setting{Name: "NONE", Secret: true}
	empty := Setting{Name: "EMPTY", Secret: true}
	e := env(map[string]string{"DIRECT": "plain", "VIA_SECRET_ARN": "arn:a", "EMPTY_SECRET_ARN": "arn:empty"})
	if v, err := e.Secret(ctx, sm, direct); v != "plain" || err != nil || sm.calls != 0 {
		t.Fatalf("direct: %q %v calls=%d", v, err, sm.calls)
	}
	if v, err := e.Secret(ctx, sm, via); v != "from-sm" || err != nil {
		t.Fatalf("via arn: %q %v", v, err)
	}
	if _, err := e.Secret(ctx, sm, none); !errors.Is(err, ErrSecretUnset) {
		t.Fatalf("unset: %v", err)
	}
	if _, err := e.Secret(ctx, sm, empty); err == nil || !strings.Contains(err.Error(), "put-secret-value") {
		t.Fatalf("empty secret must say how to fill it: %v", err)
	}
	if _, err := e.Secret(ctx, nil, via); err == nil || !strings.Contains(err.Error(), "no Secrets Manager client") {
		t.Fatalf("no client: %v", err)
	}
}

func TestARNVar(t *testing.T) {
	for s, want := range map[*Setting]string{
		&KapsoAPIKey:          "KAPSO_API_KEY_SECRET_ARN",
		&BridgeAPIToken:       "BRIDGE_API_TOKEN_SECRET_ARN",
		&ProjectWebhookSecret: "KAPSO_PROJECT_WEBHOOK_SECRET_ARN",
		&MetaAppSecret:        "META_APP_SECRET_ARN",
	} {
		if got := s.ARNVar(); got != want {
			t.Errorf("ARNVar of %s = %s, want %s", s.Name, got, want)
		}
	}
	sm := &fakeSM{values: map[string]string{"arn:w": "hook"}}
	if v, err := env(map[string]string{"KAPSO_PROJECT_WEBHOOK_SECRET_ARN": "arn:w"}).Secret(context.Background(), sm, ProjectWebhookSecret); v != "hook" || err != nil {
		t.Fatalf("secret through its ARN variable: %q %v", v, err)
	}
}

func TestReaderNamesEveryMissingSetting(t *testing.T) {
	r := NewReader(TenantAPI, env(map[string]string{"BRIDGE_TABLE": " t "}), nil)
	if got := r.String(BridgeTable); got != "t" {
		t.Errorf("BRIDGE_TABLE = %q", got)
	}
	if got := r.String(KapsoAPIBaseURL); got != "https://api.kapso.ai/platform/v1" {
		t.Errorf("default = %q", got)
	}
	r.String(PublicBaseURL)
	r.Secret(context.Background(), KapsoAPIKey)
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "missing settings: PUBLIC_BASE_URL, KAPSO_API_KEY") {
		t.Fatalf("err = %v", err)
	}
}

func TestReaderRefusesASettingNotListedForItsFunction(t *testing.T) {
	r := NewReader(Redirect, env(map[string]string{"KAPSO_API_BASE_URL": "https://k.example"}), nil)
	if got := r.String(KapsoAPIBaseURL); got != "" {
		t.Errorf("read %q", got)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "KAPSO_API_BASE_URL is not a setting of the redirect function") {
		t.Fatalf("err = %v", err)
	}
}

func TestReaderOptionalSecret(t *testing.T) {
	sm := &fakeSM{values: map[string]string{"arn:empty": ""}}
	for name, vars := range map[string]map[string]string{
		"unset": {},
		"empty": {"META_APP_SECRET_ARN": "arn:empty"},
	} {
		r := NewReader(Ingest, env(vars), sm)
		if v := r.Secret(context.Background(), MetaAppSecret); v != "" || r.Err() != nil {
			t.Errorf("%s: %q %v", name, v, r.Err())
		}
	}
	r := NewReader(Ingest, env(map[string]string{"META_APP_SECRET_ARN": "arn:gone"}), sm)
	if r.Secret(context.Background(), MetaAppSecret); r.Err() == nil {
		t.Error("a secret that cannot be read is an error even when optional")
	}
}

func TestReaderDuration(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 7 * time.Second, "8s": 8 * time.Second} {
		r := NewReader(Ingest, env(map[string]string{"INGEST_DEADLINE": v}), nil)
		if d := r.Duration(IngestDeadline); d != want || r.Err() != nil {
			t.Errorf("%q: %v %v", v, d, r.Err())
		}
	}
	r := NewReader(Ingest, env(map[string]string{"INGEST_DEADLINE": "soon"}), nil)
	if r.Duration(IngestDeadline); r.Err() == nil {
		t.Fatal("bad duration accepted")
	}
}
