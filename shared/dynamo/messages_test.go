package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
)

func TestMessagesContract(t *testing.T) {
	storetest.RunMessages(t, func(t *testing.T) (messaging.Store, storetest.MessagesReader) {
		s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
		return s, s
	})
}

func TestOutboxContract(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) (messaging.Store, messaging.Reader, messaging.Outbox) {
		s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
		return s, s, s
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
	out := messaging.OutboundMessage{ID: messaging.OutboundID("acme", "key-1"), TenantID: "acme", IdempotencyKey: "key-1",
		PhoneNumberID: number, To: messaging.Person{Phone: phone}, Type: "text", Text: "hi", Body: []byte(`{}`),
		ConversationID: "conv-1", State: messaging.OutQueued, CreatedAt: at, UpdatedAt: at}
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
		{"a new person by BSUID and phone", func() error { return s.PutContact(ctx, "acme", number, person, messaging.Sighting{At: at}) },
			map[string]int{"UpdateItem": 3}},
		{"the same person again", func() error {
			return s.PutContact(ctx, "acme", number, person, messaging.Sighting{At: at.Add(time.Minute)})
		}, map[string]int{"UpdateItem": 1}},
		{"a person by BSUID only", func() error {
			return s.PutContact(ctx, "acme", number, messaging.Person{BSUID: "US.42"}, messaging.Sighting{At: at})
		}, map[string]int{"UpdateItem": 1}},
		{"a marketing preference", func() error {
			return s.SetMarketingPreference(ctx, "acme", number, person, messaging.MarketingPreference{Status: "opted_in", Sequence: 1})
		}, map[string]int{"UpdateItem": 1}},
		{"an inbound sighting in order", func() error {
			return s.PutContact(ctx, "acme", number, person, messaging.Sighting{At: at.Add(2 * time.Minute), Inbound: true, ConversationID: "conv-1"})
		}, map[string]int{"UpdateItem": 1}},
		// An older sighting costs its failed condition and a fill, and one
		// more only when it brings a newer inbound time or conversation.
		{"an older sighting with nothing newer", func() error {
			return s.PutContact(ctx, "acme", number, person, messaging.Sighting{At: at.Add(90 * time.Second), Inbound: true})
		}, map[string]int{"UpdateItem": 2}},
		{"the person on another number", func() error {
			return s.PutContact(ctx, "acme", "other-number", person, messaging.Sighting{At: at.Add(time.Minute)})
		}, map[string]int{"UpdateItem": 3}},
		{"an older sighting, the newest inbound", func() error {
			return s.PutContact(ctx, "acme", "other-number", person, messaging.Sighting{At: at, Inbound: true})
		}, map[string]int{"UpdateItem": 3}},
		{"a message read", func() error { _, _, err := s.Message(ctx, "acme", "wamid.1"); return err }, map[string]int{"GetItem": 1}},
		{"an outbound message created", func() error {
			_, _, err := s.CreateOutbound(ctx, out)
			return err
		}, map[string]int{"PutItem": 1}},
		{"an outbound message created again", func() error {
			_, _, err := s.CreateOutbound(ctx, out)
			return err
		}, map[string]int{"PutItem": 1}},
		{"an outbound message claimed", func() error {
			_, err := s.MoveOutbound(ctx, "acme", out.ID, messaging.Transition{From: []messaging.OutboundState{messaging.OutQueued},
				To: messaging.OutSending, At: at})
			return err
		}, map[string]int{"UpdateItem": 1}},
		{"the open messages", func() error {
			_, _, err := s.OpenOutbound(ctx, at.Add(time.Hour), "", 10)
			return err
		}, map[string]int{"Query": 1}},
		{"an outbound message accepted", func() error {
			_, err := s.MoveOutbound(ctx, "acme", out.ID, messaging.Transition{From: []messaging.OutboundState{messaging.OutSending},
				To: messaging.OutAccepted, WAMID: "wamid.out", At: at})
			return err
		}, map[string]int{"GetItem": 1, "TransactWriteItems": 1}},
		{"an outbound message read", func() error { _, _, err := s.Outbound(ctx, "acme", out.ID); return err }, map[string]int{"GetItem": 1}},
		{"an accepted message read by outbound id", func() error { _, _, err := s.Message(ctx, "acme", out.ID); return err },
			map[string]int{"GetItem": 2}},
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

// What DynamoDB refuses for good (an item above 400 KB, a key above its
// size limit) comes back as errs.Invalid, so a worker keeps the event aside
// rather than retrying what can never succeed; nothing is stored.
func TestRefusedWritesAreInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const number = "106540352242922"
	msg := func(wamid, conv, text string) messaging.Message {
		return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound, Type: "text",
			Text: text, Timestamp: at, From: messaging.Person{Phone: "16505551234"}, ConversationID: conv,
			Kapso: &messaging.KapsoContent{Content: text}}
	}
	for name, err := range map[string]error{
		"a 3,000-byte WAMID":           s.PutMessage(ctx, "acme", msg("wamid."+strings.Repeat("w", 3000), "conv-1", "hi"), nil),
		"a 2,100-byte conversation id": s.PutMessage(ctx, "acme", msg("wamid.conv", strings.Repeat("c", 2100), "hi"), nil),
		"a 300 KB text, twice":         s.PutMessage(ctx, "acme", msg("wamid.text", "conv-1", strings.Repeat("t", 300<<10)), nil),
		"a 2,000-byte conversation":    s.PutConversation(ctx, "acme", messaging.Conversation{ID: strings.Repeat("c", 2000), LastActiveAt: at}),
		"a 3,000-byte status WAMID":    s.ApplyStatus(ctx, "acme", messaging.StatusUpdate{WAMID: strings.Repeat("w", 3000), Status: messaging.Sent, At: at}),
		"a 3,000-byte contact":         s.PutContact(ctx, "acme", number, messaging.Person{Phone: strings.Repeat("5", 3000)}, messaging.Sighting{At: at}),
	} {
		if errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	for _, id := range []string{"wamid.conv", "wamid.text"} {
		if _, ok, err := s.Message(ctx, "acme", id); ok || err != nil {
			t.Errorf("%s: stored %v, %v", id, ok, err)
		}
	}
}

