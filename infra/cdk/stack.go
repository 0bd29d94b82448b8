package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// KapsoBridgeStackProps configures the stack.
type KapsoBridgeStackProps struct {
	awscdk.StackProps
	Settings Settings
}

// deadLetterQueue is any queue where failed work waits for a human, whether a
// queue's redrive target or a schedule's; each gets the same alarms.
type deadLetterQueue struct {
	ID    string
	Queue awssqs.Queue
	// OfSchedule marks a schedule's DLQ, which no queue redrives into.
	OfSchedule bool
}

// bridge holds what the stack has built so far, so later parts can refer to it.
type bridge struct {
	stack    awscdk.Stack
	settings Settings
	dataKey  awskms.Key
	tables   map[string]awsdynamodb.Table
	queues   map[string]awssqs.Queue
	// deadLetters are the queues' DLQs, by the queue's id.
	deadLetters map[string]awssqs.Queue
	dlqs        []deadLetterQueue
	topics      map[string]awssns.Topic
	// topicKeys encrypt the topics, by the topic's id.
	topicKeys map[string]awskms.Key
	// buckets are the schema's buckets and bucketKeys their keys, by the
	// bucket's id; accessLogs receives their server access logs.
	buckets    map[string]awss3.Bucket
	bucketKeys map[string]awskms.Key
	accessLogs awss3.Bucket
	secrets    map[string]awssecretsmanager.Secret
	// roles are the roles functions assume, by construct name.
	roles     map[string]awsiam.Role
	api       awsapigatewayv2.HttpApi
	stage     awsapigatewayv2.HttpStage
	baseURL   *string
	functions map[config.Function]awslambda.Function
	// values holds, by setting name, what the stack gives a function reading
	// the setting: tables' names, queues' URLs, secrets' ARNs, deploy settings.
	values map[string]*string
}

// NewKapsoBridgeStack builds kapso-bridge: tables, queues, topics and buckets
// from the shared schema, the secrets, the HTTP API, one function per entry of the
// function table (but those a deploy setting leaves out), the queues'
// subscriptions, and the alarms over all of it.
func NewKapsoBridgeStack(scope constructs.Construct, id string, props *KapsoBridgeStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	// S3 delivers server access logs by the log bucket's policy, which
	// names the buckets logging into it, rather than by an ACL open to the
	// log delivery group: ACLs are off on every bucket.
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), true)
	b := &bridge{
		stack:       stack,
		settings:    props.Settings,
		tables:      map[string]awsdynamodb.Table{},
		queues:      map[string]awssqs.Queue{},
		deadLetters: map[string]awssqs.Queue{},
		topics:      map[string]awssns.Topic{},
		topicKeys:   map[string]awskms.Key{},
		buckets:     map[string]awss3.Bucket{},
		bucketKeys:  map[string]awskms.Key{},
		secrets:     map[string]awssecretsmanager.Secret{},
		roles:       map[string]awsiam.Role{},
		functions:   map[config.Function]awslambda.Function{},
		values:      map[string]*string{},
	}
	b.addTables()
	b.addQueues()
	b.addTopics()
	b.addBuckets()
	b.addSecrets()
	b.addAPI()
	b.addSettings()
	for _, f := range functions {
		if b.builds(f) {
			b.addFunction(f)
		}
	}
	b.addSubscriptions()
	b.addAlarms()
	b.addOutputs()
	b.suppressFindings()
	return stack
}

// addTables builds every schema table. All of them are encrypted with one
// customer-managed key: the bridge table holds per-number webhook secrets and
// the idempotency table holds message bodies too large for SQS.
func (b *bridge) addTables() {
	// The retained tables cannot be read without it.
	b.dataKey = b.newKey("DataKey", "kapso-bridge's DynamoDB tables", awscdk.RemovalPolicy_RETAIN)
	for _, t := range schema.Tables {
		removal := awscdk.RemovalPolicy_DESTROY
		if t.Retain {
			removal = awscdk.RemovalPolicy_RETAIN
		}
		table := awsdynamodb.NewTable(b.stack, jsii.String(pascal(t.ID)+"Table"), &awsdynamodb.TableProps{
			PartitionKey:  attribute(t.PartitionKey),
			SortKey:       optionalAttribute(t.SortKey),
			BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
			EncryptionKey: b.dataKey,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			TimeToLiveAttribute: nonEmpty(t.TTLAttribute),
			DeletionProtection:  jsii.Bool(t.Retain),
			RemovalPolicy:       removal,
			Stream:              streamOf(t),
		})
		for _, ix := range t.Indexes {
			table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(ix.Name),
				PartitionKey:   attribute(ix.PartitionKey),
				SortKey:        optionalAttribute(ix.SortKey),
				ProjectionType: awsdynamodb.ProjectionType_ALL,
			})
		}
		b.tables[t.ID] = table
		b.values[t.EnvVar] = table.TableName()
	}
}

