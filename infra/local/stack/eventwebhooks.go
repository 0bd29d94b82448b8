package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

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
	sub := schema.EventWebhooksSubscription
	if err := s.subscribe(ctx, c, sub, s.Queues); err != nil {
		return err
	}
	s.poll(runCtx, sub.Queue, w.Handle, c, b.Log)
	return nil
}

// subscribe makes the schema subscription sub on the stack's topic and its
// queue in queues.
func (s *Stack) subscribe(ctx context.Context, c clients, sub schema.Subscription, queues map[string]sqsqueue.QueueURLs) error {
	topicARN := s.Topics[sub.Topic.ID]
	if topicARN == "" {
		return fmt.Errorf("topic %s was not created", sub.Topic.ID)
	}
	queueARN, err := sqsqueue.QueueARN(ctx, c.sqs, queues[sub.Queue.ID].URL)
	if err != nil {
		return err
	}
	_, err = snstopic.Subscribe(ctx, c.sns, sub, topicARN, queueARN)
	return err
}
