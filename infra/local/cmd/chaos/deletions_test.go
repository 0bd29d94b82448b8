package main

import (
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
)

// What must become of a message: an erased person's before the request
// (less the margin) is gone, around it either, after it kept; anyone
// else's kept; the offboarded tenant's gone.
func TestFateOf(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ana := kapsosim.Person{Phone: "15550000001", BSUID: "US.11111111111111111111"}
	bo := kapsosim.Person{Phone: "15550000002"}
	a, b := &tenant{ID: "a", PNID: "1"}, &tenant{ID: "b", PNID: "2"}
	c := &chaos{del: &deletions{erased: []*erasedPerson{{tenant: a, person: ana, sent: at, until: at.Add(2 * time.Second)}},
		off: &offboarding{tenant: b}}}
	for _, tc := range []struct {
		name     string
		tenant   string
		p        kapsosim.Person
		from, to time.Time
		want     fate
	}{
		{"before", "a", ana, at.Add(-10 * time.Second), at.Add(-10 * time.Second), gone},
		{"by BSUID alone", "a", kapsosim.Person{BSUID: ana.BSUID}, at.Add(-time.Minute), at.Add(-time.Minute), gone},
		{"within the margin before", "a", ana, at.Add(-3 * time.Second), at.Add(-3 * time.Second), either},
		{"made across the margin", "a", ana, at.Add(-time.Minute), at, either},
		{"within the margin after", "a", ana, at.Add(6 * time.Second), at.Add(6 * time.Second), either},
		{"after", "a", ana, at.Add(8 * time.Second), at.Add(8 * time.Second), kept},
		{"someone else", "a", bo, at.Add(-time.Minute), at.Add(-time.Minute), kept},
		{"the person on another tenant", "c", ana, at.Add(-time.Minute), at.Add(-time.Minute), kept},
		{"the offboarded tenant", "b", bo, at.Add(time.Hour), at.Add(time.Hour), gone},
	} {
		if got, _ := c.fateOf(tc.tenant, tc.p, tc.from, tc.to); got != tc.want {
			t.Errorf("%s: fate %d, want %d", tc.name, got, tc.want)
		}
	}
	// An event naming the person is dated by its timestamp, which may be
	// a minute early; one of a known message by the message.
	owners := map[string]owner{"wamid.late": {tenant: "a", person: ana, from: at.Add(time.Minute), to: at.Add(time.Minute)}}
	named := []byte(`{"from":{"phone_number":"15550000001"}}`)
	for _, tc := range []struct {
		name string
		e    bridgeevents.Event
		want fate
	}{
		{"a known message's, dated early", bridgeevents.Event{TenantID: "a", Subject: "message:wamid.late",
			Timestamp: at.Add(-time.Hour), Data: named}, kept},
		{"its conversation's, a minute before", bridgeevents.Event{TenantID: "a", Subject: "conversation:x",
			Timestamp: at.Add(-time.Minute), Data: named}, either},
		{"its conversation's, long before", bridgeevents.Event{TenantID: "a", Subject: "conversation:x",
			Timestamp: at.Add(-time.Hour), Data: named}, gone},
		{"naming no one erased", bridgeevents.Event{TenantID: "a", Subject: "conversation:y",
			Timestamp: at.Add(-time.Hour), Data: []byte(`{"from":{"phone_number":"15550000002"}}`)}, kept},
	} {
		if got := c.eventFate(owners, tc.e); got != tc.want {
			t.Errorf("%s: fate %d, want %d", tc.name, got, tc.want)
		}
	}
}
