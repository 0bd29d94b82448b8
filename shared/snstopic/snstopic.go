// Package snstopic is kapso-bridge's SNS adapter: the events topic the
// publisher tells every event on, and the topics and their queue
// subscriptions made from shared/schema for the local stack and tests, as
// the CDK stack makes them.
package snstopic

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// Publisher is eventing.Topic on one SNS topic: each event is one
// message, its JSON the body (what bridgeevents.Decode reads, from a
// subscribed queue with raw delivery), with the message attributes
// schema.EventAttrType and schema.EventAttrTenant for subscribers' filter
// policies, and schema.EventAttrMedia on a message.received of a message
// with media. Events go in PublishBatch calls of up to 10.
type Publisher struct {
	Client   *sns.Client
	TopicARN string
}

var _ eventing.Topic = (*Publisher)(nil)

// Limits of PublishBatch.
const (
	// MaxBatchBytes bounds one message, and the messages of one call
	// together: their bodies and attributes (names, types and values).
	MaxBatchBytes = 256 * 1024
	maxBatch      = 10
)

// entry is one event as a PublishBatch entry, with its size as SNS counts
// it.
type entry struct {
	types.PublishBatchRequestEntry
	size int
}

func entryOf(e bridgeevents.Event) (entry, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return entry{}, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	attrs := map[string]string{schema.EventAttrType: e.Type, schema.EventAttrTenant: e.TenantID}
	switch withMedia, err := hasMedia(e); {
	case err != nil:
		return entry{}, fmt.Errorf("encode event %s: %w", e.ID, err)
	case withMedia:
		attrs[schema.EventAttrMedia] = "true"
	}
	out := entry{PublishBatchRequestEntry: types.PublishBatchRequestEntry{Message: aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{}}, size: len(body)}
	for name, v := range attrs {
		out.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		out.size += len(name) + len("String") + len(v)
	}
	return out, nil
}

// hasMedia reports whether e is a message.received of a message with
// media, which the media queue's subscription selects by the attribute
// schema.EventAttrMedia.
func hasMedia(e bridgeevents.Event) (bool, error) {
	if e.Type != bridgeevents.MessageReceived {
		return false, nil
	}
	var data struct {
		Message struct {
			Media json.RawMessage `json:"media"`
		} `json:"message"`
	}
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return false, fmt.Errorf("read its message: %w", err)
	}
	m := data.Message.Media
	return len(m) > 0 && string(m) != "null", nil
}

// Publish implements eventing.Topic: calls of up to 10 events and
// MaxBatchBytes, one after the other. It returns how many events, from
// the first, were told; the first not told is the one the error is about:
// one larger than SNS takes is errs.TooLarge.
func (p *Publisher) Publish(ctx context.Context, events []bridgeevents.Event) (int, error) {
	for start := 0; start < len(events); {
		var batch []entry
		bytes := 0
		for i := start; i < len(events) && len(batch) < maxBatch; i++ {
			en, err := entryOf(events[i])
			if err != nil {
				return i, err
			}
			if en.size > MaxBatchBytes {
				if len(batch) > 0 {
					break // told first, the ones before it
				}
				return i, errs.E(errs.TooLarge, fmt.Sprintf("event %s is %d bytes, more than SNS takes (%d)",
					events[i].ID, en.size, MaxBatchBytes), nil)
			}
			if bytes+en.size > MaxBatchBytes {
				break
			}
			bytes += en.size
			en.Id = aws.String(strconv.Itoa(len(batch)))
			batch = append(batch, en)
		}
		entries := make([]types.PublishBatchRequestEntry, len(batch))
		for i, en := range batch {
			entries[i] = en.PublishBatchRequestEntry
		}
		out, err := p.Client.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(p.TopicARN),
			PublishBatchRequestEntries: entries})
		if err != nil {
			return start, fmt.Errorf("publish %d events on %s: %w", len(batch), p.TopicARN, err)
		}
		if len(out.Failed) > 0 {
			first, why := len(batch), ""
			for _, f := range out.Failed {
				if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i < first {
					first, why = i, aws.ToString(f.Code)+": "+aws.ToString(f.Message)
				}
			}
			if first == len(batch) {
				first, why = 0, fmt.Sprintf("%d entries failed", len(out.Failed))
			}
			return start + first, fmt.Errorf("publish event %s on %s: %s", events[start+first].ID, p.TopicARN, why)
		}
		start += len(batch)
	}
	return len(events), nil
}

// CreateTopics creates every schema topic under prefix (for the local
// stack and tests; CreateTopic of an existing name answers its ARN), and
// returns their ARNs by topic ID.
func CreateTopics(ctx context.Context, client *sns.Client, prefix string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range schema.Topics {
		name := prefix + t.ID
		got, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("create topic %s: %w", name, err)
		}
		out[t.ID] = aws.ToString(got.TopicArn)
	}
	return out, nil
}
