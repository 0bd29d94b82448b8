// Package eventing is the domain of the events kapso-bridge tells the SaaS
// (their records are in package bridgeevents): each event's stable id, and
// the stores and channels events go to. An event comes from the same
// durable write as the change it tells (the bridge table's stream), never
// from a second call after it.
package eventing

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

// ID is the event id of one change: the same type, tenant, subject,
// version and detail (what the change came to, e.g. its new status) always
// give the same id, so an event told again, from a retried stream batch or
// a replayed change, carries the id it had.
func ID(typ, tenantID, subject string, version int64, detail string) string {
	h := sha256.New()
	for _, part := range []string{typ, tenantID, subject, strconv.FormatInt(version, 10), detail} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)[:16]))
}

// Feed keeps every event told, for GET /v1/events and
// GET /v1/tenants/{tenant_id}/events, in the order they were appended,
// until they expire.
type Feed interface {
	// Append keeps events, each under its tenant and under the whole
	// stack, at a position after every event listed so far. Appending an
	// event again (a retried batch) may list it a second time under its
	// id, never under another.
	Append(ctx context.Context, events []bridgeevents.Event) error
	// List reads events after the query's cursor, oldest first, and
	// always answers the cursor to go on from, also when nothing came
	// after it. It lists only events appended at least Settle ago, so an
	// append under way when a reader passes never lands behind its cursor.
	List(ctx context.Context, q FeedQuery) (FeedPage, error)
}

// FeedQuery selects events of the feed.
type FeedQuery struct {
	// TenantID is one tenant's feed; "" is the whole stack's.
	TenantID string
	// Types keeps only events of these types; none keeps every type.
	Types []string
	// Cursor is a previous page's cursor; "" is the oldest event kept.
	Cursor string
	// Limit is the most events answered (DefaultFeedLimit when 0).
	Limit int
}

// FeedPage is one page of the feed.
type FeedPage struct {
	Events []bridgeevents.Event
	// Cursor continues after the last event answered, or where the query
	// started when none was: never empty.
	Cursor string
}

// Page sizes and timing of the feed.
const (
	DefaultFeedLimit = 50
	MaxFeedLimit     = 200
	// Settle is how old an event must be before the feed lists it: longer
	// than any append may take (an append's writes have a shorter
	// deadline), so no event can land behind a cursor already handed out.
	Settle = 5 * time.Second
	// AppendDeadline bounds an append's writes, well under Settle.
	AppendDeadline = 3 * time.Second
)

// ErrBadCursor is a cursor that is not one of this feed's, or of another
// tenant's feed or the whole stack's.
var ErrBadCursor = errors.New("not a cursor of this feed")

// Retention is how long the feed keeps an event by default
// (EVENTS_RETENTION_DAYS).
const Retention = 30 * 24 * time.Hour
