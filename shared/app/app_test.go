package app_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/eventwebhooksapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/ingestapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/lifecycleapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/mediaapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/messagesapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/outboundapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/publisherapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/reconcileapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/redirectapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/tenantapiapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// build runs a function's wiring as its main does; building calls no AWS
// service, and secrets come from src.
var build = map[config.Function]func(context.Context, app.Base, config.SecretSource) error{
	config.Ingest: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := ingestapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := ingestapp.Handler(ctx, b, c)
		return err
	},
	config.TenantAPI: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := tenantapiapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := tenantapiapp.Handler(ctx, b, c)
		return err
	},
	config.Redirect: func(ctx context.Context, b app.Base, _ config.SecretSource) error {
		_, err := redirectapp.Handler(ctx, b, redirectapp.NewClients(b.AWS))
		return err
	},
	config.Lifecycle: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := lifecycleapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := lifecycleapp.Worker(ctx, b, c)
		return err
	},
	config.Reconcile: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := reconcileapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := reconcileapp.Reconciler(ctx, b, c)
		return err
	},
	config.Messages: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := messagesapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := messagesapp.Worker(ctx, b, c)
		return err
	},
	config.Outbound: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := outboundapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := outboundapp.Worker(ctx, b, c)
		return err
	},
	config.Publisher: func(ctx context.Context, b app.Base, _ config.SecretSource) error {
		_, err := publisherapp.Worker(ctx, b, publisherapp.NewClients(b.AWS))
		return err
	},
	config.EventWebhooks: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := eventwebhooksapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := eventwebhooksapp.Worker(ctx, b, c)
		return err
	},
	config.Media: func(ctx context.Context, b app.Base, src config.SecretSource) error {
		c := mediaapp.NewClients(b.AWS)
		c.Secrets = src
		_, err := mediaapp.Worker(ctx, b, c)
		return err
	},
}

// secretsByARN answers any secret with a value made from its ARN, in the
// shape every secret takes: a signing secret is whsec_ and base64.
type secretsByARN struct{}

func (secretsByARN) SecretValue(_ context.Context, arn string) (string, error) {
	return bridgeevents.SecretPrefix + base64.StdEncoding.EncodeToString([]byte("value-of-"+arn)), nil
}

// The stacks give each function the settings shared/config lists for it,
// and nothing else: its wiring must read exactly those, so a setting the
// code needs cannot be missing from a stack, nor a stack give one no code
// reads.
func TestEachFunctionReadsExactlyItsSettings(t *testing.T) {
	if len(build) != len(config.Functions) {
		t.Fatalf("%d functions built for %d in shared/config", len(build), len(config.Functions))
	}
	// As deployed: secrets through their ARN variables, defaults left to apply.
	unset := map[string]bool{config.IngestDeadline.Name: true, config.LogLevel.Name: true}
	for _, s := range config.Settings {
		unset[s.Name] = unset[s.Name] || s.Secret
	}
	for _, fn := range config.Functions {
		read := map[string]bool{}
		env := config.Env(func(k string) string {
			read[k] = true
			switch {
			case k == config.MediaReadRoleARN.Name:
				return "arn:aws:iam::123456789012:role/KapsoBridge-MediaReadRole"
			case strings.HasSuffix(k, "_ARN"):
				return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + k
			case unset[k]:
				return ""
			case k == config.ReconcileKapsoCalls.Name || k == config.ReconcileKapsoPerMinute.Name ||
				k == config.SendRatePerNumber.Name || k == config.EventsRetentionDays.Name || k == config.MessageRetentionDays.Name:
				return "7"
			case k == config.OutboundUnconfirmedAfter.Name || k == config.TemplateSyncInterval.Name:
				return "90m"
			case k == config.MediaURLTTL.Name:
				return "30m"
			}
			return "https://example.com/" + strings.ToLower(k)
		})
		// Boot builds the logger, which reads LOG_LEVEL.
		b := app.Base{Env: env, Log: env.Logger(string(fn)), AWS: aws.Config{Region: "us-east-1"}}
		if err := build[fn](context.Background(), b, secretsByARN{}); err != nil {
			t.Errorf("%s does not start with its settings: %v", fn, err)
			continue
		}
		var want []string
		for _, s := range config.ReadBy(fn) {
			want = append(want, s.Name)
			if s.Secret {
				want = append(want, s.ARNVar())
			}
		}
		var got []string
		for k := range read {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s reads %v\nshared/config lists %v", fn, got, want)
		}
	}
}

// A function started without its settings names every one it lacks.
func TestEachFunctionNamesEveryMissingSetting(t *testing.T) {
	for _, fn := range config.Functions {
		empty := config.Env(func(string) string { return "" })
		b := app.Base{Env: empty, Log: empty.Logger(string(fn)), AWS: aws.Config{Region: "us-east-1"}}
		err := build[fn](context.Background(), b, secretsByARN{})
		if err == nil {
			t.Errorf("%s starts without settings", fn)
			continue
		}
		for _, s := range config.ReadBy(fn) {
			if s.Required() && !strings.Contains(err.Error(), s.Name) {
				t.Errorf("%s: %q does not name %s", fn, err, s.Name)
			}
		}
	}
}
