package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Hints is the in-memory onboarding.RedirectHints (twin of dynamo.Hints):
// redirects the lifecycle queue could not take, oldest first.
type Hints struct {
	Now func() time.Time

	mu    sync.Mutex
	hints map[hintKey]onboarding.KeptRedirect
}

// hintKey names a hint as dynamo.Hints's sort key does: its time, then its id.
type hintKey struct {
	at int64
	id string
}

var _ onboarding.RedirectHints = (*Hints)(nil)

// KeepRedirect implements onboarding.RedirectHints.
func (s *Hints) KeepRedirect(_ context.Context, id string, receivedAt time.Time, raw []byte) error {
	switch {
	case id == "" || len(raw) == 0:
		return fmt.Errorf("keep redirect hint %s: %w", id, errs.E(errs.Invalid, "redirect hint without id or message", nil))
	case len(raw) > onboarding.MaxRedirectHintBytes:
		return fmt.Errorf("keep redirect hint %s: %w", id, errs.E(errs.TooLarge,
			fmt.Sprintf("hint of %d bytes, above the %d kept", len(raw), onboarding.MaxRedirectHintBytes), nil))
	}
	if receivedAt.IsZero() {
		receivedAt = now(s.Now)
	}
	receivedAt = receivedAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hints == nil {
		s.hints = map[hintKey]onboarding.KeptRedirect{}
	}
	s.hints[hintKey{receivedAt.UnixNano(), id}] = onboarding.KeptRedirect{ID: id, ReceivedAt: receivedAt, Raw: slices.Clone(raw)}
	return nil
}

// Redirects implements onboarding.RedirectHints.
func (s *Hints) Redirects(_ context.Context, limit int) ([]onboarding.KeptRedirect, error) {
	if limit <= 0 {
		limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(s.hints), func(a, b hintKey) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id))
	})
	var out []onboarding.KeptRedirect
	for _, k := range keys[:min(limit, len(keys))] {
		h := s.hints[k]
		h.Raw = slices.Clone(h.Raw)
		out = append(out, h)
	}
	return out, nil
}

// DropRedirect implements onboarding.RedirectHints.
func (s *Hints) DropRedirect(_ context.Context, id string, receivedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hints, hintKey{receivedAt.UTC().UnixNano(), id})
	return nil
}
