package erasure_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestIdentitiesOfTakesEveryName(t *testing.T) {
	c := messaging.Contact{Person: messaging.Person{BSUID: "US.2", Phone: "15551234567", Name: "Ana"},
		PreviousBSUIDs: []string{"US.1", "US.2", ""}}
	ids := erasure.IdentitiesOf(c)
	if ids.Phone != "15551234567" || !slices.Equal(ids.BSUIDs, []string{"US.2", "US.1"}) {
		t.Fatalf("identities = %+v", ids)
	}
	if got := ids.Keys(); !slices.Equal(got, []string{"bsuid:US.2", "bsuid:US.1", "phone:15551234567"}) {
		t.Fatalf("keys = %v", got)
	}
	for _, c := range []struct {
		p    messaging.Person
		want bool
	}{
		{messaging.Person{BSUID: "US.1"}, true},
		{messaging.Person{ParentBSUID: "US.2"}, true},
		{messaging.Person{Phone: "15551234567"}, true},
		{messaging.Person{BSUID: "US.3", Phone: "15550000000"}, false},
		{messaging.Person{}, false},
	} {
		if got := ids.Names(c.p); got != c.want {
			t.Errorf("Names(%+v) = %v, want %v", c.p, got, c.want)
		}
	}
	if !(erasure.Identities{}).Empty() || ids.Empty() {
		t.Fatal("Empty wrong")
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"era_abc123": true, "era_": false, "abc": false, "era_ABC": false, "era_a/b": false,
		"era_" + strings.Repeat("a", 60): true, "era_" + strings.Repeat("a", 61): false,
	} {
		if got := erasure.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v", id, got)
		}
	}
}

