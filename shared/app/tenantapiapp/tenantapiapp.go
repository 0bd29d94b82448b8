// Package tenantapiapp builds the tenantapi function: the tenant API (the
// tenant list, setup links, the connection view, the tenant's messages,
// its templates and the feed of events), from its settings and the clients it calls.
// functions/tenantapi and the local stack both build it here.
package tenantapiapp

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/offboardapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/config/awssecrets"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Clients are the AWS clients the tenant API calls.
type Clients struct {
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	S3       *s3.Client
	// STS assumes the media read role, where one is set.
	STS     *sts.Client
	Secrets config.SecretSource
}

// NewClients builds the clients from the SDK configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqsqueue.NewClient(cfg), S3: s3media.NewClient(cfg),
		STS: sts.NewFromConfig(cfg), Secrets: awssecrets.New(cfg)}
}

// Handler builds the /v1 API and its routes.
func Handler(ctx context.Context, b app.Base, c Clients) (http.Handler, error) {
	api, err := New(ctx, b, c)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	api.Register(mux)
	return mux, nil
}

// New builds the /v1 API itself, not yet routed: its routes are closures,
// which hide from reflection what New gives the API.
func New(ctx context.Context, b app.Base, c Clients) (*tenantapi.API, error) {
	r := config.NewReader(config.TenantAPI, b.Env, c.Secrets)
	bridge, events := r.String(config.BridgeTable), r.String(config.EventsTable)
	kapsoURL, kapsoKey := r.String(config.KapsoAPIBaseURL), r.Secret(ctx, config.KapsoAPIKey)
	outboundURL := r.String(config.OutboundQueueURL)
	bucket, metaURL := r.String(config.MediaBucket), r.String(config.KapsoMetaBaseURL)
	readRole := r.String(config.MediaReadRoleARN)
	retention := app.Retention(r)
	hashKey := r.Secret(ctx, config.ErasureHashKey)
	api := &tenantapi.API{
		Token:         r.Secret(ctx, config.BridgeAPIToken),
		PublicBaseURL: strings.TrimRight(r.String(config.PublicBaseURL), "/"),
		MediaURLTTL:   r.Duration(config.MediaURLTTL),
		Log:           b.Log,
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("tenant api: %w", err)
	}
	hasher, err := erasure.NewHasher([]byte(hashKey))
	if err != nil {
		return nil, fmt.Errorf("tenant api: %s: %w", config.ErasureHashKey.Name, err)
	}
	if readRole != "" && api.MediaURLTTL > s3media.MaxReadRoleURLTTL {
		return nil, fmt.Errorf("tenant api: %s is %s, over the %s a URL signed through %s can last",
			config.MediaURLTTL.Name, api.MediaURLTTL, s3media.MaxReadRoleURLTTL, config.MediaReadRoleARN.Name)
	}
	// Tenants, their links and connections, and the tenant lists.
	api.Store = &dynamo.Onboarding{DB: c.DynamoDB, Table: bridge}
	// The named tokens, besides the configured one, and the audit trail
	// of what they wrote.
	api.Tokens = &dynamo.Tokens{DB: c.DynamoDB, Table: bridge}
	api.Audit = &dynamo.AuditLog{DB: c.DynamoDB, Table: bridge}
	// The read side of what the messages worker stores, and the messages the
	// tenant sends, which the sender takes from the outbound queue.
	msgs := &dynamo.Messages{DB: c.DynamoDB, Table: bridge, Retention: retention}
	api.Messages, api.Outbox = msgs, msgs
	api.Outbound = &sqsqueue.OutboundQueue{Client: c.SQS, URL: outboundURL}
	kapso := kapsoapi.New(kapsoURL, kapsoKey, kapsoapi.WithLogger(b.Log))
	api.Kapso = kapso
	// Media: the bucket's copies, linked; uploads kept there, sent to
	// Kapso's Meta proxy once, and recorded.
	// Each tenant's URLs are signed through the read role, scoped to the
	// tenant's prefix; without one (the local stack), by the function.
	api.Objects = s3media.New(c.S3, bucket)
	if readRole != "" {
		objects, err := s3media.NewWithReadRole(c.S3, bucket, c.STS, readRole)
		if err != nil {
			return nil, fmt.Errorf("tenant api: %w", err)
		}
		api.Objects = objects
	}
	metaProxy := kapsoapi.NewMetaProxy(metaURL, "", kapsoKey, kapsoapi.WithLogger(b.Log))
	api.MediaSource = metaProxy
	api.Uploads = &dynamo.Uploads{DB: c.DynamoDB, Table: bridge}
	// Templates: stored as last read, read and created through the Meta
	// proxy.
	api.Templates, api.TemplateKapso = &dynamo.Templates{DB: c.DynamoDB, Table: bridge}, metaProxy
	// The feed of events the publisher appends, read.
	api.Feed = &dynamo.Feed{DB: c.DynamoDB, Table: events}
	// Offboarding: a DELETE starts the job and does its Kapso part; the
	// reconciler deletes the data.
	api.Offboard = offboardapp.Starter(offboardapp.Stores{DB: c.DynamoDB, Bridge: bridge, Kapso: kapso})
	// Erasures: the job and its tombstones stored; the reconciler erases.
	jobs := &dynamo.Erasures{DB: c.DynamoDB, Table: bridge}
	api.Erasures = &tenantapi.Erasures{Jobs: jobs, Tombstones: jobs, Hasher: hasher}
	return api, nil
}
