package main

import (
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/mediaworker"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// secret is a Secrets Manager secret created empty: Kapso issues the values, or
// the operator chooses them, and fills them in after the first deploy. A
// function reading its setting gets the secret's ARN in the setting's ARN
// variable, and may read the secret.
type secret struct {
	Setting     config.Setting
	Name        string // suffix of the secret's name: <stack>/<Name>
	Output      string // the stack output with its ARN
	Description string
	// Generated: Secrets Manager makes the value when it creates the
	// secret (a key of kapso-bridge's own, which no one outside needs to
	// know); the template still holds none.
	Generated bool
}

var secrets = []secret{
	{config.KapsoAPIKey, "kapso-api-key", "KapsoApiKeySecretArn",
		"Kapso Platform API key, sent as X-API-Key", false},
	{config.ProjectWebhookSecret, "project-webhook-secret", "ProjectWebhookSecretArn",
		"Secret of the Kapso project webhook, verifies X-Webhook-Signature", false},
	{config.BridgeAPIToken, "bridge-api-token", "BridgeApiTokenSecretArn",
		"Bearer token the SaaS backend presents to the /v1 API", false},
	{config.ErasureHashKey, "erasure-hash-key", "ErasureHashKeySecretArn",
		"Key (32 random bytes or more) of the HMAC that keys an erased person's tombstones; never change it once set", true},
	{config.MetaAppSecret, "meta-app-secret", "MetaAppSecretArn",
		"Meta app secret for raw Meta webhooks (optional, may stay empty)", false},
	{config.EventsWebhookSecret, "events-webhook-secret", "EventsWebhookSecretArn",
		"Standard Webhooks signing secret (whsec_...) of the events POSTed to the SaaS's webhook URL", false},
}

// access is one least-privilege grant: actions on exactly one table (and, for
// Query, optionally its indexes), one queue, one topic, one bucket's objects
// or one secret. KMS permissions for encrypted tables, topics and buckets are
// derived from the actions.
type access struct {
	Table   *schema.Table
	Indexes bool
	Queue   *schema.Queue
	// DLQ: the grant is on the queue's dead-letter queue.
	DLQ   bool
	Topic *schema.Topic
	// Bucket: the grant is on the bucket's objects whose keys match Keys
	// (an IAM pattern, "*" for every object); never on the bucket itself,
	// so nothing lists its keys.
	Bucket *schema.Bucket
	Keys   string
	Secret *secret
	// Role: the grant is on a role the function assumes.
	Role    *assumedRole
	Actions []string
}

// assumedRole is a role of the stack that exactly one function assumes, to
// act with less than its own role may: its trust names that function's
// role alone, and its ARN reaches the function in Setting.
type assumedRole struct {
	ID          string // construct name of the role: "MediaReadRole"
	Description string
	Setting     config.Setting
	// Access lists its grants, as a function's (no secrets, no logs).
	Access []access
}

// mediaReadRole reads any object of the media bucket. The tenant API
// presigns a tenant's media GETs with a session of it whose session policy
// allows only that tenant's prefix: a presigned URL acts with its signer's
// permissions when it is used, so the URL reads nothing else, and the
// tenant API's own role reads no object at all.
var mediaReadRole = assumedRole{
	ID:          "MediaReadRole",
	Description: "Lets the tenantapi function presign GETs of one tenant's media, through a session policy of the tenant's prefix",
	Setting:     config.MediaReadRoleARN,
	Access:      []access{onObjects(schema.MediaBucket, "*", "s3:GetObject")},
}

// assume lets a function assume r.
func assume(r assumedRole) access {
	return access{Role: &r, Actions: []string{"sts:AssumeRole"}}
}

func onTable(t schema.Table, actions ...string) access {
	return access{Table: &t, Actions: actions}
}

// queryWithIndexes lets a function Query the table and each of its indexes.
func queryWithIndexes(t schema.Table) access {
	return access{Table: &t, Indexes: true, Actions: []string{"dynamodb:Query"}}
}

func sendTo(q schema.Queue) access {
	return access{Queue: &q, Actions: []string{"sqs:SendMessage"}}
}

// publishTo lets a function publish on a topic: sns:Publish also allows
// PublishBatch.
func publishTo(t schema.Topic) access {
	return access{Topic: &t, Actions: []string{"sns:Publish"}}
}

// onObjects lets a function act on the objects of a bucket whose keys match
// keys.
func onObjects(bk schema.Bucket, keys string, actions ...string) access {
	return access{Bucket: &bk, Keys: keys, Actions: actions}
}

// readBacklog lets a function read the depth of a queue's DLQ and sample
// its messages' age, without taking them.
func readBacklog(q schema.Queue) access {
	return access{Queue: &q, DLQ: true, Actions: []string{"sqs:GetQueueAttributes", "sqs:ReceiveMessage"}}
}

// readSecret lets a function read a secret; every function reading a secret
// setting gets it (see bridge.statements).
func readSecret(s secret) access {
	return access{Secret: &s, Actions: []string{"secretsmanager:GetSecretValue"}}
}

// consumer wires a function to a queue through an event source mapping. The
// function's timeout must be the queue's ConsumerTimeout, since the queue's
// visibility timeout is derived from it.
type consumer struct {
	Queue             schema.Queue
	BatchSize         int
	MaxBatchingWindow time.Duration
	// MaxConcurrency caps the pollers' concurrent invocations (2 is the minimum
	// AWS allows), protecting the downstreams without reserving concurrency.
	MaxConcurrency int
}

// streamConsumer wires a function to a table's DynamoDB stream through an
// event source mapping that drops no record: a batch is retried, from the
// record the function reports failed, for as long as the stream keeps it
// (24 hours), and the function's shard waits meanwhile.
type streamConsumer struct {
	Table             schema.Table
	BatchSize         int
	MaxBatchingWindow time.Duration
	// SortKeys, when set, filters the records: only those of items with
	// one of these sort keys, or whose keys begin as one of KeyPrefixes
	// says, invoke the function, which must still pass over any other.
	SortKeys    []string
	KeyPrefixes []dynamo.KeyPrefix
}

// function is one Lambda function: everything the stack needs to build it, its
// role, its triggers and its alarms. Adding a function is adding an entry.
type function struct {
	// Name is functions/<Name>, built to <assetDir>/<Name>/bootstrap. The
	// function gets the settings shared/config lists for it.
	Name        config.Function
	Description string
	MemoryMB    int
	Timeout     time.Duration
	// Access lists its grants on tables and queues; those on the secrets it
	// reads follow from its settings. TestRolesGrantExactlyWhatTheCodeCalls
	// holds them to what the function's code calls.
	Access []access
	// Routes are its routes on the HTTP API.
	Routes   []routes.Route
	Consumes *consumer
	// Stream is the table stream it consumes.
	Stream    *streamConsumer
	Scheduled bool // run by the reconcileSchedule expression
	// OnlyWith names a deploy setting without which the function is not
	// built, nor its triggers, nor the subscriptions of the queue it
	// consumes: a deploy that leaves it out has nothing that cannot start.
	OnlyWith *config.Setting
	// ReservedConcurrency caps the function when it must not run in parallel
	// with itself (0: unreserved). Off when the reserveConcurrency setting is.
	ReservedConcurrency int
}

var functions = []function{
	{
		Name:        config.Ingest,
		Description: "Verifies signed Kapso and Meta webhooks, claims each delivery and enqueues it whole",
		// CPU scales with memory: HMAC and JSON over bodies up to 3 MB must finish well inside Kapso's 10 s.
		MemoryMB: 512,
		// Kapso gives up after 10 s; the handler answers by its own deadline
		// first (INGEST_DEADLINE, 7 s by default).
		Timeout: 10 * time.Second,
		Access: []access{
			// Claim, accept, release; a body too large for SQS is stored aside in one BatchWriteItem.
			onTable(schema.Idempotency, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
				"dynamodb:BatchWriteItem"),
			onTable(schema.Bridge, "dynamodb:GetItem"),
			sendTo(schema.Lifecycle),
			sendTo(schema.Messages),
		},
		Routes: routes.Ingest,
	},
	{
		Name:        config.TenantAPI,
		Description: "Creates Kapso setup links for tenants and reports their connection",
		// Network-bound (Kapso API, DynamoDB): little CPU needed.
		MemoryMB: 256,
		// A few sequential Kapso calls, inside the HTTP API's 30 s integration limit.
		Timeout: 20 * time.Second,
		Access: []access{
			// Tenants, customers, links and their facts; a tenant's messages,
			// conversations and contacts, read; a person's erasure and its
			// tombstones, stored and advanced (a job saved done deletes its
			// person's lock).
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
				"dynamodb:UpdateItem", "dynamodb:DeleteItem"),
			// The table's own partitions, and the indexes' lists: a tenant's
			// conversations and a conversation's messages, in order (gsi1),
			// and the tenant list, by status (gsi1), whole or by need of
			// attention (gsi2).
			queryWithIndexes(schema.Bridge),
			// A message to send is stored as queued, then handed to the sender.
			sendTo(schema.Outbound),
			// The feed of events, read: a tenant's partition or the whole
			// stack's, from the table itself (the publisher appends).
			onTable(schema.Events, "dynamodb:Query"),
			// Its media URLs: each tenant's presigned through a session of
			// the read role scoped to the tenant's prefix; it reads no
			// object itself.
			assume(mediaReadRole),
			// A tenant's upload, written only under the uploads keys: one
			// PutObject or a multipart upload, aborted or deleted when it
			// fails.
			onObjects(schema.MediaBucket, media.UploadKey("*", "*", "*"),
				"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"),
		},
		Routes: routes.TenantAPI,
	},
	{
		Name:        config.Redirect,
		Description: "Records Kapso's success and failure redirects and sends the browser on to the app",
		// Two DynamoDB reads and one SQS send: little CPU needed.
		MemoryMB: 256,
		// A person's browser is waiting; anything slower has already failed.
		Timeout: 10 * time.Second,
		Access: []access{
			// Finds a link's tenant and reads its connection, to send the person
			// of a superseded link on with status=superseded; the lifecycle worker
			// records the redirect. When SQS refuses it, it is kept (PutItem) for
			// the reconciler to replay.
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"),
			sendTo(schema.Lifecycle),
		},
		Routes: routes.Redirects,
	},
	{
		Name:        config.Lifecycle,
		Description: "Applies connection lifecycle events and registers per-number webhooks",
		// Network-bound (Kapso API, DynamoDB): little CPU needed.
		MemoryMB: 256,
		// The lifecycle queue's visibility timeout is six times this.
		Timeout: schema.Lifecycle.ConsumerTimeout,
		Access: []access{
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"),
			// Reads the chunks of a body the ingest stored aside.
			onTable(schema.Idempotency, "dynamodb:GetItem"),
			// Tells the messages worker that a number connected, so it applies
			// the events it kept for the number.
			sendTo(schema.Messages),
		},
		Consumes: &consumer{
			Queue: schema.Lifecycle,
			// An event may take a few Kapso calls of a few seconds each: five
			// stay inside the 30 s timeout, and failures are reported per item.
			BatchSize: 5,
			// Lifecycle events are rare and a person watches the connect screen
			// for their outcome: waiting to fill a batch would only add latency.
			MaxBatchingWindow: 0,
			// Keeps the Kapso API calls of a burst of onboardings low.
			MaxConcurrency: 2,
		},
	},
	{
		Name:        config.Reconcile,
		Description: "Makes stored state true when deliveries were missed: connections, messages, links, webhooks",
		// Network-bound (Kapso API, DynamoDB index queries): little CPU needed.
		MemoryMB: 256,
		// A run paces its Kapso calls (2,400 at 300 a minute take 8
		// minutes) and stops cleanly 2 s before its deadline; the schedule
		// runs it every 15 minutes.
		Timeout: 10 * time.Minute,
		Access: []access{
			queryWithIndexes(schema.Bridge),
			// Confirming a number appends facts and writes the number's item;
			// a replayed redirect hint is deleted once applied.
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
			// The message retention's backfill reads the table page by page,
			// 1,000 items a run, once per change of the setting.
			onTable(schema.Bridge, "dynamodb:Scan"),
			// A number it confirms is announced to the messages worker, as the
			// lifecycle worker announces the ones it confirms, and the
			// messages it catches up go to the same worker.
			sendTo(schema.Messages),
			// A send left queued goes back to the sender.
			sendTo(schema.Outbound),
			// A failed media copy due again goes back to the media worker,
			// as the message's event.
			sendTo(schema.Media),
			// Its summary reports the dead-letter queues' backlog.
			readBacklog(schema.Lifecycle), readBacklog(schema.Messages), readBacklog(schema.Outbound),
			readBacklog(schema.EventWebhooks), readBacklog(schema.Media),
			// Offboardings: a tenant's items, found by a bounded Scan (the
			// retention's, above) with a filter on its keys (offboarding is
			// rare) and deleted in batches, its events, and the media
			// objects its items name. An erasure deletes the person's told
			// events one by one.
			onTable(schema.Bridge, "dynamodb:BatchWriteItem"),
			onTable(schema.Events, "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"),
			onObjects(schema.MediaBucket, "*", "s3:DeleteObject"),
		},
		Scheduled: true,
		// Two overlapping sweeps would repeat each other's Kapso calls.
		ReservedConcurrency: 1,
	},
	{
		Name:        config.Messages,
		Description: "Splits number webhooks into events and stores each tenant's messages, statuses, conversations and contacts",
		// Network-bound (DynamoDB): little CPU needed.
		MemoryMB: 256,
		// The messages queue's visibility timeout is six times this.
		Timeout: schema.Messages.ConsumerTimeout,
		Access: []access{
			// Messages, statuses, conversations, contacts, events kept for
			// numbers without a tenant, rejects; a number's tenant.
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
				"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"),
			// Reads the chunks of a body the ingest stored aside.
			onTable(schema.Idempotency, "dynamodb:GetItem"),
		},
		Consumes: &consumer{
			Queue: schema.Messages,
			// The most Lambda takes from a standard queue without a batching
			// window; failures are reported per item.
			BatchSize: 10,
			// A person may be waiting on a reply in the SaaS app: no waiting to
			// fill a batch, as for the lifecycle worker.
			MaxBatchingWindow: 0,
			// A burst of deliveries drains through the queue without taking the
			// account's concurrency from the ingest, which Kapso waits on.
			MaxConcurrency: 5,
		},
	},
	{
		Name:        config.Outbound,
		Description: "Sends each message a tenant queued through Kapso's Meta proxy, exactly once, and records its WAMID",
		// Network-bound (Kapso, DynamoDB): little CPU needed.
		MemoryMB: 256,
		// The outbound queue's visibility timeout is six times this, and a
		// claim older than this is taken as its sender's death.
		Timeout: schema.Outbound.ConsumerTimeout,
		Access: []access{
			// The outbound message: read, claimed, accepted (with the message
			// of its WAMID, in one transaction, then the alias of a derived
			// conversation id) or failed; the per-number pacing counters;
			// a number's erasure mark and the tombstones of a send's person.
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
			// A paced or refused send goes back on its queue with a delay.
			sendTo(schema.Outbound),
		},
		Consumes: &consumer{
			Queue: schema.Outbound,
			// Each message is at most one Kapso call of up to 10 s, run
			// concurrently: ten fit the 30 s timeout.
			BatchSize: 10,
			// A person may be waiting for the message: no batching window.
			MaxBatchingWindow: 0,
			// Kapso's rate limit is the project's, shared with the other
			// functions; pacing per number does the rest.
			MaxConcurrency: 5,
		},
	},
	{
		Name:        config.Publisher,
		Description: "Tells each change of the bridge table's stream as events: appended to the feed, published on the events topic",
		// Network-bound (DynamoDB, SNS): little CPU needed.
		MemoryMB: 256,
		// A batch is one append and a few publications.
		Timeout: 30 * time.Second,
		Access: []access{
			// A stream record it can never read is kept aside.
			onTable(schema.Bridge, "dynamodb:PutItem"),
			// Each event appended to the feed.
			onTable(schema.Events, "dynamodb:BatchWriteItem"),
			// Then told on the topic, ten to a PublishBatch.
			publishTo(schema.EventsTopic),
		},
		Stream: &streamConsumer{
			Table: schema.Bridge,
			// A batch of changes makes one append to the feed and
			// PublishBatch calls of ten: a hundred fit the timeout many times.
			BatchSize: 100,
			// A person may be waiting on the event of a message: a second
			// gathers a burst into one batch and delays little.
			MaxBatchingWindow: time.Second,
			// Facts, links, claims, checkpoints, sync marks and the like
			// make no event: they invoke nothing.
			SortKeys:    dynamo.EventSortKeys,
			KeyPrefixes: dynamo.EventKeyPrefixes,
		},
	},
	{
		Name:        config.EventWebhooks,
		Description: "POSTs each event to the SaaS's webhook URL, signed per Standard Webhooks, and holds a failed one back until its next attempt",
		// Network-bound (the SaaS's endpoint): little CPU needed.
		MemoryMB: 256,
		// The event-webhooks queue's visibility timeout is six times this.
		Timeout: schema.EventWebhooks.ConsumerTimeout,
		Access: []access{
			// A message that is no event, kept aside.
			onTable(schema.Bridge, "dynamodb:PutItem"),
		},
		// A deploy without a webhook URL sends no webhooks: it takes the
		// events from the topic or the feed.
		OnlyWith: &config.EventsWebhookURL,
		Consumes: &consumer{
			Queue: schema.EventWebhooks,
			// Each event is one POST of at most 5 s, run concurrently.
			BatchSize:         10,
			MaxBatchingWindow: 0,
			// A failing endpoint is retried on the schedule, not by more
			// pollers.
			MaxConcurrency: 2,
		},
	},
	{
		Name:        config.Media,
		Description: "Copies each received message's media from Kapso into the media bucket once, and records it on the message",
		// Network-bound: a copy streams through one 8 MiB part buffer
		// whatever the media's size, and a batch runs two at once, well
		// inside 256 MB; SHA-256 on arm64 keeps up with the transfer.
		MemoryMB: 256,
		// The media queue's visibility timeout is six times this.
		Timeout: schema.Media.ConsumerTimeout,
		Access: []access{
			// The message's copy of its media read, and written with its
			// retry item in one transaction; a message that is no event,
			// kept aside.
			onTable(schema.Bridge, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
				"dynamodb:DeleteItem"),
			// The copy: streamed in, in parts for a large media; an upload
			// that fails is aborted and an object whose bytes are wrong
			// deleted. The worker holds a media.Objects, which can also
			// presign a GET: s3:GetObject follows.
			onObjects(schema.MediaBucket, "*", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject"),
			// A failed copy is held back on its queue until its next attempt
			// with the event source's ChangeMessageVisibility.
		},
		Consumes: &consumer{
			Queue: schema.Media,
			// The worker's own bound: its copies, two at a time, each within
			// its timeouts, end inside the consumer timeout.
			BatchSize: mediaworker.BatchSize,
			// Media is copied as it arrives: a person may be waiting to see it.
			MaxBatchingWindow: 0,
			// Each invocation copies two at once: ten copies at most, each
			// one Kapso metadata call, leave Kapso's limit to the rest.
			MaxConcurrency: 5,
		},
	},
}
