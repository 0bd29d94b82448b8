package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Item-writing DynamoDB actions; on a KMS-encrypted table they also need the
// key's encrypt permissions, reads only its decrypt.
var dynamoWrites = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}

// streamReads are what Lambda's event source mapping calls on a table's
// stream with its function's role; the records are encrypted with the
// table's key, so the role also decrypts with it.
var streamReads = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
	"dynamodb:ListStreams"}

// objectReads and objectWrites are the S3 actions that read or write an
// object's bytes, which a bucket's key encrypts: a read needs kms:Decrypt,
// a write a data key, and a multipart upload (one s3:PutObject in IAM)
// kms:Decrypt as well. Deleting an object or aborting an upload needs
// nothing of the key.
var (
	objectReads  = []string{"s3:GetObject"}
	objectWrites = []string{"s3:PutObject"}
)

// topicKeyActions are what publishing on an encrypted topic needs of its
// key: SNS, on the publisher's behalf, makes the data key a message is
// encrypted with and decrypts it again.
var topicKeyActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}

// addFunction builds one entry of the function table: its log group, its role
// with exactly the entry's grants, the function and its triggers.
func (b *bridge) addFunction(f function) {
	id := pascal(string(f.Name))
	logGroup := awslogs.NewLogGroup(b.stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: retentionDays[b.settings.LogRetentionDays],
	})
	// An own role instead of the default one, which would attach the
	// AWSLambdaBasicExecutionRole managed policy (logs on every log group).
	role := awsiam.NewRole(b.stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runs the " + string(f.Name) + " function"),
	})
	logGroup.GrantWrite(role)
	for _, a := range f.Access {
		if a.Role != nil {
			b.addAssumedRole(*a.Role, role)
		}
	}
	for _, st := range b.statements(f) {
		role.AddToPrincipalPolicy(st)
	}

	env := b.environment(f)
	var reserved *float64
	if f.ReservedConcurrency > 0 && b.settings.ReserveConcurrency {
		reserved = jsii.Number(f.ReservedConcurrency)
	}
	fn := awslambda.NewFunction(b.stack, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:   jsii.String(f.Description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(b.settings.AssetDir, string(f.Name))), nil),
		MemorySize:    jsii.Number(f.MemoryMB),
		Timeout:       duration(f.Timeout),
		Role:          role,
		LogGroup:      logGroup,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		// The Go code logs slog JSON to stdout; Lambda filters it by level.
		ApplicationLogLevelV2:        awslambda.ApplicationLogLevel(b.settings.LogLevel),
		SystemLogLevelV2:             awslambda.SystemLogLevel_WARN,
		Tracing:                      awslambda.Tracing_ACTIVE,
		Environment:                  env,
		ReservedConcurrentExecutions: reserved,
	})
	b.functions[f.Name] = fn
	b.addRoutes(f)

	if c := f.Consumes; c != nil {
		props := &awslambdaeventsources.SqsEventSourceProps{
			BatchSize:               jsii.Number(c.BatchSize),
			ReportBatchItemFailures: jsii.Bool(true),
			MaxConcurrency:          jsii.Number(c.MaxConcurrency),
		}
		if c.MaxBatchingWindow > 0 {
			props.MaxBatchingWindow = duration(c.MaxBatchingWindow)
		}
		fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(b.queues[c.Queue.ID], props))
	}
	if f.Stream != nil {
		b.addStreamSource(f, fn)
	}
	if f.Scheduled {
		b.addSchedule(f, fn)
	}
}

