package main

import (
	"math"
	"slices"
)

// On-demand prices in us-east-1, as AWS's pricing pages state them in
// November 2026 (DynamoDB's since its on-demand throughput cut of
// 1 November 2024). Free tiers are left out.
const (
	pricesAsOf = "2026-11, us-east-1, on-demand, no free tier"
	// DynamoDB, per million write / read request units. A standard write
	// of an item up to 1 KB is one write request unit.
	priceDynamoDBWriteMillion = 0.625
	priceDynamoDBReadMillion  = 0.125
	// SQS standard queue, per million requests; each 64 KB of a payload is
	// billed as one request.
	priceSQSMillion = 0.40
	sqsBilledChunk  = 64 << 10
	// Lambda, per million requests and per GB-second on arm64; duration is
	// billed per millisecond, rounded up.
	priceLambdaRequestMillion = 0.20
	priceLambdaGBSecondArm64  = 0.0000133334
	// API Gateway HTTP API, per million requests (first 300 million a
	// month), metered in 512 KB increments.
	priceHTTPAPIMillion = 1.00
	// SNS standard topic, per million publish requests; each 64 KB of a
	// request's payload is billed as one request, and a PublishBatch of up
	// to 10 messages is one request. Deliveries to SQS queues cost nothing
	// at SNS.
	priceSNSPublishMillion = 0.50
	snsBilledChunk         = 64 << 10
	// Memory of the functions as the CDK stack sets it (infra/cdk/functions.go).
	ingestMemoryMB   = 512
	messagesMemoryMB = 256
)

// costInputs are what the cost model is computed from: counted calls and
// measured durations.
type costInputs struct {
	// IngestAWSCalls per new delivery (TestAWSCallsPerDelivery): one is the
	// SendMessage, the others DynamoDB writes (the claim and the accept).
	IngestAWSCalls int `json:"ingest_aws_calls_per_delivery"`
	// WorkerWritesMessage and WorkerWritesStatus are the messages worker's
	// DynamoDB calls per new message and per status event
	// (TestAWSCallsPerEvent), all writes.
	WorkerWritesMessage float64 `json:"worker_dynamodb_writes_per_message"`
	WorkerWritesStatus  float64 `json:"worker_dynamodb_writes_per_status"`
	// DeliveryBytes is one delivery's body; QueueMessageBytes the message
	// the ingest puts on the queue for it.
	DeliveryBytes     int `json:"delivery_bytes"`
	QueueMessageBytes int `json:"queue_message_bytes"`
	// IngestBilledMs is the mean billed duration of one ingest invocation
	// (one delivery), each rounded up to the millisecond.
	IngestBilledMs float64 `json:"ingest_billed_ms_per_invocation"`
	// WorkerBilledMs is the mean billed duration of one messages worker
	// invocation, whose batches held WorkerBatch events on average.
	WorkerBilledMs float64 `json:"worker_billed_ms_per_invocation"`
	WorkerBatch    float64 `json:"worker_events_per_invocation"`
}

// costLine is one priced item per million events.
type costLine struct {
	Item     string  `json:"item"`
	Quantity float64 `json:"quantity_per_million_events"`
	Unit     string  `json:"unit"`
	USD      float64 `json:"usd_per_million_events"`
}

// costModel is the price of a million events of one kind.
type costModel struct {
	Event string     `json:"event"`
	Lines []costLine `json:"lines"`
	USD   float64    `json:"usd_per_million_events"`
}

// costSection is bench-results.json's "cost".
type costSection struct {
	Prices      map[string]any   `json:"prices"`
	Inputs      costInputs       `json:"inputs"`
	EventInputs *eventCostInputs `json:"event_inputs,omitempty"`
	Models      []costModel      `json:"per_million_events"`
}

func prices() map[string]any {
	return map[string]any{
		"as_of": pricesAsOf, "dynamodb_write_request_unit_per_million": priceDynamoDBWriteMillion,
		"dynamodb_read_request_unit_per_million": priceDynamoDBReadMillion, "sqs_request_per_million": priceSQSMillion,
		"lambda_request_per_million": priceLambdaRequestMillion, "lambda_gb_second_arm64": priceLambdaGBSecondArm64,
		"http_api_request_per_million": priceHTTPAPIMillion, "ingest_memory_mb": ingestMemoryMB,
		"messages_memory_mb": messagesMemoryMB, "sns_publish_request_per_million": priceSNSPublishMillion,
		"sns_delivery_to_sqs_per_million": 0,
	}
}

// billedMs is a Lambda invocation's billed duration: rounded up to the ms.
func billedMs(ms float64) float64 { return math.Ceil(ms) }

// chunks is how many billing units of size chunk n bytes make (at least one).
func chunks(n, chunk int) float64 { return math.Max(1, math.Ceil(float64(n)/float64(chunk))) }