// addQueues builds every schema queue with its dead-letter queue.
func (b *bridge) addQueues() {
	for _, q := range schema.Queues {
		dlq := b.newQueue(pascal(q.ID)+"DeadLetterQueue", &awssqs.QueueProps{
			RetentionPeriod: duration(schema.DLQRetention),
		})
		retention := q.Retention
		if consumerOf(q) == nil {
			// Nothing consumes this queue yet: keep its messages as long as SQS
			// allows, so none expire before their worker is deployed.
			retention = schema.DLQRetention
		}
		queue := b.newQueue(pascal(q.ID)+"Queue", &awssqs.QueueProps{
			VisibilityTimeout: duration(q.VisibilityTimeout()),
			RetentionPeriod:   duration(retention),
			// The schema's receive count rides out a dependency blip across
			// several visibility timeouts, yet a poison message reaches the
			// DLQ, and its alarm, within minutes rather than days.
			DeadLetterQueue: &awssqs.DeadLetterQueue{
				MaxReceiveCount: jsii.Number(q.MaxReceiveCount),
				Queue:           dlq,
			},
		})
		b.queues[q.ID] = queue
		b.dlqs = append(b.dlqs, deadLetterQueue{ID: pascal(q.DLQID()), Queue: dlq})
		b.values[q.EnvVar] = queue.QueueUrl()
		b.deadLetters[q.ID] = dlq
		b.values[q.DLQEnvVar()] = dlq.QueueUrl()
	}
}

// newKey is a customer-managed key that encrypts what, rotated yearly.
func (b *bridge) newKey(id, what string, removal awscdk.RemovalPolicy) awskms.Key {
	return awskms.NewKey(b.stack, jsii.String(id), &awskms.KeyProps{
		Description:       jsii.String("Encrypts " + what),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removal,
	})
}

// newQueue adds the settings every queue shares: encryption at rest with
// SQS-managed keys (no key policy to maintain for producers and Scheduler) and
// TLS-only access.
func (b *bridge) newQueue(id string, props *awssqs.QueueProps) awssqs.Queue {
	// A DLQ takes whatever its queue holds, so every queue has the same limit.
	props.MaxMessageSizeBytes = jsii.Number(schema.MaxSQSMessageBytes)
	props.Encryption = awssqs.QueueEncryption_SQS_MANAGED
	props.EnforceSSL = jsii.Bool(true)
	return awssqs.NewQueue(b.stack, jsii.String(id), props)
}

