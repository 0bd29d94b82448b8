package messaging_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

const (
	bsuidA, bsuidB, bsuidC = "US.13491208655302741918", "US.99887766554433221100", "US.55544433322211100099"
	phoneP                 = "16505551234"
	numberN                = "106540352242922"
)

func at(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }

func sighted(p messaging.Person, s messaging.Sighting) messaging.ContactRecord {
	return messaging.Sighted(numberN, p, s)
}

func mergeAll(views ...messaging.ContactRecord) messaging.ContactRecord {
	var c messaging.ContactRecord
	for _, v := range views {
		c, _ = messaging.MergeContact(c, v)
	}
	return c
}

// The newest sighting sets the person's fields, an older one only fills;
// times only move forward; the conversation is the one seen last.
func TestMergeContact(t *testing.T) {
	ana := messaging.Person{BSUID: bsuidA, Phone: phoneP, Name: "Ana"}
	c := mergeAll(sighted(ana, messaging.Sighting{At: at(2), Inbound: true, ConversationID: "conv-2"}),
		sighted(messaging.Person{BSUID: bsuidA, Name: "Ana B"}, messaging.Sighting{At: at(3)}),
		sighted(messaging.Person{BSUID: bsuidA, Name: "Ana Old", Username: "@ana"}, messaging.Sighting{At: at(1), Inbound: true, ConversationID: "conv-1"}))
	want := messaging.Contact{PhoneNumberID: numberN, Person: messaging.Person{BSUID: bsuidA, Phone: phoneP, Name: "Ana B", Username: "@ana"},
		LastSeenAt: at(3), LastInboundAt: at(2), ConversationID: "conv-2"}
	if !reflect.DeepEqual(c.Contact, want) {
		t.Errorf("got  %+v\nwant %+v", c.Contact, want)
	}
	if _, changed := messaging.MergeContact(c, sighted(ana, messaging.Sighting{At: at(2), Inbound: true, ConversationID: "conv-2"})); changed {
		t.Error("a sighting merged again changed the contact")
	}
	late, changed := messaging.MergeContact(c, sighted(messaging.Person{BSUID: bsuidA}, messaging.Sighting{At: at(2).Add(time.Second), Inbound: true}))
	if !changed || !late.LastInboundAt.Equal(at(2).Add(time.Second)) || !late.LastSeenAt.Equal(at(3)) {
		t.Errorf("a late inbound sighting: %+v changed %v", late.Contact, changed)
	}
	undated, _ := messaging.MergeContact(messaging.ContactRecord{}, sighted(ana, messaging.Sighting{ConversationID: "conv-0"}))
	if undated.Person != ana || !undated.LastSeenAt.IsZero() || undated.ConversationID != "conv-0" {
		t.Errorf("an undated sighting of a new contact: %+v", undated.Contact)
	}
}

// The highest sequence wins; an equal one keeps what is stored.
func TestMergePreference(t *testing.T) {
	in := func(seq int64) messaging.MarketingPreference {
		return messaging.MarketingPreference{Status: fmt.Sprint("s", seq), Sequence: seq}
	}
	m, won := messaging.MergePreference(nil, in(1))
	if !won || m.Sequence != 1 {
		t.Errorf("first: %+v %v", m, won)
	}
	if got, won := messaging.MergePreference(m, messaging.MarketingPreference{Status: "other", Sequence: 1}); won || got.Status != "s1" {
		t.Errorf("equal: %+v %v", got, won)
	}
	if got, won := messaging.MergePreference(m, in(0)); won || got.Sequence != 1 {
		t.Errorf("lower: %+v %v", got, won)
	}
	if got, won := messaging.MergePreference(m, in(2)); !won || got.Sequence != 2 {
		t.Errorf("higher: %+v %v", got, won)
	}
	stored := messaging.ContactRecord{Contact: messaging.Contact{Person: messaging.Person{BSUID: bsuidA, Name: "Ana"}, Marketing: m}}
	next, changed := messaging.SetPreference(stored, messaging.Person{BSUID: bsuidA, Phone: phoneP, Name: "Other"}, in(3))
	if !changed || next.Marketing.Sequence != 3 || next.Person != (messaging.Person{BSUID: bsuidA, Phone: phoneP, Name: "Ana"}) {
		t.Errorf("a winning preference: %+v", next.Contact)
	}
	if next, changed := messaging.SetPreference(stored, messaging.Person{BSUID: bsuidA, Phone: phoneP}, in(0)); changed || next.Person.Phone != "" {
		t.Errorf("a losing preference: %+v", next.Contact)
	}
}