// A message event at its bounds (messaging.MaxMessageBytes of text, the
// longest ids, MaxStatuses statuses) fits one item: what the normaliser
// lets through, DynamoDB takes.
func TestTheLargestMessageFits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &dynamo.Messages{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	wamid := "wamid." + strings.Repeat("w", messaging.MaxIDBytes-len("wamid."))
	var statuses []any
	for i := range messaging.MaxStatuses {
		statuses = append(statuses, map[string]any{"id": wamid, "status": "failed", "timestamp": fmt.Sprint(1773151320 + i),
			"errors": []any{map[string]any{"code": 131026, "title": strings.Repeat("e", 100)}}})
	}
	text := strings.Repeat("é", messaging.MaxTextChars)
	content := strings.Repeat("é", (messaging.MaxMessageBytes-len(text)-8<<10)/2)
	body, err := json.Marshal(map[string]any{
		"message": map[string]any{"id": wamid, "timestamp": "1773151320", "type": "text", "to": "16505551234",
			"text":  map[string]any{"body": text},
			"kapso": map[string]any{"direction": "outbound", "content": content, "statuses": statuses}},
		"conversation":    map[string]any{"id": strings.Repeat("c", messaging.MaxIDBytes), "phone_number": "+16505551234"},
		"phone_number_id": "106540352242922"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := kapso.DecodeMessageEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	km, err := messaging.FromKapsoMessage(kapso.EventMessageSent, ev)
	if err != nil {
		t.Fatalf("normalise: %v", err)
	}
	if err := s.PutMessage(ctx, "acme", km.Message, km.Statuses); err != nil {
		t.Fatalf("the largest message: %v", err)
	}
	if err := s.PutConversation(ctx, "acme", *km.Conversation); err != nil {
		t.Fatalf("its conversation: %v", err)
	}
	m, ok, err := s.Message(ctx, "acme", wamid)
	if err != nil || !ok || m.Text != text || len(m.Delivery.History) != messaging.MaxStatuses {
		t.Fatalf("read back: ok %v, %d statuses, %v", ok, len(m.Delivery.History), err)
	}
}
