package memstore

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

// Rejects keeps what a worker can never apply (twin of dynamo.Rejects). It
// keeps raw whole: only the table has an item size to cut it to.
type Rejects struct {
	Now func() time.Time

	mu   sync.Mutex
	days map[string]map[string]envelope.Rejected // UTC day → arrival#id → kept
}

// Keep records raw under id; keeping the same id at the same time again
// overwrites it.
func (r *Rejects) Keep(_ context.Context, id, reason string, receivedAt time.Time, raw []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if receivedAt.IsZero() {
		receivedAt = now(r.Now)
	}
	receivedAt = receivedAt.UTC()
	if r.days == nil {
		r.days = map[string]map[string]envelope.Rejected{}
	}
	day := receivedAt.Format(time.DateOnly)
	if r.days[day] == nil {
		r.days[day] = map[string]envelope.Rejected{}
	}
	r.days[day][receivedAt.Format(sortableTime)+"#"+id] = envelope.Rejected{ID: id, Reason: reason,
		ReceivedAt: receivedAt, Raw: slices.Clone(raw)}
	return nil
}

// List returns the items kept for the UTC day of day, oldest first.
func (r *Rejects) List(_ context.Context, day time.Time) ([]envelope.Rejected, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.days[day.UTC().Format(time.DateOnly)]
	var out []envelope.Rejected
	for _, k := range slices.Sorted(maps.Keys(kept)) {
		out = append(out, kept[k])
	}
	return out, nil
}
