package memstore

import (
	"context"
	"sync"
)

// Checkpoints is the in-memory twin of dynamo.Checkpoints.
type Checkpoints struct {
	mu        sync.Mutex
	positions map[string]string
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
