package config

import (
	"slices"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Function is one Lambda function: functions/<name>, deployed under that name.
type Function string

const (
	Ingest    Function = "ingest"
	TenantAPI Function = "tenantapi"
	Redirect  Function = "redirect"
	Lifecycle Function = "lifecycle"
	Reconcile Function = "reconcile"
	Messages  Function = "messages"
	Outbound  Function = "outbound"
	Publisher Function = "publisher"
	// EventWebhooks POSTs each event of the event-webhooks queue to the
	// SaaS's webhook URL.
	EventWebhooks Function = "eventwebhooks"
	// Media copies the media of each message received from Kapso into the
	// media bucket.
	Media Function = "media"
)

// Functions lists every function.
var Functions = []Function{Ingest, TenantAPI, Redirect, Lifecycle, Reconcile, Messages, Outbound, Publisher, EventWebhooks, Media}

// Setting is one setting, named once for everything that reads or provides
// it: the functions' wiring, the CDK stack (which gives each function the
// settings listed for it) and the local stack (which gives them all).
type Setting struct {
	// Name is the environment variable.
	Name string
	// Default is used when the variable is unset or blank; "" is none.
	Default string
	// Secret: deployed, the value is a Secrets Manager secret whose ARN is in
	// the variable ARNVar(Name); locally the variable holds the value itself.
	Secret bool
	// Optional: a reader does without it ("" when unset). A setting with
	// neither a Default nor Optional is required by every function reading it.
	Optional bool
	// Resource: the name or URL of a table or queue, which each stack sets to
	// the one it created; never set by a person.
	Resource bool
	// Functions are the functions that read it at cold start.
	Functions []Function
	// Context is the CDK context key that sets it at deploy time, with Name as
	// the environment fallback; "" when a deploy does not take it.
	Context string
	// Local: only the local stack (make dev) reads it.
	Local bool
	// Help says what it is, for people.
	Help string
}

// ReadBy reports whether fn reads s.
func (s Setting) ReadBy(fn Function) bool { return slices.Contains(s.Functions, fn) }

// Required: a function reading s cannot start without a value.
func (s Setting) Required() bool { return s.Default == "" && !s.Optional }

// ARNVar is the variable carrying the ARN of a secret setting.
func (s Setting) ARNVar() string { return ARNVar(s.Name) }

// Tables and queues, named by the schema that defines them.
var (
	BridgeTable = Setting{Name: schema.Bridge.EnvVar, Resource: true, Functions: Functions,
		Help: "DynamoDB table of tenants, links, numbers and their history"}
	IdempotencyTable = Setting{Name: schema.Idempotency.EnvVar, Resource: true, Functions: []Function{Ingest, Lifecycle, Messages},
		Help: "DynamoDB table of delivery claims and bodies too large for SQS"}
	// The publisher appends to the feed of events; the tenant API reads it.
	EventsTable = Setting{Name: schema.Events.EnvVar, Resource: true, Functions: []Function{TenantAPI, Publisher, Reconcile},
		Help: "DynamoDB table of the events feed: every event told, by tenant and for the whole stack"}
	EventsTopicARN = Setting{Name: schema.EventsTopic.EnvVar, Resource: true, Functions: []Function{Publisher},
		Help: "SNS topic every event is told on, with the message attributes type and tenant_id"}
	LifecycleQueueURL = Setting{Name: schema.Lifecycle.EnvVar, Resource: true, Functions: []Function{Ingest, Redirect},
		Help: "SQS queue of project webhooks and redirect outcomes"}
	// The lifecycle worker and the reconciler tell the messages worker when a
	// number connects.
	MessagesQueueURL = Setting{Name: schema.Messages.EnvVar, Resource: true, Functions: []Function{Ingest, Lifecycle, Reconcile},
		Help: "SQS queue of message, status, conversation and contact events"}
	// The reconciler reports the dead-letter queues' backlog in its summary.
	LifecycleDLQURL = Setting{Name: schema.Lifecycle.DLQEnvVar(), Resource: true, Functions: []Function{Reconcile},
		Help: "dead-letter queue of the lifecycle queue"}
	MessagesDLQURL = Setting{Name: schema.Messages.DLQEnvVar(), Resource: true, Functions: []Function{Reconcile},
		Help: "dead-letter queue of the messages queue"}
	// The tenant API queues a send; the sender re-queues one it paces or
	// that Kapso asked to wait; the reconciler re-queues one left queued.
	OutboundQueueURL = Setting{Name: schema.Outbound.EnvVar, Resource: true, Functions: []Function{TenantAPI, Outbound, Reconcile},
		Help: "SQS queue of the messages the tenant API accepted to send"}
	OutboundDLQURL = Setting{Name: schema.Outbound.DLQEnvVar(), Resource: true, Functions: []Function{Reconcile},
		Help: "dead-letter queue of the outbound queue"}
	// The webhook sender holds a failed event back on its queue until its
	// next attempt.
	EventWebhooksQueueURL = Setting{Name: schema.EventWebhooks.EnvVar, Resource: true, Functions: []Function{EventWebhooks},
		Help: "SQS queue of the events to POST to EVENTS_WEBHOOK_URL, subscribed to the events topic"}
	EventWebhooksDLQURL = Setting{Name: schema.EventWebhooks.DLQEnvVar(), Resource: true, Functions: []Function{Reconcile},
		Help: "dead-letter queue of the event-webhooks queue"}
	// The media worker copies into the bucket; the tenant API presigns its
	// objects' URLs.
	MediaBucket = Setting{Name: schema.MediaBucket.EnvVar, Resource: true, Functions: []Function{Media, TenantAPI, Reconcile},
		Help: "S3 bucket of the media of every message, under {tenant_id}/{phone_number_id}/"}
	// The tenant API assumes it to presign each tenant's URLs, scoped to
	// the tenant's prefix; unset (the local stack: no STS), it signs them
	// itself. A deploy always sets it.
	MediaReadRoleARN = Setting{Name: "MEDIA_READ_ROLE_ARN", Resource: true, Optional: true, Functions: []Function{TenantAPI},
		Help: "IAM role the tenant API assumes, with a session policy of the tenant's prefix, to presign a tenant's media URLs"}
	// The media worker holds a failed copy back on its queue until its next
	// attempt; the reconciler puts a failed copy's event back on it.
	MediaQueueURL = Setting{Name: schema.Media.EnvVar, Resource: true, Functions: []Function{Media, Reconcile},
		Help: "SQS queue of the message.received events of messages with media, subscribed to the events topic"}
	MediaDLQURL = Setting{Name: schema.Media.DLQEnvVar(), Resource: true, Functions: []Function{Reconcile},
		Help: "dead-letter queue of the media queue"}
)

// Secrets.
var (
	KapsoAPIKey = Setting{Name: "KAPSO_API_KEY", Secret: true, Functions: []Function{TenantAPI, Lifecycle, Reconcile, Outbound, Media},
		Help: "Kapso Platform API key, sent as X-API-Key"}
	ProjectWebhookSecret = Setting{Name: "KAPSO_PROJECT_WEBHOOK_SECRET", Secret: true, Functions: []Function{Ingest},
		Help: "secret of the Kapso project webhook, verifies X-Webhook-Signature"}
	MetaAppSecret = Setting{Name: "META_APP_SECRET", Secret: true, Optional: true, Functions: []Function{Ingest},
		Help: "Meta app secret, verifies X-Hub-Signature-256 on forwarded Meta payloads (optional)"}
	BridgeAPIToken = Setting{Name: "BRIDGE_API_TOKEN", Secret: true, Functions: []Function{TenantAPI},
		Help: "bearer token the SaaS backend presents to the /v1 API"}
	// The key of the tombstones' hashes: erasing a person keeps a keyed
	// hash of each of their identities, never the identity.
	ErasureHashKey = Setting{Name: "ERASURE_HASH_KEY", Secret: true, Functions: []Function{TenantAPI, Messages, Outbound},
		Help: "key (at least 32 bytes) of the HMAC an erased person's tombstones are keyed by; never change it once set"}
	EventsWebhookSecret = Setting{Name: "EVENTS_WEBHOOK_SECRET", Secret: true, Functions: []Function{EventWebhooks},
		Help: "Standard Webhooks signing secret (whsec_ and the base64 of at least 24 bytes) of the events POSTed to EVENTS_WEBHOOK_URL"}
)

// Plain settings the functions read.
var (
	KapsoAPIBaseURL = Setting{Name: "KAPSO_API_BASE_URL", Default: "https://api.kapso.ai/platform/v1",
		Functions: []Function{TenantAPI, Lifecycle, Reconcile}, Context: "kapsoApiBaseUrl",
		Help: "Kapso Platform API base URL"}
	PublicBaseURL = Setting{Name: "PUBLIC_BASE_URL", Functions: []Function{TenantAPI, Lifecycle, Reconcile},
		Context: "publicBaseUrl", Help: "how Kapso and browsers reach kapso-bridge: the base of every URL it hands out"}
	AppSuccessURL = Setting{Name: "APP_SUCCESS_URL", Functions: []Function{Redirect}, Context: "appSuccessUrl",
		Help: "the SaaS app's page after a successful signup"}
	AppFailureURL = Setting{Name: "APP_FAILURE_URL", Functions: []Function{Redirect}, Context: "appFailureUrl",
		Help: "the SaaS app's page after a failed signup"}
	// IngestDeadline's default is webhook.DefaultIngestTimeout (a test holds them equal).
	IngestDeadline = Setting{Name: "INGEST_DEADLINE", Default: "7s", Functions: []Function{Ingest},
		Help: "the ingest's whole-request deadline; Kapso waits 10 s"}
	// The reconciler's share of Kapso's rate limit (docs/operations.md: the
	// arithmetic for 10,000 tenants).
	ReconcileKapsoCalls = Setting{Name: "RECONCILE_KAPSO_CALLS", Default: "2400", Functions: []Function{Reconcile},
		Context: "reconcileKapsoCalls", Help: "most Platform API requests one reconciler run makes"}
	ReconcileKapsoPerMinute = Setting{Name: "RECONCILE_KAPSO_PER_MINUTE", Default: "300", Functions: []Function{Reconcile},
		Context: "reconcileKapsoPerMinute", Help: "pace of the reconciler's Platform API requests, per minute"}
	// KapsoMetaBaseURL's default is kapsoapi.DefaultMetaBaseURL.
	KapsoMetaBaseURL = Setting{Name: "KAPSO_META_BASE_URL", Default: "https://api.kapso.ai/meta/whatsapp",
		Functions: []Function{Outbound, Media, TenantAPI, Reconcile}, Context: "kapsoMetaBaseUrl",
		Help: "Kapso's Meta proxy base URL; sends go to <base>/v24.0/<phone_number_id>/messages"}
	SendRatePerNumber = Setting{Name: "SEND_RATE_PER_NUMBER", Default: "20", Functions: []Function{Outbound},
		Context: "sendRatePerNumber", Help: "most messages the sender sends per second from one number"}
	OutboundUnconfirmedAfter = Setting{Name: "OUTBOUND_UNCONFIRMED_AFTER", Default: "1h", Functions: []Function{Reconcile},
		Context: "outboundUnconfirmedAfter",
		Help:    "how long a send whose outcome is unknown waits to be found in Kapso's records before it fails as unconfirmed"}
	// TemplateSyncInterval's default is reconcile.DefaultTemplateSyncInterval.
	TemplateSyncInterval = Setting{Name: "TEMPLATE_SYNC_INTERVAL", Default: "1h", Functions: []Function{Reconcile},
		Context: "templateSyncInterval",
		Help:    "how old a WABA's reading of its templates may be before the reconciler reads them again through Kapso"}
	// EventsRetentionDays' default is eventing.Retention (a test holds them equal).
	EventsRetentionDays = Setting{Name: "EVENTS_RETENTION_DAYS", Default: "30", Functions: []Function{Publisher},
		Context: "eventsRetentionDays", Help: "days the feed keeps each event (GET /v1/events)"}
	// MessageRetentionDays unset keeps every message: the functions writing
	// a tenant's messages, conversations, contacts, pending events and the
	// bodies of number webhooks give each item its expiry; the publisher
	// keeps events no longer; the reconciler gives items stored before it
	// was set (or changed) theirs.
	MessageRetentionDays = Setting{Name: "MESSAGE_RETENTION_DAYS", Optional: true,
		Functions: []Function{Ingest, TenantAPI, Messages, Outbound, Reconcile, Publisher}, Context: "messageRetentionDays",
		Help: "days a tenant's messages, and its conversations and contacts after their last activity, are kept (unset: kept)"}
	// EventsWebhookURL must be https; http only to a loopback address, for
	// a receiver on the machine running make dev.
	EventsWebhookURL = Setting{Name: "EVENTS_WEBHOOK_URL", Functions: []Function{EventWebhooks}, Context: "eventsWebhookUrl",
		Help: "the SaaS's https endpoint every event is POSTed to, signed (make dev sends none unless it is set)"}
	// MediaURLTTL's default is tenantapi.DefaultMediaURLTTL.
	MediaURLTTL = Setting{Name: "MEDIA_URL_TTL", Default: "15m", Functions: []Function{TenantAPI}, Context: "mediaUrlTtl",
		Help: "how long a media URL the /v1 API hands out (a presigned GET of the media bucket) works"}
	LogLevel = Setting{Name: "LOG_LEVEL", Default: "info", Functions: Functions, Context: "logLevel",
		Help: "debug, info, warn or error"}
)

// Settings of a deploy only: the CDK app reads them.
var (
	StackName = Setting{Name: "STACK_NAME", Default: "KapsoBridge", Context: "stackName",
		Help: "CloudFormation stack name, also the prefix of the secrets' names"}
	AssetDir = Setting{Name: "ASSET_DIR", Default: "build/lambda", Context: "assetDir",
		Help: "where the function binaries are: <assetDir>/<function>/bootstrap"}
	LogRetentionDays = Setting{Name: "LOG_RETENTION_DAYS", Default: "30", Context: "logRetentionDays",
		Help: "retention of the function and access log groups"}
	ReconcileSchedule = Setting{Name: "RECONCILE_SCHEDULE", Default: "rate(15 minutes)", Context: "reconcileSchedule",
		Help: "EventBridge Scheduler expression running the reconciler"}
	APIThrottleRate = Setting{Name: "API_THROTTLE_RATE", Default: "50", Context: "apiThrottleRate",
		Help: "steady requests per second the API stage accepts"}
	APIThrottleBurst = Setting{Name: "API_THROTTLE_BURST", Default: "100", Context: "apiThrottleBurst",
		Help: "burst the API stage accepts"}
	// The webhooks and redirects have a throttle of their own, so that a
	// flood of Kapso's retries or of browsers never uses up the SaaS's /v1,
	// nor /v1 Kapso's.
	WebhookThrottleRate = Setting{Name: "WEBHOOK_THROTTLE_RATE", Default: "100", Context: "webhookThrottleRate",
		Help: "steady requests per second each webhook and redirect route accepts"}
	WebhookThrottleBurst = Setting{Name: "WEBHOOK_THROTTLE_BURST", Default: "200", Context: "webhookThrottleBurst",
		Help: "burst each webhook and redirect route accepts"}
	APIIAMAuth = Setting{Name: "API_IAM_AUTH", Default: "false", Context: "apiIamAuth",
		Help: "also require AWS IAM (SigV4) signed requests on /v1, besides the bearer token"}
	ReserveConcurrency = Setting{Name: "RESERVE_CONCURRENCY", Default: "true", Context: "reserveConcurrency",
		Help: "reserve concurrency 1 for the reconciler, so two sweeps never overlap"}
	// MediaRetentionDays unset keeps every object: the CDK app lets a
	// deploy leave it out.
	MediaRetentionDays = Setting{Name: "MEDIA_RETENTION_DAYS", Context: "mediaRetentionDays",
		Help: "days the media bucket keeps each object before S3 expires it (unset: kept)"}
)

// Settings of the local stack only.
var (
	Port           = Setting{Name: "PORT", Default: "8080", Local: true, Help: "port of the kapso-bridge HTTP server (127.0.0.1)"}
	SimPort        = Setting{Name: "SIM_PORT", Default: "8090", Local: true, Help: "port of the Kapso simulator (127.0.0.1)"}
	ReconcileEvery = Setting{Name: "RECONCILE_EVERY", Default: "1m", Local: true, Help: "how often the reconciler runs"}
)

// Settings is every setting.
var Settings = []Setting{
	BridgeTable, IdempotencyTable, EventsTable, LifecycleQueueURL, MessagesQueueURL, LifecycleDLQURL, MessagesDLQURL,
	OutboundQueueURL, OutboundDLQURL, EventWebhooksQueueURL, EventWebhooksDLQURL, EventsTopicARN, MediaBucket, MediaReadRoleARN, MediaQueueURL, MediaDLQURL,
	KapsoAPIKey, ProjectWebhookSecret, MetaAppSecret, BridgeAPIToken, EventsWebhookSecret, ErasureHashKey,
	KapsoAPIBaseURL, PublicBaseURL, AppSuccessURL, AppFailureURL, IngestDeadline,
	ReconcileKapsoCalls, ReconcileKapsoPerMinute, KapsoMetaBaseURL, SendRatePerNumber, OutboundUnconfirmedAfter, MediaURLTTL,
	TemplateSyncInterval, EventsRetentionDays, MessageRetentionDays, EventsWebhookURL, LogLevel,
	StackName, AssetDir, LogRetentionDays, ReconcileSchedule, APIThrottleRate, APIThrottleBurst, WebhookThrottleRate, WebhookThrottleBurst, APIIAMAuth, ReserveConcurrency,
	MediaRetentionDays,
	Port, SimPort, ReconcileEvery,
}

// ReadBy lists the settings fn reads, in the order of Settings.
func ReadBy(fn Function) []Setting {
	var out []Setting
	for _, s := range Settings {
		if s.ReadBy(fn) {
			out = append(out, s)
		}
	}
	return out
}
