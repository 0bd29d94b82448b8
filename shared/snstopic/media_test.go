package snstopic_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// withMedia is event i with an image.
func withMedia(i int) bridgeevents.Event {
	e := event("acme", i, 500)
	data, _ := json.Marshal(bridgeevents.MessageReceivedData{TenantID: "acme", Message: bridgeevents.Message{
		MessageSummary: bridgeevents.MessageSummary{ID: "wamid.img", Direction: "inbound",
			MessageContent: &bridgeevents.MessageContent{Type: "image",
				Media: &bridgeevents.Media{ID: "1234", MIMEType: "image/jpeg"}}},
		Known: true, Statuses: []bridgeevents.StatusEntry{}}})
	e.Data = data
	return e
}

// The media queue, subscribed as schema.MediaSubscription says, gets the
// message.received events of messages with media, which carry the media
// attribute, and no other.
func TestMediaSubscriptionGetsMessagesWithMedia(t *testing.T) {
	ctx := context.Background()
	client, q := awstest.SNS(t), awstest.SQS(t)
	prefix := awstest.Prefix(t)
	topics, err := snstopic.CreateTopics(ctx, client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	topic := topics[schema.EventsTopic.ID]
	mediaQueue, err := sqsqueue.CreateQueue(ctx, q, schema.Media, prefix)
	if err != nil {
		t.Fatal(err)
	}
	arn, err := sqsqueue.QueueARN(ctx, q, mediaQueue.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snstopic.Subscribe(ctx, client, schema.MediaSubscription, topic, arn); err != nil {
		t.Fatal(err)
	}
	all := subscribed(t, topic, "")
	image := withMedia(1)
	// Another type whose data names media is not one.
	status := withMedia(2)
	status.Type = bridgeevents.MessageStatusChanged
	evs := []bridgeevents.Event{event("acme", 0, 500), image, status}
	if n, err := (&snstopic.Publisher{Client: client, TopicARN: topic}).Publish(ctx, evs); n != len(evs) || err != nil {
		t.Fatalf("published %d of %d: %v", n, len(evs), err)
	}
	got := received(t, mediaQueue.URL, 1)
	if len(got) != 1 {
		t.Fatalf("the media queue got %d messages, want 1", len(got))
	}
	if e, err := bridgeevents.Decode([]byte(aws.ToString(got[0].Body))); err != nil || e.ID != image.ID {
		t.Errorf("the media queue got %s (%v), want %s", e.ID, err, image.ID)
	}
	for _, m := range received(t, all, len(evs)) {
		e, _ := bridgeevents.Decode([]byte(aws.ToString(m.Body)))
		media, ok := m.MessageAttributes[schema.EventAttrMedia]
		if want := e.ID == image.ID; ok != want || (ok && aws.ToString(media.StringValue) != "true") {
			t.Errorf("%s (%s): media attribute %+v, present %v, want %v", e.ID, e.Type, media, ok, want)
		}
	}
}
