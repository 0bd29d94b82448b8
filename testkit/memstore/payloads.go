package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

// Payloads keeps bodies stored aside from their queue message (twin of
// dynamo.Payloads).
type Payloads struct {
	mu     sync.Mutex
	bodies map[string][]byte
}

// Put stores body under ref; writing the same ref twice is harmless.
func (p *Payloads) Put(_ context.Context, ref string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bodies == nil {
		p.bodies = map[string][]byte{}
	}
	p.bodies[ref] = slices.Clone(body)
	return nil
}

// Get loads the body stored under ref, or envelope.ErrBodyNotFound.
func (p *Payloads) Get(_ context.Context, ref string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	body, ok := p.bodies[ref]
	if !ok {
		return nil, fmt.Errorf("load payload %s: %w", ref, envelope.ErrBodyNotFound)
	}
	return slices.Clone(body), nil
}
