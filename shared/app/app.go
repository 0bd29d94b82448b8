// Package app assembles kapso-bridge's handlers from settings. Each Lambda's
// main and the local stack build them here, so both run the same wiring.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Deps are the clients every function shares.
type Deps struct {
	Env      config.Env
	AWS      aws.Config
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	Secrets  config.SecretGetter
	Log      *slog.Logger
}

// NewDeps builds the AWS clients from cfg. Secrets Manager is only used when
// a *_SECRET_ARN setting is present.
func NewDeps(env config.Env, cfg aws.Config, log *slog.Logger) Deps {
	return Deps{
		Env:      env,
		AWS:      cfg,
		DynamoDB: dynamodb.NewFromConfig(cfg),
		SQS:      sqs.NewFromConfig(cfg),
		Secrets:  secretsmanager.NewFromConfig(cfg),
		Log:      log,
	}
}

// Ingest builds the webhook ingest handler.
func Ingest(ctx context.Context, d Deps) (http.Handler, error) {
	s, err := d.Env.Require(schema.Idempotency.EnvVar, schema.Bridge.EnvVar, schema.Lifecycle.EnvVar, schema.Messages.EnvVar)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	projectSecret, err := d.Env.Secret(ctx, d.Secrets, "KAPSO_PROJECT_WEBHOOK_SECRET")
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	metaSecret, err := d.Env.OptionalSecret(ctx, d.Secrets, "META_APP_SECRET")
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	deadline, err := d.Env.Duration("INGEST_DEADLINE", httpapi.DefaultIngestTimeout)
	if err != nil {
		return nil, err
	}
	idem := s[schema.Idempotency.EnvVar]
	h := &httpapi.Ingest{
		Claims: &dynamo.Claims{DB: d.DynamoDB, Table: idem},
		Queue:  &sqsqueue.Sender{Client: d.SQS, Bodies: &dynamo.Payloads{DB: d.DynamoDB, Table: idem}},
		Secrets: &httpapi.SecretCache{
			Source:      &dynamo.WebhookSecrets{DB: d.DynamoDB, Table: s[schema.Bridge.EnvVar]},
			TTL:         time.Minute,
			NegativeTTL: 5 * time.Second,
		},
		ProjectSecret:     projectSecret,
		MetaAppSecret:     metaSecret,
		LifecycleQueueURL: s[schema.Lifecycle.EnvVar],
		MessagesQueueURL:  s[schema.Messages.EnvVar],
		Deadline:          deadline,
		Log:               d.Log,
	}
	mux := http.NewServeMux()
	h.Register(mux)
	return mux, nil
}
