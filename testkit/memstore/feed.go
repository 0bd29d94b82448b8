package memstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Feed is the in-memory twin of dynamo.Feed.
type Feed struct {
	Now func() time.Time
	// Retention is how long an event is listed (eventing.Retention when zero).
	Retention time.Duration

	mu      sync.Mutex
	entries []feedEntry
}

var _ eventing.Feed = (*Feed)(nil)

type feedEntry struct {
	at    time.Time
	seq   int
	event bridgeevents.Event
}

// feedCursor is a position in one feed: the feed's name (the tenant's id,
// "*" for the whole stack's) and the sequence of the last event read.
type feedCursor struct {
	Feed string `json:"f"`
	Seq  int    `json:"s"`
}

func feedName(tenantID string) string {
	if tenantID == "" {
		return "*"
	}
	return tenantID
}

// Append implements eventing.Feed.
func (f *Feed) Append(_ context.Context, events []bridgeevents.Event) error {
	for _, e := range events {
		if e.ID == "" || e.Type == "" || !onboarding.ValidTenantID(e.TenantID) {
			return fmt.Errorf("append event %q: %w", e.ID, errs.E(errs.Invalid, "no id, no type or an invalid tenant", nil))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	at := now(f.Now)
	for _, e := range events {
		f.entries = append(f.entries, feedEntry{at: at, seq: len(f.entries) + 1, event: e})
	}
	return nil
}

// List implements eventing.Feed.
func (f *Feed) List(_ context.Context, q eventing.FeedQuery) (eventing.FeedPage, error) {
	c := feedCursor{Feed: feedName(q.TenantID)}
	if q.Cursor != "" {
		c = feedCursor{}
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || json.Unmarshal(b, &c) != nil || c.Feed != feedName(q.TenantID) || c.Seq < 0 {
			return eventing.FeedPage{}, errs.E(errs.Invalid, "invalid cursor", eventing.ErrBadCursor)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = eventing.DefaultFeedLimit
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	at := now(f.Now)
	settled := at.Add(-eventing.Settle)
	retention := f.Retention
	if retention <= 0 {
		retention = eventing.Retention
	}
	page := eventing.FeedPage{Events: []bridgeevents.Event{}}
	for _, e := range f.entries {
		if len(page.Events) == limit || e.at.After(settled) {
			break
		}
		if e.seq <= c.Seq || (q.TenantID != "" && e.event.TenantID != q.TenantID) {
			continue
		}
		c.Seq = e.seq
		if e.at.Add(retention).After(at) && (len(q.Types) == 0 || slices.Contains(q.Types, e.event.Type)) {
			page.Events = append(page.Events, e.event)
		}
	}
	b, _ := json.Marshal(c)
	page.Cursor = base64.RawURLEncoding.EncodeToString(b)
	return page, nil
}
