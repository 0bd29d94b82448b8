package sqsqueue_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// An event sent to a queue arrives as the events topic's raw delivery
// brings one: its JSON as the body, its type and tenant as attributes.
func TestEventQueueSendsTheEventAsTheTopicDelivers(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	url := awstest.Queues(t)[schema.EventWebhooks.ID].URL
	body := `{"id":"evt_7","type":"message.received","timestamp":"2026-12-07T10:00:00Z","tenant_id":"acme",` +
		`"source":"webhook","subject":"message:wamid.7","version":1,"data":{"tenant_id":"acme","message":{"id":"wamid.7",` +
		`"phone_number_id":"111","direction":"inbound","type":"image","text":"","from":{},"to":{},` +
		`"media":{"id":"m7","url":"","mime_type":"image/png","caption":"","filename":""},"known":true,"statuses":[]}}}`
	ev, err := bridgeevents.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := (&sqsqueue.EventQueue{Client: client, URL: url}).Send(ctx, ev); err != nil {
		t.Fatal(err)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%d messages", len(out.Messages))
	}
	m := out.Messages[0]
	got, err := bridgeevents.Decode([]byte(aws.ToString(m.Body)))
	if err != nil || got.ID != ev.ID || got.Type != ev.Type || got.TenantID != "acme" || string(got.Data) != string(ev.Data) {
		t.Errorf("queued %s (%v)", aws.ToString(m.Body), err)
	}
	for k, want := range map[string]string{schema.EventAttrType: "message.received", schema.EventAttrTenant: "acme"} {
		if a, ok := m.MessageAttributes[k]; !ok || aws.ToString(a.StringValue) != want {
			t.Errorf("attribute %s: %+v", k, a)
		}
	}
	// A queue that is not there is an error naming the event.
	bad := &sqsqueue.EventQueue{Client: client, URL: url + "-missing"}
	if err := bad.Send(ctx, ev); err == nil {
		t.Error("sent to a missing queue")
	}
}
