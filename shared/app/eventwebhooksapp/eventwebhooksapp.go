// Package eventwebhooksapp builds the eventwebhooks function: the worker
// of the event-webhooks queue, which POSTs each event to the SaaS's
// webhook URL, from its settings and the clients it calls.
// functions/eventwebhooks and the local stack both build it here.
package eventwebhooksapp

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/eventwebhooksworker"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the worker calls: the table it keeps a
// message that is no event in, its own queue (to hold a failed event back
// until its next attempt), and the signing secret's secret.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqsqueue.NewClient(cfg), Secrets: awssecrets.New(cfg)}
}

// Worker builds the event-webhooks queue's worker. The URL and the secret
// are checked here, so a wrong one stops the function at its start with
// the reason, instead of failing every delivery.
func Worker(ctx context.Context, b app.Base, c Clients) (*eventwebhooksworker.Worker, error) {
	r := config.NewReader(config.EventWebhooks, b.Env, c.Secrets)
	bridge := r.String(config.BridgeTable)
	queueURL := r.String(config.EventWebhooksQueueURL)
	target := r.String(config.EventsWebhookURL)
	secret := r.Secret(ctx, config.EventsWebhookSecret)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("eventwebhooks: %w", err)
	}
	if err := eventwebhooksworker.CheckURL(target); err != nil {
		return nil, fmt.Errorf("eventwebhooks: %s: %w", config.EventsWebhookURL.Name, err)
	}
	key, err := bridgeevents.Secret(secret)
	if err != nil {
		// The error names what is wrong, never the value.
		return nil, fmt.Errorf("eventwebhooks: %s: %w", config.EventsWebhookSecret.Name, err)
	}
	return &eventwebhooksworker.Worker{
		URL:     target,
		Key:     key,
		Queue:   &sqsqueue.Visibility{Client: c.SQS, URL: queueURL},
		Rejects: &dynamo.Rejects{DB: c.DynamoDB, Table: bridge},
		Log:     b.Log,
		// The queue sends an event to the DLQ after this many receives.
		MaxAttempts: schema.EventWebhooks.MaxReceiveCount,
	}, nil
}
