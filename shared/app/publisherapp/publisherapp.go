// Package publisherapp builds the publisher function: the consumer of the
// bridge table's stream, which appends each event to the feed and tells it
// on the events topic, from its settings and the clients it calls.
// functions/publisher and the local stack both build it here.
package publisherapp

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/publisher"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
)

// Clients are the AWS clients the worker calls. It reads the stream
// through the event source mapping: DynamoDB (the feed, what it keeps
// aside) and SNS (the topic) are all.
type Clients struct {
	DynamoDB *dynamodb.Client
	SNS      *sns.Client
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg)}
}

// Worker builds the stream's consumer.
func Worker(_ context.Context, b app.Base, c Clients) (*publisher.Worker, error) {
	r := config.NewReader(config.Publisher, b.Env, nil)
	bridge, events := r.String(config.BridgeTable), r.String(config.EventsTable)
	topic := r.String(config.EventsTopicARN)
	days := r.Int(config.EventsRetentionDays)
	// No event outlives the messages it tells of.
	retention := messaging.Shorter(time.Duration(days)*24*time.Hour, app.Retention(r).Duration())
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	return &publisher.Worker{
		Changes: dynamo.StreamChanges{},
		Feed:    &dynamo.Feed{DB: c.DynamoDB, Table: events, Retention: retention},
		Topic:   &snstopic.Publisher{Client: c.SNS, TopicARN: topic},
		// A record it can never read is kept aside next to the workers' rejects.
		Rejects: &dynamo.Rejects{DB: c.DynamoDB, Table: bridge},
		Log:     b.Log,
	}, nil
}
