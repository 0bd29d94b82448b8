package snstopic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// event is a message.received of tenant whose text pads it to about size
// bytes.
func event(tenant string, i, size int) bridgeevents.Event {
	data, _ := json.Marshal(bridgeevents.MessageReceivedData{TenantID: tenant, Message: bridgeevents.Message{
		MessageSummary: bridgeevents.MessageSummary{ID: fmt.Sprintf("wamid.%d", i), Direction: "inbound",
			MessageContent: &bridgeevents.MessageContent{Type: "text", Text: strings.Repeat("a", max(size-400, 1))}},
		Known: true, Statuses: []bridgeevents.StatusEntry{}}})
	return bridgeevents.Event{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Type: bridgeevents.MessageReceived,
		Timestamp: time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), TenantID: tenant, Source: bridgeevents.SourceWebhook,
		Subject: fmt.Sprintf("message:wamid.%d", i), Version: 1, Data: data}
}

// subscribed is a queue subscribed to the topic with raw delivery, and
// filter policy when not "".
func subscribed(t *testing.T, topic, policy string) string {
	t.Helper()
	return awstest.SubscribedQueue(t, awstest.SQS(t), awstest.SNS(t), topic, policy)
}

// received reads the queue until it has n messages, then a moment more to
// see that no more come.
func received(t *testing.T, url string, n int) []sqstypes.Message {
	t.Helper()
	q := awstest.SQS(t)
	var out []sqstypes.Message
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		wait := int32(1)
		if len(out) >= n {
			wait = 0
		}
		got, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MaxNumberOfMessages: 10, WaitTimeSeconds: wait, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got.Messages...)
		if len(out) >= n && len(got.Messages) == 0 {
			return out
		}
	}
	t.Fatalf("%d messages, want %d", len(out), n)
	return nil
}

// Events reach a subscribed queue as their JSON, which bridgeevents
// reads, with the type and tenant as message attributes a filter policy
// selects on; they go ten to a call, fewer when ten would be too large
// together.
func TestPublishTellsEventsToSubscribedQueues(t *testing.T) {
	ctx := context.Background()
	var calls awstest.Calls
	client := awstest.SNS(t, func(o *sns.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	topics, err := snstopic.CreateTopics(ctx, client, awstest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	topic := topics[schema.EventsTopic.ID]
	all, globex := subscribed(t, topic, ""), subscribed(t, topic, `{"tenant_id":["globex"]}`)
	var evs []bridgeevents.Event
	for i := range 23 {
		evs = append(evs, event([]string{"acme", "globex"}[i%2], i, 1000))
	}
	p := &snstopic.Publisher{Client: client, TopicARN: topic}
	calls.Reset()
	if n, err := p.Publish(ctx, evs); n != len(evs) || err != nil {
		t.Fatalf("published %d of %d: %v", n, len(evs), err)
	}
	if got := calls.Counts(); got["PublishBatch"] != 3 || calls.Total() != 3 {
		t.Errorf("calls %v, want 3 PublishBatch for 23 events", got)
	}
	var ids []string
	for _, m := range received(t, all, len(evs)) {
		e, err := bridgeevents.Decode([]byte(aws.ToString(m.Body)))
		if err != nil {
			t.Fatalf("%q: %v", aws.ToString(m.Body), err)
		}
		ids = append(ids, e.ID)
		if typ, tenant := m.MessageAttributes[schema.EventAttrType], m.MessageAttributes[schema.EventAttrTenant]; aws.ToString(typ.StringValue) != e.Type ||
			aws.ToString(tenant.StringValue) != e.TenantID {
			t.Errorf("%s: attributes %+v", e.ID, m.MessageAttributes)
		}
	}
	want := make([]string, len(evs))
	for i, e := range evs {
		want[i] = e.ID
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("received %v, want %v", ids, want)
	}
	for _, m := range received(t, globex, 11) {
		if e, _ := bridgeevents.Decode([]byte(aws.ToString(m.Body))); e.TenantID != "globex" {
			t.Errorf("the globex queue got %s of %s", e.ID, e.TenantID)
		}
	}

	// Ten events of 40 KB are 400 KB together: two calls.
	evs = evs[:0]
	for i := range 10 {
		evs = append(evs, event("acme", 100+i, 40*1024))
	}
	calls.Reset()
	if n, err := p.Publish(ctx, evs); n != len(evs) || err != nil {
		t.Fatalf("published %d of %d: %v", n, len(evs), err)
	}
	if got := calls.Counts()["PublishBatch"]; got != 2 {
		t.Errorf("%d calls for 400 KB of events, want 2", got)
	}
	received(t, all, len(evs))
}

// An event larger than SNS takes is never sent: the events before it are
// told, and the error says which and why.
func TestPublishRefusesAnEventTooLarge(t *testing.T) {
	ctx := context.Background()
	client := awstest.SNS(t)
	topics, err := snstopic.CreateTopics(ctx, client, awstest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	topic := topics[schema.EventsTopic.ID]
	queue := subscribed(t, topic, "")
	evs := []bridgeevents.Event{event("acme", 1, 1000), event("acme", 2, 1000), event("acme", 3, snstopic.MaxBatchBytes+1),
		event("acme", 4, 1000)}
	p := &snstopic.Publisher{Client: client, TopicARN: topic}
	n, err := p.Publish(ctx, evs)
	if n != 2 || errs.CodeOf(err) != errs.TooLarge || !strings.Contains(err.Error(), evs[2].ID) {
		t.Fatalf("published %d: %v", n, err)
	}
	if got := received(t, queue, 2); len(got) != 2 {
		t.Errorf("%d messages", len(got))
	}
	// The rest go on once it is set aside.
	if n, err := p.Publish(ctx, evs[3:]); n != 1 || err != nil {
		t.Fatalf("the rest: %d %v", n, err)
	}
}
