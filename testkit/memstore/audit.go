package memstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// AuditLog is the in-memory access.AuditLog (twin of dynamo.AuditLog):
// entries older than access.AuditRetention are gone, as the table's TTL
// deletes them.
type AuditLog struct {
	Now func() time.Time

	mu      sync.Mutex
	entries []access.Entry
}

var _ access.AuditLog = (*AuditLog)(nil)

// Record implements access.AuditLog.
func (l *AuditLog) Record(_ context.Context, e access.Entry) error {
	if err := access.CheckEntry(e); err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	e.At = e.At.UTC()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.entries {
		if x.ID == e.ID && x.At.Equal(e.At) {
			return fmt.Errorf("record audit entry: %w", errs.E(errs.Conflict, "an audit entry of this id and time exists", nil))
		}
	}
	l.entries = append(l.entries, e)
	return nil
}

// Entries is every entry kept, as recorded.
func (l *AuditLog) Entries() []access.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// auditPosition orders entries as the table's sort keys do.
func auditPosition(e access.Entry) string {
	return e.At.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + e.ID
}

// List implements access.AuditLog.
func (l *AuditLog) List(_ context.Context, q access.AuditQuery) (access.AuditPage, error) {
	before := ""
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(q.Cursor) > 256 || !strings.Contains(string(b), "#") {
			return access.AuditPage{}, fmt.Errorf("list the audit trail: %w", errs.E(errs.Invalid, "invalid cursor", access.ErrBadCursor))
		}
		before = string(b)
	}
	limit := access.AuditLimit(q.Limit)
	oldest := now(l.Now).Add(-access.AuditRetention)
	if q.Since.After(oldest) {
		oldest = q.Since
	}
	l.mu.Lock()
	var kept []access.Entry
	for _, e := range l.entries {
		if !e.At.Before(oldest) && (before == "" || auditPosition(e) < before) {
			kept = append(kept, e)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(kept, func(a, b access.Entry) int { return cmp.Compare(auditPosition(b), auditPosition(a)) })
	page := access.AuditPage{Entries: []access.Entry{}}
	if len(kept) > limit {
		kept = kept[:limit]
		page.Cursor = base64.RawURLEncoding.EncodeToString([]byte(auditPosition(kept[limit-1])))
	}
	page.Entries = append(page.Entries, kept...)
	return page, nil
}
