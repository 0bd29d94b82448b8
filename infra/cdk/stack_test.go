package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func TestNoUnsuppressedNagFindings(t *testing.T) {
	nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, e := range *annotations.FindError(jsii.String("*"), nag) {
		//lint:ignore SA1019 the CDK's Go binding answers FindError with this type and offers no other
		t.Errorf("cdk-nag error at %s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *annotations.FindWarning(jsii.String("*"), nag) {
		//lint:ignore SA1019 as above, for FindWarning
		t.Errorf("cdk-nag warning at %s: %v", *w.Id, w.Entry.Data)
	}
	// Suppressions are deliberate choices: each carries a reason.
	for id, r := range tpl.Resources {
		var meta struct {
			CdkNag struct {
				Rules []struct{ ID, Reason string } `json:"rules_to_suppress"`
			} `json:"cdk_nag"`
		}
		raw, _ := json.Marshal(r.Metadata)
		_ = json.Unmarshal(raw, &meta)
		for _, rule := range meta.CdkNag.Rules {
			if len(rule.Reason) < 20 {
				t.Errorf("%s suppresses %s without a reason", id, rule.ID)
			}
		}
	}
}

func TestRoutesAreExactlyTheFunctionRoutes(t *testing.T) {
	// Route key to the function it reaches.
	want := map[string]string{
		"POST /webhooks/kapso":                                                            "IngestFunction",
		"POST /webhooks/kapso/{phone_number_id}":                                          "IngestFunction",
		"POST /webhooks/meta/{phone_number_id}":                                           "IngestFunction",
		"GET /v1/tenants":                                                                 "TenantapiFunction",
		"POST /v1/tenants/{tenant_id}/setup-links":                                        "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/templates":                                           "TenantapiFunction",
		"POST /v1/tenants/{tenant_id}/templates":                                          "TenantapiFunction",
		"POST /v1/tenants/{tenant_id}/templates/sync":                                     "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/connection":                                          "TenantapiFunction",
		"DELETE /v1/tenants/{tenant_id}":                                                  "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/conversations":                                       "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/conversations/{conversation_id}/messages":            "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/messages/{wamid}":                                    "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/messages/{wamid}/media":                              "TenantapiFunction",
		"POST /v1/tenants/{tenant_id}/media":                                              "TenantapiFunction",
		"POST /v1/tenants/{tenant_id}/messages":                                           "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}":        "TenantapiFunction",
		"DELETE /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}":     "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/erasures/{erasure_id}":                               "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}/export": "TenantapiFunction",
		"GET /v1/events":                     "TenantapiFunction",
		"GET /v1/tenants/{tenant_id}/events": "TenantapiFunction",
		"GET /v1/audit":                      "TenantapiFunction",
		"GET /connect/success":               "RedirectFunction",
		"GET /connect/failure":               "RedirectFunction",
	}
	integrationTarget := map[string]string{}
	for id, r := range ofType("AWS::ApiGatewayV2::Integration") {
		integrationTarget["integrations/"+construct(id)] = render(r.Properties["IntegrationUri"])
	}
	got := map[string]string{}
	for id, r := range ofType("AWS::ApiGatewayV2::Route") {
		key := r.Properties["RouteKey"].(string)
		got[key] = integrationTarget[render(r.Properties["Target"])]
		if key == "$default" {
			t.Errorf("%s is a $default route: unknown paths must not reach a function", id)
		}
		if r.Properties["AuthorizationType"] != nil && r.Properties["AuthorizationType"] != "NONE" {
			t.Errorf("%s: unexpected authorizer %v", key, r.Properties["AuthorizationType"])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes reach\n%v\nwant\n%v", got, want)
	}
	// One integration per routed function.
	if len(integrationTarget) != 3 {
		t.Errorf("integrations = %v, want one per routed function", integrationTarget)
	}
}

func TestStageThrottlesAndLogsAccess(t *testing.T) {
	_, stage := one(t, "AWS::ApiGatewayV2::Stage", "ApiDefaultStage")
	if stage.Properties["StageName"] != "$default" || stage.Properties["AutoDeploy"] != true {
		t.Errorf("stage = %v", stage.Properties)
	}
	if got := prop(stage.Properties, "DefaultRouteSettings"); !reflect.DeepEqual(got,
		map[string]any{"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 100.0}) {
		t.Errorf("throttling = %v", got)
	}
	if got := render(prop(stage.Properties, "AccessLogSettings", "DestinationArn")); got != "ApiAccessLogs" {
		t.Errorf("access logs go to %q", got)
	}
	var format map[string]string
	if err := json.Unmarshal([]byte(prop(stage.Properties, "AccessLogSettings", "Format").(string)), &format); err != nil {
		t.Fatalf("access log format is not JSON: %v", err)
	}
	for _, field := range []string{"requestId", "status", "routeKey", "responseLatency", "integrationError"} {
		if !strings.HasPrefix(format[field], "$context.") {
			t.Errorf("access log lacks %s: %v", field, format)
		}
	}
	_, logs := one(t, "AWS::Logs::LogGroup", "ApiAccessLogs")
	if logs.Properties["RetentionInDays"] != 30.0 {
		t.Errorf("access log retention = %v", logs.Properties["RetentionInDays"])
	}
}

func TestOutputs(t *testing.T) {
	want := map[string]string{
		"ApiUrl":                  "Api",
		"ProjectWebhookUrl":       "Api/webhooks/kapso",
		"NumberWebhookUrlPattern": "Api/webhooks/kapso/{phone_number_id}",
		"SuccessRedirectUrl":      "Api/connect/success",
		"FailureRedirectUrl":      "Api/connect/failure",
		"SetupLinksUrlPattern":    "Api/v1/tenants/{tenant_id}/setup-links",
		"KapsoApiKeySecretArn":    "KapsoApiKeySecret",
		"ProjectWebhookSecretArn": "ProjectWebhookSecretSecret",
		"BridgeApiTokenSecretArn": "BridgeApiTokenSecret",
		"ErasureHashKeySecretArn": "ErasureHashKeySecret",
		"MetaAppSecretArn":        "MetaAppSecretSecret",
		"EventsWebhookSecretArn":  "EventsWebhookSecretSecret",
		"AlarmTopicArn":           "AlarmTopic",
		"EventsTopicArn":          "EventsTopic",
	}
	for name, value := range want {
		if got := render(tpl.Outputs[name]["Value"]); got != value {
			t.Errorf("output %s = %q, want %q", name, got, value)
		}
	}
}

func TestTables(t *testing.T) {
	_, key := one(t, "AWS::KMS::Key", "DataKey")
	if key.Properties["EnableKeyRotation"] != true || key.DeletionPolicy != "Retain" {
		t.Errorf("data key: rotation %v, deletion %q", key.Properties["EnableKeyRotation"], key.DeletionPolicy)
	}
	type wantTable struct {
		keys, attributes, indexes string
		retained                  bool
		stream                    any
	}
	want := map[string]wantTable{
		"BridgeTable": {keys: "pk HASH, sk RANGE", attributes: "gsi1pk S, gsi1sk S, gsi2pk S, gsi2sk S, pk S, sk S",
			indexes: "gsi1 (gsi1pk HASH, gsi1sk RANGE) ALL, gsi2 (gsi2pk HASH, gsi2sk RANGE) ALL", retained: true,
			stream: "NEW_AND_OLD_IMAGES"},
		"IdempotencyTable": {keys: "pk HASH", attributes: "pk S", retained: false},
		"EventsTable": {keys: "pk HASH, sk RANGE", attributes: "gsi1pk S, gsi1sk S, pk S, sk S",
			indexes: "gsi1 (gsi1pk HASH, gsi1sk RANGE) ALL", retained: false},
	}
	if got := len(ofType("AWS::DynamoDB::Table")); got != len(want) {
		t.Errorf("tables = %d, want %d", got, len(want))
	}
	for name, w := range want {
		_, r := one(t, "AWS::DynamoDB::Table", name)
		p := r.Properties
		var attributes []string
		for _, a := range list(p["AttributeDefinitions"]) {
			attributes = append(attributes, fmt.Sprint(prop(a, "AttributeName"), " ", prop(a, "AttributeType")))
		}
		var indexes []string
		for _, ix := range list(p["GlobalSecondaryIndexes"]) {
			if ix != nil {
				indexes = append(indexes, fmt.Sprintf("%v (%s) %v", prop(ix, "IndexName"), keySchema(prop(ix, "KeySchema")),
					prop(ix, "Projection", "ProjectionType")))
			}
		}
		checks := map[string][2]any{
			"key schema":    {keySchema(p["KeySchema"]), w.keys},
			"attributes":    {strings.Join(sorted(attributes), ", "), w.attributes},
			"indexes":       {strings.Join(indexes, ", "), w.indexes},
			"billing":       {p["BillingMode"], "PAY_PER_REQUEST"},
			"PITR":          {prop(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), true},
			"TTL attribute": {prop(p, "TimeToLiveSpecification", "AttributeName"), "expires_at"},
			"TTL enabled":   {prop(p, "TimeToLiveSpecification", "Enabled"), true},
			"SSE":           {prop(p, "SSESpecification", "SSEEnabled"), true},
			"SSE type":      {prop(p, "SSESpecification", "SSEType"), "KMS"},
			"SSE key":       {render(prop(p, "SSESpecification", "KMSMasterKeyId")), "DataKey"},
			"protection":    {p["DeletionProtectionEnabled"] == true, w.retained},
			"retained":      {r.DeletionPolicy == "Retain", w.retained},
			"stream":        {prop(p, "StreamSpecification", "StreamViewType"), w.stream},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s %s = %v, want %v", name, what, c[0], c[1])
			}
		}
	}
}

// keySchema renders a key schema: "pk HASH, sk RANGE".
func keySchema(v any) string {
	var keys []string
	for _, k := range list(v) {
		keys = append(keys, fmt.Sprint(prop(k, "AttributeName"), " ", prop(k, "KeyType")))
	}
	return strings.Join(keys, ", ")
}

func TestQueues(t *testing.T) {
	const (
		day        = 24 * 60 * 60.0
		maxMessage = 1024 * 1024.0
	)
	type wantQueue struct {
		visibility, retention, maxReceive float64
		consumer                          string
	}
	want := map[string]wantQueue{
		// Six times its consumer's 30 s timeout.
		"Lifecycle": {visibility: 180, retention: 4 * day, maxReceive: 5, consumer: "LifecycleFunction"},
		"Messages":  {visibility: 180, retention: 14 * day, maxReceive: 5, consumer: "MessagesFunction"},
		"Outbound":  {visibility: 180, retention: 4 * day, maxReceive: 5, consumer: "OutboundFunction"},
		// A day of retries: 5 s, 30 s, 2 min, 10 min, 1 h, then hourly.
		"EventWebhooks": {visibility: 180, retention: 4 * day, maxReceive: 29, consumer: "EventwebhooksFunction"},
		// Six times the 5 minutes of a batch of copies.
		"Media": {visibility: 1800, retention: 4 * day, maxReceive: 5, consumer: "MediaFunction"},
	}
	for name, w := range want {
		_, main := one(t, "AWS::SQS::Queue", name+"Queue")
		_, dlq := one(t, "AWS::SQS::Queue", name+"DeadLetterQueue")
		checks := map[string][2]any{
			"visibility":      {main.Properties["VisibilityTimeout"], w.visibility},
			"retention":       {main.Properties["MessageRetentionPeriod"], w.retention},
			"SSE":             {main.Properties["SqsManagedSseEnabled"], true},
			"maxReceiveCount": {prop(main.Properties, "RedrivePolicy", "maxReceiveCount"), w.maxReceive},
			"DLQ":             {render(prop(main.Properties, "RedrivePolicy", "deadLetterTargetArn")), name + "DeadLetterQueue"},
			"DLQ retention":   {dlq.Properties["MessageRetentionPeriod"], 14 * day},
			"DLQ SSE":         {dlq.Properties["SqsManagedSseEnabled"], true},
			"max size":        {main.Properties["MaximumMessageSize"], maxMessage},
			"DLQ max size":    {dlq.Properties["MaximumMessageSize"], maxMessage},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("queue %s %s = %v, want %v", name, what, c[0], c[1])
			}
		}
		// The consumer's timeout fits six times in the visibility timeout, so a
		// message is not redelivered while its batch is still running.
		if w.consumer != "" {
			_, fn := one(t, "AWS::Lambda::Function", w.consumer)
			if timeout := fn.Properties["Timeout"].(float64); w.visibility < 6*timeout {
				t.Errorf("queue %s visibility %vs < 6 × %s timeout %vs", name, w.visibility, w.consumer, timeout)
			}
		}
	}
	// Every queue, DLQs included, refuses requests without TLS.
	queues := ofType("AWS::SQS::Queue")
	secured := map[string]bool{}
	for _, p := range ofType("AWS::SQS::QueuePolicy") {
		for _, st := range list(prop(p.Properties, "PolicyDocument", "Statement")) {
			if prop(st, "Effect") == "Deny" && prop(st, "Condition", "Bool", "aws:SecureTransport") == "false" {
				secured[render(prop(st, "Resource"))] = true
			}
		}
	}
	for id := range queues {
		if !secured[construct(id)] {
			t.Errorf("queue %s does not enforce TLS", id)
		}
	}
	if len(queues) != 2*len(want)+1 {
		t.Errorf("queues = %d, want each queue, its DLQ and the schedule DLQ", len(queues))
	}
}

func TestWorkersConsumeTheirQueues(t *testing.T) {
	mappings := ofType("AWS::Lambda::EventSourceMapping")
	// One per queue, and the bridge table's stream.
	if len(mappings) != 6 {
		t.Fatalf("event source mappings = %d, want 6", len(mappings))
	}
	for _, w := range []struct {
		name, queue           string
		batch, maxConcurrency int
	}{
		{"Lifecycle", "Lifecycle", 5, 2},
		{"Messages", "Messages", 10, 5},
		{"Outbound", "Outbound", 10, 5},
		{"Eventwebhooks", "EventWebhooks", 10, 2},
		{"Media", "Media", 4, 5},
	} {
		assert(t, w.name+" event source mapping", func() {
			template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), &map[string]any{
				"FunctionName":   map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^" + w.name + "Function"))},
				"EventSourceArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^" + w.queue + "Queue")), "Arn"}},
				"BatchSize":      w.batch,
				// Partial batch responses: only the failed messages come back.
				"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
				"ScalingConfig":                  map[string]any{"MaximumConcurrency": w.maxConcurrency},
				"MaximumBatchingWindowInSeconds": assertions.Match_Absent(),
			})
		})
	}
}