// costPerMillion prices a million events, each arriving in a delivery of
// its own (Kapso sends one webhook per message or status unless batching is
// asked for), each leaving workerWrites DynamoDB writes in the worker.
func costPerMillion(event string, in costInputs, workerWrites float64) costModel {
	const m = 1e6
	batch := math.Max(in.WorkerBatch, 1)
	ingestWrites := float64(max(in.IngestAWSCalls-1, 0))
	sqsSend := chunks(in.QueueMessageBytes, sqsBilledChunk)
	workerInvocations := m / batch
	httpAPI := chunks(in.DeliveryBytes, 512<<10)
	// One write request unit a write: the load section sizes every item the
	// run wrote and reports a miss if any kind reaches 1 KB.
	lines := []costLine{
		{Item: "API Gateway HTTP API requests", Quantity: m * httpAPI, Unit: "requests", USD: httpAPI * priceHTTPAPIMillion},
		{Item: "Lambda requests (ingest + messages worker)", Quantity: m + workerInvocations, Unit: "requests",
			USD: (m + workerInvocations) / m * priceLambdaRequestMillion},
		{Item: "Lambda GB-seconds, ingest", Quantity: m * in.IngestBilledMs / 1000 * ingestMemoryMB / 1024, Unit: "GB-s"},
		{Item: "Lambda GB-seconds, messages worker", Quantity: workerInvocations * in.WorkerBilledMs / 1000 * messagesMemoryMB / 1024, Unit: "GB-s"},
		{Item: "DynamoDB write request units, ingest", Quantity: m * ingestWrites, Unit: "WRU"},
		{Item: "DynamoDB write request units, messages worker", Quantity: m * workerWrites, Unit: "WRU"},
		{Item: "SQS requests (send; receive and delete per batch)", Quantity: m*sqsSend + 2*workerInvocations, Unit: "requests",
			USD: (m*sqsSend + 2*workerInvocations) / m * priceSQSMillion},
	}
	for i := range lines {
		switch l := &lines[i]; l.Unit {
		case "GB-s":
			l.USD = l.Quantity * priceLambdaGBSecondArm64
		case "WRU":
			l.USD = l.Quantity / m * priceDynamoDBWriteMillion
		}
	}
	c := costModel{Event: event, Lines: lines}
	for _, l := range lines {
		c.USD += l.USD
	}
	return c
}

// eventCostInputs are what an event costs off the delivery path, counted
// per event in the events section.
type eventCostInputs struct {
	// FeedWRU is the feed's write units (two items an event); SNSBilled
	// the topic's requests as billed.
	FeedWRU   float64 `json:"feed_write_units_per_event"`
	SNSBilled float64 `json:"sns_billed_requests_per_event"`
	// WebhookQueueRequests are the event-webhooks queue's receives,
	// deletes and visibility changes per event (its poller's and the
	// worker's).
	WebhookQueueRequests float64 `json:"webhook_queue_requests_per_event"`
	// PublisherInvocations and WebhookInvocations are the two functions'
	// invocations per event: the stream's batches, the queue's receives
	// that returned events.
	PublisherInvocations float64 `json:"publisher_invocations_per_event"`
	WebhookInvocations   float64 `json:"webhook_invocations_per_event"`
}

// eventCost prices a million events off the delivery path: the feed's
// writes, the topic's publications, the event-webhooks queue (the message
// SNS puts on it counted as one request, an upper bound), the publisher's
// and the webhook worker's invocations. Their GB-seconds are not counted.
func eventCost(in eventCostInputs) costModel {
	const m = 1e6
	queue := 1 + in.WebhookQueueRequests
	invocations := in.PublisherInvocations + in.WebhookInvocations
	lines := []costLine{
		{Item: "DynamoDB write request units, feed", Quantity: m * in.FeedWRU, Unit: "WRU", USD: in.FeedWRU * priceDynamoDBWriteMillion},
		{Item: "SNS publish requests (PublishBatch)", Quantity: m * in.SNSBilled, Unit: "requests", USD: in.SNSBilled * priceSNSPublishMillion},
		{Item: "SNS deliveries to the event-webhooks queue", Quantity: m, Unit: "deliveries"},
		{Item: "SQS requests, event-webhooks queue (in; receive, delete)", Quantity: m * queue, Unit: "requests",
			USD: queue * priceSQSMillion},
		{Item: "Lambda requests (publisher + eventwebhooks)", Quantity: m * invocations, Unit: "requests",
			USD: invocations * priceLambdaRequestMillion},
	}
	c := costModel{Event: "event (feed, topic, webhook)", Lines: lines}
	for _, l := range lines {
		c.USD += l.USD
	}
	return c
}

// costOf prices a million message events and a million status events. Both
// take the durations measured on message deliveries: for a status, whose
// worker makes one write rather than three, they are an upper bound.
func costOf(in costInputs) costSection {
	return costSection{Prices: prices(), Inputs: in, Models: []costModel{
		costPerMillion("message", in, in.WorkerWritesMessage),
		costPerMillion("status", in, in.WorkerWritesStatus),
	}}
}

// percentile is the nearest-rank percentile (0 < p ≤ 100) of vs; 0 when
// vs is empty. vs is not modified.
func percentile(vs []float64, p float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// dist summarises a set of durations in milliseconds.
type dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func distOf(vs []float64) dist {
	d := dist{N: len(vs), P50: percentile(vs, 50), P99: percentile(vs, 99), Max: percentile(vs, 100)}
	for _, v := range vs {
		d.Mean += v
	}
	if len(vs) > 0 {
		d.Mean /= float64(len(vs))
	}
	return d
}
