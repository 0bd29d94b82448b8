package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

func entry(i int, at time.Time) access.Entry {
	return access.Entry{ID: fmt.Sprintf("e%02d", i), At: at, Token: "ci", Method: "POST",
		Route: "POST /v1/tenants/{tenant_id}/messages", TenantID: tenantA, ResourceID: fmt.Sprintf("out_%d", i), Status: 202}
}

// RunAudit holds an audit trail to its contract.
func RunAudit(t *testing.T, newLog func(t *testing.T, now func() time.Time) access.AuditLog) {
	ctx := context.Background()
	all := func(t *testing.T, l access.AuditLog, q access.AuditQuery) ([]access.Entry, int) {
		t.Helper()
		var out []access.Entry
		pages := 0
		for {
			p, err := l.List(ctx, q)
			must(t, err)
			pages++
			if len(p.Entries) > q.Limit && q.Limit > 0 {
				t.Fatalf("a page of %d, limit %d", len(p.Entries), q.Limit)
			}
			out = append(out, p.Entries...)
			if p.Cursor == "" {
				return out, pages
			}
			if pages > 50 {
				t.Fatal("the pages never end")
			}
			q.Cursor = p.Cursor
		}
	}
	// Entries over three months, two at one instant, recorded out of order.
	times := []time.Time{epoch.AddDate(0, -2, 3), epoch.AddDate(0, -1, 0), epoch.Add(-time.Hour), epoch.Add(-time.Hour), epoch.Add(-time.Minute)}
	cases := map[string]func(t *testing.T, l access.AuditLog, clk *testclock.Clock){
		"entries list newest first, page by page, across months": func(t *testing.T, l access.AuditLog, _ *testclock.Clock) {
			for _, i := range []int{2, 0, 4, 1, 3} {
				must(t, l.Record(ctx, entry(i, times[i])))
			}
			want := []access.Entry{entry(4, times[4]), entry(3, times[3]), entry(2, times[2]), entry(1, times[1]), entry(0, times[0])}
			for i := range want {
				want[i].At = want[i].At.UTC()
			}
			got, pages := all(t, l, access.AuditQuery{Limit: 2})
			equal(t, "pages of 2", got, want)
			if pages != 3 {
				t.Errorf("%d pages of 2 for 5 entries", pages)
			}
			got, pages = all(t, l, access.AuditQuery{Limit: 5})
			equal(t, "one page", got, want)
			if pages != 1 {
				t.Errorf("a full page has a cursor: %d pages", pages)
			}
			got, _ = all(t, l, access.AuditQuery{Since: times[2], Limit: 1})
			equal(t, "since", got, want[:3])
		},
		"an empty trail is an empty page": func(t *testing.T, l access.AuditLog, _ *testclock.Clock) {
			p, err := l.List(ctx, access.AuditQuery{})
			must(t, err)
			if p.Entries == nil || len(p.Entries) != 0 || p.Cursor != "" {
				t.Errorf("%+v", p)
			}
		},
		"entries past the retention are not listed": func(t *testing.T, l access.AuditLog, clk *testclock.Clock) {
			must(t, l.Record(ctx, entry(1, epoch.Add(-time.Minute))))
			clk.Advance(access.AuditRetention)
			must(t, l.Record(ctx, entry(2, clk.Now())))
			got, _ := all(t, l, access.AuditQuery{Limit: 10})
			if len(got) != 1 || got[0].ID != "e02" {
				t.Errorf("listed %+v", got)
			}
		},
		"bad cursors and entries are refused": func(t *testing.T, l access.AuditLog, _ *testclock.Clock) {
			for _, c := range []string{"not a cursor", "eyJ4IjoxfQ", string(make([]byte, 300))} {
				if _, err := l.List(ctx, access.AuditQuery{Cursor: c}); !errors.Is(err, access.ErrBadCursor) {
					t.Errorf("cursor %q: %v", c, err)
				}
			}
			good := entry(1, epoch)
			for name, edit := range map[string]func(*access.Entry){
				"no id": func(e *access.Entry) { e.ID = "" }, "no time": func(e *access.Entry) { e.At = time.Time{} },
				"no token": func(e *access.Entry) { e.Token = "" }, "no route": func(e *access.Entry) { e.Route = "" },
				"no status": func(e *access.Entry) { e.Status = 0 },
			} {
				e := good
				edit(&e)
				if err := l.Record(ctx, e); errs.CodeOf(err) != errs.Invalid {
					t.Errorf("%s: %v", name, err)
				}
			}
			must(t, l.Record(ctx, good))
			if err := l.Record(ctx, good); errs.CodeOf(err) != errs.Conflict {
				t.Errorf("the same entry twice: %v", err)
			}
		},
	}
	run(t, newLog, cases)
}