func TestReconcileSchedule(t *testing.T) {
	_, s := one(t, "AWS::Scheduler::Schedule", "ReconcileSchedule")
	checks := map[string][2]any{
		"expression":  {s.Properties["ScheduleExpression"], "rate(15 minutes)"},
		"state":       {s.Properties["State"], "ENABLED"},
		"target":      {render(prop(s.Properties, "Target", "Arn")), "ReconcileFunction"},
		"role":        {render(prop(s.Properties, "Target", "RoleArn")), "ReconcileScheduleRole"},
		"DLQ":         {render(prop(s.Properties, "Target", "DeadLetterConfig", "Arn")), "ReconcileScheduleDeadLetterQueue"},
		"retries":     {prop(s.Properties, "Target", "RetryPolicy", "MaximumRetryAttempts"), 3.0},
		"retry limit": {prop(s.Properties, "Target", "RetryPolicy", "MaximumEventAgeInSeconds"), 600.0},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("schedule %s = %v, want %v", what, c[0], c[1])
		}
	}
	_, role := one(t, "AWS::IAM::Role", "ReconcileScheduleRole")
	trust := prop(list(prop(role.Properties, "AssumeRolePolicyDocument", "Statement"))[0], "Principal", "Service")
	if trust != "scheduler.amazonaws.com" {
		t.Errorf("schedule role trusts %v", trust)
	}
	if got := policyGrants(t, "ReconcileScheduleRole"); !reflect.DeepEqual(got, map[string][]string{
		"ReconcileFunction":                {"lambda:InvokeFunction"},
		"ReconcileScheduleDeadLetterQueue": {"sqs:SendMessage"},
	}) {
		t.Errorf("schedule role grants = %v", got)
	}
	_, invoke := one(t, "AWS::Lambda::EventInvokeConfig", "ReconcileFunctionEventInvokeConfig")
	if invoke.Properties["MaximumRetryAttempts"] != 0.0 {
		t.Errorf("reconcile async retries = %v, want 0", invoke.Properties["MaximumRetryAttempts"])
	}
}

