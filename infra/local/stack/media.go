package stack

import (
	"context"
	"maps"

	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// subscribeMedia subscribes the media queue to the events topic as
// schema.MediaSubscription says: only the message.received events of
// messages with media reach it. It returns the queue's URLs. Until the
// schema's queue list holds the media queue it is made here and left out
// of Queues, which lists what the stack's pollers drain: nothing reads it
// yet.
func (s *Stack) subscribeMedia(ctx context.Context, c clients, prefix string) (sqsqueue.QueueURLs, error) {
	sub := schema.MediaSubscription
	urls, listed := s.Queues[sub.Queue.ID]
	if !listed {
		var err error
		if urls, err = sqsqueue.CreateQueue(ctx, c.sqs, sub.Queue, prefix); err != nil {
			return sqsqueue.QueueURLs{}, err
		}
	}
	queues := maps.Clone(s.Queues)
	queues[sub.Queue.ID] = urls
	return urls, s.subscribe(ctx, c, sub, queues)
}
