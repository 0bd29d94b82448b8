package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// EventQueue puts events straight on a queue subscribed to the events
// topic, as the topic's raw delivery does: the event's JSON as the body,
// its type and tenant as message attributes. The reconciler hands the
// media worker a message's event again this way, without telling it to
// every subscriber of the topic.
type EventQueue struct {
	Client *sqs.Client
	URL    string
}

// Send puts ev on the queue: one SendMessage.
func (q *EventQueue) Send(ctx context.Context, ev bridgeevents.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("queue event %s: %w", ev.ID, err)
	}
	str := func(s string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
	}
	if _, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(q.URL),
		MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			schema.EventAttrType: str(ev.Type), schema.EventAttrTenant: str(ev.TenantID)},
	}); err != nil {
		return fmt.Errorf("queue event %s: %w", ev.ID, err)
	}
	return nil
}
