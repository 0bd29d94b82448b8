package messaging_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// contactEvent is one write of a person's events, by name for a failure.
type contactEvent struct {
	name  string
	apply func(b messaging.ContactBook)
}

func (e contactEvent) String() string { return e.name }

// personEvents draws the events of one person on a number: sightings under
// their phone and under each BSUID they had (some arriving after the
// identity change that retired it; one with a BSUID and the phone, which
// merges the phone's contact), preferences, and the identity changes A to
// B and B to C, dated or not. The person's name, username and phone
// do not change: with them a field would go to the view seen last that
// gives it, and a later view that leaves it out (a status, an identity
// change) cannot say whether it changed since, nor to what. Sightings are
// at distinct times; preferences have distinct sequences.
func personEvents(rng *rand.Rand) []contactEvent {
	persons := []messaging.Person{{Phone: phoneP}, {BSUID: bsuidA, Phone: phoneP}, {BSUID: bsuidA},
		{BSUID: bsuidB}, {BSUID: bsuidB, Phone: phoneP}, {BSUID: bsuidC}, {BSUID: bsuidC, Phone: phoneP}}
	person := func() messaging.Person {
		p := pick(rng, persons...)
		p.Name, p.Username = maybe(rng, "Ana"), maybe(rng, "@ana")
		if p.BSUID != "" && p.Phone == "" && rng.IntN(3) == 0 {
			p.ParentBSUID = "US.ENT.11815799212886844830"
		}
		return p
	}
	times := rng.Perm(20)
	var events []contactEvent
	for i := range 1 + rng.IntN(6) {
		p := person()
		if i == 0 { // one shows a BSUID with the phone: the phone's contact merges
			p.BSUID, p.Phone = pick(rng, bsuidA, bsuidB, bsuidC), phoneP
		}
		s := messaging.Sighting{At: minute(rng, 1+times[i]), Inbound: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			s.ConversationID = fmt.Sprint("conv-", times[i])
		}
		events = append(events, contactEvent{fmt.Sprintf("sight %+v at %d", p, 1+times[i]),
			func(b messaging.ContactBook) { messaging.SightContact(b, numberN, p, s) }})
	}
	if rng.IntN(3) == 0 {
		p := person()
		events = append(events, contactEvent{fmt.Sprintf("sight %+v undated", p),
			func(b messaging.ContactBook) { messaging.SightContact(b, numberN, p, messaging.Sighting{}) }})
	}
	for _, seq := range rng.Perm(4)[:rng.IntN(4)] {
		p := messaging.Person{BSUID: pick(rng, "", bsuidA, bsuidB, bsuidC)}
		if p.BSUID == "" || rng.IntN(2) == 0 {
			p.Phone = phoneP
		}
		pref := messaging.MarketingPreference{Status: fmt.Sprint("status-", seq), Sequence: int64(seq), OccurredAt: maybe(rng, at(seq))}
		events = append(events, contactEvent{fmt.Sprintf("prefer %+v %d", p, seq),
			func(b messaging.ContactBook) { messaging.PreferContact(b, numberN, p, pref) }})
	}
	tAB, tBC := time.Time{}, time.Time{}
	if rng.IntN(2) == 0 {
		tAB = minute(rng, 1+rng.IntN(10))
	}
	if rng.IntN(2) == 0 {
		tBC = minute(rng, 11+rng.IntN(10))
	}
	for _, c := range []struct {
		from, to string
		at       time.Time
	}{{bsuidA, bsuidB, tAB}, {bsuidB, bsuidC, tBC}} {
		current := messaging.Person{BSUID: c.to, Phone: maybe(rng, phoneP)}
		events = append(events, contactEvent{fmt.Sprintf("change %s to %+v at %v", c.from, current, c.at),
			func(b messaging.ContactBook) {
				messaging.ChangeContactIdentity(b, numberN, messaging.Person{BSUID: c.from}, current, c.at)
			}})
	}
	return events
}

// contactAfter applies events to a fresh book and returns the person's
// contact, which every key of theirs must lead to.
func contactAfter(t *testing.T, events []contactEvent) messaging.Contact {
	t.Helper()
	b := messaging.ContactMap{}
	for _, e := range events {
		e.apply(b)
	}
	c, ok := messaging.LookupContact(b, "bsuid:"+bsuidC)
	if !ok {
		t.Fatalf("%v: no contact", events)
	}
	for _, key := range []string{"bsuid:" + bsuidA, "bsuid:" + bsuidB} {
		if other, _ := messaging.LookupContact(b, key); !reflect.DeepEqual(other, c) {
			t.Fatalf("%v: %s leads to\n%+v, not\n%+v", events, key, other, c)
		}
	}
	if other, _ := messaging.LookupContact(b, "phone:"+phoneP); !reflect.DeepEqual(other, c) {
		t.Fatalf("%v: the phone leads to\n%+v, not\n%+v", events, other, c)
	}
	return c
}

// Any order of a person's sightings, preferences and identity changes,
// each applied once or twice, or all applied again in any order, ends in
// the same contact, whichever key it is looked up by.
func TestEveryOrderOfAPersonsEventsEndsInTheSameContact(t *testing.T) {
	seeded(t, func(t *testing.T, rng *rand.Rand) {
		events := personEvents(rng)
		want := contactAfter(t, events)
		if want.Person.BSUID != bsuidC || !slices.Equal(want.PreviousBSUIDs, []string{bsuidA, bsuidB}) {
			t.Fatalf("%v: %+v", events, want)
		}
		for i := range ordersPerTrial {
			order := shuffled(rng, events, i == 0)
			for name, run := range map[string][]contactEvent{"once": order, "twice in a row": twice(order),
				"then again": append(slices.Clone(order), shuffled(rng, order, false)...)} {
				if got := contactAfter(t, run); !reflect.DeepEqual(got, want) {
					t.Errorf("%s %v:\n got %+v %v\nwant %+v %v", name, run, got, got.Marketing, want, want.Marketing)
				}
			}
		}
	})
}

// Sightings under one key, in any order, end with the fields of the newest
// one that gives them, when the newest gives them all: the person renamed
// themselves along the way.
func TestTheNewestSightingGivesThePersonsFields(t *testing.T) {
	seeded(t, func(t *testing.T, rng *rand.Rand) {
		times := rng.Perm(8)[:1+rng.IntN(6)]
		newest := slices.Max(times)
		var views []messaging.ContactRecord
		for _, m := range times {
			p := messaging.Person{BSUID: bsuidA, Phone: phoneP, Name: fmt.Sprint("Ana ", m/3), Username: fmt.Sprint("@ana", m/2)}
			if m != newest {
				p = messaging.Person{BSUID: bsuidA, Phone: maybe(rng, p.Phone), Name: maybe(rng, p.Name), Username: maybe(rng, p.Username)}
			}
			views = append(views, sighted(p, messaging.Sighting{At: minute(rng, 1+m), Inbound: rng.IntN(2) == 0}))
		}
		want := mergeAll(views...)
		if want.Person.Name != fmt.Sprint("Ana ", newest/3) || !want.LastSeenAt.Equal(at(1+newest)) {
			t.Fatalf("%+v", want.Contact)
		}
		for i := range ordersPerTrial {
			order := shuffled(rng, views, i == 0)
			if got := mergeAll(twice(order)...); !reflect.DeepEqual(got, want) {
				t.Errorf("%+v:\n got %+v\nwant %+v", order, got.Contact, want.Contact)
			}
		}
	})
}
