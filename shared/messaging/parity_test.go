package messaging

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

const (
	number   = "106540352242922"
	business = "15550783881"
)

// kapsoInbound is a whatsapp.message.received payload: message is the
// message object's Meta part, person the conversation's identity fields.
func kapsoInbound(message, identity, person string) string {
	return fmt.Sprintf(`{"message":{%s,%s,"to":%q,"kapso":{"direction":"inbound","status":"received",
		"origin":"cloud_api","content":"whatever Kapso renders","contact_name":"Maria Souza"}},
	"conversation":{"id":"conv_1",%s,"status":"active","last_active_at":"2026-03-10T14:02:00Z","phone_number_id":%q},
	"is_new_conversation":false,"phone_number_id":%q}`, message, identity, business, person, number, number)
}

// metaInbound is a Meta delivery of one message from contact.
func metaInbound(message, identity, contact string) string {
	return fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages",
	"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":%q,"phone_number_id":%q},
	"contacts":[%s],"messages":[{%s,%s}]}}]}]}`, business, number, contact, identity, message)
}

const (
	mariaKapso   = `"from":"16505551234","from_user_id":"US.13491208655302741918","from_parent_user_id":"US.ENT.11815799212886844830","username":"@maria.souza"`
	mariaKapsoCv = `"phone_number":"+16505551234","business_scoped_user_id":"US.13491208655302741918","parent_business_scoped_user_id":"US.ENT.11815799212886844830","username":"@maria.souza"`
	mariaMeta    = `"from":"16505551234","from_user_id":"US.13491208655302741918","from_parent_user_id":"US.ENT.11815799212886844830"`
	mariaContact = `{"profile":{"name":"Maria Souza","username":"@maria.souza"},"wa_id":"16505551234","user_id":"US.13491208655302741918","parent_user_id":"US.ENT.11815799212886844830"}`

	// João has no phone: every phone field is null, "" or absent.
	joaoKapso   = `"from":null,"from_user_id":"BR.77210938475610293847","from_parent_user_id":"BR.ENT.55120938476650192837","username":"@joao.bsb"`
	joaoKapsoCv = `"phone_number":null,"business_scoped_user_id":"BR.77210938475610293847","parent_business_scoped_user_id":"BR.ENT.55120938476650192837","username":"@joao.bsb"`
	joaoMeta    = `"from":"","from_user_id":"BR.77210938475610293847","from_parent_user_id":"BR.ENT.55120938476650192837"`
	joaoContact = `{"profile":{"name":"Maria Souza","username":"@joao.bsb"},"user_id":"BR.77210938475610293847","parent_user_id":"BR.ENT.55120938476650192837"}`
)

// The same messages, in Kapso form and in Meta form, normalise to the same
// Message apart from what only one format carries: Kapso's content fields
// and its conversation id.
func TestKapsoAndMetaFormsAgree(t *testing.T) {
	at := time.Unix(1773151320, 0).UTC()
	maria := Person{BSUID: "US.13491208655302741918", ParentBSUID: "US.ENT.11815799212886844830",
		Username: "@maria.souza", Phone: "16505551234", Name: "Maria Souza"}
	joao := Person{BSUID: "BR.77210938475610293847", ParentBSUID: "BR.ENT.55120938476650192837",
		Username: "@joao.bsb", Name: "Maria Souza"}
	tests := []struct {
		name                  string
		message               string
		kapsoFrom, kapsoConv  string
		metaFrom, metaContact string
		want                  Message
	}{{
		name:      "text",
		message:   `"id":"wamid.T1","timestamp":"1773151320","type":"text","text":{"body":"Oi! Vocês entregam hoje?"},"context":{"from":"15550783881","id":"wamid.PREV"}`,
		kapsoFrom: mariaKapso, kapsoConv: mariaKapsoCv, metaFrom: mariaMeta, metaContact: mariaContact,
		want: Message{WAMID: "wamid.T1", Type: "text", Text: "Oi! Vocês entregam hoje?", ReplyTo: "wamid.PREV", From: maria},
	}, {
		name:      "image with caption",
		message:   `"id":"wamid.I1","timestamp":"1773151320","type":"image","image":{"id":"1479537139650973","mime_type":"image/jpeg","sha256":"x","caption":"Esse aqui"}`,
		kapsoFrom: mariaKapso, kapsoConv: mariaKapsoCv, metaFrom: mariaMeta, metaContact: mariaContact,
		want: Message{WAMID: "wamid.I1", Type: "image", Text: "Esse aqui", From: maria,
			Media: &Media{ID: "1479537139650973", MIMEType: "image/jpeg", Caption: "Esse aqui"}},
	}, {
		name:      "reaction",
		message:   `"id":"wamid.R1","timestamp":"1773151320","type":"reaction","reaction":{"message_id":"wamid.OUT","emoji":"❤️"}`,
		kapsoFrom: mariaKapso, kapsoConv: mariaKapsoCv, metaFrom: mariaMeta, metaContact: mariaContact,
		want: Message{WAMID: "wamid.R1", Type: "reaction", Text: "Reacted ❤️", From: maria,
			Reaction: &Reaction{MessageID: "wamid.OUT", Emoji: "❤️"}},
	}, {
		name:      "reaction removal",
		message:   `"id":"wamid.R2","timestamp":"1773151320","type":"reaction","reaction":{"message_id":"wamid.OUT"}`,
		kapsoFrom: mariaKapso, kapsoConv: mariaKapsoCv, metaFrom: mariaMeta, metaContact: mariaContact,
		want: Message{WAMID: "wamid.R2", Type: "reaction", Text: "Removed a reaction", From: maria,
			Reaction: &Reaction{MessageID: "wamid.OUT", Removed: true}},
	}, {
		name:      "bsuid-only person",
		message:   `"id":"wamid.B1","timestamp":"1773151320","type":"text","text":{"body":"Bom dia"}`,
		kapsoFrom: joaoKapso, kapsoConv: joaoKapsoCv, metaFrom: joaoMeta, metaContact: joaoContact,
		want: Message{WAMID: "wamid.B1", Type: "text", Text: "Bom dia", From: joao},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.PhoneNumberID, want.Direction, want.Timestamp = number, Inbound, at
			want.To = Person{Phone: business}

			kev, err := kapso.DecodeMessageEvent([]byte(kapsoInbound(tt.message, tt.kapsoFrom, tt.kapsoConv)))
			if err != nil {
				t.Fatal(err)
			}
			km, err := FromKapsoMessage(kapso.EventMessageReceived, kev)
			if err != nil {
				t.Fatal(err)
			}
			if km.Message.Kapso == nil || km.Message.Kapso.Origin != "cloud_api" || km.Message.ConversationID != "conv_1" || len(km.Statuses) != 0 {
				t.Errorf("kapso-only fields: %+v, statuses %v", km.Message, km.Statuses)
			}
			fromKapso := km.Message
			fromKapso.Kapso, fromKapso.ConversationID = nil, ""

			fromMeta := metaMessage(t, metaInbound(tt.message, tt.metaFrom, tt.metaContact))
			if fromMeta.ConversationID != MetaConversationID(number, want.From) {
				t.Errorf("meta conversation %q", fromMeta.ConversationID)
			}
			fromMeta.ConversationID = ""

			if !reflect.DeepEqual(fromKapso, want) {
				t.Errorf("kapso form:\n got %+v\nwant %+v", fromKapso, want)
			}
			if !reflect.DeepEqual(fromMeta, want) {
				t.Errorf("meta form:\n got %+v\nwant %+v", fromMeta, want)
			}
		})
	}
}

func metaMessage(t *testing.T, body string) Message {
	t.Helper()
	evs, err := meta.Split([]byte(body))
	if err != nil || len(evs) != 1 || evs[0].Kind != meta.KindMessage {
		t.Fatalf("split: %v, %v", evs, err)
	}
	ev, err := meta.DecodeMessage(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromMetaMessage(ev)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const failedStatusJSON = `{"id":"wamid.OUT","status":"failed","timestamp":"1773151742","recipient_id":"","recipient_user_id":"BR.77210938475610293847",
	"errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"More than 24 hours have passed."}}]}`

// A failed status with error 131047 reads the same from Kapso's failed
// message event and from Meta's statuses[].
func TestFailedStatusFormsAgree(t *testing.T) {
	want := StatusUpdate{
		WAMID: "wamid.OUT", PhoneNumberID: number, Status: Failed, At: time.Unix(1773151742, 0).UTC(),
		Error:     &StatusError{Code: 131047, Title: "Re-engagement message", Message: "Re-engagement message", Details: "More than 24 hours have passed."},
		Recipient: Person{BSUID: "BR.77210938475610293847", ParentBSUID: "BR.ENT.55120938476650192837", Username: "@joao.bsb"},
	}

	kev, err := kapso.DecodeMessageEvent([]byte(fmt.Sprintf(`{"message":{"id":"wamid.OUT","timestamp":"1773151740","type":"text",
		"text":{"body":"Seu bolo ficou pronto!"},"from":%q,"to":null,"to_user_id":"BR.77210938475610293847",
		"to_parent_user_id":"BR.ENT.55120938476650192837","kapso":{"direction":"outbound","status":"failed","statuses":[%s]}},
		"conversation":{"id":"conv_2",%s,"phone_number_id":%q},"phone_number_id":%q}`,
		business, failedStatusJSON, joaoKapsoCv, number, number)))
	if err != nil {
		t.Fatal(err)
	}
	km, err := FromKapsoMessage(kapso.EventMessageFailed, kev)
	if err != nil {
		t.Fatal(err)
	}
	if len(km.Statuses) != 1 || !reflect.DeepEqual(km.Statuses[0], want) {
		t.Fatalf("kapso form:\n got %+v\nwant %+v", km.Statuses, want)
	}

	// Meta's status names no username: only Kapso's conversation does.
	want.Recipient.Username = ""
	mev, err := meta.Split([]byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"waba","changes":[{"field":"messages",
		"value":{"metadata":{"display_phone_number":%q,"phone_number_id":%q},"statuses":[%s]}}]}]}`,
		business, number, failedStatusJSON[:len(failedStatusJSON)-1]+`,"recipient_parent_user_id":"BR.ENT.55120938476650192837"}`)))
	if err != nil || len(mev) != 1 {
		t.Fatalf("split: %v %v", mev, err)
	}
	sev, err := meta.DecodeStatus(mev[0])
	if err != nil {
		t.Fatal(err)
	}
	u, err := FromMetaStatus(sev)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("meta form:\n got %+v\nwant %+v", u, want)
	}
}
