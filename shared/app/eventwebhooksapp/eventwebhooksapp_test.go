package eventwebhooksapp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/eventwebhooksapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func start(env map[string]string) error {
	e := config.Env(func(k string) string { return env[k] })
	b := app.Base{Env: e, Log: e.Logger("eventwebhooks"), AWS: aws.Config{Region: "us-east-1"}}
	_, err := eventwebhooksapp.Worker(context.Background(), b, eventwebhooksapp.NewClients(b.AWS))
	return err
}

// The function stops at its start, saying why, on a webhook URL that is
// not https (http only to a loopback address) or a secret that is no
// signing secret; the error never shows the secret.
func TestWorkerChecksItsURLAndSecretAtStart(t *testing.T) {
	env := func(url, secret string) map[string]string {
		return map[string]string{config.BridgeTable.Name: "bridge", config.EventWebhooksQueueURL.Name: "https://sqs/q",
			config.EventsWebhookURL.Name: url, config.EventsWebhookSecret.Name: secret}
	}
	for _, ok := range []map[string]string{env("https://saas.example.com/events", secret), env("http://127.0.0.1:8070/events", secret)} {
		if err := start(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{env("http://saas.example.com/events", secret), []string{"EVENTS_WEBHOOK_URL", "use https"}},
		{env("saas.example.com/events", secret), []string{"EVENTS_WEBHOOK_URL", "not an absolute URL"}},
		{env("https://saas.example.com/events", "hunter2-hunter2-hunter2-hunter2"), []string{"EVENTS_WEBHOOK_SECRET", "not a signing secret"}},
		{env("https://saas.example.com/events", "whsec_c2hvcnQ="), []string{"EVENTS_WEBHOOK_SECRET", "shorter than 24 bytes"}},
		{env("", ""), []string{"missing settings: EVENTS_WEBHOOK_URL, EVENTS_WEBHOOK_SECRET"}},
	} {
		err := start(tc.env)
		if err == nil {
			t.Errorf("%v starts", tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", tc.env, err, w)
			}
		}
		if s := tc.env[config.EventsWebhookSecret.Name]; s != "" && strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) {
			t.Errorf("the error shows the secret: %q", err)
		}
	}
}
