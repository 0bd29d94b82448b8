package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RunOffboardings holds a store of offboarding jobs to its contract.
func RunOffboardings(t *testing.T, newStore func(t *testing.T) offboarding.Store) {
	ctx := context.Background()
	job := func(tenant string, m int) offboarding.Job {
		return offboarding.Job{TenantID: tenant, Phase: offboarding.PhaseKapso, RequestedAt: at(m), UpdatedAt: at(m),
			KapsoCustomerID: "cus_" + tenant, SetupLinks: []string{"sl_1"},
			Webhooks:       []offboarding.Webhook{{PhoneNumberID: "pn_1", WebhookID: "wh_1"}},
			PhoneNumberIDs: []string{"pn_1", "pn_2"}}
	}
	start := func(t *testing.T, s offboarding.Store, j offboarding.Job) offboarding.Job {
		t.Helper()
		stored, started, err := s.Start(ctx, j)
		must(t, err)
		if !started {
			t.Fatalf("start %s: not started", j.TenantID)
		}
		return stored
	}
	run(t, func(t *testing.T, _ func() time.Time) offboarding.Store { return newStore(t) },
		map[string]func(t *testing.T, s offboarding.Store, clk *testclock.Clock){
			"a job starts once and reads back whole": func(t *testing.T, s offboarding.Store, _ *testclock.Clock) {
				want := job("t1", 1)
				stored := start(t, s, want)
				want.Version = 1
				equal(t, "stored", stored, want)
				again, started, err := s.Start(ctx, job("t1", 5))
				must(t, err)
				equal(t, "started again", started, false)
				equal(t, "the running job", again, want)
				got, ok, err := s.Job(ctx, "t1")
				must(t, err)
				equal(t, "found", ok, true)
				equal(t, "read", got, want)
				_, ok, err = s.Job(ctx, "t2")
				must(t, err)
				equal(t, "another tenant's", ok, false)
			},
			"a save takes the next version only": func(t *testing.T, s offboarding.Store, _ *testclock.Clock) {
				j := start(t, s, job("t1", 1))
				j.Phase, j.SetupLinks, j.Version, j.Counts.LinksRevoked = offboarding.PhaseData, nil, 2, 1
				must(t, s.Save(ctx, j))
				stale := j
				stale.Version = 2
				if err := s.Save(ctx, stale); !errors.Is(err, offboarding.ErrJobMoved) {
					t.Fatalf("a stale save: %v", err)
				}
				got, _, err := s.Job(ctx, "t1")
				must(t, err)
				equal(t, "saved", got, j)
				if err := s.Save(ctx, job("t9", 1)); !errors.Is(err, offboarding.ErrJobMoved) {
					t.Fatalf("saving a job never started: %v", err)
				}
			},
			"unfinished jobs list least recently saved first; tombstones do not": func(t *testing.T, s offboarding.Store, _ *testclock.Clock) {
				a, b, c := start(t, s, job("ta", 3)), start(t, s, job("tb", 1)), start(t, s, job("tc", 2))
				tomb := c.Tombstone(at(9))
				tomb.Version, tomb.UpdatedAt = 2, at(9)
				must(t, s.Save(ctx, tomb))
				list, err := s.Unfinished(ctx, 10)
				must(t, err)
				equal(t, "unfinished", list, []offboarding.Job{b, a})
				list, err = s.Unfinished(ctx, 1)
				must(t, err)
				equal(t, "limited", list, []offboarding.Job{b})
				got, _, err := s.Job(ctx, "tc")
				must(t, err)
				equal(t, "tombstone", got, tomb)
				// A tenant made again after its tombstone is offboarded again.
				again := start(t, s, job("tc", 20))
				equal(t, "restarted at", again.RequestedAt, at(20))
			},
		})
}
