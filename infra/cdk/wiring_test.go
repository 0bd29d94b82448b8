package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/ingestapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/lifecycleapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/reconcileapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/redirectapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/setuplinksapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// secretsFromARNs answers any secret with a value derived from its ARN.
type secretsFromARNs struct{}

func (secretsFromARNs) SecretValue(_ context.Context, arn string) (string, error) {
	return "value-of-" + arn, nil
}

// Every function's real wiring starts with exactly the environment the
// synthesized template gives it: a setting the code needs but the stack
// forgets fails here, not at a cold start in production.
func TestEachFunctionStartsWithTheEnvironmentTheStackGivesIt(t *testing.T) {
	builders := map[string]func(context.Context, app.Base) error{
		"IngestFunction": func(ctx context.Context, b app.Base) error {
			_, err := ingestapp.Handler(ctx, b, ingestapp.Clients{Secrets: secretsFromARNs{}})
			return err
		},
		"SetuplinksFunction": func(ctx context.Context, b app.Base) error {
			_, err := setuplinksapp.Handler(ctx, b, setuplinksapp.Clients{Secrets: secretsFromARNs{}})
			return err
		},
		"RedirectFunction": func(ctx context.Context, b app.Base) error {
			_, err := redirectapp.Handler(ctx, b, redirectapp.Clients{})
			return err
		},
		"LifecycleFunction": func(ctx context.Context, b app.Base) error {
			_, err := lifecycleapp.Worker(ctx, b, lifecycleapp.Clients{Secrets: secretsFromARNs{}})
			return err
		},
		"ReconcileFunction": func(ctx context.Context, b app.Base) error {
			_, err := reconcileapp.Reconciler(ctx, b, reconcileapp.Clients{Secrets: secretsFromARNs{}})
			return err
		},
	}
	if got := len(ofType("AWS::Lambda::Function")); got != len(builders) {
		t.Fatalf("%d builders for %d functions in the template", len(builders), got)
	}
	for name, build := range builders {
		_, r := one(t, "AWS::Lambda::Function", name)
		vars := map[string]string{}
		for k, v := range prop(r.Properties, "Environment", "Variables").(map[string]any) {
			if s, ok := v.(string); ok {
				vars[k] = s
				continue
			}
			// A reference to a resource: a plausible value of its kind.
			vars[k] = "https://example.com/" + strings.ToLower(k)
			if strings.HasSuffix(k, "_ARN") {
				vars[k] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + k
			}
		}
		b := app.Base{Env: config.Env(func(k string) string { return vars[k] }),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AWS: aws.Config{Region: "us-east-1"}}
		if err := build(context.Background(), b); err != nil {
			t.Errorf("%s does not start with the template's environment %v: %v", name, vars, err)
		}
	}
}
