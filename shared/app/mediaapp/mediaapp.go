// Package mediaapp builds the media function: the worker of the media
// queue, which copies each received message's media from Kapso into the
// media bucket, from its settings and the clients it calls.
// functions/media and the local stack both build it here.
package mediaapp

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/mediaworker"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the worker calls: the table it records each
// copy on (and keeps a message that is no event in), the bucket, its own
// queue (to hold a failed copy back until its next attempt), and the Kapso
// API key's secret.
type Clients struct {
	DynamoDB *dynamodb.Client
	S3       *s3.Client
	SQS      *sqs.Client
	Secrets  config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), S3: s3media.NewClient(cfg), SQS: sqsqueue.NewClient(cfg),
		Secrets: awssecrets.New(cfg)}
}

// Worker builds the media queue's worker.
func Worker(ctx context.Context, b app.Base, c Clients) (*mediaworker.Worker, error) {
	r := config.NewReader(config.Media, b.Env, c.Secrets)
	bridge := r.String(config.BridgeTable)
	bucket := r.String(config.MediaBucket)
	queueURL := r.String(config.MediaQueueURL)
	metaURL, key := r.String(config.KapsoMetaBaseURL), r.Secret(ctx, config.KapsoAPIKey)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return &mediaworker.Worker{
		Source:  kapsoapi.NewMetaProxy(metaURL, "", key, kapsoapi.WithLogger(b.Log)),
		Objects: s3media.New(c.S3, bucket),
		Store:   &dynamo.Messages{DB: c.DynamoDB, Table: bridge},
		Queue:   &sqsqueue.Visibility{Client: c.SQS, URL: queueURL},
		Rejects: &dynamo.Rejects{DB: c.DynamoDB, Table: bridge},
		Log:     b.Log,
		// The queue's last receive: a failure then is recorded on the
		// message, for the reconciler.
		MaxAttempts: schema.Media.MaxReceiveCount,
	}, nil
}
