package sqsqueue

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

// DLQStats reads the backlog of dead-letter queues: how many messages each
// holds, and how old the oldest of a sample of them is. SQS gives no age
// attribute, so the sample is a receive that hides the messages for one
// second (the shortest visibility the SDK can ask for; 0 means the queue's
// default); a DLQ has no consumer that the extra receive could disturb.
type DLQStats struct {
	Client *sqs.Client
	// Queues are the DLQs' URLs by the name reported.
	Queues map[string]string
	Now    func() time.Time
}

// DLQStat is one dead-letter queue's backlog.
type DLQStat struct {
	Queue string
	// Depth is every message the queue holds: visible, and in flight
	// (received by a redrive or hidden by another run's sample), which is
	// still there.
	Depth     int
	InFlight  int
	OldestAge time.Duration // of the oldest message sampled; 0 when empty
}

// Stats reads every queue, in name order.
func (s *DLQStats) Stats(ctx context.Context) ([]DLQStat, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	out := make([]DLQStat, 0, len(s.Queues))
	for _, name := range slices.Sorted(maps.Keys(s.Queues)) {
		url := s.Queues[name]
		visible, inFlight := types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible
		attrs, err := s.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{visible, inFlight},
		})
		if err != nil {
			return out, fmt.Errorf("depth of %s: %w", name, err)
		}
		st := DLQStat{Queue: name}
		st.Depth, _ = strconv.Atoi(attrs.Attributes[string(visible)])
		st.InFlight, _ = strconv.Atoi(attrs.Attributes[string(inFlight)])
		st.Depth += st.InFlight
		if st.Depth > 0 {
			sample, err := s.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 1,
				MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp},
			})
			if err != nil {
				return out, fmt.Errorf("sample %s: %w", name, err)
			}
			for _, m := range sample.Messages {
				if sent := envelope.SentAt(m.Attributes); !sent.IsZero() {
					st.OldestAge = max(st.OldestAge, now().Sub(sent))
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}
