package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

func TestNoUnsuppressedNagFindings(t *testing.T) {
	nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, e := range *annotations.FindError(jsii.String("*"), nag) {
		t.Errorf("cdk-nag error at %s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *annotations.FindWarning(jsii.String("*"), nag) {
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
	want := []string{
		"GET /connect/failure", "GET /connect/success",
		"GET /v1/tenants/{tenant_id}/connection",
		"POST /v1/tenants/{tenant_id}/setup-links",
		"POST /webhooks/kapso", "POST /webhooks/kapso/{phone_number_id}", "POST /webhooks/meta/{phone_number_id}",
	}
	var got []string
	for id, r := range ofType("AWS::ApiGatewayV2::Route") {
		key := r.Properties["RouteKey"].(string)
		got = append(got, key)
		if key == "$default" {
			t.Errorf("%s is a $default route: unknown paths must not reach a function", id)
		}
		if r.Properties["AuthorizationType"] != nil && r.Properties["AuthorizationType"] != "NONE" {
			t.Errorf("%s: unexpected authorizer %v", key, r.Properties["AuthorizationType"])
		}
	}
	if !reflect.DeepEqual(sorted(got), want) {
		t.Errorf("routes = %v, want %v", sorted(got), want)
	}
	// Each route reaches its own function, through one integration per function.
	integrationTarget := map[string]string{}
	for id, r := range ofType("AWS::ApiGatewayV2::Integration") {
		integrationTarget["integrations/"+construct(id)] = render(r.Properties["IntegrationUri"])
	}
	routeTarget := map[string]string{}
	for _, r := range ofType("AWS::ApiGatewayV2::Route") {
		routeTarget[r.Properties["RouteKey"].(string)] = integrationTarget[render(r.Properties["Target"])]
	}
	routed := 0
	for _, f := range functions {
		for _, route := range f.Routes {
			if got := routeTarget[route]; got != pascal(f.Name)+"Function" {
				t.Errorf("route %s reaches %q, want the %s function", route, got, f.Name)
			}
		}
		if len(f.Routes) > 0 {
			routed++
		}
	}
	if len(integrationTarget) != routed {
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
		"MetaAppSecretArn":        "MetaAppSecretSecret",
		"AlarmTopicArn":           "AlarmTopic",
	}
	for name, value := range want {
		if got := render(tpl.Outputs[name]["Value"]); got != value {
			t.Errorf("output %s = %q, want %q", name, got, value)
		}
	}
}

func TestTablesFollowTheSchema(t *testing.T) {
	_, key := one(t, "AWS::KMS::Key", "DataKey")
	if key.Properties["EnableKeyRotation"] != true || key.DeletionPolicy != "Retain" {
		t.Errorf("data key: rotation %v, deletion %q", key.Properties["EnableKeyRotation"], key.DeletionPolicy)
	}
	if len(ofType("AWS::DynamoDB::Table")) != len(schema.Tables) {
		t.Errorf("tables = %d, want %d", len(ofType("AWS::DynamoDB::Table")), len(schema.Tables))
	}
	for _, st := range schema.Tables {
		_, r := one(t, "AWS::DynamoDB::Table", pascal(st.ID)+"Table")
		p := r.Properties
		wantKeys := []any{map[string]any{"AttributeName": st.PartitionKey.Name, "KeyType": "HASH"}}
		if st.SortKey != nil {
			wantKeys = append(wantKeys, map[string]any{"AttributeName": st.SortKey.Name, "KeyType": "RANGE"})
		}
		checks := map[string][2]any{
			"key schema":    {p["KeySchema"], wantKeys},
			"billing":       {p["BillingMode"], "PAY_PER_REQUEST"},
			"PITR":          {prop(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), true},
			"TTL attribute": {prop(p, "TimeToLiveSpecification", "AttributeName"), st.TTLAttribute},
			"TTL enabled":   {prop(p, "TimeToLiveSpecification", "Enabled"), true},
			"SSE":           {prop(p, "SSESpecification", "SSEEnabled"), true},
			"SSE type":      {prop(p, "SSESpecification", "SSEType"), "KMS"},
			"SSE key":       {render(prop(p, "SSESpecification", "KMSMasterKeyId")), "DataKey"},
			"protection":    {p["DeletionProtectionEnabled"] == true, st.Retain},
			"retained":      {r.DeletionPolicy == "Retain", st.Retain},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s table %s = %v, want %v", st.ID, what, c[0], c[1])
			}
		}
		var indexes []string
		for _, ix := range list(p["GlobalSecondaryIndexes"]) {
			if ix == nil {
				continue
			}
			indexes = append(indexes, prop(ix, "IndexName").(string)+":"+prop(ix, "Projection", "ProjectionType").(string))
		}
		var want []string
		for _, ix := range st.Indexes {
			want = append(want, ix.Name+":ALL")
		}
		if !reflect.DeepEqual(indexes, want) {
			t.Errorf("%s indexes = %v, want %v", st.ID, indexes, want)
		}
	}
}

func TestQueuesFollowTheSchema(t *testing.T) {
	for _, q := range schema.Queues {
		_, main := one(t, "AWS::SQS::Queue", pascal(q.ID)+"Queue")
		_, dlq := one(t, "AWS::SQS::Queue", pascal(q.ID)+"DeadLetterQueue")
		wantRetention := q.Retention
		if consumerOf(q) == nil {
			wantRetention = schema.DLQRetention
		}
		checks := map[string][2]any{
			"visibility":      {main.Properties["VisibilityTimeout"], q.VisibilityTimeout().Seconds()},
			"retention":       {main.Properties["MessageRetentionPeriod"], wantRetention.Seconds()},
			"SSE":             {main.Properties["SqsManagedSseEnabled"], true},
			"maxReceiveCount": {prop(main.Properties, "RedrivePolicy", "maxReceiveCount"), float64(q.MaxReceiveCount)},
			"DLQ":             {render(prop(main.Properties, "RedrivePolicy", "deadLetterTargetArn")), pascal(q.ID) + "DeadLetterQueue"},
			"DLQ retention":   {dlq.Properties["MessageRetentionPeriod"], schema.DLQRetention.Seconds()},
			"DLQ SSE":         {dlq.Properties["SqsManagedSseEnabled"], true},
			"max size":        {main.Properties["MaximumMessageSize"], float64(schema.MaxSQSMessageBytes)},
			"DLQ max size":    {dlq.Properties["MaximumMessageSize"], float64(schema.MaxSQSMessageBytes)},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("queue %s %s = %v, want %v", q.ID, what, c[0], c[1])
			}
		}
		// The consumer's timeout fits six times in the visibility timeout, so a
		// message is not redelivered while its batch is still running.
		if f := consumerOf(q); f != nil {
			_, fn := one(t, "AWS::Lambda::Function", pascal(f.Name)+"Function")
			if timeout := fn.Properties["Timeout"].(float64); q.VisibilityTimeout().Seconds() < 6*timeout {
				t.Errorf("queue %s visibility %v < 6 × %s timeout %vs", q.ID, q.VisibilityTimeout(), f.Name, timeout)
			}
		}
	}
	if got := messagesRetention(t); got != schema.DLQRetention.Seconds() {
		t.Errorf("messages queue retention = %v s, want 14 days while it has no consumer", got)
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
	if len(queues) != 2*len(schema.Queues)+1 {
		t.Errorf("queues = %d, want each schema queue, its DLQ and the schedule DLQ", len(queues))
	}
}

func messagesRetention(t *testing.T) any {
	_, q := one(t, "AWS::SQS::Queue", pascal(schema.Messages.ID)+"Queue")
	return q.Properties["MessageRetentionPeriod"]
}

func TestLifecycleConsumesItsQueue(t *testing.T) {
	mappings := ofType("AWS::Lambda::EventSourceMapping")
	if len(mappings) != 1 {
		t.Fatalf("event source mappings = %d, want 1", len(mappings))
	}
	assert(t, "lifecycle event source mapping", func() {
		template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), &map[string]any{
			"FunctionName":          map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^LifecycleFunction"))},
			"EventSourceArn":        map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^LifecycleQueue")), "Arn"}},
			"BatchSize":             5,
			"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			"ScalingConfig":         map[string]any{"MaximumConcurrency": 2},
		})
	})
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
	if got := len(ofType("AWS::SecretsManager::Secret")); got != len(secrets) {
		t.Errorf("secrets = %d, want %d", got, len(secrets))
	}
	for _, s := range secrets {
		_, r := one(t, "AWS::SecretsManager::Secret", pascal(s.Name)+"Secret")
		if r.Properties["Name"] != "KapsoBridge/"+s.Name {
			t.Errorf("secret name = %v", r.Properties["Name"])
		}
		for _, p := range []string{"GenerateSecretString", "SecretString"} {
			if _, ok := r.Properties[p]; ok {
				t.Errorf("secret %s has %s: the template must not hold or generate a value", s.Name, p)
			}
		}
	}
}

