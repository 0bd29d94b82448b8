package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
)

// secretsFromARNs answers any secret with a value derived from its ARN.
type secretsFromARNs struct{}

func (secretsFromARNs) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("value-of-" + aws.ToString(in.SecretId))}, nil
}

// Every function's real wiring starts with exactly the environment the stack
// gives it: a setting the code needs but the stack forgets fails here, not at
// a cold start in production.
func TestEachFunctionStartsWithTheEnvironmentTheStackGivesIt(t *testing.T) {
	builders := map[string]func(context.Context, app.Deps) error{
		"ingest": func(ctx context.Context, d app.Deps) error { _, err := app.Ingest(ctx, d); return err },
		"setuplinks": func(ctx context.Context, d app.Deps) error {
			_, err := app.TenantAPI(ctx, d)
			return err
		},
		"redirect":  func(ctx context.Context, d app.Deps) error { _, err := app.Redirects(ctx, d); return err },
		"lifecycle": func(ctx context.Context, d app.Deps) error { _, err := app.LifecycleWorker(ctx, d); return err },
		"reconcile": func(ctx context.Context, d app.Deps) error { _, err := app.Reconciler(ctx, d); return err },
	}
	if len(builders) != len(functions) {
		t.Fatalf("%d builders for %d functions in the stack", len(builders), len(functions))
	}
	for _, fn := range functions {
		build, ok := builders[fn.Name]
		if !ok {
			t.Fatalf("no wiring known for function %s", fn.Name)
		}
		vars := map[string]string{}
		for _, name := range fn.Env {
			v := "https://example.com/" + strings.ToLower(name)
			if strings.HasSuffix(name, "_SECRET_ARN") {
				v = "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name
			}
			vars[name] = v
		}
		env := func(k string) string { return vars[k] }
		deps := app.NewDeps(env, aws.Config{Region: "us-east-1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		deps.Secrets = secretsFromARNs{}
		if err := build(context.Background(), deps); err != nil {
			t.Errorf("%s does not start with the stack's environment %v: %v", fn.Name, fn.Env, err)
		}
	}
}
