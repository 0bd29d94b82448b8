package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
)

// ErasureStore is what an erasure store offers: its jobs and its
// tombstones.
type ErasureStore interface {
	erasure.Jobs
	erasure.Tombstones
	erasure.Marks
}

// erasureJob is a pending job of tenant's on number for the person with
// the phone and BSUIDs given, requested at minute m.
func erasureJob(t *testing.T, id, tenant, person string, m int, ids erasure.Identities) (erasure.Job, []erasure.Tombstone) {
	t.Helper()
	j, err := erasure.NewJob(id, tenant, number, person, ids, at(m))
	must(t, err)
	j.RequestedBy = "ci"
	var stones []erasure.Tombstone
	for _, k := range ids.Keys() {
		stones = append(stones, erasure.Tombstone{TenantID: tenant, PhoneNumberID: number, Hash: "h-" + k,
			ErasedAt: at(m), JobID: id})
	}
	return j, stones
}

// RunErasures holds an erasure store to its contract.
func RunErasures(t *testing.T, newStore func(t *testing.T) ErasureStore) {
	ctx := context.Background()
	ana := erasure.Identities{Phone: "15551234567", BSUIDs: []string{"US.2", "US.1"}}
	open := func(t *testing.T, s ErasureStore, j erasure.Job, stones []erasure.Tombstone) (erasure.Job, bool) {
		t.Helper()
		got, created, err := s.Open(ctx, j, stones)
		must(t, err)
		return got, created
	}
	cases := map[string]func(t *testing.T, s ErasureStore){
		"a job is kept whole, found by its tenant only": func(t *testing.T, s ErasureStore) {
			j, stones := erasureJob(t, "era_1", tenantA, "p-ana", 1, ana)
			got, created := open(t, s, j, stones)
			if !created {
				t.Error("the first open did not create")
			}
			equal(t, "opened", got, j)
			read, ok, err := s.Job(ctx, tenantA, "era_1")
			must(t, err)
			equal(t, "read", read, j)
			// The conversations a page went through are kept with it.
			next := j.Advanced(erasure.Progress{Messages: 1}, "c1", false, at(2))
			next.Identities = next.Identities.Found([]string{"conv-1"})
			must(t, s.Save(ctx, next, j.Position))
			read, _, err = s.Job(ctx, tenantA, "era_1")
			must(t, err)
			equal(t, "saved", read, next)
			if !ok {
				t.Error("not found")
			}
			for _, k := range [][2]string{{tenantB, "era_1"}, {tenantA, "era_2"}} {
				if _, ok, err := s.Job(ctx, k[0], k[1]); ok || err != nil {
					t.Errorf("%v: found %v, %v", k, ok, err)
				}
			}
		},
		"the same person while a job is open answers the open job; once it is done, a new one opens": func(t *testing.T, s ErasureStore) {
			j, stones := erasureJob(t, "era_1", tenantA, "p-ana", 1, ana)
			open(t, s, j, stones)
			again, stones2 := erasureJob(t, "era_2", tenantA, "p-ana", 2, ana)
			got, created := open(t, s, again, stones2)
			if created {
				t.Error("a second job opened")
			}
			equal(t, "the open job", got, j)
			if _, ok, _ := s.Job(ctx, tenantA, "era_2"); ok {
				t.Error("the second job was stored")
			}
			// Another tenant's person of the same hash is someone else.
			other, stones3 := erasureJob(t, "era_3", tenantB, "p-ana", 2, ana)
			if _, created := open(t, s, other, stones3); !created {
				t.Error("another tenant's job did not open")
			}
			done := j
			for done.State.Open() {
				next := done.Advanced(erasure.Progress{}, "", true, at(5))
				must(t, s.Save(ctx, next, done.Position))
				done = next
			}
			if got, created = open(t, s, again, stones2); !created {
				t.Errorf("after the first was done: %+v, created %v", got, created)
			}
		},
		"tombstones are found by their hashes on their tenant's number only": func(t *testing.T, s ErasureStore) {
			j, stones := erasureJob(t, "era_1", tenantA, "p-ana", 1, ana)
			open(t, s, j, stones)
			hashes := []string{"h-phone:15551234567", "h-bsuid:US.1", "h-nobody"}
			got, err := s.Tombstones(ctx, tenantA, number, hashes)
			must(t, err)
			slices.SortFunc(got, func(a, b erasure.Tombstone) int { return strings.Compare(a.Hash, b.Hash) })
			equal(t, "tombstones", got, []erasure.Tombstone{stones[1], stones[2]})
			for _, k := range [][2]string{{tenantB, number}, {tenantA, "999"}} {
				if got, err := s.Tombstones(ctx, k[0], k[1], hashes); len(got) != 0 || err != nil {
					t.Errorf("%v: %v, %v", k, got, err)
				}
				if marked, err := s.Marked(ctx, k[0], k[1]); marked || err != nil {
					t.Errorf("%v marked: %v, %v", k, marked, err)
				}
			}
			if marked, err := s.Marked(ctx, tenantA, number); !marked || err != nil {
				t.Errorf("the number is not marked: %v, %v", marked, err)
			}
			if got, err := s.Tombstones(ctx, tenantA, number, nil); len(got) != 0 || err != nil {
				t.Errorf("no hashes: %v, %v", got, err)
			}
			// A later erasure of the same person moves the tombstones on.
			done := j
			for done.State.Open() {
				next := done.Advanced(erasure.Progress{}, "", true, at(5))
				must(t, s.Save(ctx, next, done.Position))
				done = next
			}
			later, stones2 := erasureJob(t, "era_2", tenantA, "p-ana", 9, ana)
			open(t, s, later, stones2)
			got, err = s.Tombstones(ctx, tenantA, number, hashes[:1])
			must(t, err)
			equal(t, "moved on", got, stones2[2:])
		},
		"a save moves the job on from where it was, and only from there": func(t *testing.T, s ErasureStore) {
			j, stones := erasureJob(t, "era_1", tenantA, "p-ana", 1, ana)
			open(t, s, j, stones)
			next := j.Advanced(erasure.Progress{Messages: 3, MediaObjects: 1}, "cursor-1", false, at(2))
			must(t, s.Save(ctx, next, j.Position))
			read, _, _ := s.Job(ctx, tenantA, "era_1")
			equal(t, "saved", read, next)
			other := j.Advanced(erasure.Progress{Messages: 1}, "cursor-x", false, at(2))
			if err := s.Save(ctx, other, j.Position); !errors.Is(err, erasure.ErrMoved) {
				t.Fatalf("a save from a stale position: %v", err)
			}
			read, _, _ = s.Job(ctx, tenantA, "era_1")
			equal(t, "kept", read, next)
			if err := s.Save(ctx, func() erasure.Job { n := next; n.ID = "era_9"; return n }(), next.Position); !errors.Is(err, erasure.ErrMoved) {
				t.Fatalf("a save of a job never opened: %v", err)
			}
		},
		"unfinished lists open jobs of every tenant, oldest first, by pages, and no done one": func(t *testing.T, s ErasureStore) {
			var want []string
			for i, c := range []struct{ id, tenant, person string }{
				{"era_a", tenantA, "p1"}, {"era_b", tenantB, "p2"}, {"era_c", tenantA, "p3"}, {"era_d", tenantA, "p4"},
			} {
				j, stones := erasureJob(t, c.id, c.tenant, c.person, 10-i, erasure.Identities{Phone: "1555000000" + string(rune('0'+i))})
				open(t, s, j, stones)
				if c.id == "era_c" {
					done := j
					for done.State.Open() {
						next := done.Advanced(erasure.Progress{}, "", true, at(20))
						must(t, s.Save(ctx, next, done.Position))
						done = next
					}
					continue
				}
				want = append([]string{c.id}, want...)
			}
			var got []string
			after := ""
			for range 5 {
				jobs, next, err := s.Unfinished(ctx, after, 2)
				must(t, err)
				for _, j := range jobs {
					got = append(got, j.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			equal(t, "unfinished", got, want)
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, newStore(t))
		})
	}
}
