package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/eventwebhooksapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// devEventsWebhookSecret signs make dev's events unless
// EVENTS_WEBHOOK_SECRET is set: whsec_ and the base64 of 32 bytes, printed
// with the other defaults, for a receiver on this machine to verify with.
const devEventsWebhookSecret = "whsec_a2Fwc28tYnJpZGdlIGRldiBldmVudHMgd2ViaG9va3M="

// startEventWebhooks runs the eventwebhooks function when EVENTS_WEBHOOK_URL
// is set: the event-webhooks queue subscribed to the events topic as the
// schema says, and its poller. Unset, make dev sends no webhooks.
func (s *Stack) startEventWebhooks(runCtx, ctx context.Context, cfg aws.Config, prefix string, schedule []time.Duration,
	b app.Base, c clients) error {
	if b.Env.Value(config.EventsWebhookURL) == "" {
		return nil
	}
	w, err := eventwebhooksapp.Worker(ctx, b, eventwebhooksapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs})
	if err != nil {
		return err
	}
	if schedule != nil {
		w.Schedule = schedule
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	sub := schema.EventWebhooksSubscription
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(prefix + sub.Topic.ID)})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", sub.Topic.ID, err)
	}
	queueARN, err := sqsqueue.QueueARN(ctx, c.sqs, s.Queues[sub.Queue.ID].URL)
	if err != nil {
		return err
	}
	if _, err := snstopic.Subscribe(ctx, client, sub, aws.ToString(topic.TopicArn), queueARN); err != nil {
		return err
	}
	s.EventsTopicARN = aws.ToString(topic.TopicArn)
	s.poll(runCtx, sub.Queue, w.Handle, c, b.Log)
	return nil
}
