package messaging

import (
	"errors"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

func TestResolveNumber(t *testing.T) {
	if _, err := ResolveNumber("A", "A"); err != nil {
		t.Errorf("same number: %v", err)
	}
	if n, err := ResolveNumber("A", ""); err != nil || n != "A" {
		t.Errorf("no number: %q, %v", n, err)
	}
	_, err := ResolveNumber("A", "B")
	if !errors.Is(err, ErrForeignNumber) || errs.CodeOf(err) != errs.Invalid {
		t.Errorf("foreign number: %v", err)
	}
	if _, err := ResolveNumber("", "B"); err == nil || errs.CodeOf(err) != errs.Invalid {
		t.Errorf("no verified number: %v", err)
	}
}

// A Kapso body whose top-level number and conversation number differ names
// two numbers: it is refused rather than applied to either.
func TestKapsoConflictingNumbers(t *testing.T) {
	ev, err := kapso.DecodeMessageEvent([]byte(`{"message":{"id":"wamid.A","timestamp":"1773151320","type":"text",
		"text":{"body":"hi"},"from":"16505551234","kapso":{"direction":"inbound"}},
		"conversation":{"id":"c","phone_number_id":"B"},"phone_number_id":"A"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromKapsoMessage(kapso.EventMessageReceived, ev); !errors.Is(err, ErrForeignNumber) {
		t.Fatalf("got %v", err)
	}
}

// A body replayed under another X-Webhook-Event keeps the facts of its
// body: a received message stays inbound with no status, a sent one stays
// sent.
func TestReplayUnderAnotherEventName(t *testing.T) {
	received := kapsoSample(t, "kapso/whatsapp.message.received.json", kapso.EventMessageFailed)
	if received.Message.Direction != Inbound || len(received.Statuses) != 0 {
		t.Errorf("received replayed as failed: %+v %+v", received.Message, received.Statuses)
	}
	sent := kapsoSample(t, "kapso/whatsapp.message.sent.json", kapso.EventMessageFailed)
	if d := mergeAll(Delivery{}, sent.Statuses...); d.Status != Sent || d.Error != nil {
		t.Errorf("sent replayed as failed: %+v", d)
	}
	read := kapsoSample(t, "kapso/whatsapp.message.read.json", kapso.EventMessageSent)
	if d := mergeAll(Delivery{}, read.Statuses...); d.Status != Read {
		t.Errorf("read replayed as sent: %+v", d)
	}
}

// Only when the body says nothing does the event name route: an outbound
// message with no status takes the named one, with no time.
func TestEventNameOnlyWhenBodySilent(t *testing.T) {
	body := `{"message":{"id":"wamid.S","timestamp":"1773151320","type":"text","text":{"body":"hi"},
		"from":"15550783881","to":"16505551234","kapso":{}},"phone_number_id":"A"}`
	ev, err := kapso.DecodeMessageEvent([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	km, err := FromKapsoMessage(kapso.EventMessageDelivered, ev)
	if err != nil {
		t.Fatal(err)
	}
	if km.Message.Direction != Outbound || len(km.Statuses) != 1 || km.Statuses[0].Status != Delivered ||
		!km.Statuses[0].At.IsZero() || km.Statuses[0].Recipient.Phone != "16505551234" {
		t.Errorf("%+v %+v", km.Message, km.Statuses)
	}
	km, err = FromKapsoMessage(kapso.EventMessageReceived, ev)
	if err != nil || km.Message.Direction != Inbound || len(km.Statuses) != 0 {
		t.Errorf("received: %+v %v", km, err)
	}
}

func TestNormaliseRefusesMissingFacts(t *testing.T) {
	for name, body := range map[string]string{
		"no id":        `{"message":{"timestamp":"1773151320","type":"text","kapso":{"direction":"inbound"}},"phone_number_id":"A"}`,
		"no timestamp": `{"message":{"id":"wamid.A","type":"text","kapso":{"direction":"inbound"}},"phone_number_id":"A"}`,
		"bad time":     `{"message":{"id":"wamid.A","timestamp":"yesterday","type":"text","kapso":{"direction":"inbound"}},"phone_number_id":"A"}`,
		"direction":    `{"message":{"id":"wamid.A","timestamp":"1773151320","type":"text","kapso":{"direction":"sideways"}},"phone_number_id":"A"}`,
	} {
		ev, err := kapso.DecodeMessageEvent([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromKapsoMessage(kapso.EventMessageReceived, ev)
		if errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "normalise kapso message") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMetaConversationID(t *testing.T) {
	maria := Person{BSUID: "US.13491208655302741918", Phone: "16505551234"}
	id := MetaConversationID("A", maria)
	if !strings.HasPrefix(id, "meta:") || len(id) != len("meta:")+32 {
		t.Fatalf("id %q", id)
	}
	if MetaConversationID("A", Person{BSUID: maria.BSUID, Name: "other"}) != id {
		t.Error("id depends on more than number and BSUID")
	}
	if MetaConversationID("B", maria) == id {
		t.Error("two numbers share a conversation")
	}
	if MetaConversationID("A", Person{BSUID: "us.13491208655302741918"}) == id {
		t.Error("BSUID case was folded")
	}
	if MetaConversationID("A", Person{Phone: "16505551234"}) == MetaConversationID("A", Person{BSUID: "16505551234"}) {
		t.Error("a phone and a BSUID with the same text collide")
	}
	if MetaConversationID("A", Person{Name: "nobody"}) != "" {
		t.Error("an unidentified person got a conversation")
	}
}

func TestRender(t *testing.T) {
	for _, tt := range []struct{ message, want string }{
		{`"type":"location","location":{"latitude":-23.5,"longitude":-46.6,"name":"Padaria","address":"Rua A, 1"}`, "[location] Padaria Rua A, 1 (-23.5, -46.6)"},
		{`"type":"contacts","contacts":[{"name":{"formatted_name":"Ana Lima"}},{"name":{"first_name":"Bo"}}]`, "[contacts] Ana Lima, Bo"},
		{`"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"b1","title":"Sim"}}`, "Sim"},
		{`"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"l1","title":"Bolo"}}`, "Bolo"},
		{`"type":"button","button":{"payload":"P","text":"Quero"}`, "Quero"},
		{`"type":"template","template":{"name":"order_ready"}`, "[template order_ready]"},
		{`"type":"order","order":{"catalog_id":"c","text":"para hoje","product_items":[{"quantity":2},{"quantity":1}]}`, "[order: 3 items] para hoje"},
		{`"type":"system","system":{"body":"User changed","type":"user_changed_user_id"}`, "User changed"},
		{`"type":"document","document":{"id":"d","filename":"nota.pdf","mime_type":"application/pdf"}`, "[document] nota.pdf"},
		{`"type":"audio","audio":{"id":"a","mime_type":"audio/ogg"}`, "[audio]"},
		{`"type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]`, "[unsupported: Message type unknown]"},
	} {
		m := metaMessage(t, metaInbound(`"id":"wamid.M","timestamp":"1773151320",`+tt.message, mariaMeta, mariaContact))
		if m.Text != tt.want {
			t.Errorf("%s: got %q, want %q", tt.message, m.Text, tt.want)
		}
	}
}
