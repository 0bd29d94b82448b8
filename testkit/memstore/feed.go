package memstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
)

// Feed is the in-memory twin of dynamo.Feed.
type Feed struct {
	Now func() time.Time

	mu      sync.Mutex
	entries []feedEntry
}

var _ eventing.Feed = (*Feed)(nil)

type feedEntry struct {
	at    time.Time
	seq   int
	event bridgeevents.Event
}

// feedCursor is a position in one feed: the tenant's ("" for the whole
// stack's) and the sequence of the last event read.
type feedCursor struct {
	Tenant string `json:"t"`
	Seq    int    `json:"s"`
}

// Append implements eventing.Feed.
func (f *Feed) Append(_ context.Context, events []bridgeevents.Event) error {
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
	c := feedCursor{Tenant: q.TenantID}
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || json.Unmarshal(b, &c) != nil || c.Tenant != q.TenantID || c.Seq < 0 {
			return eventing.FeedPage{}, eventing.ErrBadCursor
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = eventing.DefaultFeedLimit
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	settled := now(f.Now).Add(-eventing.Settle)
	page := eventing.FeedPage{Events: []bridgeevents.Event{}}
	for _, e := range f.entries {
		if len(page.Events) == limit || e.at.After(settled) {
			break
		}
		if e.seq <= c.Seq || (q.TenantID != "" && e.event.TenantID != q.TenantID) {
			continue
		}
		c.Seq = e.seq
		if len(q.Types) == 0 || slices.Contains(q.Types, e.event.Type) {
			page.Events = append(page.Events, e.event)
		}
	}
	b, _ := json.Marshal(c)
	page.Cursor = base64.RawURLEncoding.EncodeToString(b)
	return page, nil
}
