package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
)

// Offboardings is the in-memory offboarding.Store (twin of
// dynamo.Offboardings).
type Offboardings struct {
	mu   sync.Mutex
	jobs map[string]offboarding.Job
}

var _ offboarding.Store = (*Offboardings)(nil)

// Start implements offboarding.Store.
func (s *Offboardings) Start(_ context.Context, j offboarding.Job) (offboarding.Job, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.jobs[j.TenantID]; ok && !old.Done() {
		return cloneJob(old), false, nil
	}
	if s.jobs == nil {
		s.jobs = map[string]offboarding.Job{}
	}
	j.Version = 1
	s.jobs[j.TenantID] = cloneJob(j)
	return cloneJob(j), true, nil
}

// Job implements offboarding.Store.
func (s *Offboardings) Job(_ context.Context, tenantID string) (offboarding.Job, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[tenantID]
	return cloneJob(j), ok, nil
}

// Save implements offboarding.Store.
func (s *Offboardings) Save(_ context.Context, j offboarding.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.jobs[j.TenantID]
	if !ok || old.Version != j.Version-1 {
		return fmt.Errorf("save offboarding of %s: %w", j.TenantID, offboarding.ErrJobMoved)
	}
	s.jobs[j.TenantID] = cloneJob(j)
	return nil
}

// Unfinished implements offboarding.Store.
func (s *Offboardings) Unfinished(_ context.Context, limit int) ([]offboarding.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []offboarding.Job
	for _, j := range s.jobs {
		if !j.Done() {
			out = append(out, cloneJob(j))
		}
	}
	slices.SortFunc(out, func(a, b offboarding.Job) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.TenantID, b.TenantID))
	})
	return out[:min(limit, len(out))], nil
}

func cloneJob(j offboarding.Job) offboarding.Job {
	j.SetupLinks, j.Webhooks, j.PhoneNumberIDs = slices.Clone(j.SetupLinks), slices.Clone(j.Webhooks), slices.Clone(j.PhoneNumberIDs)
	return j
}