// addStreamSource has Lambda read the table's stream into fn, from the oldest
// record it keeps, so a mapping created after the stream misses nothing. A
// batch that fails is split in two until the failing record is found; the
// function also names the first record it could not tell, and the batch is
// tried again from there, without end: a record is never dropped while the
// stream keeps it, and holds up its shard meanwhile (the IteratorAge alarm).
// The role's stream grants come from f's entry (see statements), not from the
// CDK's DynamoEventSource, which grants ListStreams on every stream.
func (b *bridge) addStreamSource(f function, fn awslambda.Function) {
	s := f.Stream
	var filters *[]*map[string]any
	if len(s.SortKeys) > 0 {
		// One filter for the fixed sort keys, one for each kind of item
		// whose keys begin alike: a record that matches any is handed on.
		fs := []*map[string]any{awslambda.FilterCriteria_Filter(&map[string]any{
			"dynamodb": map[string]any{"Keys": map[string]any{schema.AttrSK: map[string]any{"S": s.SortKeys}}},
		})}
		for _, p := range s.KeyPrefixes {
			fs = append(fs, awslambda.FilterCriteria_Filter(&map[string]any{
				"dynamodb": map[string]any{"Keys": map[string]any{
					schema.AttrPK: map[string]any{"S": []any{map[string]any{"prefix": p.PK}}},
					schema.AttrSK: map[string]any{"S": []any{map[string]any{"prefix": p.SK}}},
				}},
			}))
		}
		filters = &fs
	}
	mapping := fn.AddEventSourceMapping(jsii.String(pascal(s.Table.ID)+"Stream"), &awslambda.EventSourceMappingOptions{
		EventSourceArn:          b.tables[s.Table.ID].TableStreamArn(),
		StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:               jsii.Number(s.BatchSize),
		MaxBatchingWindow:       duration(s.MaxBatchingWindow),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		RetryAttempts:           jsii.Number(-1),
		Filters:                 filters,
	})
	// -1: until the record leaves the stream; the construct takes no
	// duration for it.
	mapping.Node().DefaultChild().(awslambda.CfnEventSourceMapping).SetMaximumRecordAgeInSeconds(jsii.Number(-1))
}

// environment gives the function every setting shared/config lists for it:
// a table's name, a queue's URL, a secret's ARN in its ARN variable, a deploy
// setting's value. A setting the stack has no value for keeps its default;
// one without a default fails the synth.
func (b *bridge) environment(f function) *map[string]*string {
	env := map[string]*string{}
	for _, s := range config.ReadBy(f.Name) {
		name := s.Name
		if s.Secret {
			name = s.ARNVar()
		}
		v, ok := b.values[s.Name]
		switch {
		case ok:
			env[name] = v
		case s.Required():
			panic(fmt.Sprintf("function %s reads %s, which nothing in the stack provides", f.Name, s.Name))
		}
	}
	return &env
}

// statements turns a function's access list, the secrets it reads and the
// stream it consumes into IAM statements on exactly the named resources,
// plus the KMS permissions its encrypted tables and topics need.
func (b *bridge) statements(f function) []awsiam.PolicyStatement {
	var out []awsiam.PolicyStatement
	// The KMS actions each key needs, in the order the keys come.
	type keyUse struct {
		key     awskms.Key
		actions []string
	}
	var keys []*keyUse
	useKey := func(key awskms.Key, actions ...string) {
		for _, k := range keys {
			if k.key == key {
				k.actions = appendNew(k.actions, actions...)
				return
			}
		}
		keys = append(keys, &keyUse{key, appendNew(nil, actions...)})
	}
	grants := f.Access
	for _, s := range secrets {
		if s.Setting.ReadBy(f.Name) {
			grants = append(slices.Clip(grants), readSecret(s))
		}
	}
	for _, a := range grants {
		var resources []*string
		switch {
		case a.Table != nil:
			table := b.tables[a.Table.ID]
			resources = append(resources, table.TableArn())
			if a.Indexes {
				for _, ix := range a.Table.Indexes {
					resources = append(resources, jsii.String(*table.TableArn()+"/index/"+ix.Name))
				}
			}
			useKey(b.dataKey, "kms:Decrypt", "kms:DescribeKey")
			for _, action := range a.Actions {
				if slices.Contains(dynamoWrites, action) {
					useKey(b.dataKey, "kms:Encrypt", "kms:GenerateDataKey")
				}
			}
		case a.Queue != nil && a.DLQ:
			resources = append(resources, b.deadLetters[a.Queue.ID].QueueArn())
		case a.Queue != nil:
			resources = append(resources, b.queues[a.Queue.ID].QueueArn())
		case a.Topic != nil:
			resources = append(resources, b.topics[a.Topic.ID].TopicArn())
			useKey(b.topicKeys[a.Topic.ID], topicKeyActions...)
		case a.Bucket != nil:
			resources = append(resources, b.buckets[a.Bucket.ID].ArnForObjects(jsii.String(a.Keys)))
			for _, action := range a.Actions {
				if slices.Contains(objectReads, action) {
					useKey(b.bucketKeys[a.Bucket.ID], "kms:Decrypt")
				}
				if slices.Contains(objectWrites, action) {
					useKey(b.bucketKeys[a.Bucket.ID], "kms:Decrypt", "kms:GenerateDataKey")
				}
			}
		case a.Secret != nil:
			resources = append(resources, b.secrets[a.Secret.Name].SecretArn())
		case a.Role != nil:
			resources = append(resources, b.roles[a.Role.ID].RoleArn())
		}
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(a.Actions...),
			Resources: &resources,
		}))
	}
	if s := f.Stream; s != nil {
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(streamReads...),
			Resources: &[]*string{b.tables[s.Table.ID].TableStreamArn()},
		}))
		useKey(b.dataKey, "kms:Decrypt", "kms:DescribeKey")
	}
	for _, k := range keys {
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(k.actions...),
			Resources: &[]*string{k.key.KeyArn()},
		}))
	}
	return out
}

