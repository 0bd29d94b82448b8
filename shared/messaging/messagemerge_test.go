package messaging_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// messageCopies draws copies of one message: Kapso's (authoritative), each
// giving some of Kapso's values, and others (Meta's, a send's content or a
// status's), each giving some of theirs, which differ from Kapso's.
func messageCopies(rng *rand.Rand) []messaging.Message {
	kapso := messaging.Message{WAMID: "wamid.1", PhoneNumberID: "106540352242922", Direction: messaging.Outbound,
		Type: "audio", Text: "[audio]", ReplyTo: "wamid.0", Timestamp: base,
		Media:          &messaging.Media{ID: "m-1", MIMEType: "audio/ogg"},
		From:           messaging.Person{Phone: "15550001111"},
		To:             messaging.Person{BSUID: "US.13491208655302741918", Phone: "16505551234", Name: "Ana"},
		Kapso:          &messaging.KapsoContent{Content: "voice note", Origin: "business_app", Transcript: "see you"},
		ConversationID: "kapso-conv"}
	other := messaging.Message{WAMID: "wamid.1", PhoneNumberID: "106540352242922", Direction: messaging.Outbound,
		Type: "voice", Text: "a voice note", ReplyTo: "wamid.00", Timestamp: base.Add(time.Second),
		Media:          &messaging.Media{ID: "m-2"},
		Reaction:       &messaging.Reaction{MessageID: "wamid.0", Emoji: "👍"},
		To:             messaging.Person{Phone: "16505551234", Username: "@ana", Name: "Ana (meta)"},
		ConversationID: messaging.MetaConversationID("106540352242922", messaging.Person{Phone: "16505551234"})}
	some := func(m messaging.Message) messaging.Message {
		return messaging.Message{WAMID: m.WAMID, PhoneNumberID: maybe(rng, m.PhoneNumberID), Direction: maybe(rng, m.Direction),
			Type: maybe(rng, m.Type), Text: maybe(rng, m.Text), ReplyTo: maybe(rng, m.ReplyTo), Timestamp: maybe(rng, m.Timestamp),
			Media: maybe(rng, m.Media), Reaction: maybe(rng, m.Reaction),
			From: messaging.Person{Phone: maybe(rng, m.From.Phone)},
			To: messaging.Person{BSUID: maybe(rng, m.To.BSUID), Username: maybe(rng, m.To.Username),
				Phone: maybe(rng, m.To.Phone), Name: maybe(rng, m.To.Name)},
			Kapso: m.Kapso, ConversationID: maybe(rng, m.ConversationID)}
	}
	var copies []messaging.Message
	for range rng.IntN(3) {
		copies = append(copies, some(kapso))
	}
	for range 1 + rng.IntN(3) {
		copies = append(copies, some(other))
	}
	if rng.IntN(2) == 0 {
		copies = append(copies, messaging.StatusUpdate{WAMID: "wamid.1", PhoneNumberID: "106540352242922",
			Status: messaging.Sent}.Message())
	}
	return copies
}

// foldMessage stores the copies in order and returns the message and the
// aliases they made.
func foldMessage(copies []messaging.Message) (messaging.Message, map[string]string) {
	var m messaging.Message
	aliases := map[string]string{}
	for _, c := range copies {
		if from, to, ok := messaging.ConversationAlias(m.ConversationID, c.ConversationID, c.Authoritative()); ok {
			if _, taken := aliases[from]; !taken {
				aliases[from] = to
			}
		}
		m = messaging.MergeMessage(m, c)
	}
	return m, aliases
}

// Kapso's copy and the others converge in any order, each copy stored once
// or twice, and make the same alias: the derived conversation id stands
// for Kapso's.
func TestEveryOrderOfAMessagesCopiesEndsTheSame(t *testing.T) {
	seeded(t, func(t *testing.T, rng *rand.Rand) {
		copies := messageCopies(rng)
		want, wantAliases := foldMessage(copies)
		for i := range ordersPerTrial {
			order := shuffled(rng, copies, i == 0)
			for name, run := range map[string][]messaging.Message{"once": order, "twice in a row": twice(order)} {
				got, aliases := foldMessage(run)
				if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(aliases, wantAliases) {
					t.Errorf("%s %+v:\n got %+v %v\nwant %+v %v", name, run, got, aliases, want, wantAliases)
				}
			}
		}
	})
}

