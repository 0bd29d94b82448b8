package stack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// The stack has the media bucket and the media queue, subscribed to the
// events topic with raw delivery and the media subscription's filter
// policy; the functions are told both.
func TestStackHasTheMediaBucketAndQueue(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	bucket, queue := s.Buckets[schema.MediaBucket.ID], s.Env.Value(config.MediaQueueURL)
	if bucket != "kb-local-media" || s.Env.Value(config.MediaBucket) != bucket || !strings.HasSuffix(queue, "/kb-local-media") {
		t.Fatalf("bucket %q, queue %q; bucket setting %q", bucket, queue, s.Env.Value(config.MediaBucket))
	}
	objects := s3media.New(s3media.NewClient(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) }), bucket)
	if _, err := objects.Put(ctx, "acme/1/m", "image/png", strings.NewReader("png"), 10); err != nil {
		t.Errorf("put into the media bucket: %v", err)
	}
	if err := objects.Delete(ctx, "acme/1/m"); err != nil {
		t.Error(err)
	}
	// The topic is every local stack's: its subscription is read, not
	// published to (shared/snstopic's tests hold what the policy lets in).
	topics := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	subs, err := topics.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{
		TopicArn: aws.String(s.Topics[schema.EventsTopic.ID])})
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	arn, err := sqsqueue.QueueARN(ctx, q, queue)
	if err != nil {
		t.Fatal(err)
	}
	var found []map[string]string
	for _, sub := range subs.Subscriptions {
		if aws.ToString(sub.Endpoint) != arn {
			continue
		}
		attrs, err := topics.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn})
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, attrs.Attributes)
	}
	if len(found) != 1 || found[0]["RawMessageDelivery"] != "true" || found[0]["FilterPolicy"] != schema.MediaSubscription.FilterPolicy {
		t.Errorf("subscriptions of the media queue: %v", found)
	}
}
