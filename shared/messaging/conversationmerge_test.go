package messaging_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// conversationEvents draws the events of one conversation: each gives its
// status, some of its other fields and a last activity, which may be
// missing or equal another event's. The person changed their name and
// username at some point: an event gives the values of its time. The
// newest events give every field: the merge keeps the fields of the newest
// event that gives them, and one that leaves a field out cannot say
// whether an older value was replaced since, nor which.
func conversationEvents(rng *rand.Rand) []messaging.Conversation {
	events := make([]messaging.Conversation, 1+rng.IntN(6))
	newest := 0
	for i := range events {
		if rng.IntN(5) > 0 {
			events[i].LastActiveAt = minute(rng, 1+rng.IntN(4))
			newest = max(newest, minutesOf(events[i].LastActiveAt))
		}
	}
	for i := range events {
		at := minutesOf(events[i].LastActiveAt)
		person := messaging.Person{BSUID: "US.13491208655302741918", ParentBSUID: "US.ENT.11815799212886844830",
			Username: "@ana", Phone: "16505551234", Name: "Ana"}
		if at >= 3 {
			person.Name, person.Username = "Ana B", "@anab"
		}
		all := at == newest
		some := func(v string) string {
			if all {
				return v
			}
			return maybe(rng, v)
		}
		events[i].ID = "conv-1"
		events[i].PhoneNumberID = some("106540352242922")
		events[i].Person = messaging.Person{BSUID: some(person.BSUID), ParentBSUID: some(person.ParentBSUID),
			Username: some(person.Username), Phone: some(person.Phone), Name: some(person.Name)}
		events[i].Status = pick(rng, messaging.ConversationActive, messaging.ConversationEnded)
		if all || rng.IntN(2) == 0 {
			events[i].InactivityMinutes = 60
		}
		if events[i].Status == messaging.ConversationActive && rng.IntN(3) == 0 {
			// Kapso's inactive event: quiet since its last activity.
			events[i].InactiveSince = events[i].LastActiveAt
		}
	}
	return events
}

// minutesOf is the minute after base t is, 0 for the zero time.
func minutesOf(t time.Time) int {
	if t.IsZero() {
		return 0
	}
	return int(t.Sub(base) / time.Minute)
}

func foldConversation(events []messaging.Conversation) messaging.Conversation {
	var c messaging.Conversation
	for _, e := range events {
		c, _ = messaging.MergeConversation(c, e)
	}
	return c
}

// Any order of a conversation's events, each applied once or twice, ends
// in the same conversation, and once they are all stored none of them
// changes it again: what the reconciler asks before handing one on.
func TestEveryOrderOfConversationEventsEndsTheSame(t *testing.T) {
	seeded(t, func(t *testing.T, rng *rand.Rand) {
		events := conversationEvents(rng)
		want := foldConversation(events)
		for i := range ordersPerTrial {
			order := shuffled(rng, events, i == 0)
			for name, run := range map[string][]messaging.Conversation{"once": order, "twice in a row": twice(order),
				"then again": append(order, order...)} {
				if got := foldConversation(run); !sameConversation(got, want) {
					t.Errorf("%s %+v:\n got %+v\nwant %+v", name, run, got, want)
				}
			}
			for _, e := range order {
				if next, changed := messaging.MergeConversation(want, e); changed || !sameConversation(next, want) {
					t.Errorf("%+v changed the stored %+v to %+v", e, want, next)
				}
			}
		}
	})
}

