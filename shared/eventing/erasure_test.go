package eventing_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
)

// contact.erased is told once, when an erasure becomes done: the job's
// ids, times and counts, and none of the identities it erased, though the
// record of its last step still holds them.
func TestContactErasedWhenAnErasureIsDone(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ids := erasure.Identities{Phone: "15550001111", BSUIDs: []string{"US.100", "US.99"}}
	pending, err := erasure.NewJob("era_abc1", "acme", "111", "personhash", ids, at)
	if err != nil {
		t.Fatal(err)
	}
	job := pending
	for job.Position.Step != erasure.Steps[len(erasure.Steps)-1] || job.Position.Round < erasure.Rounds {
		job = job.Advanced(erasure.Progress{Messages: 2}, "", true, at.Add(time.Minute))
	}
	last := job // the final sweep's last step: still erasing, identities held
	done := last.Advanced(erasure.Progress{Contacts: 1}, "", true, at.Add(3*time.Minute))
	if last.State != erasure.Erasing || done.State != erasure.Done {
		t.Fatalf("states %s, %s", last.State, done.State)
	}
	derive := func(before, after *erasure.Job) []bridgeevents.Event {
		t.Helper()
		evs, err := eventing.Derive(eventing.Change{At: at.Add(3 * time.Minute), Erasure: &eventing.Pair[erasure.Job]{Before: before, After: after}})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	erasing := pending.Advanced(erasure.Progress{Messages: 3}, "cursor", false, at)
	for name, pair := range map[string][2]*erasure.Job{"the job opened": {nil, &pending}, "a page saved while erasing": {&pending, &erasing},
		"the last step saved, still erasing": {&erasing, &last}, "the done job written again": {&done, &done},
		"the job removed": {&done, nil}} {
		if evs := derive(pair[0], pair[1]); len(evs) != 0 {
			t.Errorf("%s: %+v", name, evs)
		}
	}
	evs := derive(&last, &done)
	if len(evs) != 1 {
		t.Fatalf("events %+v", evs)
	}
	e := evs[0]
	if e.Type != bridgeevents.ContactErased || e.TenantID != "acme" || e.Subject != "erasure:era_abc1" || e.Version != 1 ||
		e.Source != bridgeevents.SourceAPI {
		t.Errorf("event %+v", e)
	}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"15550001111", "US.100", "US.99", "personhash"} {
		if strings.Contains(string(raw), id) {
			t.Errorf("the event names %s: %s", id, raw)
		}
	}
	rec, err := e.Record()
	data, ok := rec.(*bridgeevents.ContactErasure)
	if err != nil || !ok || data.ErasureID != "era_abc1" || data.PhoneNumberID != "111" || !data.RequestedAt.Equal(at) ||
		!data.ErasedAt.Equal(at.Add(3*time.Minute)) || data.Erased.Messages != done.Progress.Messages || data.Erased.Contacts != 1 {
		t.Errorf("data %s: %v", e.Data, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(e.Data, &fields); err != nil || len(fields) != 6 {
		t.Errorf("data %s: %v", e.Data, err)
	}
	if again := derive(&last, &done); again[0].ID != e.ID {
		t.Errorf("the same change told again under another id")
	}
	other := done
	other.ID = "era_abc2"
	if evs2 := derive(&last, &other); len(evs2) != 1 || evs2[0].ID == e.ID {
		t.Errorf("another erasure: %+v", evs2)
	}
}