// addTopics builds every schema topic, encrypted with a customer-managed key
// of its own and refusing requests without TLS. Nothing beyond the key
// policy's default (IAM decides, in this account) is needed: a publisher's
// role is granted the key with its topic, and SNS decrypts each message
// before it delivers it, so a subscriber needs nothing of the key.
func (b *bridge) addTopics() {
	for _, t := range schema.Topics {
		id := pascal(t.ID) + "Topic"
		// A topic keeps no message once delivered: nothing to read later.
		key := b.newKey(id+"Key", "kapso-bridge's "+t.ID+" topic", awscdk.RemovalPolicy_DESTROY)
		topic := awssns.NewTopic(b.stack, jsii.String(id), &awssns.TopicProps{
			DisplayName: jsii.String("kapso-bridge " + t.ID),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
		b.topics[t.ID], b.topicKeys[t.ID] = topic, key
		b.values[t.EnvVar] = topic.TopicArn()
	}
}

// addSubscriptions subscribes each schema subscription's queue to its topic,
// when the queue's consumer is built: a queue no function reads gets no
// messages to keep. The queue's policy lets exactly that topic send to it;
// its SQS-managed encryption asks nothing of SNS. A subscription with a
// filter policy gets only the messages whose attributes match it.
func (b *bridge) addSubscriptions() {
	for _, s := range schema.Subscriptions {
		if c := consumerOf(s.Queue); c == nil || !b.builds(*c) {
			continue
		}
		sub := b.topics[s.Topic.ID].AddSubscription(awssnssubscriptions.NewSqsSubscription(b.queues[s.Queue.ID],
			&awssnssubscriptions.SqsSubscriptionProps{RawMessageDelivery: jsii.Bool(s.Raw)}))
		if s.FilterPolicy != "" {
			// The schema's policy as written: the local stack sets the same
			// text, and the L2's typed filters could not say it differently.
			var policy map[string]any
			if err := json.Unmarshal([]byte(s.FilterPolicy), &policy); err != nil {
				panic(fmt.Sprintf("subscription of %s: filter policy: %v", s.Queue.ID, err))
			}
			sub.Node().DefaultChild().(awssns.CfnSubscription).SetFilterPolicy(policy)
		}
	}
}

// builds reports whether the stack builds f: every function but one whose
// OnlyWith setting this deploy leaves empty.
func (b *bridge) builds(f function) bool {
	if f.OnlyWith == nil {
		return true
	}
	v, ok := b.values[f.OnlyWith.Name]
	return ok && v != nil && *v != ""
}

// addSecrets creates each secret without a value: the template never holds or
// generates one, the operator puts it after deploying.
func (b *bridge) addSecrets() {
	for _, s := range secrets {
		props := &awssecretsmanager.SecretProps{
			SecretName:  jsii.String(*b.stack.StackName() + "/" + s.Name),
			Description: jsii.String(s.Description),
		}
		if s.Generated {
			// 64 letters and digits, made once at creation. Never change
			// these properties: CloudFormation would make a new value.
			props.GenerateSecretString = &awssecretsmanager.SecretStringGenerator{
				PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false)}
		}
		sec := awssecretsmanager.NewSecret(b.stack, jsii.String(pascal(s.Name)+"Secret"), props)
		if !s.Generated {
			// The L2 construct generates a random value unless told otherwise.
			sec.Node().DefaultChild().(awssecretsmanager.CfnSecret).AddPropertyDeletionOverride(jsii.String("GenerateSecretString"))
		}
		b.secrets[s.Name] = sec
		b.values[s.Setting.Name] = sec.SecretArn()
	}
}

func (b *bridge) addOutputs() {
	output := func(id, description string, value *string) {
		awscdk.NewCfnOutput(b.stack, jsii.String(id), &awscdk.CfnOutputProps{
			Value:       value,
			Description: jsii.String(description),
		})
	}
	output("ApiUrl", "HTTP API endpoint", b.api.ApiEndpoint())
	output("ProjectWebhookUrl", "Register in Kapso as the project webhook (whatsapp.phone_number.created)",
		jsii.String(routes.ProjectWebhookURL(*b.baseURL)))
	output("NumberWebhookUrlPattern", "Per-number webhook URL the bridge registers in Kapso",
		jsii.String(routes.URLPattern(*b.baseURL, routes.NumberWebhook)))
	output("SuccessRedirectUrl", "Where Kapso sends the browser after a successful setup",
		jsii.String(routes.SuccessRedirectURL(*b.baseURL)))
	output("FailureRedirectUrl", "Where Kapso sends the browser after a failed setup",
		jsii.String(routes.FailureRedirectURL(*b.baseURL)))
	output("SetupLinksUrlPattern", "POST here with the bridge API token to get a tenant's setup link",
		jsii.String(routes.URLPattern(*b.baseURL, routes.CreateSetupLink)))
	output("EventsTopicArn", "SNS topic of every kapso-bridge event, with the message attributes "+
		schema.EventAttrType+" and "+schema.EventAttrTenant+": subscribe your SQS queue or Lambda function to it "+
		"(aws sns subscribe), with a filter policy on those attributes (docs/deploy.md)",
		b.topics[schema.EventsTopic.ID].TopicArn())
	for _, s := range secrets {
		output(s.Output, s.Description, b.secrets[s.Name].SecretArn())
	}
	for _, s := range schema.Buckets {
		output(pascal(s.ID)+"BucketName", "S3 bucket of kapso-bridge's "+s.ID+" objects, under <tenant_id>/<phone_number_id>/",
			b.buckets[s.ID].BucketName())
	}
}

// consumerOf returns the function that consumes q, if any.
func consumerOf(q schema.Queue) *function {
	for i, f := range functions {
		if f.Consumes != nil && f.Consumes.Queue.ID == q.ID {
			return &functions[i]
		}
	}
	return nil
}

func attribute(a schema.Attribute) *awsdynamodb.Attribute {
	types := map[schema.KeyType]awsdynamodb.AttributeType{
		schema.String: awsdynamodb.AttributeType_STRING,
		schema.Number: awsdynamodb.AttributeType_NUMBER,
	}
	t, ok := types[a.Type]
	if !ok {
		panic(fmt.Sprintf("schema attribute %s has unknown type %q", a.Name, a.Type))
	}
	return &awsdynamodb.Attribute{Name: jsii.String(a.Name), Type: t}
}

func optionalAttribute(a *schema.Attribute) *awsdynamodb.Attribute {
	if a == nil {
		return nil
	}
	return attribute(*a)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// pascal turns a schema or function name ("lifecycle-dlq") into a construct id
// ("LifecycleDlq").
func pascal(s string) string {
	var out strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		out.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return out.String()
}

// streamOf is the table's stream: new and old images when the schema
// turns it on, so a change's event can say what it was before.
func streamOf(t schema.Table) awsdynamodb.StreamViewType {
	if !t.Stream {
		return ""
	}
	return awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES
}
