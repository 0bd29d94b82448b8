// Package senderapp builds the sender function: the worker of the outbound
// queue, from its settings and the clients it calls. functions/sender and
// the local stack both build it here.
package outboundapp

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/outboundworker"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the sender calls: its store, the queue it
// puts paced and refused sends back on, the Kapso API key's secret and
// the key of the erased people's tombstones.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqsqueue.NewClient(cfg), Secrets: awssecrets.New(cfg)}
}

// Worker builds the outbound queue's worker.
func Worker(ctx context.Context, b app.Base, c Clients) (*outboundworker.Worker, error) {
	r := config.NewReader(config.Outbound, b.Env, c.Secrets)
	bridge := r.String(config.BridgeTable)
	outboundURL := r.String(config.OutboundQueueURL)
	metaURL, key := r.String(config.KapsoMetaBaseURL), r.Secret(ctx, config.KapsoAPIKey)
	rate := r.Int(config.SendRatePerNumber)
	retention := app.Retention(r)
	hashKey := r.Secret(ctx, config.ErasureHashKey)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	hasher, err := erasure.NewHasher([]byte(hashKey))
	if err != nil {
		return nil, fmt.Errorf("sender: %s: %w", config.ErasureHashKey.Name, err)
	}
	jobs := &dynamo.Erasures{DB: c.DynamoDB, Table: bridge}
	if rate < 1 {
		return nil, fmt.Errorf("sender: %s must be at least 1", config.SendRatePerNumber.Name)
	}
	return &outboundworker.Worker{
		Outbox: &dynamo.Messages{DB: c.DynamoDB, Table: bridge, Retention: retention},
		Queue:  &sqsqueue.OutboundQueue{Client: c.SQS, URL: outboundURL},
		Kapso:  kapsoapi.NewMetaProxy(metaURL, "", key, kapsoapi.WithLogger(b.Log)),
		Pacer:  &dynamo.SendPacer{DB: c.DynamoDB, Table: bridge, Rate: rate},
		// A send to a person erased since it was asked for never goes.
		Erasures: &erasure.Check{Marks: jobs, Guard: erasure.Guard{Hasher: hasher, Tombstones: jobs}},
		Log:      b.Log,
		// The function's timeout: a claim older than it outlived its sender.
		ClaimTimeout: schema.Outbound.ConsumerTimeout,
	}, nil
}
