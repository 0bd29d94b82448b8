package main

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Alarm thresholds.
const (
	dlqMaxAge          = time.Hour        // a DLQ message older than this has been ignored
	streamMaxAge       = 10 * time.Minute // a stream record older than this holds up its shard
	ingestP99Latency   = 5 * time.Second  // half of Kapso's 10 s budget
	api5xxRatePercent  = 5                // of requests in five minutes
	api5xxMinRequests  = 10               // below this a single failure is not a rate
	alarmPeriod        = 5 * time.Minute
	dlqAlarmPeriod     = time.Minute
	latencyAlarmPoints = 3 // p99 over three periods, two of them breaching
)

// latencyAlarmFunction is the function whose latency is alarmed: the one Kapso waits on.
const latencyAlarmFunction = "ingest"

// streamAlarmFunction is the function whose iterator age is alarmed: the
// consumer of the bridge table's stream (TestFunctionTable holds it so).
const streamAlarmFunction = "publisher"

// addAlarms sends every alarm to one encrypted SNS topic, with an email
// subscription when the AlarmEmail parameter is set.
func (b *bridge) addAlarms() {
	key := awskms.NewKey(b.stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts kapso-bridge's alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	// CloudWatch publishes alarms into the encrypted topic, so it needs the key;
	// only for this account's alarms.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	topic := awssns.NewTopic(b.stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("kapso-bridge alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	email := awscdk.NewCfnParameter(b.stack, jsii.String("AlarmEmail"), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Default:     jsii.String(""),
		Description: jsii.String("Email address that receives kapso-bridge alarms (empty: no subscription)"),
	})
	hasEmail := awscdk.NewCfnCondition(b.stack, jsii.String("HasAlarmEmail"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(email.ValueAsString(), jsii.String(""))),
	})
	sub := awssns.NewCfnSubscription(b.stack, jsii.String("AlarmEmailSubscription"), &awssns.CfnSubscriptionProps{
		TopicArn: topic.TopicArn(),
		Protocol: jsii.String("email"),
		Endpoint: email.ValueAsString(),
	})
	sub.CfnOptions().SetCondition(hasEmail)
	awscdk.NewCfnOutput(b.stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Value:       topic.TopicArn(),
		Description: jsii.String("SNS topic of every kapso-bridge alarm"),
	})

	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := func(id, description string, metric awscloudwatch.IMetric, threshold float64, periods, breaching int) {
		a := awscloudwatch.NewAlarm(b.stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(breaching),
			// No data means an idle queue or function, not a failure.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
	}
	stat := func(statistic string, period time.Duration) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Statistic: jsii.String(statistic), Period: duration(period)}
	}

	for _, d := range b.dlqs {
		alarm(d.ID+"NotEmpty", "Messages are waiting in "+d.ID+": inspect and redrive them",
			d.Queue.MetricApproximateNumberOfMessagesVisible(stat("Maximum", dlqAlarmPeriod)), 0, 1, 1)
		alarm(d.ID+"OldMessage", "A message in "+d.ID+" has waited more than an hour",
			d.Queue.MetricApproximateAgeOfOldestMessage(stat("Maximum", dlqAlarmPeriod)), dlqMaxAge.Seconds(), 1, 1)
	}
	for _, f := range functions {
		if !b.builds(f) {
			continue
		}
		fn, id := b.functions[f.Name], pascal(string(f.Name))
		alarm(id+"Errors", "The "+string(f.Name)+" function failed",
			fn.MetricErrors(stat("Sum", alarmPeriod)), 0, 1, 1)
		alarm(id+"Throttles", "The "+string(f.Name)+" function was throttled",
			fn.MetricThrottles(stat("Sum", alarmPeriod)), 0, 1, 1)
	}
	// A batch the publisher cannot tell is retried, and its shard waits; it
	// reports the failed record rather than failing, so its Errors alarm stays
	// quiet. The stream keeps a record 24 hours.
	alarm(pascal(streamAlarmFunction)+"IteratorAge",
		"The publisher is more than 10 minutes behind the bridge table's stream: a record it cannot tell holds up its "+
			"shard, and the stream drops records after 24 hours",
		b.functions[streamAlarmFunction].Metric(jsii.String("IteratorAge"), stat("Maximum", alarmPeriod)),
		float64(streamMaxAge.Milliseconds()), 1, 1)
	alarm(pascal(latencyAlarmFunction)+"LatencyP99", "Webhook ingest p99 latency is above 5 s of Kapso's 10 s budget",
		b.functions[latencyAlarmFunction].MetricDuration(stat("p99", alarmPeriod)),
		float64(ingestP99Latency.Milliseconds()), latencyAlarmPoints, 2)
	// Nearly all traffic is webhook ingest, so the stage's 5xx rate is its rate.
	alarm("Api5xxRate", "More than 5% of API requests (webhook ingest above all) answered 5xx",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(requests >= " + strconv.Itoa(api5xxMinRequests) + ", 100 * errors / requests, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"errors":   b.api.MetricServerError(stat("Sum", alarmPeriod)),
				"requests": b.api.MetricCount(stat("Sum", alarmPeriod)),
			},
			Label:  jsii.String("5xx %"),
			Period: duration(alarmPeriod),
		}), api5xxRatePercent, 1, 1)
}