// Every role's grants: resource (construct name) to sorted actions.
var wantGrants = map[string]map[string][]string{
	"ingest": {
		"IdempotencyTable":           {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		"BridgeTable":                {"dynamodb:GetItem"},
		"LifecycleQueue":             {"sqs:SendMessage"},
		"MessagesQueue":              {"sqs:SendMessage"},
		"ProjectWebhookSecretSecret": {"secretsmanager:GetSecretValue"},
		"MetaAppSecretSecret":        {"secretsmanager:GetSecretValue"},
		"DataKey":                    {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
	"setuplinks": {
		"BridgeTable":            {"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
		"BridgeTable/index/gsi1": {"dynamodb:Query"},
		"KapsoApiKeySecret":      {"secretsmanager:GetSecretValue"},
		"BridgeApiTokenSecret":   {"secretsmanager:GetSecretValue"},
		"DataKey":                {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
	"redirect": {
		"BridgeTable":    {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
		"LifecycleQueue": {"sqs:SendMessage"},
		"DataKey":        {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
	"lifecycle": {
		"BridgeTable":       {"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
		"IdempotencyTable":  {"dynamodb:GetItem", "dynamodb:Query"},
		"KapsoApiKeySecret": {"secretsmanager:GetSecretValue"},
		"DataKey":           {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
		"LifecycleQueue": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:GetQueueUrl", "sqs:ReceiveMessage"},
	},
	"reconcile": {
		"BridgeTable":            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
		"BridgeTable/index/gsi1": {"dynamodb:Query"},
		"LifecycleQueue":         {"sqs:SendMessage"},
		"KapsoApiKeySecret":      {"secretsmanager:GetSecretValue"},
		"DataKey":                {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
	},
}

func TestFunctionRolesGrantExactlyTheirAccess(t *testing.T) {
	if len(wantGrants) != len(functions) {
		t.Fatalf("wantGrants covers %d functions, the table has %d", len(wantGrants), len(functions))
	}
	for _, f := range functions {
		id := pascal(f.Name)
		want := map[string][]string{
			// Every function writes its own log group and its X-Ray traces.
			id + "Logs": {"logs:CreateLogStream", "logs:PutLogEvents"},
			"*":         {"xray:PutTelemetryRecords", "xray:PutTraceSegments"},
		}
		for k, v := range wantGrants[f.Name] {
			want[k] = v
		}
		if got := policyGrants(t, id+"Role"); !reflect.DeepEqual(got, want) {
			t.Errorf("%s grants:\n got %v\nwant %v", f.Name, got, want)
		}
		_, role := one(t, "AWS::IAM::Role", id+"Role")
		if role.Properties["ManagedPolicyArns"] != nil {
			t.Errorf("%s role has managed policies %v", f.Name, role.Properties["ManagedPolicyArns"])
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

func TestFunctionsConfiguration(t *testing.T) {
	if got := len(ofType("AWS::Lambda::Function")); got != len(functions) {
		t.Errorf("functions = %d, want %d", got, len(functions))
	}
	for _, f := range functions {
		id := pascal(f.Name)
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
			"memory":        {p["MemorySize"], float64(f.MemoryMB)},
			"timeout":       {p["Timeout"], f.Timeout.Seconds()},
			"role":          {render(p["Role"]), id + "Role"},
			"LOG_LEVEL env": {prop(p, "Environment", "Variables", "LOG_LEVEL"), "INFO"},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s %s = %v, want %v", f.Name, what, c[0], c[1])
			}
		}
		var env []string
		for name := range prop(p, "Environment", "Variables").(map[string]any) {
			env = append(env, name)
		}
		if want := sorted(append([]string{"LOG_LEVEL"}, f.Env...)); !reflect.DeepEqual(sorted(env), want) {
			t.Errorf("%s env = %v, want %v", f.Name, sorted(env), want)
		}
		_, logs := one(t, "AWS::Logs::LogGroup", id+"Logs")
		if logs.Properties["RetentionInDays"] != 30.0 {
			t.Errorf("%s log retention = %v", f.Name, logs.Properties["RetentionInDays"])
		}
	}
	wantMemoryTimeout := map[string][2]any{
		"ingest": {512.0, 10.0}, "lifecycle": {256.0, 30.0}, "reconcile": {256.0, 300.0},
	}
	for name, want := range wantMemoryTimeout {
		_, r := one(t, "AWS::Lambda::Function", pascal(name)+"Function")
		if got := [2]any{r.Properties["MemorySize"], r.Properties["Timeout"]}; got != want {
			t.Errorf("%s memory/timeout = %v, want %v", name, got, want)
		}
	}
	_, reconcile := one(t, "AWS::Lambda::Function", "ReconcileFunction")
	if reconcile.Properties["ReservedConcurrentExecutions"] != 1.0 {
		t.Errorf("reconcile reserved concurrency = %v, want 1", reconcile.Properties["ReservedConcurrentExecutions"])
	}
}

func TestFunctionEnvironmentValues(t *testing.T) {
	vars := func(name string) map[string]any {
		_, r := one(t, "AWS::Lambda::Function", pascal(name)+"Function")
		return prop(r.Properties, "Environment", "Variables").(map[string]any)
	}
	checks := map[string][2]any{
		"ingest IDEMPOTENCY_TABLE":                {render(vars("ingest")["IDEMPOTENCY_TABLE"]), "IdempotencyTable"},
		"ingest MESSAGES_QUEUE_URL":               {render(vars("ingest")["MESSAGES_QUEUE_URL"]), "MessagesQueue"},
		"ingest KAPSO_PROJECT_WEBHOOK_SECRET_ARN": {render(vars("ingest")["KAPSO_PROJECT_WEBHOOK_SECRET_ARN"]), "ProjectWebhookSecretSecret"},
		"setuplinks KAPSO_API_BASE_URL":           {vars("setuplinks")["KAPSO_API_BASE_URL"], "https://api.kapso.ai/platform/v1"},
		"setuplinks PUBLIC_BASE_URL":              {render(vars("setuplinks")["PUBLIC_BASE_URL"]), "Api"},
		"setuplinks BRIDGE_API_TOKEN_SECRET_ARN":  {render(vars("setuplinks")["BRIDGE_API_TOKEN_SECRET_ARN"]), "BridgeApiTokenSecret"},
		"redirect APP_SUCCESS_URL":                {vars("redirect")["APP_SUCCESS_URL"], testSuccessURL},
		"redirect APP_FAILURE_URL":                {vars("redirect")["APP_FAILURE_URL"], testFailureURL},
		"reconcile LIFECYCLE_QUEUE_URL":           {render(vars("reconcile")["LIFECYCLE_QUEUE_URL"]), "LifecycleQueue"},
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
	for _, q := range schema.Queues {
		expected[pascal(q.DLQID())+"NotEmpty"] = want{"ApproximateNumberOfMessagesVisible", "Maximum", 0}
		expected[pascal(q.DLQID())+"OldMessage"] = want{"ApproximateAgeOfOldestMessage", "Maximum", 3600}
	}
	expected["ReconcileScheduleDlqNotEmpty"] = want{"ApproximateNumberOfMessagesVisible", "Maximum", 0}
	expected["ReconcileScheduleDlqOldMessage"] = want{"ApproximateAgeOfOldestMessage", "Maximum", 3600}
	for _, f := range functions {
		expected[pascal(f.Name)+"Errors"] = want{"Errors", "Sum", 0}
		expected[pascal(f.Name)+"Throttles"] = want{"Throttles", "Sum", 0}
	}
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
	names, routes := map[string]bool{}, map[string]bool{}
	for _, f := range functions {
		if names[f.Name] {
			t.Errorf("function %s listed twice", f.Name)
		}
		names[f.Name] = true
		for _, r := range f.Routes {
			if routes[r] {
				t.Errorf("route %s served twice", r)
			}
			routes[r] = true
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
	}
}
