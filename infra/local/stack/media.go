package stack

import (
	"context"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/mediaapp"
	"github.com/kapso-bridge/kapso-bridge/shared/mediaworker"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// startMedia runs the media function: the media queue subscribed to the
// events topic as schema.MediaSubscription says (only the message.received
// events of messages with media reach it), and its poller, which copies
// each such message's media from Kapso (the simulator) into the bucket.
func (s *Stack) startMedia(runCtx, ctx context.Context, b app.Base, c clients) error {
	w, err := mediaapp.Worker(ctx, b, mediaapp.Clients{DynamoDB: c.dynamoDB, S3: c.s3, SQS: c.sqs})
	if err != nil {
		return err
	}
	sub := schema.MediaSubscription
	if err := s.subscribe(ctx, c, sub, s.Queues); err != nil {
		return err
	}
	// The deployed event source's batches: the worker's copies of one
	// batch end within the queue's consumer timeout.
	s.pollBatches(runCtx, sub.Queue, mediaworker.BatchSize, w.Handle, c, b.Log)
	return nil
}
