package messaging

import (
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// Every message and status sample in events/ normalises without error and
// with a WAMID, a type and Meta's timestamp.
func TestSamplesNormalise(t *testing.T) {
	samples, err := events.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var kapsoMessages, kapsoStatuses, metaMessages, metaStatuses, conversations int
	for _, s := range samples {
		switch s.Route {
		case events.RouteNumber:
			items, err := kapso.Split(s.Event, s.Body)
			if err != nil {
				t.Fatalf("%s: split: %v", s.Path, err)
			}
			for _, it := range items {
				if kapso.IsConversationEvent(it.Name) {
					ev, err := kapso.DecodeConversationEvent(it.Payload)
					if err != nil {
						t.Fatalf("%s: decode: %v", s.Path, err)
					}
					c, err := FromKapsoConversation(it.Name, ev)
					if err != nil || c.ID == "" || c.Status == "" || c.Person.Key() == "" {
						t.Errorf("%s: conversation %+v, %v", s.Path, c, err)
					}
					conversations++
				}
				if !kapso.IsMessageEvent(it.Name) {
					continue
				}
				ev, err := kapso.DecodeMessageEvent(it.Payload)
				if err != nil {
					t.Fatalf("%s: decode: %v", s.Path, err)
				}
				km, err := FromKapsoMessage(it.Name, ev)
				if err != nil {
					t.Fatalf("%s: normalise: %v", s.Path, err)
				}
				checkMessage(t, s.Path, km.Message)
				if km.Message.PhoneNumberID == "" || km.Message.ConversationID == "" || km.Message.Kapso == nil {
					t.Errorf("%s: number %q, conversation %q, kapso %v", s.Path,
						km.Message.PhoneNumberID, km.Message.ConversationID, km.Message.Kapso)
				}
				if km.Message.Counterpart().Key() == "" {
					t.Errorf("%s: no person identified: %+v", s.Path, km.Message)
				}
				kapsoMessages++
				if it.Name != kapso.EventMessageReceived && len(km.Statuses) == 0 {
					t.Errorf("%s: %s with no status", s.Path, it.Name)
				}
				for _, u := range km.Statuses {
					checkStatus(t, s.Path, u)
					kapsoStatuses++
				}
			}
		case events.RouteMeta:
			evs, err := meta.Split(s.Body)
			if err != nil {
				t.Fatalf("%s: split: %v", s.Path, err)
			}
			for _, e := range evs {
				switch e.Kind {
				case meta.KindMessage:
					ev, err := meta.DecodeMessage(e)
					if err != nil {
						t.Fatalf("%s: decode: %v", s.Path, err)
					}
					m, err := FromMetaMessage(ev)
					if err != nil {
						t.Fatalf("%s: normalise: %v", s.Path, err)
					}
					checkMessage(t, s.Path, m)
					if m.ConversationID == "" || m.Direction != Inbound {
						t.Errorf("%s: conversation %q, direction %q", s.Path, m.ConversationID, m.Direction)
					}
					metaMessages++
				case meta.KindStatus:
					ev, err := meta.DecodeStatus(e)
					if err != nil {
						t.Fatalf("%s: decode: %v", s.Path, err)
					}
					u, err := FromMetaStatus(ev)
					if err != nil {
						t.Fatalf("%s: normalise: %v", s.Path, err)
					}
					checkStatus(t, s.Path, u)
					metaStatuses++
				}
			}
		}
	}
	t.Logf("kapso: %d messages, %d statuses; meta: %d messages, %d statuses",
		kapsoMessages, kapsoStatuses, metaMessages, metaStatuses)
	if kapsoMessages == 0 || kapsoStatuses == 0 || metaMessages == 0 || metaStatuses < 1000 || conversations < 3 {
		t.Errorf("samples not all seen: kapso %d/%d, meta %d/%d",
			kapsoMessages, kapsoStatuses, metaMessages, metaStatuses)
	}
}

func checkMessage(t *testing.T, path string, m Message) {
	t.Helper()
	if m.WAMID == "" || m.Type == "" || m.Timestamp.IsZero() || m.Text == "" {
		t.Errorf("%s: incomplete message: %+v", path, m)
	}
	if m.Direction != Inbound && m.Direction != Outbound {
		t.Errorf("%s: direction %q", path, m.Direction)
	}
}

func checkStatus(t *testing.T, path string, u StatusUpdate) {
	t.Helper()
	if u.WAMID == "" || u.Status == "" || u.At.IsZero() || u.PhoneNumberID == "" || u.Recipient.Key() == "" {
		t.Errorf("%s: incomplete status: %+v", path, u)
	}
	if u.Status == Failed && u.Error == nil {
		t.Errorf("%s: failed without error: %+v", path, u)
	}
}

func kapsoSample(t *testing.T, path, event string) KapsoMessage {
	t.Helper()
	s, err := events.Lookup(path)
	if err != nil {
		t.Fatal(err)
	}
	items, err := kapso.Split(event, s.Body)
	if err != nil || len(items) != 1 {
		t.Fatalf("%s: split: %d items, %v", path, len(items), err)
	}
	ev, err := kapso.DecodeMessageEvent(items[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	km, err := FromKapsoMessage(items[0].Name, ev)
	if err != nil {
		t.Fatal(err)
	}
	return km
}

func TestKapsoSampleFacts(t *testing.T) {
	failed := kapsoSample(t, "kapso/whatsapp.message.failed.json", kapso.EventMessageFailed)
	if n := len(failed.Statuses); n != 1 || failed.Statuses[0].Status != Failed ||
		failed.Statuses[0].Error == nil || failed.Statuses[0].Error.Code != 131047 ||
		failed.Statuses[0].Error.Details == "" {
		t.Errorf("failed: %+v", failed.Statuses)
	}
	if failed.Message.Direction != Outbound || failed.Message.To.BSUID != "US.13491208655302741918" ||
		failed.Message.To.Phone != "16505551234" || failed.Message.To.Username != "@maria.souza" {
		t.Errorf("failed message: %+v", failed.Message)
	}

	removal := kapsoSample(t, "kapso/whatsapp.message.received.reaction-removal.json", kapso.EventMessageReceived)
	if r := removal.Message.Reaction; r == nil || !r.Removed || r.MessageID == "" || removal.Message.Text != "Removed a reaction" {
		t.Errorf("reaction removal: %+v %+v", removal.Message, r)
	}

	bsuid := kapsoSample(t, "kapso/whatsapp.message.received.bsuid-only.json", kapso.EventMessageReceived)
	if f := bsuid.Message.From; f.Phone != "" || f.BSUID != "BR.77210938475610293847" ||
		f.ParentBSUID != "BR.ENT.55120938476650192837" || f.Username != "@joao.bsb" {
		t.Errorf("bsuid-only sender: %+v", f)
	}
	if c := bsuid.Conversation; c == nil || c.Person.Key() != "bsuid:BR.77210938475610293847" || c.Status != ConversationActive {
		t.Errorf("bsuid-only conversation: %+v", c)
	}

	// The no-header legacy wrapper names its event in the (signed) body.
	legacy := kapsoSample(t, "kapso/legacy-wrapper.no-header.whatsapp.message.delivered.json", "")
	d := mergeAll(Delivery{}, legacy.Statuses...)
	if d.Status != Delivered || len(d.History) != 2 {
		t.Errorf("legacy delivered: %+v", d)
	}
}

func mergeAll(d Delivery, us ...StatusUpdate) Delivery {
	for _, u := range us {
		d, _ = Merge(d, u)
	}
	return d
}

func TestMetaConversation(t *testing.T) {
	m := metaMessage(t, metaInbound(`"id":"wamid.C","timestamp":"1773151320","type":"text","text":{"body":"oi"}`, joaoMeta, joaoContact))
	c := MetaConversation(m)
	if c.ID != m.ConversationID || c.ID == "" || c.Person.BSUID != "BR.77210938475610293847" ||
		c.Status != ConversationActive || !c.LastActiveAt.Equal(m.Timestamp) || c.PhoneNumberID != number {
		t.Errorf("%+v", c)
	}
}

func TestFromKapsoConversation(t *testing.T) {
	s, err := events.Lookup("kapso/whatsapp.conversation.inactive.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := kapso.DecodeConversationEvent(s.Body)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromKapsoConversation(kapso.EventConversationInactive, ev)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.PhoneNumberID == "" || c.Person.Key() == "" || c.LastActiveAt.IsZero() ||
		c.InactivityMinutes == 0 || c.Status == "" {
		t.Errorf("%+v", c)
	}
	// Inactive since its last activity; the other events say nothing of it.
	if !c.InactiveSince.Equal(c.LastActiveAt) || !c.Inactive() {
		t.Errorf("inactive: since %v, last active %v, inactive %v", c.InactiveSince, c.LastActiveAt, c.Inactive())
	}
	for _, name := range []string{kapso.EventConversationCreated, kapso.EventConversationEnded} {
		if c, err := FromKapsoConversation(name, ev); err != nil || !c.InactiveSince.IsZero() || c.Inactive() {
			t.Errorf("%s: %+v %v", name, c, err)
		}
	}
	// The event name sets the status only when the body has none.
	ev.Conversation.Status = ""
	if c, err := FromKapsoConversation(kapso.EventConversationEnded, ev); err != nil || c.Status != ConversationEnded {
		t.Errorf("ended, body silent: %+v %v", c, err)
	}
	ev.Conversation.Status = "active"
	if c, err := FromKapsoConversation(kapso.EventConversationEnded, ev); err != nil || c.Status != ConversationActive {
		t.Errorf("body says active: %+v %v", c, err)
	}
}