func TestSecretsAreCreatedEmpty(t *testing.T) {
	want := map[string]string{
		"KapsoApiKeySecret":          "KapsoBridge/kapso-api-key",
		"ProjectWebhookSecretSecret": "KapsoBridge/project-webhook-secret",
		"BridgeApiTokenSecret":       "KapsoBridge/bridge-api-token",
		"ErasureHashKeySecret":       "KapsoBridge/erasure-hash-key",
		"MetaAppSecretSecret":        "KapsoBridge/meta-app-secret",
		"EventsWebhookSecretSecret":  "KapsoBridge/events-webhook-secret",
	}
	if got := len(ofType("AWS::SecretsManager::Secret")); got != len(want) {
		t.Errorf("secrets = %d, want %d", got, len(want))
	}
	for id, name := range want {
		_, r := one(t, "AWS::SecretsManager::Secret", id)
		if r.Properties["Name"] != name {
			t.Errorf("secret %s name = %v, want %s", id, r.Properties["Name"], name)
		}
		if _, ok := r.Properties["SecretString"]; ok {
			t.Errorf("secret %s has SecretString: the template must not hold a value", name)
		}
		gen, generated := r.Properties["GenerateSecretString"].(map[string]any)
		switch {
		case id == "ErasureHashKeySecret" && (!generated || gen["PasswordLength"] != float64(64) || gen["ExcludePunctuation"] != true):
			t.Errorf("secret %s: generated %v, want 64 letters and digits made by Secrets Manager", name, r.Properties["GenerateSecretString"])
		case id != "ErasureHashKeySecret" && generated:
			t.Errorf("secret %s is generated: its value comes from outside", name)
		}
	}
}

