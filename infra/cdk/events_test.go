package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// The events topic is encrypted with a key of its own, which rotates,
// refuses requests without TLS, and its ARN is an output that says how to
// subscribe.
func TestEventsTopic(t *testing.T) {
	if got := len(ofType("AWS::SNS::Topic")); got != len(schema.Topics)+1 {
		t.Errorf("topics = %d, want the schema's and the alarm topic", got)
	}
	_, topic := one(t, "AWS::SNS::Topic", "EventsTopic")
	if render(topic.Properties["KmsMasterKeyId"]) != "EventsTopicKey" {
		t.Errorf("events topic key = %v", topic.Properties["KmsMasterKeyId"])
	}
	_, key := one(t, "AWS::KMS::Key", "EventsTopicKey")
	if key.Properties["EnableKeyRotation"] != true {
		t.Errorf("events topic key does not rotate: %v", key.Properties)
	}
	tlsOnly := false
	for _, p := range ofType("AWS::SNS::TopicPolicy") {
		if render(p.Properties["Topics"]) != "EventsTopic" {
			continue
		}
		for _, st := range list(prop(p.Properties, "PolicyDocument", "Statement")) {
			tlsOnly = tlsOnly || prop(st, "Effect") == "Deny" && prop(st, "Condition", "Bool", "aws:SecureTransport") == "false" &&
				render(prop(st, "Resource")) == "EventsTopic" && prop(st, "Principal") == "*"
		}
	}
	if !tlsOnly {
		t.Error("the events topic does not refuse requests without TLS")
	}
	out := tpl.Outputs["EventsTopicArn"]
	if render(out["Value"]) != "EventsTopic" {
		t.Errorf("EventsTopicArn = %v", out["Value"])
	}
	desc, _ := out["Description"].(string)
	for _, want := range []string{"subscribe", "filter policy", schema.EventAttrType, schema.EventAttrTenant, "docs/deploy.md"} {
		if !strings.Contains(desc, want) {
			t.Errorf("EventsTopicArn's description %q does not say %q", desc, want)
		}
	}
}

// The event-webhooks queue is subscribed to the events topic with raw
// delivery, and its policy lets that topic, and only it, send to it.
func TestEventWebhooksQueueIsSubscribed(t *testing.T) {
	var subs []cfnResource
	for _, r := range ofType("AWS::SNS::Subscription") {
		if r.Properties["Protocol"] == "sqs" && render(r.Properties["Endpoint"]) == "EventWebhooksQueue" {
			subs = append(subs, r)
		}
	}
	if len(subs) != 1 {
		t.Fatalf("event-webhooks queue subscriptions = %d, want 1", len(subs))
	}
	p := subs[0].Properties
	checks := map[string][2]any{
		"topic":    {render(p["TopicArn"]), "EventsTopic"},
		"endpoint": {render(p["Endpoint"]), "EventWebhooksQueue"},
		"raw":      {p["RawMessageDelivery"], true},
		"filter":   {p["FilterPolicy"], nil},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("subscription %s = %v, want %v", what, c[0], c[1])
		}
	}
	var senders []string
	for _, qp := range ofType("AWS::SQS::QueuePolicy") {
		if render(prop(qp.Properties, "Queues")) != "EventWebhooksQueue" {
			continue
		}
		for _, st := range list(prop(qp.Properties, "PolicyDocument", "Statement")) {
			if prop(st, "Effect") == "Allow" {
				senders = append(senders, render(prop(qp.Properties, "Queues"))+" "+render(prop(st, "Principal", "Service"))+" "+
					render(prop(st, "Action"))+" "+render(prop(st, "Condition", "ArnEquals", "aws:SourceArn")))
			}
		}
	}
	if want := []string{"EventWebhooksQueue sns.amazonaws.com sqs:SendMessage EventsTopic"}; !slices.Equal(senders, want) {
		t.Errorf("queue policies allow %q, want %q", senders, want)
	}
	// SSE-SQS: SNS needs no key policy to send to it.
	_, q := one(t, "AWS::SQS::Queue", "EventWebhooksQueue")
	if q.Properties["SqsManagedSseEnabled"] != true || q.Properties["KmsMasterKeyId"] != nil {
		t.Errorf("event-webhooks queue encryption = %v", q.Properties)
	}
}