// The newest activity sets the fields it gives and its status; an older
// event only fills; at the same time ended wins.
func TestMergeConversation(t *testing.T) {
	ana := messaging.Person{Phone: "16505551234", Name: "Ana"}
	stored := messaging.Conversation{ID: "conv-1", PhoneNumberID: "n1", Person: ana,
		Status: messaging.ConversationActive, LastActiveAt: base}
	for _, tc := range []struct {
		name    string
		event   messaging.Conversation
		want    messaging.Conversation
		changed bool
	}{
		{"nothing new", stored, stored, false},
		{"newer activity", messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded,
			Person: messaging.Person{Name: "Ana B"}, LastActiveAt: base.Add(time.Minute)},
			messaging.Conversation{ID: "conv-1", PhoneNumberID: "n1", Person: messaging.Person{Phone: ana.Phone, Name: "Ana B"},
				Status: messaging.ConversationEnded, LastActiveAt: base.Add(time.Minute)}, true},
		{"older, fills", messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded,
			Person: messaging.Person{Name: "Ana B", Username: "@ana"}, LastActiveAt: base.Add(-time.Minute), InactivityMinutes: 30},
			messaging.Conversation{ID: "conv-1", PhoneNumberID: "n1", Person: messaging.Person{Phone: ana.Phone, Name: "Ana", Username: "@ana"},
				Status: messaging.ConversationActive, LastActiveAt: base, InactivityMinutes: 30}, true},
		{"ended at the same time", messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded, LastActiveAt: base.In(time.FixedZone("X", 3600))},
			messaging.Conversation{ID: "conv-1", PhoneNumberID: "n1", Person: ana, Status: messaging.ConversationEnded, LastActiveAt: base}, true},
		{"undated", messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded}, stored, false},
	} {
		got, changed := messaging.MergeConversation(stored, tc.event)
		if !sameConversation(got, tc.want) || changed != tc.changed {
			t.Errorf("%s: %+v changed %v, want %+v changed %v", tc.name, got, changed, tc.want, tc.changed)
		}
	}
	ended := stored
	ended.Status = messaging.ConversationEnded
	if got, changed := messaging.MergeConversation(ended, stored); changed || got.Status != messaging.ConversationEnded {
		t.Errorf("active at the same time as ended: %+v changed %v", got, changed)
	}
	if got, changed := messaging.MergeConversation(messaging.Conversation{}, stored); !changed || !sameConversation(got, stored) {
		t.Errorf("first event: %+v changed %v", got, changed)
	}
}

func sameConversation(a, b messaging.Conversation) bool {
	at, since := b.LastActiveAt, b.InactiveSince
	b.LastActiveAt, b.InactiveSince = a.LastActiveAt, a.InactiveSince
	return a == b && a.LastActiveAt.Equal(at) && a.LastActiveAt.Location() == at.Location() &&
		a.InactiveSince.Equal(since) && a.InactiveSince.Location() == since.Location()
}

// A conversation Kapso reported inactive stays so until a newer activity,
// whichever of the two is stored first; an older report only fills, and
// an ended conversation is not inactive.
func TestConversationInactivity(t *testing.T) {
	active := func(at time.Time) messaging.Conversation {
		return messaging.Conversation{ID: "conv-1", Status: messaging.ConversationActive, LastActiveAt: at}
	}
	inactive := func(at time.Time) messaging.Conversation {
		c := active(at)
		c.InactiveSince, c.InactivityMinutes = at, 60
		return c
	}
	ended := func(at time.Time) messaging.Conversation {
		return messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded, LastActiveAt: at}
	}
	t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
	for _, tc := range []struct {
		name     string
		events   []messaging.Conversation
		inactive bool
		since    time.Time
	}{
		{"never reported", []messaging.Conversation{active(t1), active(t2)}, false, time.Time{}},
		{"reported after its last activity", []messaging.Conversation{active(t1), inactive(t1)}, true, t1},
		{"the report first", []messaging.Conversation{inactive(t1), active(t1)}, true, t1},
		{"then newer activity", []messaging.Conversation{inactive(t1), active(t2)}, false, t1},
		{"newer activity first, the old report late", []messaging.Conversation{active(t2), inactive(t1)}, false, t1},
		{"reported again after the newer activity", []messaging.Conversation{inactive(t1), active(t2), inactive(t2)}, true, t2},
		{"the newer report first", []messaging.Conversation{inactive(t2), inactive(t1)}, true, t2},
		{"ended", []messaging.Conversation{inactive(t1), ended(t1)}, false, t1},
	} {
		c := foldConversation(tc.events)
		if c.Inactive() != tc.inactive || !c.InactiveSince.Equal(tc.since) {
			t.Errorf("%s: inactive %v since %v, want %v since %v", tc.name, c.Inactive(), c.InactiveSince, tc.inactive, tc.since)
		}
	}
}

// A conversation is listed with its person's contact, or with the person
// it names when there is none.
func TestConversationView(t *testing.T) {
	c := messaging.Conversation{ID: "conv-1", PhoneNumberID: "n1", Person: messaging.Person{Phone: "16505551234"}}
	contact := messaging.Contact{PhoneNumberID: "n1", Person: messaging.Person{BSUID: "US.1", Phone: "16505551234", Name: "Ana"}}
	if v := c.View(contact, true); v.Contact.Person != contact.Person || v.Conversation != c {
		t.Errorf("with a contact: %+v", v)
	}
	if v := c.View(messaging.Contact{}, false); !reflect.DeepEqual(v.Contact, messaging.Contact{PhoneNumberID: "n1", Person: c.Person}) {
		t.Errorf("without: %+v", v)
	}
}