// addAssumedRole builds r, which only assumer may assume, with exactly its
// grants, and gives its ARN to the functions reading r.Setting. Sessions
// last an hour at most whatever the role allows: assuming it from a
// function's role is role chaining.
func (b *bridge) addAssumedRole(r assumedRole, assumer awsiam.Role) {
	if _, ok := b.roles[r.ID]; ok {
		panic(fmt.Sprintf("role %s is assumed by a second function: its trust names one", r.ID))
	}
	role := awsiam.NewRole(b.stack, jsii.String(r.ID), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewArnPrincipal(assumer.RoleArn()),
		Description: jsii.String(r.Description),
	})
	for _, st := range b.statements(function{Access: r.Access}) {
		role.AddToPrincipalPolicy(st)
	}
	b.roles[r.ID] = role
	b.values[r.Setting.Name] = role.RoleArn()
}

// addSchedule runs fn on the reconcileSchedule expression through EventBridge
// Scheduler, with retries and a dead-letter queue for invocations that fail.
func (b *bridge) addSchedule(f function, fn awslambda.Function) {
	id := pascal(string(f.Name))
	dlq := b.newQueue(id+"ScheduleDeadLetterQueue", &awssqs.QueueProps{
		RetentionPeriod: duration(schema.DLQRetention),
	})
	b.dlqs = append(b.dlqs, deadLetterQueue{ID: id + "ScheduleDlq", Queue: dlq, OfSchedule: true})
	// Scheduler's own role, limited to this account's schedules (confused
	// deputy), invoking exactly this function and writing exactly this DLQ.
	role := awsiam.NewRole(b.stack, jsii.String(id+"ScheduleRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("Lets EventBridge Scheduler run the " + string(f.Name) + " function"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{fn.FunctionArn()},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: &[]*string{dlq.QueueArn()},
	}))
	awsscheduler.NewCfnSchedule(b.stack, jsii.String(id+"Schedule"), &awsscheduler.CfnScheduleProps{
		Description:        jsii.String("Runs the " + string(f.Name) + " function"),
		ScheduleExpression: jsii.String(b.settings.ReconcileSchedule),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:              jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     fn.FunctionArn(),
			RoleArn: role.RoleArn(),
			// Invocation failures (throttling, service errors) retry for up to
			// ten minutes, less than one period, then land in the DLQ.
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(3),
				MaximumEventAgeInSeconds: jsii.Number(600),
			},
			DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
		},
	})
	// A run that fails is repeated by the next scheduled run; Lambda's own
	// asynchronous retries would only overlap it. Its Errors alarm reports it.
	fn.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{RetryAttempts: jsii.Number(0)})
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
