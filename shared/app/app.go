// Package app assembles kapso-bridge's handlers from settings. Each Lambda's
// main and the local stack build them here, so both run the same wiring.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycle"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
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
		SQS:      sqsqueue.NewClient(cfg),
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

// DefaultKapsoAPIBaseURL is Kapso's Platform API.
const DefaultKapsoAPIBaseURL = "https://api.kapso.ai/platform/v1"

func (d Deps) bridgeTable() (string, error) {
	s, err := d.Env.Require(schema.Bridge.EnvVar)
	if err != nil {
		return "", err
	}
	return s[schema.Bridge.EnvVar], nil
}

// OnboardingStore is the bridge table's onboarding store.
func (d Deps) OnboardingStore() (*dynamo.Onboarding, error) {
	table, err := d.bridgeTable()
	if err != nil {
		return nil, err
	}
	return &dynamo.Onboarding{DB: d.DynamoDB, Table: table}, nil
}

// kapsoClient builds the Platform API client from KAPSO_API_BASE_URL and KAPSO_API_KEY.
func (d Deps) kapsoClient(ctx context.Context) (*kapsoapi.Client, error) {
	key, err := d.Env.Secret(ctx, d.Secrets, "KAPSO_API_KEY")
	if err != nil {
		return nil, err
	}
	return kapsoapi.New(d.Env.Get("KAPSO_API_BASE_URL", DefaultKapsoAPIBaseURL), key, kapsoapi.WithLogger(d.Log)), nil
}

func (d Deps) publicBaseURL() (string, error) {
	s, err := d.Env.Require("PUBLIC_BASE_URL")
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s["PUBLIC_BASE_URL"], "/"), nil
}

// TenantAPI builds the /v1 API: setup links and the connection view.
func TenantAPI(ctx context.Context, d Deps) (http.Handler, error) {
	store, err := d.OnboardingStore()
	if err != nil {
		return nil, fmt.Errorf("tenant api: %w", err)
	}
	kapso, err := d.kapsoClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenant api: %w", err)
	}
	token, err := d.Env.Secret(ctx, d.Secrets, "BRIDGE_API_TOKEN")
	if err != nil {
		return nil, fmt.Errorf("tenant api: %w", err)
	}
	base, err := d.publicBaseURL()
	if err != nil {
		return nil, fmt.Errorf("tenant api: %w", err)
	}
	mux := http.NewServeMux()
	(&httpapi.TenantAPI{Store: store, Kapso: kapso, Token: token, PublicBaseURL: base, Log: d.Log}).Register(mux)
	return mux, nil
}

// Redirects builds the browser's way back from Kapso's setup page.
func Redirects(_ context.Context, d Deps) (http.Handler, error) {
	store, err := d.OnboardingStore()
	if err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	s, err := d.Env.Require(schema.Lifecycle.EnvVar, "APP_SUCCESS_URL", "APP_FAILURE_URL")
	if err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	mux := http.NewServeMux()
	(&httpapi.Redirects{
		Store:             store,
		Queue:             &sqsqueue.Sender{Client: d.SQS},
		LifecycleQueueURL: s[schema.Lifecycle.EnvVar],
		AppSuccessURL:     s["APP_SUCCESS_URL"],
		AppFailureURL:     s["APP_FAILURE_URL"],
		Log:               d.Log,
	}).Register(mux)
	return mux, nil
}

// LifecycleWorker builds the lifecycle queue's worker.
func LifecycleWorker(ctx context.Context, d Deps) (*lifecycle.Worker, error) {
	w, _, _, err := lifecycleParts(ctx, d, true)
	return w, err
}

// Reconciler builds the scheduled reconciler; it confirms numbers through
// the same worker code as the lifecycle queue.
func Reconciler(ctx context.Context, d Deps) (*reconcile.Reconciler, error) {
	// The reconciler reads no queue messages, so it needs no payload store.
	w, store, kapso, err := lifecycleParts(ctx, d, false)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return &reconcile.Reconciler{Store: store, Kapso: kapso, Confirmer: w, Log: d.Log}, nil
}

func lifecycleParts(ctx context.Context, d Deps, readsQueue bool) (*lifecycle.Worker, *dynamo.Onboarding, *kapsoapi.Client, error) {
	store, err := d.OnboardingStore()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lifecycle: %w", err)
	}
	kapso, err := d.kapsoClient(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lifecycle: %w", err)
	}
	base, err := d.publicBaseURL()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lifecycle: %w", err)
	}
	w := &lifecycle.Worker{
		Store:         store,
		Kapso:         kapso,
		Secrets:       &dynamo.WebhookSecrets{DB: d.DynamoDB, Table: store.Table},
		PublicBaseURL: base,
		Log:           d.Log,
	}
	if readsQueue {
		s, err := d.Env.Require(schema.Idempotency.EnvVar)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("lifecycle: %w", err)
		}
		w.Payloads = &dynamo.Payloads{DB: d.DynamoDB, Table: s[schema.Idempotency.EnvVar]}
		w.Rejects = &dynamo.Rejects{DB: d.DynamoDB, Table: store.Table}
	}
	return w, store, kapso, nil
}
