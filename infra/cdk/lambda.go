package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
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
	if f.Scheduled {
		b.addSchedule(f, fn)
	}
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

// statements turns a function's access list, and the secrets it reads, into
// IAM statements on exactly the named resources, plus the KMS permissions its
// encrypted tables need.
func (b *bridge) statements(f function) []awsiam.PolicyStatement {
	var out []awsiam.PolicyStatement
	kmsActions := []string{}
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
			kmsActions = appendNew(kmsActions, "kms:Decrypt", "kms:DescribeKey")
			for _, action := range a.Actions {
				if slices.Contains(dynamoWrites, action) {
					kmsActions = appendNew(kmsActions, "kms:Encrypt", "kms:GenerateDataKey")
				}
			}
		case a.Queue != nil && a.DLQ:
			resources = append(resources, b.deadLetters[a.Queue.ID].QueueArn())
		case a.Queue != nil:
			resources = append(resources, b.queues[a.Queue.ID].QueueArn())
		case a.Secret != nil:
			resources = append(resources, b.secrets[a.Secret.Name].SecretArn())
		}
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(a.Actions...),
			Resources: &resources,
		}))
	}
	if len(kmsActions) > 0 {
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(kmsActions...),
			Resources: jsii.Strings(*b.dataKey.KeyArn()),
		}))
	}
	return out
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
