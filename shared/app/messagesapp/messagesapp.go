// Package messagesapp builds the messages function: the worker of the
// messages queue, from its settings and the clients it calls.
// functions/messages and the local stack both build it here.
package messagesapp

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messagesworker"
)

// Clients are the AWS clients the worker calls. It reads its queue through
// the event source mapping; its one secret is the key of the erased
// people's tombstones.
type Clients struct {
	DynamoDB *dynamodb.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), Secrets: awssecrets.New(cfg)}
}

// Worker builds the messages queue's worker.
func Worker(ctx context.Context, b app.Base, c Clients) (*messagesworker.Worker, error) {
	r := config.NewReader(config.Messages, b.Env, c.Secrets)
	bridge := r.String(config.BridgeTable)
	idem := r.String(config.IdempotencyTable)
	retention := app.Retention(r)
	hashKey := r.Secret(ctx, config.ErasureHashKey)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	hasher, err := erasure.NewHasher([]byte(hashKey))
	if err != nil {
		return nil, fmt.Errorf("messages: %s: %w", config.ErasureHashKey.Name, err)
	}
	jobs := &dynamo.Erasures{DB: c.DynamoDB, Table: bridge}
	msgs := &dynamo.Messages{DB: c.DynamoDB, Table: bridge, Retention: retention}
	return &messagesworker.Worker{
		// Nothing of an erased person dated before their erasure is stored
		// again: a late webhook, a replay, a redrive or a catch-up is
		// dropped, and acknowledged; nor a status of their message erased.
		Store: &erasure.Guarded{Store: msgs, Marks: jobs, Guard: erasure.Guard{Hasher: hasher, Tombstones: jobs},
			Messages: msgs, Log: b.Log},
		Pending: &dynamo.Pending{DB: c.DynamoDB, Table: bridge, Retention: retention},
		Numbers: &dynamo.Numbers{DB: c.DynamoDB, Table: bridge},
		// A delivery too large for SQS was stored aside by the ingest.
		Payloads: &dynamo.Payloads{DB: c.DynamoDB, Table: idem},
		Rejects:  &dynamo.Rejects{DB: c.DynamoDB, Table: bridge},
		Log:      b.Log,
	}, nil
}