// merges is a set of contacts' merge pointers, for the graph functions.
type merges map[string]string

func (m merges) into(key string) (string, error) { return m[key], nil }

func TestFollowMergesAndIdentityTarget(t *testing.T) {
	a, b, c, p := "bsuid:"+bsuidA, "bsuid:"+bsuidB, "bsuid:"+bsuidC, "phone:"+phoneP
	g := merges{p: a, a: b, b: c}
	for key, want := range map[string]string{p: c, a: c, c: c, "bsuid:US.X": "bsuid:US.X"} {
		if got, _ := messaging.FollowMerges(key, g.into); got != want {
			t.Errorf("follow %s: %s, want %s", key, got, want)
		}
	}
	if got, _ := messaging.FollowMerges(a, merges{a: b, b: a}.into); got != b {
		t.Errorf("a loop stops at its repeat: %s", got)
	}
	long := merges{}
	for i := range 20 {
		long[fmt.Sprint(i)] = fmt.Sprint(i + 1)
	}
	if got, _ := messaging.FollowMerges("0", long.into); got != fmt.Sprint(messaging.MaxMergeHops) {
		t.Errorf("a long chain stops after %d hops: %s", messaging.MaxMergeHops, got)
	}
	fail := errors.New("read failed")
	if _, err := messaging.FollowMerges(a, func(string) (string, error) { return "", fail }); !errors.Is(err, fail) {
		t.Errorf("a failed read: %v", err)
	}
	for _, tc := range []struct {
		name         string
		graph        merges
		previous     string
		target       string
		revert, fail bool
	}{
		{"the current BSUID's own contact", merges{}, a, b, false, false},
		{"merged on by a later change that came first", merges{b: c}, a, c, false, false},
		{"back to an earlier BSUID", merges{b: a}, a, b, true, false},
		{"back through a chain", merges{b: c, c: a}, a, b, true, false},
	} {
		target, revert, err := messaging.IdentityTarget(tc.previous, b, tc.graph.into)
		if target != tc.target || revert != tc.revert || err != nil {
			t.Errorf("%s: %s %v %v", tc.name, target, revert, err)
		}
	}
	if _, _, err := messaging.IdentityTarget(a, b, func(string) (string, error) { return "", fail }); !errors.Is(err, fail) {
		t.Errorf("a failed read: %v", err)
	}
}

// A person reached through a merge is taken without the BSUIDs it went by.
func TestPersonUnder(t *testing.T) {
	p := messaging.Person{BSUID: bsuidA, ParentBSUID: "US.ENT.1", Phone: phoneP, Name: "Ana"}
	if got := p.Under("bsuid:" + bsuidA); got != p {
		t.Errorf("under its own key: %+v", got)
	}
	if got := p.Under("bsuid:" + bsuidB); got != (messaging.Person{Phone: phoneP, Name: "Ana"}) {
		t.Errorf("under another key: %+v", got)
	}
	byPhone := messaging.Person{Phone: phoneP, Name: "Ana"}
	if got := byPhone.Under("bsuid:" + bsuidA); got != byPhone {
		t.Errorf("a phone merged into a BSUID: %+v", got)
	}
}

func TestLinksPhone(t *testing.T) {
	both := messaging.Person{BSUID: bsuidA, Phone: phoneP}
	for _, tc := range []struct {
		p           messaging.Person
		key, linked string
		want        bool
	}{
		{both, "bsuid:" + bsuidA, "", true},
		{both, "bsuid:" + bsuidB, "", true}, // redirected: the phone follows
		{both, "bsuid:" + bsuidA, phoneP, false},
		{both, "phone:" + phoneP, "", false},
		{messaging.Person{BSUID: bsuidA}, "bsuid:" + bsuidA, "", false},
		{messaging.Person{Phone: phoneP}, "bsuid:" + bsuidA, "", false},
	} {
		key, ok := messaging.LinksPhone(tc.p, tc.key, tc.linked)
		if ok != tc.want || (ok && key != "phone:"+phoneP) {
			t.Errorf("%+v under %s linked %q: %s %v", tc.p, tc.key, tc.linked, key, ok)
		}
	}
}
