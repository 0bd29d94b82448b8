package eventing_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
)

// tenant.deleted is told once, when an offboarding becomes done, with the
// tombstone and nothing else; a second offboarding of a tenant made again
// is another event.
func TestTenantDeletedWhenAnOffboardingIsDone(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	running := offboarding.Job{TenantID: "acme", Phase: offboarding.PhaseData, RequestedAt: at, Version: 4,
		KapsoCustomerID: "cus_1", PhoneNumberIDs: []string{"111"}}
	done := running.Tombstone(at.Add(time.Hour))
	done.Version = 5
	derive := func(before, after *offboarding.Job) []bridgeevents.Event {
		t.Helper()
		evs, err := eventing.Derive(eventing.Change{At: at.Add(time.Hour), Offboarding: &eventing.Pair[offboarding.Job]{Before: before, After: after}})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	evs := derive(&running, &done)
	if len(evs) != 1 || evs[0].Type != bridgeevents.TenantDeleted || evs[0].TenantID != "acme" || evs[0].Subject != "offboarding:acme" {
		t.Fatalf("events %+v", evs)
	}
	var data map[string]any
	if err := json.Unmarshal(evs[0].Data, &data); err != nil || len(data) != 3 || data["deleted_at"] != "2026-12-07T13:00:00Z" {
		t.Errorf("data %s: %v", evs[0].Data, err)
	}
	if again := derive(&running, &done); again[0].ID != evs[0].ID {
		t.Errorf("the same change told again under another id")
	}
	for name, pair := range map[string][2]*offboarding.Job{"a step": {&running, &running}, "the tombstone written again": {&done, &done},
		"a new offboarding replacing the tombstone": {&done, &running}, "the job started": {nil, &running}} {
		if evs := derive(pair[0], pair[1]); len(evs) != 0 {
			t.Errorf("%s: %+v", name, evs)
		}
	}
	second := done
	second.DeletedAt, second.Version = at.Add(48*time.Hour), 9
	if evs2 := derive(&running, &second); len(evs2) != 1 || evs2[0].ID == evs[0].ID {
		t.Errorf("a second deletion: %+v", evs2)
	}
}
