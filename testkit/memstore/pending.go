package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Pending is the in-memory messaging.PendingStore (twin of dynamo.Pending):
// events of numbers no tenant owns yet, listed in event id order.
type Pending struct {
	Now func() time.Time

	mu      sync.Mutex
	numbers map[string]map[string]messaging.PendingEvent // phone number id → event id →
}

var _ messaging.PendingStore = (*Pending)(nil)

// maxPendingBytes is the largest raw event kept, as in dynamo.Pending.
const maxPendingBytes = 350 * 1024

// KeepPending implements messaging.PendingStore.
func (s *Pending) KeepPending(_ context.Context, phoneNumberID, eventID string, receivedAt time.Time, raw []byte) error {
	switch {
	case phoneNumberID == "" || eventID == "":
		return fmt.Errorf("keep pending event %s of %s: %w", eventID, phoneNumberID, errs.E(errs.Invalid, "pending event without number or id", nil))
	case len(raw) > maxPendingBytes:
		return fmt.Errorf("keep pending event %s of %s: %w", eventID, phoneNumberID,
			errs.E(errs.TooLarge, fmt.Sprintf("event of %d bytes, above the %d kept", len(raw), maxPendingBytes), nil))
	}
	if receivedAt.IsZero() {
		receivedAt = now(s.Now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.numbers == nil {
		s.numbers = map[string]map[string]messaging.PendingEvent{}
	}
	if s.numbers[phoneNumberID] == nil {
		s.numbers[phoneNumberID] = map[string]messaging.PendingEvent{}
	}
	s.numbers[phoneNumberID][eventID] = messaging.PendingEvent{ID: eventID, ReceivedAt: receivedAt.UTC(), Raw: slices.Clone(raw)}
	return nil
}

// Pending implements messaging.PendingStore.
func (s *Pending) Pending(_ context.Context, phoneNumberID, after string, limit int) ([]messaging.PendingEvent, error) {
	if limit <= 0 {
		limit = defaultPendingLimit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.numbers[phoneNumberID]
	var out []messaging.PendingEvent
	for _, id := range slices.Sorted(maps.Keys(kept)) {
		if id <= after {
			continue
		}
		if len(out) == limit {
			break
		}
		e := kept[id]
		e.Raw = slices.Clone(e.Raw)
		out = append(out, e)
	}
	return out, nil
}

// defaultPendingLimit is the page size when the caller gives none.
const defaultPendingLimit = 100

// DropPending implements messaging.PendingStore.
func (s *Pending) DropPending(_ context.Context, phoneNumberID, eventID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.numbers[phoneNumberID], eventID)
	return nil
}
