package sqsqueue_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// Each delivery is one message; bodies up to the queue's limit travel inside
// it byte for byte, larger ones and ones SQS would refuse are kept aside.
func TestSenderSendsOneMessagePerDelivery(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	tables := awstest.Tables(t)
	url := awstest.Queues(t)[schema.Messages.ID].URL
	bodies := &dynamo.Payloads{DB: awstest.DynamoDB(t), Table: awstest.Idempotency(tables)}
	sender := &sqsqueue.DeliveryQueue{Client: client, Bodies: bodies}

	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameMaximumMessageSize}})
	if err != nil || attrs.Attributes[string(types.QueueAttributeNameMaximumMessageSize)] != "1048576" {
		t.Fatalf("queue MaximumMessageSize = %v, %v", attrs.Attributes, err)
	}

	text := func(n int) []byte { return []byte(`{"text":"` + strings.Repeat("a", n) + `"}`) }
	limit := schema.MaxSQSMessageBytes
	cases := []struct {
		name       string
		body       []byte
		storeAside bool
		wantAside  bool
	}{
		{"small", []byte(`{"type":"x","text":"Olá 🌎"}`), false, false},
		{"just under the limit", text(limit - 400), false, false},
		{"over the limit", text(limit + 10), false, true},
		{"asked to keep aside", []byte(`{"text":"` + "\uffff" + `"}`), true, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := envelope.Delivery{Source: envelope.SourceKapsoNumber, Key: "kapso_number#1#k" + string(rune('a'+i)),
				PhoneNumberID: "1", Event: "whatsapp.message.received", IdempotencyKey: "k", ReceivedAt: time.Now().UTC()}
			if err := sender.Send(ctx, url, d, c.body, c.storeAside); err != nil {
				t.Fatal(err)
			}
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
				WaitTimeSeconds: 1})
			if err != nil || len(out.Messages) != 1 {
				t.Fatalf("received %d messages, %v", len(out.Messages), err)
			}
			_, _ = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle})
			got, body, err := envelope.Decode(aws.ToString(out.Messages[0].Body))
			if err != nil {
				t.Fatal(err)
			}
			if (got.BodyRef != "") != c.wantAside {
				t.Fatalf("body ref %q, want aside %v", got.BodyRef, c.wantAside)
			}
			if c.wantAside {
				if len(body) != 0 {
					t.Fatal("a body kept aside also travelled in the message")
				}
				if body, err = bodies.Get(ctx, got.BodyRef); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, c.body) {
				t.Fatal("body changed on the way")
			}
			got.BodyRef = ""
			if got != d {
				t.Fatalf("header %+v, want %+v", got, d)
			}
		})
	}
}

func TestSenderWithoutBodyStoreRefusesWhatCannotTravel(t *testing.T) {
	sender := &sqsqueue.DeliveryQueue{Client: awstest.SQS(t), MaxMessageBytes: 1024}
	d := envelope.Delivery{Source: envelope.SourceKapsoProject, Key: "k", ReceivedAt: time.Now()}
	if err := sender.Send(context.Background(), "http://unused", d, bytes.Repeat([]byte("x"), 2048), false); err == nil {
		t.Fatal("an oversized body was accepted with nowhere to keep it")
	}
}

// The local SQS server refuses what SQS refuses and takes what it takes:
// characters above U+FFFF pass, U+FFFE and U+FFFF do not.
func TestLocalSQSChecksCharactersAsSQSDoes(t *testing.T) {
	ctx := context.Background()
	client := awstest.SQS(t)
	url := awstest.Queues(t)[schema.Messages.ID].URL
	for body, ok := range map[string]bool{"Olá 🌎 𝄞": true, "tab\tnewline\n": true, "\uffff": false, "\ufffe": false, "\x01": false} {
		_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
		if (err == nil) != ok {
			t.Errorf("SendMessage(%q): %v, want accepted %v", body, err, ok)
		}
	}
}
