// Package schema is the one definition of kapso-bridge's tables, indexes and
// queues. The CDK stack (infra/cdk) and the local stack (infra/local) both build
// their resources from it, so the laptop can never drift from the deployment.
package schema

import (
	"strings"
	"time"
)

// KeyType is a DynamoDB attribute type used in a key.
type KeyType string

const (
	String KeyType = "S"
	Number KeyType = "N"
)

// Attribute is one key attribute.
type Attribute struct {
	Name string
	Type KeyType
}

// Index is a global secondary index, projecting all attributes.
type Index struct {
	Name         string
	PartitionKey Attribute
	SortKey      *Attribute
}

// Table describes one DynamoDB table.
type Table struct {
	// ID is the logical name: the CDK construct id and the suffix of local names.
	ID           string
	PartitionKey Attribute
	SortKey      *Attribute
	Indexes      []Index
	// TTLAttribute holds a Unix-seconds expiry; DynamoDB deletes the item some
	// time after it, so readers must still check it themselves.
	TTLAttribute string
	// Retain marks production data: deletion protection on, kept on stack delete.
	Retain bool
	// Stream turns on the table's DynamoDB stream with new and old images:
	// the table is then the outbox of the events its changes make.
	Stream bool
	// EnvVar is the environment variable through which functions get the name.
	EnvVar string
}

// Queue describes one SQS queue and its dead-letter queue.
type Queue struct {
	ID string
	// MaxReceiveCount is how many receives a message gets before it moves to
	// the DLQ: enough to ride out a dependency blip with the visibility backoff,
	// few enough that a poison message reaches a human within minutes.
	MaxReceiveCount int
	// ConsumerTimeout is the consuming function's timeout; the visibility
	// timeout is six times it, as AWS recommends for event source mappings.
	ConsumerTimeout time.Duration
	// Retention of messages in the main queue; the DLQ keeps them 14 days.
	Retention time.Duration
	EnvVar    string
}

// VisibilityTimeout is six times the consumer timeout.
func (q Queue) VisibilityTimeout() time.Duration { return 6 * q.ConsumerTimeout }

// DLQRetention is the longest SQS allows, so a human has two weeks to redrive.
const DLQRetention = 14 * 24 * time.Hour

// DLQID is the logical name of the queue's dead-letter queue.
func (q Queue) DLQID() string { return q.ID + "-dlq" }

// DLQEnvVar is the environment variable carrying the DLQ's URL
// (LIFECYCLE_QUEUE_URL's DLQ is LIFECYCLE_DLQ_URL).
func (q Queue) DLQEnvVar() string { return strings.TrimSuffix(q.EnvVar, "_QUEUE_URL") + "_DLQ_URL" }

// Attribute names shared by every table.
const (
	AttrPK     = "pk"
	AttrSK     = "sk"
	AttrGSI1PK = "gsi1pk"
	AttrGSI1SK = "gsi1sk"
	AttrGSI2PK = "gsi2pk"
	AttrGSI2SK = "gsi2sk"
	AttrTTL    = "expires_at"
)

// GSI1 is the bridge table's secondary index: items that the reconciler and
// lookups find by something other than their own key (links by status and
// expiry, numbers by webhook state).
const GSI1 = "gsi1"

// GSI2 is the bridge table's second index, for items listed two ways: an
// item has one key pair per index, and tenants, listed by status in gsi1,
// are also listed whole and by whether they need a human in gsi2.
const GSI2 = "gsi2"

var (
	// Idempotency holds delivery claims and event bodies too large for SQS.
	Idempotency = Table{
		ID:           "idempotency",
		PartitionKey: Attribute{AttrPK, String},
		TTLAttribute: AttrTTL,
		EnvVar:       "IDEMPOTENCY_TABLE",
	}
	// Bridge holds tenants, attempts, phone numbers, webhook secrets, timelines
	// and, later, conversations and messages: one table, typed by key prefix.
	Bridge = Table{
		ID:           "bridge",
		PartitionKey: Attribute{AttrPK, String},
		SortKey:      &Attribute{AttrSK, String},
		Indexes: []Index{{
			Name:         GSI1,
			PartitionKey: Attribute{AttrGSI1PK, String},
			SortKey:      &Attribute{AttrGSI1SK, String},
		}, {
			Name:         GSI2,
			PartitionKey: Attribute{AttrGSI2PK, String},
			SortKey:      &Attribute{AttrGSI2SK, String},
		}},
		TTLAttribute: AttrTTL,
		Retain:       true,
		// Every change of a tenant, message, conversation or contact item
		// reaches the publisher from the same write that made it.
		Stream: true,
		EnvVar: "BRIDGE_TABLE",
	}
	// Events holds the feed: every event the publisher told, under its
	// tenant and under the whole stack, in the order it was stored, until
	// it expires (EVENTS_RETENTION_DAYS).
	Events = Table{
		ID:           "events",
		PartitionKey: Attribute{AttrPK, String},
		SortKey:      &Attribute{AttrSK, String},
		Indexes: []Index{{
			Name:         GSI1,
			PartitionKey: Attribute{AttrGSI1PK, String},
			SortKey:      &Attribute{AttrGSI1SK, String},
		}},
		TTLAttribute: AttrTTL,
		EnvVar:       "EVENTS_TABLE",
	}
	Tables = []Table{Idempotency, Bridge, Events}
)