// The publisher reads the bridge table's stream from its oldest record, in
// batches Lambda splits to find a failing record, from the first record the
// publisher reports failed, retried until the record leaves the stream;
// only the records of items that make events invoke it.
func TestPublisherReadsTheBridgeTableStream(t *testing.T) {
	var mapping map[string]any
	for _, m := range ofType("AWS::Lambda::EventSourceMapping") {
		if render(m.Properties["EventSourceArn"]) == "BridgeTable/stream" {
			if mapping != nil {
				t.Fatal("two mappings read the bridge table's stream")
			}
			mapping = m.Properties
		}
	}
	if mapping == nil {
		t.Fatal("no mapping reads the bridge table's stream")
	}
	checks := map[string][2]any{
		"function":          {render(mapping["FunctionName"]), "PublisherFunction"},
		"starting position": {mapping["StartingPosition"], "TRIM_HORIZON"},
		"batch size":        {mapping["BatchSize"], 100.0},
		"batching window":   {mapping["MaximumBatchingWindowInSeconds"], 1.0},
		"bisect":            {mapping["BisectBatchOnFunctionError"], true},
		"responses":         {mapping["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}},
		"retries":           {mapping["MaximumRetryAttempts"], -1.0},
		"record age":        {mapping["MaximumRecordAgeInSeconds"], -1.0},
		// Nothing is sent anywhere instead: a record is retried, never dropped.
		"on failure": {mapping["DestinationConfig"], nil},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("stream mapping %s = %v, want %v", what, c[0], c[1])
		}
	}
	// One filter for the sort keys, one for each kind of item whose keys
	// begin alike.
	filters := list(prop(mapping, "FilterCriteria", "Filters"))
	if len(filters) != 1+len(dynamo.EventKeyPrefixes) {
		t.Fatalf("stream mapping filters = %v", filters)
	}
	var pattern struct {
		DynamoDB struct {
			Keys map[string]struct{ S []string }
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal([]byte(prop(filters[0], "Pattern").(string)), &pattern); err != nil {
		t.Fatal(err)
	}
	if got := pattern.DynamoDB.Keys[schema.AttrSK].S; len(pattern.DynamoDB.Keys) != 1 || !slices.Equal(got, dynamo.EventSortKeys) {
		t.Errorf("stream filter = %s, want the sort keys %v", prop(filters[0], "Pattern"), dynamo.EventSortKeys)
	}
	for i, p := range dynamo.EventKeyPrefixes {
		var prefixes struct {
			DynamoDB struct {
				Keys map[string]struct{ S []struct{ Prefix string } }
			} `json:"dynamodb"`
		}
		raw := prop(filters[1+i], "Pattern").(string)
		if err := json.Unmarshal([]byte(raw), &prefixes); err != nil {
			t.Fatal(err)
		}
		keys := prefixes.DynamoDB.Keys
		pk, sk := keys[schema.AttrPK].S, keys[schema.AttrSK].S
		if len(keys) != 2 || len(pk) != 1 || len(sk) != 1 || pk[0].Prefix != p.PK || sk[0].Prefix != p.SK {
			t.Errorf("stream filter %d = %s, want the keys beginning %+v", 1+i, raw, p)
		}
	}
}

// A deploy without eventsWebhookUrl builds neither the eventwebhooks
// function nor its queue's subscription, so nothing in it fails; the queue,
// its DLQ (and their alarms) and the secret are there for when it is set.
func TestAStackWithoutAWebhookURLSendsNoWebhooks(t *testing.T) {
	s := stackWithoutWebhooks(t)
	functionsIn := map[string]bool{}
	for id := range s.tpl.ofType("AWS::Lambda::Function") {
		functionsIn[construct(id)] = true
	}
	for id := range wantFunctions {
		if want := id != "Eventwebhooks"; functionsIn[id+"Function"] != want {
			t.Errorf("%sFunction built: %v, want %v", id, functionsIn[id+"Function"], want)
		}
	}
	for id, r := range s.tpl.Resources {
		if strings.HasPrefix(construct(id), "Eventwebhooks") {
			t.Errorf("%s (%s) is built", id, r.Type)
		}
	}
	for _, r := range s.tpl.ofType("AWS::SNS::Subscription") {
		if r.Properties["Protocol"] == "sqs" && render(r.Properties["Endpoint"]) == "EventWebhooksQueue" {
			t.Errorf("the event-webhooks queue is subscribed: %v", r.Properties)
		}
	}
	for _, m := range s.tpl.ofType("AWS::Lambda::EventSourceMapping") {
		if render(m.Properties["EventSourceArn"]) == "EventWebhooksQueue" {
			t.Errorf("the event-webhooks queue is consumed: %v", m.Properties)
		}
	}
	for _, qp := range s.tpl.ofType("AWS::SQS::QueuePolicy") {
		if render(qp.Properties["Queues"]) != "EventWebhooksQueue" {
			continue
		}
		for _, st := range list(prop(qp.Properties, "PolicyDocument", "Statement")) {
			if prop(st, "Effect") == "Allow" {
				t.Errorf("%s's policy allows %v", render(qp.Properties["Queues"]), st)
			}
		}
	}
	s.tpl.one(t, "AWS::SQS::Queue", "EventWebhooksQueue")
	s.tpl.one(t, "AWS::SQS::Queue", "EventWebhooksDeadLetterQueue")
	s.tpl.one(t, "AWS::SecretsManager::Secret", "EventsWebhookSecretSecret")
	s.tpl.one(t, "AWS::SNS::Topic", "EventsTopic")
	s.tpl.one(t, "AWS::CloudWatch::Alarm", "EventWebhooksDlqNotEmpty")
	if _, ok := s.tpl.Outputs["EventsWebhookSecretArn"]; !ok {
		t.Error("no EventsWebhookSecretArn output")
	}
	assertNagClean(t, s)
}
