package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/awstest"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/storetest"
)

func TestMessagesContract(t *testing.T) {
	storetest.RunMessages(t, func(t *testing.T) (messaging.Store, messaging.Reader) {
		s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
		return s, s
	})
}

func TestPendingContract(t *testing.T) {
	storetest.RunPending(t, func(t *testing.T, now func() time.Time) messaging.PendingStore {
		return &dynamo.Pending{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Now: now}
	})
}

// The messages worker's writes are billed per call: in-order traffic costs
// one call per write.
func TestMessagesCallBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := &awstest.Calls{}
	table := awstest.Bridge(awstest.Tables(t))
	s := &dynamo.Messages{Table: table,
		DB: awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const number, bsuid, phone = "106540352242922", "US.13491208655302741918", "16505551234"
	sent := messaging.StatusUpdate{WAMID: "wamid.1", PhoneNumberID: number, Status: messaging.Sent, At: at}
	delivered := sent
	delivered.Status, delivered.At = messaging.Delivered, at.Add(time.Second)
	person := messaging.Person{BSUID: bsuid, Phone: phone, Name: "Ana"}
	conv := messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: person,
		Status: messaging.ConversationActive, LastActiveAt: at}
	newer := conv
	newer.LastActiveAt = at.Add(time.Minute)
	for _, c := range []struct {
		name  string
		write func() error
		want  map[string]int
	}{
		{"a message", func() error {
			return s.PutMessage(ctx, "acme", messaging.Message{WAMID: "wamid.1", PhoneNumberID: number,
				Direction: messaging.Outbound, Type: "text", Text: "hi", Timestamp: at, ConversationID: "conv-1"}, nil)
		}, map[string]int{"UpdateItem": 1}},
		{"a new status", func() error { return s.ApplyStatus(ctx, "acme", sent) }, map[string]int{"UpdateItem": 1}},
		{"a duplicate status", func() error { return s.ApplyStatus(ctx, "acme", sent) }, map[string]int{"UpdateItem": 1}},
		{"the next status", func() error { return s.ApplyStatus(ctx, "acme", delivered) }, map[string]int{"UpdateItem": 1}},
		{"a late duplicate", func() error { return s.ApplyStatus(ctx, "acme", sent) }, map[string]int{"UpdateItem": 1}},
		{"a late status never seen", func() error {
			u := sent
			u.At = at.Add(-time.Second)
			return s.ApplyStatus(ctx, "acme", u)
		}, map[string]int{"UpdateItem": 2}},
		{"a message with its status", func() error {
			u := sent
			u.WAMID = "wamid.2"
			return s.PutMessage(ctx, "acme", messaging.Message{WAMID: "wamid.2", PhoneNumberID: number, Timestamp: at},
				[]messaging.StatusUpdate{u})
		}, map[string]int{"UpdateItem": 1}},
		{"a conversation", func() error { return s.PutConversation(ctx, "acme", conv) }, map[string]int{"UpdateItem": 1}},
		{"newer activity", func() error { return s.PutConversation(ctx, "acme", newer) }, map[string]int{"UpdateItem": 1}},
		{"an older conversation event", func() error { return s.PutConversation(ctx, "acme", conv) }, map[string]int{"UpdateItem": 2}},
		{"a new person by BSUID and phone", func() error { return s.PutContact(ctx, "acme", number, person, at) },
			map[string]int{"UpdateItem": 3}},
		{"the same person again", func() error { return s.PutContact(ctx, "acme", number, person, at.Add(time.Minute)) },
			map[string]int{"UpdateItem": 1}},
		{"a person by BSUID only", func() error {
			return s.PutContact(ctx, "acme", number, messaging.Person{BSUID: "US.42"}, at)
		}, map[string]int{"UpdateItem": 1}},
		{"a marketing preference", func() error {
			return s.SetMarketingPreference(ctx, "acme", number, person, messaging.MarketingPreference{Status: "opted_in", Sequence: 1})
		}, map[string]int{"UpdateItem": 1}},
		{"a message read", func() error { _, _, err := s.Message(ctx, "acme", "wamid.1"); return err }, map[string]int{"GetItem": 1}},
		{"a page of conversations", func() error {
			_, _, err := s.Conversations(ctx, "acme", messaging.Page{})
			return err
		}, map[string]int{"Query": 1, "BatchGetItem": 1}},
	} {
		calls.Reset()
		if err := c.write(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := calls.Counts(); !equalCounts(got, c.want) {
			t.Errorf("%s: calls %v, want %v", c.name, got, c.want)
		}
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
