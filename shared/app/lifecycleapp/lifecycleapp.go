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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycleworker"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the worker calls. It reads its queue through
// the event source mapping; its SQS client only tells the messages queue
// that a number connected.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqsqueue.NewClient(cfg), Secrets: awssecrets.New(cfg)}
}

// Worker builds the lifecycle queue's worker.
func Worker(ctx context.Context, b app.Base, c Clients) (*lifecycleworker.Worker, error) {
	r := config.NewReader(config.Lifecycle, b.Env, c.Secrets)
	p := ReadParts(ctx, r, b.Log, c.DynamoDB, c.SQS)
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

// connectionNotice tells the messages worker, through its queue, that a
// number connected, so it applies the events it kept for the number.
type connectionNotice struct {
	queue envelope.Enqueuer
	url   string
}

func (n connectionNotice) NumberConnected(ctx context.Context, phoneNumberID string) error {
	d, body := envelope.NumberConnected(phoneNumberID, time.Now())
	return n.queue.Send(ctx, n.url, d, body, false)
}

// Parts are what the lifecycle worker confirms numbers with, which the
// reconciler shares: both record numbers as tenants' and announce them.
type Parts struct {
	Store         *dynamo.Onboarding
	Numbers       *dynamo.Numbers
	Kapso         *kapsoapi.Client
	KapsoAPIKey   string // Kapso's key, which the reconciler's Meta proxy client shares
	Connected     lifecycleworker.ConnectionListener
	PublicBaseURL string
}

// ReadParts builds the parts from the settings r reads, r being the reader
// of the function under construction; the caller checks r.Err.
func ReadParts(ctx context.Context, r *config.Reader, log *slog.Logger, db *dynamodb.Client, queue *sqs.Client) Parts {
	bridge, key := r.String(config.BridgeTable), r.Secret(ctx, config.KapsoAPIKey)
	return Parts{
		Store:         &dynamo.Onboarding{DB: db, Table: bridge},
		Numbers:       &dynamo.Numbers{DB: db, Table: bridge},
		Kapso:         kapsoapi.New(r.String(config.KapsoAPIBaseURL), key, kapsoapi.WithLogger(log)),
		KapsoAPIKey:   key,
		Connected:     connectionNotice{queue: &sqsqueue.DeliveryQueue{Client: queue}, url: r.String(config.MessagesQueueURL)},
		PublicBaseURL: strings.TrimRight(r.String(config.PublicBaseURL), "/"),
	}
}

// Worker is a worker on the parts that reads no queue: the reconciler
// confirms numbers with it as is; Worker (the function) adds the queue's side.
func (p Parts) Worker(log *slog.Logger) *lifecycleworker.Worker {
	return &lifecycleworker.Worker{
		Store:         p.Store,
		Numbers:       p.Numbers,
		Kapso:         p.Kapso,
		Connected:     p.Connected,
		PublicBaseURL: p.PublicBaseURL,
		Log:           log,
	}
}