var (
	// Lifecycle carries project webhook events and redirect outcomes.
	Lifecycle = Queue{
		ID:              "lifecycle",
		MaxReceiveCount: 5,
		ConsumerTimeout: 30 * time.Second,
		Retention:       4 * 24 * time.Hour,
		EnvVar:          "LIFECYCLE_QUEUE_URL",
	}
	// Messages carries message, status, conversation and contact events.
	Messages = Queue{
		ID:              "messages",
		MaxReceiveCount: 5,
		ConsumerTimeout: 30 * time.Second,
		// The longest SQS allows: a tenant's messages outlive any outage of
		// the worker, and a stack that queued messages before the worker
		// existed loses none when it is deployed.
		Retention: 14 * 24 * time.Hour,
		EnvVar:    "MESSAGES_QUEUE_URL",
	}
	// Outbound carries the send requests the tenant API accepted, one
	// message each ({"tenant_id","id"}), to the sender.
	Outbound = Queue{
		ID:              "outbound",
		MaxReceiveCount: 5,
		ConsumerTimeout: 30 * time.Second,
		// A send that waited four days is news to nobody; the reconciler
		// re-queues a message still queued long before that.
		Retention: 4 * 24 * time.Hour,
		EnvVar:    "OUTBOUND_QUEUE_URL",
	}
	// EventWebhooks carries every event of EventsTopic (subscribed with raw
	// delivery: each message's body is one event's JSON) to the sender
	// that POSTs it to the SaaS's webhook URL. A failed POST is tried again
	// 5 s, 30 s, 2 min, 10 min and 1 h later, then hourly: 29 receives
	// reach 24 hours after the first (shared/eventwebhooksworker holds the
	// two equal), then the DLQ keeps the event for a redrive.
	EventWebhooks = Queue{
		ID:              "event-webhooks",
		MaxReceiveCount: 29,
		ConsumerTimeout: 30 * time.Second,
		// Longer than the day of retries, counted from the event's publish.
		Retention: 4 * 24 * time.Hour,
		EnvVar:    "EVENT_WEBHOOKS_QUEUE_URL",
	}
	// Media carries the message.received events of messages with media
	// (subscribed to EventsTopic with MediaSubscription's filter, raw
	// delivery) to the worker that copies the bytes into MediaBucket. A
	// fetch that fails is tried again 10 s, 1 min and 5 min later; the
	// reconciler takes over after that (shared/mediaworker holds the
	// schedule to MaxReceiveCount).
	Media = Queue{
		ID:              "media",
		MaxReceiveCount: 5,
		// A 100 MB document streamed from Kapso into S3.
		ConsumerTimeout: 5 * time.Minute,
		// Meta's media ids live 7 days; a fetch queued longer is the
		// reconciler's.
		Retention: 4 * 24 * time.Hour,
		EnvVar:    "MEDIA_QUEUE_URL",
	}
	Queues = []Queue{Lifecycle, Messages, Outbound, EventWebhooks, Media}
)

// MaxSQSMessageBytes is every queue's MaximumMessageSize, set explicitly
// because SQS still defaults new queues to 256 KiB. It is the most SQS allows,
// so that all but the largest Meta deliveries (up to 3 MB) travel inside their
// message; a larger body is kept aside and its message carries a reference.
const MaxSQSMessageBytes = 1024 * 1024

// Topic describes one SNS topic.
type Topic struct {
	// ID is the logical name: the CDK construct id and the suffix of local names.
	ID string
	// EnvVar is the environment variable through which functions get its ARN.
	EnvVar string
}

// EventsTopic carries every event the publisher tells, each with the
// message attributes type and tenant_id, for subscribers' filter policies.
var EventsTopic = Topic{ID: "events", EnvVar: "EVENTS_TOPIC_ARN"}

// Topics lists every topic.
var Topics = []Topic{EventsTopic}

// Message attributes of every event on EventsTopic.
const (
	EventAttrType   = "type"
	EventAttrTenant = "tenant_id"
	// EventAttrMedia is "true" on a message.received event whose message
	// has media, and absent otherwise.
	EventAttrMedia = "media"
)

// Subscription is a queue subscribed to a topic.
type Subscription struct {
	Topic Topic
	Queue Queue
	// Raw delivers each message's body as published, without SNS's JSON
	// envelope, and its attributes as the queue message's.
	Raw bool
	// FilterPolicy, when set, is the subscription's filter policy on the
	// message attributes (JSON).
	FilterPolicy string
}

// EventWebhooksSubscription feeds every event of EventsTopic, as
// published, to the EventWebhooks queue.
var EventWebhooksSubscription = Subscription{Topic: EventsTopic, Queue: EventWebhooks, Raw: true}

// MediaSubscription feeds the Media queue the message.received events
// of messages with media.
var MediaSubscription = Subscription{Topic: EventsTopic, Queue: Media, Raw: true,
	FilterPolicy: `{"` + EventAttrType + `":["message.received"],"` + EventAttrMedia + `":["true"]}`}

// Subscriptions lists every subscription.
var Subscriptions = []Subscription{EventWebhooksSubscription, MediaSubscription}

// Bucket describes one S3 bucket.
type Bucket struct {
	// ID is the logical name: the CDK construct id and the suffix of the
	// local bucket's name.
	ID string
	// EnvVar is the environment variable through which functions get its name.
	EnvVar string
}

// MediaBucket keeps every media object, under {tenant_id}/{phone_number_id}/.
var MediaBucket = Bucket{ID: "media", EnvVar: "MEDIA_BUCKET"}

// Buckets lists every bucket.
var Buckets = []Bucket{MediaBucket}
