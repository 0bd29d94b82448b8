// Package ingestapp builds the ingest function: the webhook handler, from
// its settings and the AWS clients it calls. functions/ingest and the local
// stack both build it here.
package ingestapp

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the ingest calls.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqsqueue.NewClient(cfg), Secrets: awssecrets.New(cfg)}
}

// Number secrets are cached: every delivery of a number needs its secret,
// and a number's secret never changes once generated. An unknown number is
// asked again soon, since its secret may be written at any moment.
const (
	secretTTL         = time.Minute
	secretNegativeTTL = 5 * time.Second
)

// Handler builds the webhook ingest and its routes.
func Handler(ctx context.Context, b app.Base, c Clients) (http.Handler, error) {
	h, err := New(ctx, b, c)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	h.Register(mux)
	return mux, nil
}

// New builds the webhook ingest itself, not yet routed: its routes are
// closures, which hide from reflection what New gives the ingest.
func New(ctx context.Context, b app.Base, c Clients) (*webhook.Ingest, error) {
	r := config.NewReader(config.Ingest, b.Env, c.Secrets)
	idem := r.String(config.IdempotencyTable)
	bridge := r.String(config.BridgeTable)
	retention := app.Retention(r)
	h := &webhook.Ingest{
		ProjectSecret:     r.Secret(ctx, config.ProjectWebhookSecret),
		MetaAppSecret:     r.Secret(ctx, config.MetaAppSecret),
		LifecycleQueueURL: r.String(config.LifecycleQueueURL),
		MessagesQueueURL:  r.String(config.MessagesQueueURL),
		Deadline:          r.Duration(config.IngestDeadline),
		Log:               b.Log,
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	h.Claims = &dynamo.Claims{DB: c.DynamoDB, Table: idem}
	h.Queue = &sqsqueue.DeliveryQueue{Client: c.SQS, Bodies: &dynamo.Payloads{DB: c.DynamoDB, Table: idem},
		// A number webhook's body is a tenant's messages: kept no longer.
		RetainedBodies: &dynamo.Payloads{DB: c.DynamoDB, Table: idem, Retention: retention}}
	h.Secrets = &webhook.SecretCache{
		Source:      &dynamo.Numbers{DB: c.DynamoDB, Table: bridge},
		TTL:         secretTTL,
		NegativeTTL: secretNegativeTTL,
	}
	return h, nil
}
