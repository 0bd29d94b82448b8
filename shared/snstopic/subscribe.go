package snstopic

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Subscribe makes s: the queue queueARN subscribed to the topic topicARN,
// with its filter policy when it has one, and returns the subscription's
// ARN. SNS answers the same subscription again when it exists with the
// same attributes, so a restarted stack subscribes once.
func Subscribe(ctx context.Context, client *sns.Client, s schema.Subscription, topicARN, queueARN string) (string, error) {
	attrs := map[string]string{"RawMessageDelivery": strconv.FormatBool(s.Raw)}
	if s.FilterPolicy != "" {
		// On the message attributes, SNS's default scope.
		attrs["FilterPolicy"] = s.FilterPolicy
	}
	out, err := client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn:              aws.String(topicARN),
		Protocol:              aws.String("sqs"),
		Endpoint:              aws.String(queueARN),
		Attributes:            attrs,
		ReturnSubscriptionArn: true,
	})
	if err != nil {
		return "", fmt.Errorf("subscribe queue %s to topic %s: %w", s.Queue.ID, s.Topic.ID, err)
	}
	return aws.ToString(out.SubscriptionArn), nil
}