func TestMergeMessage(t *testing.T) {
	derived := messaging.MetaConversationID("n1", messaging.Person{Phone: "16505551234"})
	meta := messaging.Message{WAMID: "wamid.1", Type: "text", Text: "hi (meta)", ReplyTo: "wamid.0", Timestamp: base,
		ConversationID: derived}
	kapso := messaging.Message{WAMID: "wamid.1", Type: "text", Text: "hi", Timestamp: base.Add(time.Second),
		Kapso: &messaging.KapsoContent{Content: "hi"}, ConversationID: "kapso-conv"}
	want := kapso
	want.ReplyTo = "wamid.0"
	for name, order := range map[string][]messaging.Message{"meta first": {meta, kapso}, "kapso first": {kapso, meta}} {
		got, aliases := foldMessage(order)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(aliases, map[string]string{derived: "kapso-conv"}) {
			t.Errorf("%s: %+v %v", name, got, aliases)
		}
	}
	for _, tc := range []struct {
		stored, named string
		authoritative bool
	}{
		{"", derived, true}, {derived, "", false}, // one id only
		{"kapso-a", "kapso-b", true},        // Kapso ids are never aliases
		{derived, derived + "x", true},      // nor is a derived id an alias of another
		{derived, "kapso-conv", false},      // the derived id stays: the copy only fills
		{"kapso-conv", derived, true},       // Kapso's id is replaced by a derived one
		{"kapso-conv", "kapso-conv", false}, // the same id
	} {
		if from, to, ok := messaging.ConversationAlias(tc.stored, tc.named, tc.authoritative); ok {
			t.Errorf("%+v: alias %s to %s", tc, from, to)
		}
	}
	if _, err := messaging.CheckStatus(messaging.StatusUpdate{WAMID: "wamid.2", Status: messaging.Sent}, "wamid.1"); err == nil {
		t.Error("a status of another message passed")
	}
	if _, err := messaging.CheckStatus(messaging.StatusUpdate{Status: "deleted"}, "wamid.1"); err == nil {
		t.Error("an unknown status passed")
	}
	if u, err := messaging.CheckStatus(messaging.StatusUpdate{Status: messaging.Read}, "wamid.1"); err != nil || u.WAMID != "wamid.1" {
		t.Errorf("a status of the message: %+v %v", u, err)
	}
}

// Kapso's whatsapp.message.sent of a send names its type and not what was
// sent: merged into the send's content, in either order, it keeps the
// caption, the media and the template.
func TestASendsContentOutlivesItsWebhook(t *testing.T) {
	for _, tc := range []struct {
		req      messaging.OutboundRequest
		wantText string
	}{
		{messaging.OutboundRequest{To: "16505551234", Type: "image",
			OutContent: messaging.OutContent{Image: &messaging.OutMedia{ID: "1234567890", Caption: "Your receipt"}}},
			"Your receipt"},
		{messaging.OutboundRequest{To: "16505551234", Type: "template",
			OutContent: messaging.OutContent{Template: &messaging.OutTemplate{Name: "order_update",
				Language: &messaging.OutTemplateLanguage{Code: "pt_BR"}}}},
			"[template order_update]"},
	} {
		o, err := messaging.NewOutbound("acme", "k-"+tc.req.Type, tc.req, "106540352242922", "", base)
		if err != nil {
			t.Fatal(err)
		}
		o.WAMID = "wamid.sent"
		sent := `{"message":{"id":"wamid.sent","timestamp":"1767225600","type":"` + tc.req.Type + `",` +
			`"from":"15550001111","to":"16505551234","kapso":{"direction":"outbound","status":"sent",` +
			`"origin":"cloud_api","content":"[` + tc.req.Type + `]"}},` +
			`"conversation":{"id":"conv-1","phone_number":"+16505551234","status":"active"},"phone_number_id":"106540352242922"}`
		ev, err := kapso.DecodeMessageEvent([]byte(sent))
		if err != nil {
			t.Fatal(err)
		}
		km, err := messaging.FromKapsoMessage(kapso.EventMessageSent, ev)
		if err != nil {
			t.Fatal(err)
		}
		if !km.Message.TextRendered {
			t.Errorf("%s: the webhook's %q is not a rendering of its type", tc.req.Type, km.Message.Text)
		}
		content := o.Content()
		for name, order := range map[string][]messaging.Message{"send first": {content, km.Message},
			"webhook first": {km.Message, content}} {
			got, _ := foldMessage(order)
			if got.Text != tc.wantText || got.TextRendered || !reflect.DeepEqual(got.Media, content.Media) ||
				!reflect.DeepEqual(got.Template, content.Template) || got.ConversationID != "conv-1" {
				t.Errorf("%s, %s: %+v media %+v template %+v", tc.req.Type, name, got, got.Media, got.Template)
			}
		}
		if content.Media == nil && content.Template == nil {
			t.Errorf("%s: the send's content has neither media nor template", tc.req.Type)
		}
	}
}
