// Package sqsqueue holds kapso-bridge's SQS adapters: the batch sender the
// ingest and redirect use, queue creation from shared/schema for the local
// stack and tests, and a poller that hands batches to worker handlers with
// Lambda's event-source-mapping semantics.
package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// QueueURLs are a queue and its dead-letter queue.
type QueueURLs struct {
	URL    string
	DLQURL string
	DLQARN string
}

// CreateQueue creates q and its DLQ under prefix, with the redrive policy,
// visibility timeout and retention of the schema, as the CDK stack does.
func CreateQueue(ctx context.Context, client *sqs.Client, q schema.Queue, prefix string) (QueueURLs, error) {
	dlqName := prefix + q.DLQID()
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(dlqName),
		Attributes: map[string]string{
			string(types.QueueAttributeNameMessageRetentionPeriod): seconds(schema.DLQRetention.Seconds()),
			string(types.QueueAttributeNameMaximumMessageSize):     strconv.Itoa(schema.MaxSQSMessageBytes),
		},
	})
	if err != nil {
		return QueueURLs{}, fmt.Errorf("create queue %s: %w", dlqName, err)
	}
	dlqARN, err := QueueARN(ctx, client, aws.ToString(dlq.QueueUrl))
	if err != nil {
		return QueueURLs{}, err
	}
	redrive, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": dlqARN,
		"maxReceiveCount":     strconv.Itoa(q.MaxReceiveCount),
	})
	name := prefix + q.ID
	main, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(name),
		Attributes: map[string]string{
			string(types.QueueAttributeNameVisibilityTimeout):      seconds(q.VisibilityTimeout().Seconds()),
			string(types.QueueAttributeNameMessageRetentionPeriod): seconds(q.Retention.Seconds()),
			string(types.QueueAttributeNameRedrivePolicy):          string(redrive),
			string(types.QueueAttributeNameMaximumMessageSize):     strconv.Itoa(schema.MaxSQSMessageBytes),
		},
	})
	if err != nil {
		return QueueURLs{}, fmt.Errorf("create queue %s: %w", name, err)
	}
	return QueueURLs{URL: aws.ToString(main.QueueUrl), DLQURL: aws.ToString(dlq.QueueUrl), DLQARN: dlqARN}, nil
}

// QueueARN is the ARN of the queue at url.
func QueueARN(ctx context.Context, client *sqs.Client, url string) (string, error) {
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("get arn of %s: %w", url, err)
	}
	return attrs.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}

// CreateQueues creates every schema queue under prefix, keyed by queue ID.
func CreateQueues(ctx context.Context, client *sqs.Client, prefix string) (map[string]QueueURLs, error) {
	out := map[string]QueueURLs{}
	for _, q := range schema.Queues {
		urls, err := CreateQueue(ctx, client, q, prefix)
		if err != nil {
			return nil, err
		}
		out[q.ID] = urls
	}
	return out, nil
}

func seconds(s float64) string { return strconv.Itoa(int(s)) }
