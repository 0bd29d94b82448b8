package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
)

// Erasures is the in-memory erasure.Jobs and erasure.Tombstones (twin of
// dynamo.Erasures).
type Erasures struct {
	mu     sync.Mutex
	jobs   map[[2]string]erasure.Job // tenant, id
	open   map[[3]string]string      // tenant, number, person → open job id
	stones map[[3]string]erasure.Tombstone
	marks  map[[2]string]bool
}

var (
	_ erasure.Jobs       = (*Erasures)(nil)
	_ erasure.Tombstones = (*Erasures)(nil)
	_ erasure.Marks      = (*Erasures)(nil)
)

func (s *Erasures) lock() func() {
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs, s.open, s.stones = map[[2]string]erasure.Job{}, map[[3]string]string{}, map[[3]string]erasure.Tombstone{}
		s.marks = map[[2]string]bool{}
	}
	return s.mu.Unlock
}

func cloneErasure(j erasure.Job) erasure.Job {
	j.Identities.BSUIDs = slices.Clone(j.Identities.BSUIDs)
	return j
}

// Open implements erasure.Jobs.
func (s *Erasures) Open(_ context.Context, j erasure.Job, stones []erasure.Tombstone) (erasure.Job, bool, error) {
	if err := j.Check(); err != nil {
		return erasure.Job{}, false, fmt.Errorf("open erasure: %w", err)
	}
	if len(stones) > erasure.MaxIdentities {
		return erasure.Job{}, false, fmt.Errorf("open erasure %s: too many identities", j.ID)
	}
	defer s.lock()()
	lock := [3]string{j.TenantID, j.PhoneNumberID, j.Person}
	if id, ok := s.open[lock]; ok {
		return cloneErasure(s.jobs[[2]string{j.TenantID, id}]), false, nil
	}
	s.open[lock] = j.ID
	s.marks[[2]string{j.TenantID, j.PhoneNumberID}] = true
	s.jobs[[2]string{j.TenantID, j.ID}] = cloneErasure(j)
	for _, t := range stones {
		s.stones[[3]string{t.TenantID, t.PhoneNumberID, t.Hash}] = t
	}
	return cloneErasure(j), true, nil
}

// Job implements erasure.Jobs.
func (s *Erasures) Job(_ context.Context, tenantID, id string) (erasure.Job, bool, error) {
	defer s.lock()()
	j, ok := s.jobs[[2]string{tenantID, id}]
	return cloneErasure(j), ok, nil
}

// Save implements erasure.Jobs.
func (s *Erasures) Save(_ context.Context, j erasure.Job, prev erasure.Position) error {
	defer s.lock()()
	k := [2]string{j.TenantID, j.ID}
	cur, ok := s.jobs[k]
	if !ok || !cur.State.Open() || cur.Position != prev {
		return fmt.Errorf("save erasure %s: %w", j.ID, erasure.ErrMoved)
	}
	s.jobs[k] = cloneErasure(j)
	if !j.State.Open() {
		delete(s.open, [3]string{j.TenantID, j.PhoneNumberID, j.Person})
	}
	return nil
}

// Unfinished implements erasure.Jobs; its cursor is the last job's
// position in the list.
func (s *Erasures) Unfinished(_ context.Context, after string, limit int) ([]erasure.Job, string, error) {
	defer s.lock()()
	var open []erasure.Job
	for _, j := range s.jobs {
		if j.State.Open() && unfinishedPosition(j) > after {
			open = append(open, cloneErasure(j))
		}
	}
	slices.SortFunc(open, func(a, b erasure.Job) int { return strings.Compare(unfinishedPosition(a), unfinishedPosition(b)) })
	if len(open) <= limit {
		return open, "", nil
	}
	return open[:limit], unfinishedPosition(open[limit-1]), nil
}

func unfinishedPosition(j erasure.Job) string {
	return j.RequestedAt.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + j.TenantID + "#" + j.ID
}

// Marked implements erasure.Marks.
func (s *Erasures) Marked(_ context.Context, tenantID, phoneNumberID string) (bool, error) {
	defer s.lock()()
	return s.marks[[2]string{tenantID, phoneNumberID}], nil
}

// Tombstones implements erasure.Tombstones.
func (s *Erasures) Tombstones(_ context.Context, tenantID, phoneNumberID string, hashes []string) ([]erasure.Tombstone, error) {
	defer s.lock()()
	var out []erasure.Tombstone
	for _, h := range hashes {
		if t, ok := s.stones[[3]string{tenantID, phoneNumberID, h}]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}