func TestNewJobRefusesWhatIsMissing(t *testing.T) {
	ids := erasure.Identities{Phone: "1555"}
	for name, c := range map[string]func() (erasure.Job, error){
		"bad id":    func() (erasure.Job, error) { return erasure.NewJob("x", "acme", "n1", "h", ids, t0) },
		"no tenant": func() (erasure.Job, error) { return erasure.NewJob("era_1", "", "n1", "h", ids, t0) },
		"no number": func() (erasure.Job, error) { return erasure.NewJob("era_1", "acme", "", "h", ids, t0) },
		"nobody": func() (erasure.Job, error) {
			return erasure.NewJob("era_1", "acme", "n1", "h", erasure.Identities{}, t0)
		},
		"no time": func() (erasure.Job, error) { return erasure.NewJob("era_1", "acme", "n1", "h", ids, time.Time{}) },
	} {
		if _, err := c(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	many := erasure.Identities{BSUIDs: make([]string, erasure.MaxIdentities)}
	for i := range many.BSUIDs {
		many.BSUIDs[i] = fmt.Sprintf("US.%d", i)
	}
	if _, err := erasure.NewJob("era_1", "acme", "n1", "h", many, t0); err != nil {
		t.Errorf("%d identities refused: %v", erasure.MaxIdentities, err)
	}
	many.Phone = "1555"
	if _, err := erasure.NewJob("era_1", "acme", "n1", "h", many, t0); err == nil {
		t.Errorf("%d identities taken", erasure.MaxIdentities+1)
	}
	j, err := erasure.NewJob("era_1", "acme", "n1", "h", ids, t0)
	if err != nil || j.State != erasure.Pending || j.Position != (erasure.Position{Round: 1, Step: erasure.StepMessages}) || j.Check() != nil {
		t.Fatalf("job = %+v, %v", j, err)
	}
}

// A job walks every step of round one, waits for the sweep, walks every
// step again, and ends done; a page that is not the step's last keeps the
// step and takes the cursor.
func TestAdvancedWalksTwoRounds(t *testing.T) {
	j, _ := erasure.NewJob("era_1", "acme", "n1", "h", erasure.Identities{Phone: "1555"}, t0)
	j = j.Advanced(erasure.Progress{Messages: 2}, "c1", false, t0)
	if j.State != erasure.Erasing || j.Position != (erasure.Position{Round: 1, Step: erasure.StepMessages, Cursor: "c1"}) {
		t.Fatalf("after a page: %+v", j)
	}
	var steps []erasure.Step
	for j.State.Open() {
		steps = append(steps, j.Position.Step)
		if err := j.Check(); err != nil {
			t.Fatal(err)
		}
		if j.Position.Round == 2 && j.Position.Step == erasure.StepMessages && j.Position.Cursor == "" && !j.Waiting(t0) {
			t.Fatal("the sweep does not wait")
		}
		j = j.Advanced(erasure.Progress{Contacts: 1}, "", true, t0.Add(time.Hour))
	}
	want := append(slices.Clone(erasure.Steps), erasure.Steps...)
	if !slices.Equal(steps, want) {
		t.Fatalf("steps = %v, want %v", steps, want)
	}
	if j.State != erasure.Done || !j.DoneAt.Equal(t0.Add(time.Hour)) || j.Progress.Messages != 2 ||
		j.Progress.Contacts != 2*len(erasure.Steps) || j.Progress.Total() != 2+2*len(erasure.Steps) {
		t.Fatalf("done job = %+v", j)
	}
	if !j.Identities.Empty() || j.Person != "h" {
		t.Fatalf("a done job keeps %+v", j.Identities)
	}
	if j.Check() != nil || j.Waiting(t0) {
		t.Fatal("a done job is valid and never waits")
	}
}

func TestCheckRefusesUnknownStateAndPosition(t *testing.T) {
	j, _ := erasure.NewJob("era_1", "acme", "n1", "h", erasure.Identities{Phone: "1555"}, t0)
	bad := j
	bad.State = "lost"
	if bad.Check() == nil {
		t.Error("unknown state accepted")
	}
	bad = j
	bad.Position.Step = "nothing"
	if bad.Check() == nil {
		t.Error("unknown step accepted")
	}
	bad = j
	bad.Position.Round = 3
	if bad.Check() == nil {
		t.Error("unknown round accepted")
	}
}

func TestHasherIsKeyedAndScoped(t *testing.T) {
	if _, err := erasure.NewHasher([]byte("short")); !errors.Is(err, erasure.ErrShortKey) {
		t.Fatalf("short key: %v", err)
	}
	k1, k2 := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	h1, _ := erasure.NewHasher(k1)
	h2, _ := erasure.NewHasher(k2)
	a := h1.Person("acme", "n1", "phone:15551234567")
	if len(a) != 64 || strings.Contains(a, "15551234567") {
		t.Fatalf("hash %q", a)
	}
	for name, b := range map[string]string{
		"other key":    h2.Person("acme", "n1", "phone:15551234567"),
		"other number": h1.Person("acme", "n2", "phone:15551234567"),
		"other tenant": h1.Person("acme2", "n1", "phone:15551234567"),
		"shifted":      h1.Person("acme", "n1p", "hone:15551234567"),
	} {
		if a == b {
			t.Errorf("%s: same hash", name)
		}
	}
	if a != h1.Person("acme", "n1", "phone:15551234567") {
		t.Fatal("not deterministic")
	}
	k1[0] = 'z' // the hasher keeps its own copy
	if a != h1.Person("acme", "n1", "phone:15551234567") {
		t.Fatal("the key was shared")
	}
}

func TestTombstoneCovers(t *testing.T) {
	ts := erasure.Tombstone{ErasedAt: t0}
	for at, want := range map[time.Time]bool{t0.Add(-time.Second): true, t0: true, t0.Add(time.Nanosecond): false, {}: true} {
		if ts.Covers(at) != want {
			t.Errorf("Covers(%v) != %v", at, want)
		}
	}
}

type stones map[string]erasure.Tombstone

func (s stones) Tombstones(_ context.Context, tenantID, number string, hashes []string) ([]erasure.Tombstone, error) {
	var out []erasure.Tombstone
	for _, h := range hashes {
		if t, ok := s[tenantID+"/"+number+"/"+h]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func TestGuardDropsWhatTheTombstoneCovers(t *testing.T) {
	h, _ := erasure.NewHasher([]byte(strings.Repeat("k", 32)))
	ids := erasure.Identities{Phone: "15551234567", BSUIDs: []string{"US.2", "US.1"}}
	st := stones{}
	for _, hash := range h.Hashes("acme", "n1", ids) {
		st["acme/n1/"+hash] = erasure.Tombstone{TenantID: "acme", PhoneNumberID: "n1", Hash: hash, ErasedAt: t0}
	}
	g := erasure.Guard{Hasher: h, Tombstones: st}
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		tenant string
		number string
		at     time.Time
		people []messaging.Person
		want   bool
	}{
		{"by phone, before", "acme", "n1", t0.Add(-time.Minute), []messaging.Person{{Phone: "15551234567"}}, true},
		{"by previous BSUID, at", "acme", "n1", t0, []messaging.Person{{BSUID: "US.1"}}, true},
		{"as recipient", "acme", "n1", t0, []messaging.Person{{Phone: "15550000000"}, {BSUID: "US.2"}}, true},
		{"by parent BSUID", "acme", "n1", t0, []messaging.Person{{BSUID: "US.9", ParentBSUID: "US.2"}}, true},
		{"after", "acme", "n1", t0.Add(time.Second), []messaging.Person{{Phone: "15551234567"}}, false},
		{"someone else", "acme", "n1", t0, []messaging.Person{{Phone: "15550000000"}}, false},
		{"other number", "acme", "n2", t0, []messaging.Person{{Phone: "15551234567"}}, false},
		{"other tenant", "beta", "n1", t0, []messaging.Person{{Phone: "15551234567"}}, false},
		{"nobody", "acme", "n1", t0, nil, false},
	} {
		got, err := g.Erased(ctx, c.tenant, c.number, c.at, c.people...)
		if err != nil || got != c.want {
			t.Errorf("%s: Erased = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

// jobs is a Jobs that keeps one job and checks the position it is saved
// from.
type jobs struct {
	j     erasure.Job
	saves int
	moved bool
}

func (s *jobs) Open(context.Context, erasure.Job, []erasure.Tombstone) (erasure.Job, bool, error) {
	panic("unused")
}
func (s *jobs) Job(context.Context, string, string) (erasure.Job, bool, error) { return s.j, true, nil }
func (s *jobs) Unfinished(context.Context, string, int) ([]erasure.Job, string, error) {
	panic("unused")
}
func (s *jobs) Save(_ context.Context, j erasure.Job, prev erasure.Position) error {
	if s.moved || s.j.Position != prev {
		return erasure.ErrMoved
	}
	s.j, s.saves = j, s.saves+1
	return nil
}

// eraser hands each step two pages, the first with a cursor, and can
// fail once at a given call.
type eraser struct {
	calls  []string
	failAt int
}

func (e *eraser) Erase(_ context.Context, _ erasure.Job, step erasure.Step, cursor string, _ int) (erasure.Page, error) {
	e.calls = append(e.calls, string(step)+"@"+cursor)
	if len(e.calls) == e.failAt {
		return erasure.Page{}, errors.New("table down")
	}
	if cursor == "" {
		return erasure.Page{Counts: erasure.Progress{Messages: 1}, Next: "p2"}, nil
	}
	return erasure.Page{Counts: erasure.Progress{Messages: 1}, Finished: true}, nil
}

func TestRunnerResumesFromTheSavedPosition(t *testing.T) {
	clock := testclock.New(t0)
	j, _ := erasure.NewJob("era_1", "acme", "n1", "h", erasure.Identities{Phone: "1555"}, t0)
	store := &jobs{j: j}
	e := &eraser{failAt: 4}
	r := erasure.Runner{Jobs: store, Eraser: e, Now: clock.Now}
	ctx := context.Background()
	// A failure at the fourth page leaves the job where the third saved it.
	got, err := r.Run(ctx, j, 100)
	if err == nil || store.saves != 3 || got.Position != store.j.Position ||
		store.j.Position != (erasure.Position{Round: 1, Step: erasure.StepConversations, Cursor: "p2"}) {
		t.Fatalf("after the failure: %v, %+v, stored %+v", err, got, store.j)
	}
	// The next run goes on with the page that failed, then waits for the
	// sweep at the end of round one.
	got, err = r.Run(ctx, store.j, 100)
	if err != nil || got.State != erasure.Erasing || got.Position != (erasure.Position{Round: 2, Step: erasure.StepMessages}) {
		t.Fatalf("round one: %v, %+v", err, got)
	}
	if e.calls[4] != "conversations@p2" {
		t.Fatalf("resumed at %q", e.calls[4])
	}
	n := len(e.calls)
	if got, _ = r.Run(ctx, got, 100); len(e.calls) != n {
		t.Fatal("the sweep did not wait")
	}
	clock.Advance(erasure.SweepDelay)
	got, err = r.Run(ctx, got, 3)
	if err != nil || len(e.calls) != n+3 || got.State != erasure.Erasing {
		t.Fatalf("a run is bounded by its pages: %v, %d calls, %+v", err, len(e.calls)-n, got)
	}
	got, err = r.Run(ctx, got, 100)
	if err != nil || got.State != erasure.Done || got.Progress.Messages != 4*len(erasure.Steps) {
		t.Fatalf("done: %v, %+v", err, got)
	}
	n = len(e.calls)
	if _, err := r.Run(ctx, got, 100); err != nil || len(e.calls) != n {
		t.Fatal("a done job ran again")
	}
}

func TestRunnerStopsNearTheDeadlineAndOnARace(t *testing.T) {
	clock := testclock.New(t0)
	j, _ := erasure.NewJob("era_1", "acme", "n1", "h", erasure.Identities{Phone: "1555"}, t0)
	e := &eraser{}
	store := &jobs{j: j}
	r := erasure.Runner{Jobs: store, Eraser: e, Now: clock.Now, Reserve: time.Second}
	ctx, cancel := context.WithDeadline(context.Background(), t0.Add(500*time.Millisecond))
	defer cancel()
	if got, err := r.Run(ctx, j, 10); err != nil || len(e.calls) != 0 || got.Position != j.Position {
		t.Fatalf("near the deadline: %v, %v", err, e.calls)
	}
	store.moved = true
	if _, err := r.Run(context.Background(), j, 10); !errors.Is(err, erasure.ErrMoved) || len(e.calls) != 1 {
		t.Fatalf("race: %v, %v", err, e.calls)
	}
}

func TestNamedInMatchesWholeStringsOnly(t *testing.T) {
	ids := erasure.Identities{Phone: "5215512345678", BSUIDs: []string{"MX.2"}}
	for raw, want := range map[string]bool{
		`{"from":"5215512345678"}`:           true,
		`{"to":"+5215512345678"}`:            true,
		`{"user_id":"MX.2"}`:                 true,
		`{"from":"15215512345678"}`:          false,
		`{"text":"call 5215512345678 now"}`:  false,
		`{"user_id":"MX.22"}`:                false,
		`{"parent_user_id":"MX.2.ENT"}`:      false,
		`{"business_scoped_user_id":"mx.2"}`: false,
	} {
		if got := ids.NamedIn([]byte(raw)); got != want {
			t.Errorf("NamedIn(%s) = %v", raw, got)
		}
	}
}
