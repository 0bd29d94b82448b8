// Package awstest gives integration tests real AWS SDK clients against the
// local DynamoDB and SQS servers, and fresh tables and queues per test so no
// test can see another's data.
//
// A package's TestMain calls Main. When the endpoints are already in the
// environment (make test starts one pair of servers for the whole run) they
// are reused; otherwise the first test that asks for a client starts the
// package's own servers, and Main stops them after the run. Tests of pure
// logic in such a package therefore never start Java.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// Environment variables that carry the local endpoints into test binaries.
const (
	EnvDynamoDB = "KB_TEST_DYNAMODB_ENDPOINT"
	EnvSQS      = "KB_TEST_SQS_ENDPOINT"
)

// Main runs m with local servers available on demand.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// The package's own servers, started by the first test that needs them.
var (
	inMain   bool
	start    sync.Once
	started  *services.Services
	startErr error
)

func run(m *testing.M) int {
	inMain = true
	code := m.Run()
	if started != nil {
		started.Stop()
	}
	return code
}

// startServices starts the local servers and points the environment at them.
func startServices() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started, startErr = services.Start(ctx, services.Options{Log: os.Stderr})
	if startErr != nil {
		return
	}
	os.Setenv(EnvDynamoDB, started.DynamoDBEndpoint)
	os.Setenv(EnvSQS, started.SQSEndpoint)
}

// Config is an AWS config for the local servers: fixed region, dummy keys.
func Config() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

func endpoint(tb testing.TB, env string) string {
	tb.Helper()
	if os.Getenv(EnvDynamoDB) == "" || os.Getenv(EnvSQS) == "" {
		if !inMain {
			tb.Fatalf("%s is not set: call awstest.Main from TestMain", env)
		}
		start.Do(startServices)
		if startErr != nil {
			tb.Fatalf("awstest: start local services: %v", startErr)
		}
	}
	return os.Getenv(env)
}

// DynamoDB is a client for the local DynamoDB.
func DynamoDB(tb testing.TB, opts ...func(*dynamodb.Options)) *dynamodb.Client {
	ep := endpoint(tb, EnvDynamoDB)
	opts = append([]func(*dynamodb.Options){func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ep) }}, opts...)
	return dynamodb.NewFromConfig(Config(), opts...)
}

// DynamoDBStreams is a client for the local DynamoDB's streams.
func DynamoDBStreams(tb testing.TB, opts ...func(*dynamodbstreams.Options)) *dynamodbstreams.Client {
	ep := endpoint(tb, EnvDynamoDB)
	opts = append([]func(*dynamodbstreams.Options){func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(ep) }}, opts...)
	return dynamodbstreams.NewFromConfig(Config(), opts...)
}

// SNS is a client for the local SNS server (fauxqs serves SQS and SNS on
// one endpoint).
func SNS(tb testing.TB, opts ...func(*sns.Options)) *sns.Client {
	ep := endpoint(tb, EnvSQS)
	opts = append([]func(*sns.Options){func(o *sns.Options) { o.BaseEndpoint = aws.String(ep) }}, opts...)
	return sns.NewFromConfig(Config(), opts...)
}

// S3 is a client for the local S3 server (fauxqs again), by path.
func S3(tb testing.TB, opts ...func(*s3.Options)) *s3.Client {
	ep := endpoint(tb, EnvSQS)
	opts = append([]func(*s3.Options){func(o *s3.Options) { o.BaseEndpoint = aws.String(ep) }}, opts...)
	return s3media.NewClient(Config(), opts...)
}

// Bucket creates a bucket under a fresh prefix and, when the test ends,
// deletes it with what it holds. It returns the bucket's name.
func Bucket(tb testing.TB) string {
	tb.Helper()
	client := S3(tb)
	name := Prefix(tb) + "media"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		for _, key := range Keys(tb, client, name) {
			_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String(key)})
		}
		_, _ = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	})
	return name
}

// Keys are the keys of the objects in bucket.
func Keys(tb testing.TB, client *s3.Client, bucket string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	for p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			tb.Fatalf("list the objects of %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// SQS is a client for the local SQS server.
func SQS(tb testing.TB, opts ...func(*sqs.Options)) *sqs.Client {
	ep := endpoint(tb, EnvSQS)
	opts = append([]func(*sqs.Options){func(o *sqs.Options) { o.BaseEndpoint = aws.String(ep) }}, opts...)
	return sqsqueue.NewClient(Config(), opts...)
}

// Prefix is a fresh name prefix for one test's resources.
func Prefix(tb testing.TB) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b) + "-"
}

// Tables creates every schema table under a fresh prefix and deletes them
// when the test ends. The result maps schema table IDs to physical names.
func Tables(tb testing.TB) map[string]string {
	tb.Helper()
	db := DynamoDB(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names, err := dynamo.CreateTables(ctx, db, Prefix(tb))
	if err != nil {
		tb.Fatalf("create tables: %v", err)
	}
	tb.Cleanup(func() {
		for _, n := range names {
			_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(n)})
		}
	})
	return names
}

// Queues creates every schema queue (and DLQ) under a fresh prefix and
// deletes them when the test ends. The result is keyed by schema queue ID.
func Queues(tb testing.TB) map[string]sqsqueue.QueueURLs {
	tb.Helper()
	client := SQS(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	urls, err := sqsqueue.CreateQueues(ctx, client, Prefix(tb))
	if err != nil {
		tb.Fatalf("create queues: %v", err)
	}
	tb.Cleanup(func() {
		for _, u := range urls {
			for _, q := range []string{u.URL, u.DLQURL} {
				_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(q)})
			}
		}
	})
	return urls
}

// SubscribedQueue creates a queue with q and subscribes it to topic with
// raw delivery, as a SaaS subscribes its own, with the filter policy when
// not ""; it returns the queue's URL.
func SubscribedQueue(tb testing.TB, q *sqs.Client, topics *sns.Client, topic, policy string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(Prefix(tb) + "subscriber")})
	if err != nil {
		tb.Fatalf("create a subscriber queue: %v", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatalf("read the subscriber queue's ARN: %v", err)
	}
	sub := map[string]string{"RawMessageDelivery": "true"}
	if policy != "" {
		sub["FilterPolicy"] = policy
	}
	if _, err := topics.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes[string(types.QueueAttributeNameQueueArn)]), Attributes: sub}); err != nil {
		tb.Fatalf("subscribe a queue to %s: %v", topic, err)
	}
	return aws.ToString(created.QueueUrl)
}

// Bridge, Idempotency and Events name the test's tables.
func Bridge(names map[string]string) string      { return names[schema.Bridge.ID] }
func Idempotency(names map[string]string) string { return names[schema.Idempotency.ID] }
func Events(names map[string]string) string      { return names[schema.Events.ID] }

// Queued is what a queue holds: its messages visible, in flight and
// delayed. A consumer's message counts until the consumer, done with it,
// deletes it; so a queue with none queued has had all its work done.
func Queued(tb testing.TB, client *sqs.Client, url string) int {
	tb.Helper()
	names := []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		tb.Fatalf("count the messages of %s: %v", url, err)
	}
	n := 0
	for _, name := range names {
		c, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			tb.Fatalf("%s of %s: %q", name, url, out.Attributes[string(name)])
		}
		n += c
	}
	return n
}
