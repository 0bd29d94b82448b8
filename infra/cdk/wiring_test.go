package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// Every function's real wiring starts with exactly the environment the
// synthesized template gives it: a setting the code needs but the stack
// forgets fails here, not at a cold start in production.
func TestEachFunctionStartsWithTheEnvironmentTheStackGivesIt(t *testing.T) {
	startEachFunction(t, tpl, len(wiring))
}

// So does every function of a stack without a webhook URL, which builds
// all but the eventwebhooks function.
func TestWithoutAWebhookURLEachFunctionBuiltStarts(t *testing.T) {
	startEachFunction(t, stackWithoutWebhooks(t).tpl, len(wiring)-1)
}

// startEachFunction starts every function of c, of which there must be n,
// with the environment c gives it.
func startEachFunction(t *testing.T, c cfnTemplate, n int) {
	t.Helper()
	if got := len(c.ofType("AWS::Lambda::Function")); got != n {
		t.Fatalf("%d functions in the template, want %d", got, n)
	}
	started := 0
	for fn, start := range wiring {
		name := pascal(string(fn)) + "Function"
		var r *cfnResource
		for id, res := range c.ofType("AWS::Lambda::Function") {
			if construct(id) == name {
				r = &res
			}
		}
		if r == nil {
			continue
		}
		started++
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
				for id := range c.ofType("AWS::IAM::Role") {
					if construct(id) == render(v) {
						vars[k] = "arn:aws:iam::123456789012:role/" + render(v)
					}
				}
			}
		}
		b := app.Base{Env: config.Env(func(k string) string { return vars[k] }),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AWS: aws.Config{Region: "us-east-1"}}
		if _, _, err := start(context.Background(), b, &recordedSecrets{}); err != nil {
			t.Errorf("%s does not start with the template's environment %v: %v", name, vars, err)
		}
	}
	if started != n {
		t.Errorf("%d of the template's %d functions have a wiring to start", started, n)
	}
}
