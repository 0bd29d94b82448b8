package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func env(m map[string]string) Env { return func(k string) string { return m[k] } }

type fakeSM struct {
	values map[string]string
	calls  int
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func TestSecretSources(t *testing.T) {
	ctx := context.Background()
	sm := &fakeSM{values: map[string]string{"arn:a": "from-sm", "arn:empty": ""}}
	e := env(map[string]string{"DIRECT": "plain", "VIA_SECRET_ARN": "arn:a", "EMPTY_SECRET_ARN": "arn:empty"})
	if v, err := e.Secret(ctx, sm, "DIRECT"); v != "plain" || err != nil || sm.calls != 0 {
		t.Fatalf("direct: %q %v calls=%d", v, err, sm.calls)
	}
	if v, err := e.Secret(ctx, sm, "VIA"); v != "from-sm" || err != nil {
		t.Fatalf("via arn: %q %v", v, err)
	}
	if _, err := e.Secret(ctx, sm, "NONE"); !errors.Is(err, ErrSecretUnset) {
		t.Fatalf("unset: %v", err)
	}
	if _, err := e.Secret(ctx, sm, "EMPTY"); err == nil || !strings.Contains(err.Error(), "put-secret-value") {
		t.Fatalf("empty secret must say how to fill it: %v", err)
	}
	if v, err := e.OptionalSecret(ctx, sm, "EMPTY"); v != "" || err != nil {
		t.Fatalf("optional empty: %q %v", v, err)
	}
}

func TestARNVar(t *testing.T) {
	for name, want := range map[string]string{
		"KAPSO_API_KEY":                "KAPSO_API_KEY_SECRET_ARN",
		"BRIDGE_API_TOKEN":             "BRIDGE_API_TOKEN_SECRET_ARN",
		"KAPSO_PROJECT_WEBHOOK_SECRET": "KAPSO_PROJECT_WEBHOOK_SECRET_ARN",
		"META_APP_SECRET":              "META_APP_SECRET_ARN",
	} {
		if got := ARNVar(name); got != want {
			t.Errorf("ARNVar(%s) = %s, want %s", name, got, want)
		}
	}
	sm := &fakeSM{values: map[string]string{"arn:w": "hook"}}
	if v, err := env(map[string]string{"KAPSO_PROJECT_WEBHOOK_SECRET_ARN": "arn:w"}).Secret(context.Background(), sm, "KAPSO_PROJECT_WEBHOOK_SECRET"); v != "hook" || err != nil {
		t.Fatalf("secret through its ARN variable: %q %v", v, err)
	}
}

func TestRequireNamesEveryMissingSetting(t *testing.T) {
	_, err := env(map[string]string{"A": "1"}).Require("A", "B", "C")
	if err == nil || !strings.Contains(err.Error(), "B, C") {
		t.Fatalf("err = %v", err)
	}
	got, err := env(map[string]string{"A": " 1 "}).Require("A")
	if err != nil || got["A"] != "1" {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestDuration(t *testing.T) {
	e := env(map[string]string{"D": "8s", "BAD": "soon"})
	if d, err := e.Duration("D", time.Second); d != 8*time.Second || err != nil {
		t.Fatalf("%v %v", d, err)
	}
	if d, _ := e.Duration("UNSET", time.Second); d != time.Second {
		t.Fatalf("default %v", d)
	}
	if _, err := e.Duration("BAD", time.Second); err == nil {
		t.Fatal("bad duration accepted")
	}
}
