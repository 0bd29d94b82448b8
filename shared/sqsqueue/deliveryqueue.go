package sqsqueue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// BodyStore keeps bodies a queue message cannot carry.
type BodyStore interface {
	Put(ctx context.Context, ref string, body []byte) error
}

// DeliveryQueue puts one delivery on a queue as one message: its header line and
// its body verbatim. A body the message cannot carry (too large, or holding
// characters SQS refuses) is stored aside first and the message carries a
// reference to it. Send returns only once the delivery is in the queue.
type DeliveryQueue struct {
	Client *sqs.Client
	Bodies BodyStore
	// RetainedBodies, when set, stores aside the bodies of number webhooks
	// and Meta payloads instead: they are a tenant's messages and expire
	// with them.
	RetainedBodies BodyStore
	// MaxMessageBytes defaults to schema.MaxSQSMessageBytes.
	MaxMessageBytes int
}

func (s *DeliveryQueue) limit() int {
	if s.MaxMessageBytes > 0 {
		return s.MaxMessageBytes
	}
	return schema.MaxSQSMessageBytes
}

// putAside keeps the body of d in the store of its kind of delivery.
func (s *DeliveryQueue) putAside(ctx context.Context, d envelope.Delivery, key string, body []byte) error {
	switch {
	case s.RetainedBodies != nil && (d.Source == envelope.SourceKapsoNumber || d.Source == envelope.SourceMeta):
		return s.RetainedBodies.Put(ctx, key, body)
	case s.Bodies != nil:
		return s.Bodies.Put(ctx, key, body)
	}
	return fmt.Errorf("%d-byte body cannot travel in a message and no body store is configured", len(body))
}

// Send enqueues the delivery d with body on queueURL. storeAside forces the
// body aside whatever its size: the caller found characters SQS refuses.
func (s *DeliveryQueue) Send(ctx context.Context, queueURL string, d envelope.Delivery, body []byte, storeAside bool) error {
	msg, err := envelope.Encode(d, body)
	if err != nil {
		return err
	}
	if storeAside || len(msg) > s.limit() {
		if err := s.putAside(ctx, d, d.Key, body); err != nil {
			return fmt.Errorf("store body of delivery %s aside: %w", d.Key, err)
		}
		d.BodyRef = d.Key
		if msg, err = envelope.Encode(d, nil); err != nil {
			return err
		}
	}
	if _, err := s.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(queueURL),
		MessageBody: aws.String(msg),
	}); err != nil {
		return fmt.Errorf("send delivery %s to %s: %w", d.Key, queueURL, err)
	}
	return nil
}
