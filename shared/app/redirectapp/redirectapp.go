// Package redirectapp builds the redirect function: the browser's way back
// from Kapso's setup page, from its settings and the AWS clients it calls.
// functions/redirect and the local stack both build it here.
package redirectapp

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/redirect"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the redirects call. No secret is read.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqsqueue.NewClient(cfg)}
}

// Handler builds the success and failure redirects and their routes.
func Handler(ctx context.Context, b app.Base, c Clients) (http.Handler, error) {
	h, err := New(ctx, b, c)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	h.Register(mux)
	return mux, nil
}

// New builds the redirects themselves, not yet routed: their routes are
// closures, which hide from reflection what New gives the handler.
func New(_ context.Context, b app.Base, c Clients) (*redirect.Handler, error) {
	r := config.NewReader(config.Redirect, b.Env, nil)
	bridge := r.String(config.BridgeTable)
	h := &redirect.Handler{
		LifecycleQueueURL: r.String(config.LifecycleQueueURL),
		AppSuccessURL:     r.String(config.AppSuccessURL),
		AppFailureURL:     r.String(config.AppFailureURL),
		Log:               b.Log,
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	h.Store = &dynamo.Onboarding{DB: c.DynamoDB, Table: bridge}
	h.Queue = &sqsqueue.DeliveryQueue{Client: c.SQS}
	// A redirect SQS refuses is kept in the bridge table for the reconciler.
	h.Hints = &dynamo.Hints{DB: c.DynamoDB, Table: bridge}
	return h, nil
}
