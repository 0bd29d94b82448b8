package publisher_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo/streams"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/publisher"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// The publisher's bill: AWS calls per event, counted on the real adapters
// (the feed on DynamoDB Local, the topic on fauxqs) while it handles the
// stream records of a burst of inbound messages, each with its person's
// sighting (a record that tells nothing). The feed's appends and the
// topic's publications are batched across the records of a batch.
func TestAWSCallsPerEvent(t *testing.T) {
	ctx := context.Background()
	var dbCalls, snsCalls awstest.Calls
	names := awstest.Tables(t)
	db := awstest.DynamoDB(t)
	counted := awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, dbCalls.Middleware) })
	client := awstest.SNS(t, func(o *sns.Options) { o.APIOptions = append(o.APIOptions, snsCalls.Middleware) })
	topics, err := snstopic.CreateTopics(ctx, client, awstest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	bridge := awstest.Bridge(names)
	told := &tellingTopic{Topic: &snstopic.Publisher{Client: client, TopicARN: topics[schema.EventsTopic.ID]}}
	w := &publisher.Worker{Changes: dynamo.StreamChanges{}, Rejects: &memstore.Rejects{},
		Feed: &dynamo.Feed{DB: counted, Table: names[schema.Events.ID]}, Topic: told}
	const n = 40
	ms := &dynamo.Messages{DB: db, Table: bridge}
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	ana := messaging.Person{BSUID: "US.13491208655302741918", Phone: "16505551234"}
	for i := range n {
		m := messaging.Message{WAMID: fmt.Sprintf("wamid.%d", i), PhoneNumberID: "106540352242922", Direction: messaging.Inbound,
			Type: "text", Text: "Oi!", Timestamp: at.Add(time.Duration(i) * time.Second), From: ana}
		if err := ms.PutMessage(ctx, "acme", m, nil); err != nil {
			t.Fatal(err)
		}
		if err := ms.PutContact(ctx, "acme", m.PhoneNumberID, ana, messaging.Sighting{At: m.Timestamp, Inbound: true}); err != nil {
			t.Fatal(err)
		}
	}
	records := 0
	pollCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	dbCalls.Reset()
	snsCalls.Reset()
	p := &streams.Poller{DB: db, Streams: awstest.DynamoDBStreams(t), Table: bridge, Interval: 20 * time.Millisecond,
		Handler: func(ctx context.Context, b events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			resp, err := w.Handle(ctx, b)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				t.Errorf("failures %+v %v", resp.BatchItemFailures, err)
			}
			records += len(b.Records)
			for _, r := range b.Records {
				if r.Change.Keys["pk"].String() == "MSG#acme#wamid."+fmt.Sprint(n-1) {
					cancel()
				}
			}
			return resp, err
		}}
	p.Run(pollCtx)
	if pollCtx.Err() != context.Canceled {
		t.Fatalf("the last message's record never came: %d records", records)
	}
	evs := told.n
	perEvent := float64(dbCalls.Total()+snsCalls.Total()) / float64(evs)
	t.Logf("aws_calls_per_event publisher=%.3f records=%d events=%d feed_calls=%v topic_calls=%v", perEvent, records, evs,
		dbCalls.Counts(), snsCalls.Counts())
	if records < 2*n || evs != n || perEvent > 0.25 {
		t.Fatalf("%d records, %d events, %.3f AWS calls per event (want ≤ 0.25)", records, evs, perEvent)
	}
}

// tellingTopic counts the events told.
type tellingTopic struct {
	eventing.Topic
	n int
}

func (t *tellingTopic) Publish(ctx context.Context, evs []bridgeevents.Event) (int, error) {
	n, err := t.Topic.Publish(ctx, evs)
	t.n += n
	return n, err
}
