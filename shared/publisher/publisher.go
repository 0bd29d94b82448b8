// Package publisher is the consumer of the bridge table's stream: each
// record is the change one write made to one item, and the events it
// makes (eventing.Derive) are appended to the feed and told on the events
// topic. The stream is the outbox: an event comes from the very write that
// made the change, so none is lost between the two, and a write that
// changed nothing an event reports tells nothing.
package publisher

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/delivery"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
)

// Changes reads the change a stream record tells (dynamo.StreamChanges).
// A record it can never read is an error.
type Changes interface {
	Change(rec events.DynamoDBEventRecord) (eventing.Change, error)
}

// FeedWriter is what the publisher needs of the feed (eventing.Feed): its
// appends; the tenant API reads it.
type FeedWriter interface {
	Append(ctx context.Context, events []bridgeevents.Event) error
}

// Worker handles the stream's batches.
type Worker struct {
	Changes Changes
	Feed    FeedWriter
	Topic   eventing.Topic
	// Rejects keeps aside, with the reason, a record that can never be
	// read and an event the topic can never take.
	Rejects envelope.RejectStore
	Log     *slog.Logger
}

// Handle tells the events of a batch's records, in order: their events
// are appended to the feed in one call (the feed batches its writes) and
// told on the topic in as few as it takes. A record that can never be read
// is kept aside and passed, so it never holds up its shard. When something
// fails the response names the first record not told, as Lambda's DynamoDB
// event source expects: the records before it are done, and it and those
// after are handed again, and told again under the same ids.
func (w *Worker) Handle(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var evs []bridgeevents.Event
	var from []int // the record of each event
	failed := len(batch.Records)
	for i, rec := range batch.Records {
		made, err := w.derive(rec)
		if err != nil {
			if err := w.keepRecord(ctx, rec, err); err != nil {
				w.logger().Error("stream record not kept aside", "sequence_number", rec.Change.SequenceNumber, "err", err.Error())
				failed = i
				break
			}
			continue
		}
		for _, e := range made {
			evs, from = append(evs, e), append(from, i)
		}
	}
	if told := w.tell(ctx, evs); told < len(evs) {
		failed = min(failed, from[told])
	}
	if failed == len(batch.Records) {
		return events.DynamoDBEventResponse{}, nil
	}
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
		{ItemIdentifier: batch.Records[failed].Change.SequenceNumber}}}, nil
}

func (w *Worker) derive(rec events.DynamoDBEventRecord) ([]bridgeevents.Event, error) {
	c, err := w.Changes.Change(rec)
	if err != nil {
		return nil, err
	}
	return eventing.Derive(c)
}

// tell appends evs to the feed, then publishes them, and returns how many,
// from the first, are told both ways. An event the topic can never take
// is kept aside (the feed has it) and counts as told.
func (w *Worker) tell(ctx context.Context, evs []bridgeevents.Event) int {
	if len(evs) == 0 {
		return 0
	}
	if err := w.Feed.Append(ctx, evs); err != nil {
		w.logger().Error("events not appended to the feed", "events", len(evs), "err", err.Error())
		return 0
	}
	told := 0
	for told < len(evs) {
		n, err := w.Topic.Publish(ctx, evs[told:])
		told += n
		if err == nil {
			break
		}
		if errs.CodeOf(err) != errs.TooLarge || told == len(evs) {
			w.logger().Error("events not published", "events", len(evs)-told, "err", err.Error())
			return told
		}
		if err := w.keepEvent(ctx, evs[told], err); err != nil {
			w.logger().Error("event not kept aside", "event_id", evs[told].ID, "err", err.Error())
			return told
		}
		told++
	}
	return told
}

// keepRecord keeps aside a record that can never be read, whole.
func (w *Worker) keepRecord(ctx context.Context, rec events.DynamoDBEventRecord, why error) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", rec.Change.SequenceNumber, err)
	}
	return w.intake().KeepAside(ctx, "stream#"+rec.Change.SequenceNumber, delivery.Unusable, why.Error(),
		rec.Change.ApproximateCreationDateTime.UTC(), raw)
}

// keepEvent keeps aside an event the topic can never take.
func (w *Worker) keepEvent(ctx context.Context, e bridgeevents.Event, why error) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return w.intake().KeepAside(ctx, "event#"+e.ID, delivery.Unusable, why.Error(), e.Timestamp, raw)
}

// intake keeps aside what is told to no one, each reason labelled with its
// kind.
func (w *Worker) intake() delivery.Intake {
	return delivery.Intake{Rejects: w.Rejects, Log: w.logger(), Level: slog.LevelWarn, Labelled: true}
}

func (w *Worker) logger() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}
