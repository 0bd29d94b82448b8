package onboarding

import (
	"errors"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// FuzzTenantCursor decodes random tenant list cursors under random filters:
// a refusal is errs.Invalid wrapping ErrBadCursor; an accepted cursor names
// a valid tenant, encodes back to itself, and no list with other filters
// takes it.
func FuzzTenantCursor(f *testing.F) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC)
	for _, q := range []TenantQuery{{}, {Status: TenantStatus("connected")}, {NeedsAttention: true}} {
		f.Add(q.CursorAfter(TenantItem{TenantID: "acme", UpdatedAt: at}), string(q.Status), q.NeedsAttention)
	}
	f.Add("", "", false)
	f.Add("e30", "", false)
	f.Add("eyJsIjoidGVuYW50cyIsInUiOiJ4IiwidCI6ImFjbWUifQ", "", false)
	f.Add("not base64!", "", true)
	f.Fuzz(func(t *testing.T, cursor, status string, needsAttention bool) {
		if len(cursor) > 1<<20 {
			t.Skip()
		}
		q := TenantQuery{Status: TenantStatus(status), NeedsAttention: needsAttention, Cursor: cursor}
		p, ok, err := q.After()
		if err != nil {
			if ok || errs.CodeOf(err) != errs.Invalid || !errors.Is(err, ErrBadCursor) {
				t.Fatalf("After(%q): %v, %v", cursor, ok, err)
			}
			return
		}
		if ok != (cursor != "") {
			t.Fatalf("After(%q) ok = %v", cursor, ok)
		}
		if !ok {
			return
		}
		if !ValidTenantID(p.TenantID) || len(cursor) > maxCursorBytes {
			t.Fatalf("After(%q) took tenant %q", cursor, p.TenantID)
		}
		again := q
		again.Cursor = q.CursorAfter(TenantItem{TenantID: p.TenantID, UpdatedAt: p.UpdatedAt})
		if p2, ok2, err := again.After(); err != nil || !ok2 || p2.Compare(p) != 0 {
			t.Fatalf("re-encoded cursor of %+v: %+v %v %v", p, p2, ok2, err)
		}
		for _, other := range []TenantQuery{
			{Status: q.Status, NeedsAttention: !q.NeedsAttention},
			{Status: q.Status + "x", NeedsAttention: q.NeedsAttention},
		} {
			other.Cursor = cursor
			if _, _, err := other.After(); err == nil {
				t.Fatalf("the cursor of list %q was taken by list %q", q.list(), other.list())
			}
		}
	})
}