// Every function role's grants, by function construct name: resource
// (construct name) to sorted actions.
var wantGrants = map[string]map[string][]string{
	"Ingest": {
		"IdempotencyTable":           {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		"BridgeTable":                {"dynamodb:GetItem"},
		"LifecycleQueue":             {"sqs:SendMessage"},
		"MessagesQueue":              {"sqs:SendMessage"},
		"ProjectWebhookSecretSecret": {"secretsmanager:GetSecretValue"},
		"MetaAppSecretSecret":        {"secretsmanager:GetSecretValue"},
		"DataKey":                    {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
	"Tenantapi": {
		"BridgeTable": {"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
			"dynamodb:UpdateItem"},
		// gsi1: a tenant's conversations, a conversation's messages, tenants
		// by status; gsi2: tenants whole and by need of attention.
		"BridgeTable/index/gsi1": {"dynamodb:Query"},
		"BridgeTable/index/gsi2": {"dynamodb:Query"},
		"KapsoApiKeySecret":      {"secretsmanager:GetSecretValue"},
		"BridgeApiTokenSecret":   {"secretsmanager:GetSecretValue"},
		"ErasureHashKeySecret":   {"secretsmanager:GetSecretValue"},
		"DataKey":                {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		// A message to send is handed to the sender.
		"OutboundQueue": {"sqs:SendMessage"},
		// The feed of events, read.
		"EventsTable": {"dynamodb:Query"},
		// Uploads written under the uploads keys only, aborted or deleted
		// when they fail; no object read, no ListBucket: presigned GETs
		// are signed with sessions of the read role.
		"MediaBucket/*/*/uploads/*": {"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"},
		"MediaReadRole":             {"sts:AssumeRole"},
		"MediaBucketKey":            {"kms:Decrypt", "kms:GenerateDataKey"},
	},
	"Redirect": {
		"BridgeTable":    {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
		"LifecycleQueue": {"sqs:SendMessage"},
		"DataKey":        {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
	"Lifecycle": {
		"BridgeTable":       {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
		"IdempotencyTable":  {"dynamodb:GetItem"},
		"KapsoApiKeySecret": {"secretsmanager:GetSecretValue"},
		"DataKey":           {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		"LifecycleQueue": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:GetQueueUrl", "sqs:ReceiveMessage"},
		// Tells the messages worker that a number connected.
		"MessagesQueue": {"sqs:SendMessage"},
	},
	"Messages": {
		"BridgeTable": {"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
			"dynamodb:Query", "dynamodb:UpdateItem"},
		"IdempotencyTable":     {"dynamodb:GetItem"},
		"ErasureHashKeySecret": {"secretsmanager:GetSecretValue"},
		"DataKey":              {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		"MessagesQueue": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:GetQueueUrl", "sqs:ReceiveMessage"},
	},
	"Reconcile": {
		// Scan: the message retention's backfill. An offboarding scans for
		// the tenant's items and deletes them in batches; it deletes its
		// events and the media objects they name. An erasure deletes the
		// person's told events and media copies.
		"BridgeTable": {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
			"dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"},
		"EventsTable":   {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:Query"},
		"MediaBucket/*": {"s3:DeleteObject"},
		// An index Query is granted on each of the table's indexes: the
		// check that derives grants from the code cannot tell which one a
		// call names.
		"BridgeTable/index/gsi1": {"dynamodb:Query"},
		"BridgeTable/index/gsi2": {"dynamodb:Query"},
		"KapsoApiKeySecret":      {"secretsmanager:GetSecretValue"},
		"DataKey":                {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		"MessagesQueue":          {"sqs:SendMessage"},
		"OutboundQueue":          {"sqs:SendMessage"},
		// A failed media copy due again, as its message's event.
		"MediaQueue":                   {"sqs:SendMessage"},
		"LifecycleDeadLetterQueue":     {"sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
		"MessagesDeadLetterQueue":      {"sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
		"OutboundDeadLetterQueue":      {"sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
		"EventWebhooksDeadLetterQueue": {"sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
		"MediaDeadLetterQueue":         {"sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
	},
	"Outbound": {
		// The outbound message read and moved (its accept a transaction of
		// two UpdateItems, and the alias of a derived conversation id), the
		// per-number pacing counters; a number's erasure mark and the
		// tombstones of a send's person, with their key.
		"BridgeTable":          {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		"KapsoApiKeySecret":    {"secretsmanager:GetSecretValue"},
		"ErasureHashKeySecret": {"secretsmanager:GetSecretValue"},
		"DataKey":              {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		// Its event source, and the paced or refused sends it puts back.
		"OutboundQueue": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"},
	},
	"Publisher": {
		// A stream record it can never read, kept aside.
		"BridgeTable": {"dynamodb:PutItem"},
		// Its event source: Lambda reads the stream with its role.
		"BridgeTable/stream": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
			"dynamodb:ListStreams"},
		// Each event appended to the feed, then published.
		"EventsTable":    {"dynamodb:BatchWriteItem"},
		"EventsTopic":    {"sns:Publish"},
		"EventsTopicKey": {"kms:Decrypt", "kms:GenerateDataKey"},
		"DataKey":        {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
	"Eventwebhooks": {
		// A message that is no event, kept aside.
		"BridgeTable":               {"dynamodb:PutItem"},
		"EventsWebhookSecretSecret": {"secretsmanager:GetSecretValue"},
		"DataKey":                   {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		// Its event source, whose ChangeMessageVisibility also holds a
		// failed event back until its next attempt.
		"EventWebhooksQueue": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:GetQueueUrl", "sqs:ReceiveMessage"},
	},
	"Media": {
		// The message's copy of its media and its retry item; a message
		// that is no event, kept aside.
		"BridgeTable": {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
			"dynamodb:UpdateItem"},
		"KapsoApiKeySecret": {"secretsmanager:GetSecretValue"},
		"DataKey":           {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		// The copy, on any object: a PutObject or a multipart upload,
		// aborted or deleted when it fails; no ListBucket.
		"MediaBucket/*":  {"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"},
		"MediaBucketKey": {"kms:Decrypt", "kms:GenerateDataKey"},
		// Its event source, whose ChangeMessageVisibility also holds a
		// failed copy back until its next attempt.
		"MediaQueue": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:GetQueueUrl", "sqs:ReceiveMessage"},
	},
}

func TestFunctionRolesGrantExactlyTheirAccess(t *testing.T) {
	if got := len(ofType("AWS::Lambda::Function")); got != len(wantGrants) {
		t.Fatalf("wantGrants covers %d functions, the template has %d", len(wantGrants), got)
	}
	for id, grants := range wantGrants {
		want := map[string][]string{
			// Every function writes its own log group and its X-Ray traces.
			id + "Logs": {"logs:CreateLogStream", "logs:PutLogEvents"},
			"*":         {"xray:PutTelemetryRecords", "xray:PutTraceSegments"},
		}
		for k, v := range grants {
			want[k] = v
		}
		if got := policyGrants(t, id+"Role"); !reflect.DeepEqual(got, want) {
			t.Errorf("%s grants:\n got %v\nwant %v", id, got, want)
		}
		_, role := one(t, "AWS::IAM::Role", id+"Role")
		if role.Properties["ManagedPolicyArns"] != nil {
			t.Errorf("%s role has managed policies %v", id, role.Properties["ManagedPolicyArns"])
		}
	}
}

// The media read role reads any object of the bucket, with its key, and
// nothing else; only the tenantapi function's role may assume it.
func TestMediaReadRole(t *testing.T) {
	if got, want := policyGrants(t, "MediaReadRole"), map[string][]string{
		"MediaBucket/*":  {"s3:GetObject"},
		"MediaBucketKey": {"kms:Decrypt"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("MediaReadRole grants:\n got %v\nwant %v", got, want)
	}
	_, role := one(t, "AWS::IAM::Role", "MediaReadRole")
	if role.Properties["ManagedPolicyArns"] != nil || role.Properties["MaxSessionDuration"] != nil {
		t.Errorf("MediaReadRole has managed policies %v or a session duration %v", role.Properties["ManagedPolicyArns"],
			role.Properties["MaxSessionDuration"])
	}
	trust := list(prop(role.Properties, "AssumeRolePolicyDocument", "Statement"))
	if len(trust) != 1 {
		t.Fatalf("MediaReadRole trust: %v", trust)
	}
	st := trust[0]
	if prop(st, "Effect") != "Allow" || render(prop(st, "Action")) != "sts:AssumeRole" ||
		render(prop(st, "Principal", "AWS")) != "TenantapiRole" || prop(st, "Principal", "Service") != nil ||
		prop(st, "Condition") != nil {
		t.Errorf("MediaReadRole trust: %v, want sts:AssumeRole by TenantapiRole alone", st)
	}
	// No other role may assume it.
	for name, r := range ofType("AWS::IAM::Policy") {
		if render(r.Properties["Roles"]) != "TenantapiRole" && strings.Contains(fmt.Sprint(r.Properties), "sts:AssumeRole") {
			t.Errorf("%s allows sts:AssumeRole", name)
		}
	}
}

// policyGrants collects the statements of every policy attached to a role.
func policyGrants(t *testing.T, role string) map[string][]string {
	t.Helper()
	grants := map[string][]string{}
	for _, p := range ofType("AWS::IAM::Policy") {
		if render(p.Properties["Roles"]) != role {
			continue
		}
		for _, st := range list(prop(p.Properties, "PolicyDocument", "Statement")) {
			if prop(st, "Effect") != "Allow" {
				t.Errorf("%s: unexpected statement %v", role, st)
			}
			for _, res := range list(prop(st, "Resource")) {
				for _, a := range list(prop(st, "Action")) {
					grants[render(res)] = sorted(append(grants[render(res)], a.(string)))
				}
			}
		}
	}
	return grants
}

// Every function, by construct name: its memory (MB), its timeout (s) and
// the names of its environment variables.
var wantFunctions = map[string]struct {
	memory, timeout float64
	env             []string
}{
	"Ingest": {512, 10, []string{"BRIDGE_TABLE", "IDEMPOTENCY_TABLE", "KAPSO_PROJECT_WEBHOOK_SECRET_ARN",
		"LIFECYCLE_QUEUE_URL", "LOG_LEVEL", "MESSAGES_QUEUE_URL", "MESSAGE_RETENTION_DAYS", "META_APP_SECRET_ARN"}},
	"Tenantapi": {256, 20, []string{"BRIDGE_API_TOKEN_SECRET_ARN", "BRIDGE_TABLE", "ERASURE_HASH_KEY_SECRET_ARN", "EVENTS_TABLE", "KAPSO_API_BASE_URL",
		"KAPSO_API_KEY_SECRET_ARN", "KAPSO_META_BASE_URL", "LOG_LEVEL", "MEDIA_BUCKET", "MEDIA_READ_ROLE_ARN", "MEDIA_URL_TTL", "MESSAGE_RETENTION_DAYS",
		"OUTBOUND_QUEUE_URL", "PUBLIC_BASE_URL"}},
	"Redirect": {256, 10, []string{"APP_FAILURE_URL", "APP_SUCCESS_URL", "BRIDGE_TABLE", "LIFECYCLE_QUEUE_URL",
		"LOG_LEVEL"}},
	"Lifecycle": {256, 30, []string{"BRIDGE_TABLE", "IDEMPOTENCY_TABLE", "KAPSO_API_BASE_URL",
		"KAPSO_API_KEY_SECRET_ARN", "LOG_LEVEL", "MESSAGES_QUEUE_URL", "PUBLIC_BASE_URL"}},
	"Messages": {256, 30, []string{"BRIDGE_TABLE", "ERASURE_HASH_KEY_SECRET_ARN", "IDEMPOTENCY_TABLE", "LOG_LEVEL", "MESSAGE_RETENTION_DAYS"}},
	"Reconcile": {256, 600, []string{"BRIDGE_TABLE", "EVENTS_TABLE", "EVENT_WEBHOOKS_DLQ_URL", "KAPSO_API_BASE_URL", "KAPSO_API_KEY_SECRET_ARN", "KAPSO_META_BASE_URL",
		"LIFECYCLE_DLQ_URL", "LOG_LEVEL", "MEDIA_BUCKET", "MEDIA_DLQ_URL", "MEDIA_QUEUE_URL", "MESSAGES_DLQ_URL", "MESSAGES_QUEUE_URL", "MESSAGE_RETENTION_DAYS", "OUTBOUND_DLQ_URL",
		"OUTBOUND_QUEUE_URL", "OUTBOUND_UNCONFIRMED_AFTER", "PUBLIC_BASE_URL", "RECONCILE_KAPSO_CALLS",
		"RECONCILE_KAPSO_PER_MINUTE", "TEMPLATE_SYNC_INTERVAL"}},
	"Outbound": {256, 30, []string{"BRIDGE_TABLE", "ERASURE_HASH_KEY_SECRET_ARN", "KAPSO_API_KEY_SECRET_ARN", "KAPSO_META_BASE_URL", "LOG_LEVEL",
		"MESSAGE_RETENTION_DAYS", "OUTBOUND_QUEUE_URL", "SEND_RATE_PER_NUMBER"}},
	"Eventwebhooks": {256, 30, []string{"BRIDGE_TABLE", "EVENTS_WEBHOOK_SECRET_ARN", "EVENTS_WEBHOOK_URL",
		"EVENT_WEBHOOKS_QUEUE_URL", "LOG_LEVEL"}},
	"Publisher": {256, 30, []string{"BRIDGE_TABLE", "EVENTS_RETENTION_DAYS", "EVENTS_TABLE", "EVENTS_TOPIC_ARN",
		"LOG_LEVEL", "MESSAGE_RETENTION_DAYS"}},
	"Media": {256, 300, []string{"BRIDGE_TABLE", "KAPSO_API_KEY_SECRET_ARN", "KAPSO_META_BASE_URL", "LOG_LEVEL",
		"MEDIA_BUCKET", "MEDIA_QUEUE_URL"}},
}

func TestFunctionsConfiguration(t *testing.T) {
	if got := len(ofType("AWS::Lambda::Function")); got != len(wantFunctions) {
		t.Errorf("functions = %d, want %d", got, len(wantFunctions))
	}
	for id, w := range wantFunctions {
		_, r := one(t, "AWS::Lambda::Function", id+"Function")
		p := r.Properties
		checks := map[string][2]any{
			"runtime":       {p["Runtime"], "provided.al2023"},
			"architecture":  {p["Architectures"], []any{"arm64"}},
			"handler":       {p["Handler"], "bootstrap"},
			"log format":    {prop(p, "LoggingConfig", "LogFormat"), "JSON"},
			"log level":     {prop(p, "LoggingConfig", "ApplicationLogLevel"), "INFO"},
			"log group":     {render(prop(p, "LoggingConfig", "LogGroup")), id + "Logs"},
			"tracing":       {prop(p, "TracingConfig", "Mode"), "Active"},
			"memory":        {p["MemorySize"], w.memory},
			"timeout":       {p["Timeout"], w.timeout},
			"role":          {render(p["Role"]), id + "Role"},
			"LOG_LEVEL env": {prop(p, "Environment", "Variables", "LOG_LEVEL"), "INFO"},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s %s = %v, want %v", id, what, c[0], c[1])
			}
		}
		var env []string
		for name := range prop(p, "Environment", "Variables").(map[string]any) {
			env = append(env, name)
		}
		if !reflect.DeepEqual(sorted(env), w.env) {
			t.Errorf("%s env = %v, want %v", id, sorted(env), w.env)
		}
		_, logs := one(t, "AWS::Logs::LogGroup", id+"Logs")
		if logs.Properties["RetentionInDays"] != 30.0 {
			t.Errorf("%s log retention = %v", id, logs.Properties["RetentionInDays"])
		}
	}
	_, reconcile := one(t, "AWS::Lambda::Function", "ReconcileFunction")
	if reconcile.Properties["ReservedConcurrentExecutions"] != 1.0 {
		t.Errorf("reconcile reserved concurrency = %v, want 1", reconcile.Properties["ReservedConcurrentExecutions"])
	}
}

func TestFunctionEnvironmentValues(t *testing.T) {
	vars := func(name string) map[string]any {
		_, r := one(t, "AWS::Lambda::Function", strings.ToUpper(name[:1])+name[1:]+"Function")
		return prop(r.Properties, "Environment", "Variables").(map[string]any)
	}
	checks := map[string][2]any{
		"ingest IDEMPOTENCY_TABLE":                {render(vars("ingest")["IDEMPOTENCY_TABLE"]), "IdempotencyTable"},
		"ingest MESSAGES_QUEUE_URL":               {render(vars("ingest")["MESSAGES_QUEUE_URL"]), "MessagesQueue"},
		"ingest KAPSO_PROJECT_WEBHOOK_SECRET_ARN": {render(vars("ingest")["KAPSO_PROJECT_WEBHOOK_SECRET_ARN"]), "ProjectWebhookSecretSecret"},
		"tenantapi KAPSO_API_BASE_URL":            {vars("tenantapi")["KAPSO_API_BASE_URL"], "https://api.kapso.ai/platform/v1"},
		"tenantapi PUBLIC_BASE_URL":               {render(vars("tenantapi")["PUBLIC_BASE_URL"]), "Api"},
		"tenantapi BRIDGE_API_TOKEN_SECRET_ARN":   {render(vars("tenantapi")["BRIDGE_API_TOKEN_SECRET_ARN"]), "BridgeApiTokenSecret"},
		"redirect APP_SUCCESS_URL":                {vars("redirect")["APP_SUCCESS_URL"], testSuccessURL},
		"redirect APP_FAILURE_URL":                {vars("redirect")["APP_FAILURE_URL"], testFailureURL},
		"lifecycle IDEMPOTENCY_TABLE":             {render(vars("lifecycle")["IDEMPOTENCY_TABLE"]), "IdempotencyTable"},
		"lifecycle MESSAGES_QUEUE_URL":            {render(vars("lifecycle")["MESSAGES_QUEUE_URL"]), "MessagesQueue"},
		"reconcile MESSAGES_QUEUE_URL":            {render(vars("reconcile")["MESSAGES_QUEUE_URL"]), "MessagesQueue"},
		"messages BRIDGE_TABLE":                   {render(vars("messages")["BRIDGE_TABLE"]), "BridgeTable"},
		"messages IDEMPOTENCY_TABLE":              {render(vars("messages")["IDEMPOTENCY_TABLE"]), "IdempotencyTable"},
		"reconcile KAPSO_API_KEY_SECRET_ARN":      {render(vars("reconcile")["KAPSO_API_KEY_SECRET_ARN"]), "KapsoApiKeySecret"},
		"redirect LIFECYCLE_QUEUE_URL":            {render(vars("redirect")["LIFECYCLE_QUEUE_URL"]), "LifecycleQueue"},
		"tenantapi OUTBOUND_QUEUE_URL":            {render(vars("tenantapi")["OUTBOUND_QUEUE_URL"]), "OutboundQueue"},
		"tenantapi EVENTS_TABLE":                  {render(vars("tenantapi")["EVENTS_TABLE"]), "EventsTable"},
		"reconcile OUTBOUND_QUEUE_URL":            {render(vars("reconcile")["OUTBOUND_QUEUE_URL"]), "OutboundQueue"},
		"reconcile OUTBOUND_DLQ_URL":              {render(vars("reconcile")["OUTBOUND_DLQ_URL"]), "OutboundDeadLetterQueue"},
		"reconcile OUTBOUND_UNCONFIRMED_AFTER":    {vars("reconcile")["OUTBOUND_UNCONFIRMED_AFTER"], "1h"},
		"outbound BRIDGE_TABLE":                   {render(vars("outbound")["BRIDGE_TABLE"]), "BridgeTable"},
		"outbound OUTBOUND_QUEUE_URL":             {render(vars("outbound")["OUTBOUND_QUEUE_URL"]), "OutboundQueue"},
		"outbound KAPSO_API_KEY_SECRET_ARN":       {render(vars("outbound")["KAPSO_API_KEY_SECRET_ARN"]), "KapsoApiKeySecret"},
		"outbound KAPSO_META_BASE_URL":            {vars("outbound")["KAPSO_META_BASE_URL"], "https://api.kapso.ai/meta/whatsapp"},
		"outbound SEND_RATE_PER_NUMBER":           {vars("outbound")["SEND_RATE_PER_NUMBER"], "20"},
		"eventwebhooks EVENT_WEBHOOKS_QUEUE_URL":  {render(vars("eventwebhooks")["EVENT_WEBHOOKS_QUEUE_URL"]), "EventWebhooksQueue"},
		"eventwebhooks EVENTS_WEBHOOK_URL":        {vars("eventwebhooks")["EVENTS_WEBHOOK_URL"], testEventsWebhookURL},
		"eventwebhooks EVENTS_WEBHOOK_SECRET_ARN": {render(vars("eventwebhooks")["EVENTS_WEBHOOK_SECRET_ARN"]), "EventsWebhookSecretSecret"},
		"publisher EVENTS_TOPIC_ARN":              {render(vars("publisher")["EVENTS_TOPIC_ARN"]), "EventsTopic"},
		"publisher EVENTS_TABLE":                  {render(vars("publisher")["EVENTS_TABLE"]), "EventsTable"},
		"publisher BRIDGE_TABLE":                  {render(vars("publisher")["BRIDGE_TABLE"]), "BridgeTable"},
		"publisher EVENTS_RETENTION_DAYS":         {vars("publisher")["EVENTS_RETENTION_DAYS"], "30"},
		"media MEDIA_BUCKET":                      {render(vars("media")["MEDIA_BUCKET"]), "MediaBucket"},
		"media MEDIA_QUEUE_URL":                   {render(vars("media")["MEDIA_QUEUE_URL"]), "MediaQueue"},
		"media KAPSO_API_KEY_SECRET_ARN":          {render(vars("media")["KAPSO_API_KEY_SECRET_ARN"]), "KapsoApiKeySecret"},
		"media KAPSO_META_BASE_URL":               {vars("media")["KAPSO_META_BASE_URL"], "https://api.kapso.ai/meta/whatsapp"},
		"tenantapi MEDIA_BUCKET":                  {render(vars("tenantapi")["MEDIA_BUCKET"]), "MediaBucket"},
		"tenantapi MEDIA_READ_ROLE_ARN":           {render(vars("tenantapi")["MEDIA_READ_ROLE_ARN"]), "MediaReadRole"},
		"tenantapi KAPSO_META_BASE_URL":           {vars("tenantapi")["KAPSO_META_BASE_URL"], "https://api.kapso.ai/meta/whatsapp"},
		"reconcile MEDIA_QUEUE_URL":               {render(vars("reconcile")["MEDIA_QUEUE_URL"]), "MediaQueue"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", what, c[0], c[1])
		}
	}
}

func TestAlarmsCoverEveryQueueAndFunction(t *testing.T) {
	alarms := ofType("AWS::CloudWatch::Alarm")
	byName := map[string]cfnResource{}
	for id, a := range alarms {
		byName[construct(id)] = a
		if render(a.Properties["AlarmActions"]) != "AlarmTopic" {
			t.Errorf("alarm %s notifies %v", id, render(a.Properties["AlarmActions"]))
		}
	}
	type want struct {
		metric, stat string
		threshold    float64
	}
	expected := map[string]want{}
	for _, dlq := range []string{"LifecycleDlq", "MessagesDlq", "OutboundDlq", "EventWebhooksDlq", "MediaDlq", "ReconcileScheduleDlq"} {
		expected[dlq+"NotEmpty"] = want{"ApproximateNumberOfMessagesVisible", "Maximum", 0}
		expected[dlq+"OldMessage"] = want{"ApproximateAgeOfOldestMessage", "Maximum", 3600}
	}
	for id := range wantFunctions {
		expected[id+"Errors"] = want{"Errors", "Sum", 0}
		expected[id+"Throttles"] = want{"Throttles", "Sum", 0}
	}
	// The stream's consumer ten minutes behind (IteratorAge is in ms).
	expected["PublisherIteratorAge"] = want{"IteratorAge", "Maximum", 600000}
	for name, w := range expected {
		a, ok := byName[name]
		if !ok {
			t.Errorf("no alarm %s", name)
			continue
		}
		got := want{a.Properties["MetricName"].(string), a.Properties["Statistic"].(string), a.Properties["Threshold"].(float64)}
		if got != w || a.Properties["ComparisonOperator"] != "GreaterThanThreshold" {
			t.Errorf("alarm %s = %v %v, want %v", name, got, a.Properties["ComparisonOperator"], w)
		}
	}
	latency := byName["IngestLatencyP99"]
	if latency.Properties["ExtendedStatistic"] != "p99" || latency.Properties["Threshold"] != 5000.0 ||
		render(latency.Properties["Dimensions"]) != `{"Name":"FunctionName","Value":{"Ref":"`+firstID(t, "IngestFunction")+`"}}` {
		t.Errorf("ingest latency alarm = %v", latency.Properties)
	}
	rate := byName["Api5xxRate"]
	var metrics []string
	for _, m := range list(rate.Properties["Metrics"]) {
		if e := prop(m, "Expression"); e != nil {
			metrics = append(metrics, e.(string))
		} else {
			metrics = append(metrics, prop(m, "MetricStat", "Metric", "MetricName").(string))
		}
	}
	if !slices.Contains(metrics, "5xx") || !slices.Contains(metrics, "Count") || rate.Properties["Threshold"] != 5.0 ||
		!strings.Contains(strings.Join(metrics, " "), "100 * errors / requests") {
		t.Errorf("5xx rate alarm metrics = %v, threshold %v", metrics, rate.Properties["Threshold"])
	}
	iterator := byName["PublisherIteratorAge"]
	if render(iterator.Properties["Dimensions"]) != `{"Name":"FunctionName","Value":{"Ref":"`+firstID(t, "PublisherFunction")+`"}}` ||
		iterator.Properties["Namespace"] != "AWS/Lambda" {
		t.Errorf("publisher iterator age alarm = %v", iterator.Properties)
	}
	if len(alarms) != len(expected)+2 {
		t.Errorf("alarms = %d, want %d", len(alarms), len(expected)+2)
	}
}

func firstID(t *testing.T, name string) string {
	id, _ := one(t, "AWS::Lambda::Function", name)
	return id
}

func TestAlarmTopicAndEmail(t *testing.T) {
	_, topic := one(t, "AWS::SNS::Topic", "AlarmTopic")
	if render(topic.Properties["KmsMasterKeyId"]) != "AlarmTopicKey" {
		t.Errorf("topic key = %v", topic.Properties["KmsMasterKeyId"])
	}
	_, key := one(t, "AWS::KMS::Key", "AlarmTopicKey")
	cloudwatch := false
	for _, st := range list(prop(key.Properties, "KeyPolicy", "Statement")) {
		cloudwatch = cloudwatch || prop(st, "Principal", "Service") == "cloudwatch.amazonaws.com"
	}
	if !cloudwatch || key.Properties["EnableKeyRotation"] != true {
		t.Errorf("alarm key must let CloudWatch publish and rotate: %v", key.Properties)
	}
	if p := tpl.Parameters["AlarmEmail"]; p["Type"] != "String" || p["Default"] != "" {
		t.Errorf("AlarmEmail parameter = %v", p)
	}
	_, sub := one(t, "AWS::SNS::Subscription", "AlarmEmailSubscription")
	if sub.Condition != "HasAlarmEmail" || sub.Properties["Protocol"] != "email" || render(sub.Properties["Endpoint"]) != "AlarmEmail" {
		t.Errorf("subscription = %+v", sub)
	}
	if got := render(tpl.Conditions["HasAlarmEmail"]); got != `{"Fn::Not":[{"Fn::Equals":[{"Ref":"AlarmEmail"},""]}]}` {
		t.Errorf("HasAlarmEmail = %s", got)
	}
	enforced := false
	for _, p := range ofType("AWS::SNS::TopicPolicy") {
		for _, st := range list(prop(p.Properties, "PolicyDocument", "Statement")) {
			enforced = enforced || prop(st, "Condition", "Bool", "aws:SecureTransport") == "false"
		}
	}
	if !enforced {
		t.Error("alarm topic does not enforce TLS")
	}
}

func TestFunctionTable(t *testing.T) {
	names, served := map[config.Function]bool{}, map[string]bool{}
	var streams []string
	for _, f := range functions {
		if names[f.Name] {
			t.Errorf("function %s listed twice", f.Name)
		}
		names[f.Name] = true
		for _, r := range f.Routes {
			if served[r.Pattern()] {
				t.Errorf("route %s served twice", r.Pattern())
			}
			served[r.Pattern()] = true
		}
		if c := f.Consumes; c != nil {
			if f.Timeout != c.Queue.ConsumerTimeout {
				t.Errorf("%s timeout %v, but queue %s assumes %v", f.Name, f.Timeout, c.Queue.ID, c.Queue.ConsumerTimeout)
			}
			if c.MaxConcurrency < 2 || c.BatchSize < 1 || c.BatchSize > 10 {
				t.Errorf("%s consumer settings out of range: %+v", f.Name, c)
			}
		}
		if f.Timeout > 30*time.Second && len(f.Routes) > 0 {
			t.Errorf("%s serves HTTP but runs longer than the 30 s integration limit", f.Name)
		}
		if s := f.Stream; s != nil {
			streams = append(streams, string(f.Name))
			// Lambda's limits for a DynamoDB stream's mapping.
			if s.BatchSize < 1 || s.BatchSize > 10000 || s.MaxBatchingWindow > 300*time.Second || !s.Table.Stream {
				t.Errorf("%s stream consumer settings out of range, or its table has no stream: %+v", f.Name, s)
			}
			if f.Consumes != nil {
				t.Errorf("%s consumes both a queue and a stream", f.Name)
			}
		}
		// A function left out of a deploy is one that takes a deploy setting
		// the deploy may leave out: it reads it.
		if o := f.OnlyWith; o != nil && (!slices.Contains(optionalAtDeploy, o.Name) || !o.ReadBy(f.Name)) {
			t.Errorf("%s is built only with %s, which a deploy must set or it does not read", f.Name, o.Name)
		}
	}
	// The alarmed consumer of the stream is the one there is.
	if !slices.Equal(streams, []string{streamAlarmFunction}) {
		t.Errorf("stream consumers %v, but the IteratorAge alarm is on %s", streams, streamAlarmFunction)
	}
	// Every function reading a setting a deploy may leave out is left out
	// with it, rather than built to fail at its start; a setting the
	// functions read as optional (MESSAGE_RETENTION_DAYS: unset keeps
	// everything) leaves none out.
	for _, name := range optionalAtDeploy {
		if i := slices.IndexFunc(config.Settings, func(s config.Setting) bool { return s.Name == name }); i >= 0 && config.Settings[i].Optional {
			continue
		}
		for _, f := range functions {
			if slices.ContainsFunc(config.ReadBy(f.Name), func(s config.Setting) bool { return s.Name == name }) &&
				(f.OnlyWith == nil || f.OnlyWith.Name != name) {
				t.Errorf("%s reads %s, which a deploy may leave out, but is built without it", f.Name, name)
			}
		}
	}
	for _, fn := range config.Functions {
		if !names[fn] {
			t.Errorf("function %s of shared/config is not deployed", fn)
		}
	}
}
