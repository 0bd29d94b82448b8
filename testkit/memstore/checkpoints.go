package memstore

import (
	"context"
	"sync"
	"time"
)

// Checkpoints is the in-memory twin of dynamo.Checkpoints.
type Checkpoints struct {
	mu        sync.Mutex
	positions map[string]string
	leases    map[string]lease
}

// Checkpoint is the position saved for name; "" when none is.
func (s *Checkpoints) Checkpoint(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.positions[name], nil
}

// SaveCheckpoint stores the position for name.
func (s *Checkpoints) SaveCheckpoint(_ context.Context, name, position string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.positions == nil {
		s.positions = map[string]string{}
	}
	s.positions[name] = position
	return nil
}

type lease struct {
	holder string
	until  time.Time
}

// TakeLease makes holder the one run of name until until, as
// dynamo.Checkpoints.TakeLease does.
func (s *Checkpoints) TakeLease(_ context.Context, name, holder string, now, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.holder != holder && !l.until.Before(now) {
		return false, nil
	}
	if s.leases == nil {
		s.leases = map[string]lease{}
	}
	s.leases[name] = lease{holder: holder, until: until}
	return true, nil
}

// ReleaseLease ends holder's lease of name.
func (s *Checkpoints) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.holder == holder {
		delete(s.leases, name)
	}
	return nil
}
