// Package lifecycleapp builds the lifecycle function: the worker of the
// lifecycle queue, from its settings and the clients it calls.
// functions/lifecycle and the local stack both build it here, and the
// reconciler builds its confirming worker from the same parts.
package lifecycleapp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycle"
)

// Clients are the AWS clients the worker calls. It reads its queue through
// the event source mapping, so it has no SQS client.
type Clients struct {
	DynamoDB *dynamodb.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), Secrets: awssecrets.New(cfg)}
}

// Worker builds the lifecycle queue's worker.
func Worker(ctx context.Context, b app.Base, c Clients) (*lifecycle.Worker, error) {
	r := config.NewReader(config.Lifecycle, b.Env, c.Secrets)
	p := ReadParts(ctx, r, b.Log, c.DynamoDB)
	idem := r.String(config.IdempotencyTable)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	w := p.Worker(b.Log)
	// A delivery too large for SQS was stored aside by the ingest.
	w.Payloads = &dynamo.Payloads{DB: c.DynamoDB, Table: idem}
	w.Rejects = &dynamo.Rejects{DB: c.DynamoDB, Table: p.Store.Table}
	return w, nil
}

// Parts are what the lifecycle worker applies events with, which the
// reconciler shares.
type Parts struct {
	Store         *dynamo.Onboarding
	Numbers       *dynamo.Numbers
	Kapso         *kapsoapi.Client
	PublicBaseURL string
}

// ReadParts builds the parts from the settings r reads, r being the reader
// of the function under construction; the caller checks r.Err.
func ReadParts(ctx context.Context, r *config.Reader, log *slog.Logger, db *dynamodb.Client) Parts {
	bridge := r.String(config.BridgeTable)
	return Parts{
		Store:         &dynamo.Onboarding{DB: db, Table: bridge},
		Numbers:       &dynamo.Numbers{DB: db, Table: bridge},
		Kapso:         kapsoapi.New(r.String(config.KapsoAPIBaseURL), r.Secret(ctx, config.KapsoAPIKey), kapsoapi.WithLogger(log)),
		PublicBaseURL: strings.TrimRight(r.String(config.PublicBaseURL), "/"),
	}
}

// Worker is a worker on the parts that reads no queue: the reconciler
// confirms numbers with it as is; Worker (the function) adds the queue's side.
func (p Parts) Worker(log *slog.Logger) *lifecycle.Worker {
	return &lifecycle.Worker{
		Store:         p.Store,
		Numbers:       p.Numbers,
		Kapso:         p.Kapso,
		PublicBaseURL: p.PublicBaseURL,
		Log:           log,
	}
}
