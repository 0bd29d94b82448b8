package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RunFeed holds a Feed to eventing.Feed's contract. It runs on today's
// clock: DynamoDB Local deletes items whose expiry has passed by the wall
// clock, and the feed's items expire.
func RunFeed(t *testing.T, newFeed func(t *testing.T, now func() time.Time) eventing.Feed) {
	ctx := context.Background()
	ev := func(tenant, typ string, i int) bridgeevents.Event {
		return bridgeevents.Event{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Type: typ, TenantID: tenant,
			Timestamp: time.Unix(1765000000, 0).UTC(), Source: bridgeevents.SourceWebhook,
			Subject: fmt.Sprintf("message:m%d", i), Version: int64(i), Data: []byte(`{"tenant_id":"` + tenant + `"}`)}
	}
	ids := func(p eventing.FeedPage) []string {
		out := []string{}
		for _, e := range p.Events {
			out = append(out, e.ID)
		}
		return out
	}
	list := func(t *testing.T, f eventing.Feed, q eventing.FeedQuery) eventing.FeedPage {
		t.Helper()
		p, err := f.List(ctx, q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		if p.Cursor == "" {
			t.Fatalf("list %+v answered no cursor", q)
		}
		return p
	}
	settle := func(clk *testclock.Clock) { clk.Advance(eventing.Settle + time.Second) }
	start := time.Now().UTC().Truncate(time.Second)
	runFrom(t, start, newFeed, map[string]func(t *testing.T, f eventing.Feed, clk *testclock.Clock){
		"lists in append order, per tenant and for the whole stack": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1), ev("globex", bridgeevents.MessageReceived, 1)}))
			clk.Advance(time.Millisecond)
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageStatusChanged, 2)}))
			settle(clk)
			equal(t, "acme", ids(list(t, f, eventing.FeedQuery{TenantID: "acme"})), []string{"evt_acme_1", "evt_acme_2"})
			equal(t, "globex", ids(list(t, f, eventing.FeedQuery{TenantID: "globex"})), []string{"evt_globex_1"})
			equal(t, "all", ids(list(t, f, eventing.FeedQuery{})), []string{"evt_acme_1", "evt_globex_1", "evt_acme_2"})
			p := list(t, f, eventing.FeedQuery{TenantID: "acme"})
			if got := p.Events[0]; got.Type != bridgeevents.MessageReceived || got.Subject != "message:m1" || got.Version != 1 ||
				!got.Timestamp.Equal(time.Unix(1765000000, 0)) || string(got.Data) != `{"tenant_id":"acme"}` || got.Source != bridgeevents.SourceWebhook {
				t.Errorf("event read back as %+v", got)
			}
		},
		"lists nothing appended less than Settle ago": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1)}))
			clk.Advance(eventing.Settle - time.Second)
			p := list(t, f, eventing.FeedQuery{TenantID: "acme"})
			equal(t, "before settling", ids(p), []string{})
			settle(clk)
			equal(t, "from the cursor, after settling", ids(list(t, f, eventing.FeedQuery{TenantID: "acme", Cursor: p.Cursor})), []string{"evt_acme_1"})
		},
		"a cursor goes on from where it stopped, also after the last page": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			for i := 1; i <= 5; i++ {
				must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, i)}))
				clk.Advance(time.Millisecond)
			}
			settle(clk)
			var got []string
			cursor := ""
			for range 4 {
				p := list(t, f, eventing.FeedQuery{TenantID: "acme", Cursor: cursor, Limit: 2})
				got = append(got, ids(p)...)
				cursor = p.Cursor
			}
			equal(t, "paged", got, []string{"evt_acme_1", "evt_acme_2", "evt_acme_3", "evt_acme_4", "evt_acme_5"})
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 6)}))
			settle(clk)
			equal(t, "resumed", ids(list(t, f, eventing.FeedQuery{TenantID: "acme", Cursor: cursor})), []string{"evt_acme_6"})
		},
		"a type filter keeps its types and moves the cursor past the others": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1),
				ev("acme", bridgeevents.MessageStatusChanged, 2), ev("acme", bridgeevents.MessageReceived, 3)}))
			settle(clk)
			p := list(t, f, eventing.FeedQuery{TenantID: "acme", Types: []string{bridgeevents.MessageStatusChanged}})
			equal(t, "filtered", ids(p), []string{"evt_acme_2"})
			equal(t, "after", ids(list(t, f, eventing.FeedQuery{TenantID: "acme", Cursor: p.Cursor})), []string{})
		},
		"an event appended again keeps its id": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			e := ev("acme", bridgeevents.MessageReceived, 1)
			must(t, f.Append(ctx, []bridgeevents.Event{e}))
			clk.Advance(time.Millisecond)
			must(t, f.Append(ctx, []bridgeevents.Event{e}))
			settle(clk)
			got := ids(list(t, f, eventing.FeedQuery{TenantID: "acme"}))
			if len(got) == 0 || slices.ContainsFunc(got, func(id string) bool { return id != e.ID }) {
				t.Errorf("listed %v, want only %s", got, e.ID)
			}
		},
		"a cursor of another feed, or none of the feed's, is refused": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1)}))
			settle(clk)
			acme := list(t, f, eventing.FeedQuery{TenantID: "acme"}).Cursor
			all := list(t, f, eventing.FeedQuery{}).Cursor
			for name, q := range map[string]eventing.FeedQuery{
				"another tenant's":               {TenantID: "globex", Cursor: acme},
				"a tenant's for the whole stack": {Cursor: acme},
				"the whole stack's for a tenant": {TenantID: "acme", Cursor: all},
				"garbage":                        {TenantID: "acme", Cursor: "not-a-cursor"},
				"another list's":                 {TenantID: "acme", Cursor: base64.RawURLEncoding.EncodeToString([]byte(`{"l":"conversations","t":"acme","k":"x"}`))},
				"cut short":                      {TenantID: "acme", Cursor: acme[:len(acme)-2]},
			} {
				if _, err := f.List(ctx, q); !errors.Is(err, eventing.ErrBadCursor) || errs.CodeOf(err) != errs.Invalid {
					t.Errorf("%s: %v, want an invalid ErrBadCursor", name, err)
				}
			}
		},
		"one append lists in the order given": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 3),
				ev("acme", bridgeevents.MessageReceived, 1), ev("acme", bridgeevents.MessageReceived, 2)}))
			settle(clk)
			want := []string{"evt_acme_3", "evt_acme_1", "evt_acme_2"}
			equal(t, "acme", ids(list(t, f, eventing.FeedQuery{TenantID: "acme"})), want)
			equal(t, "all", ids(list(t, f, eventing.FeedQuery{})), want)
		},
		"a type filter takes several types": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1),
				ev("acme", bridgeevents.ContactChanged, 2), ev("globex", bridgeevents.TenantStatusChanged, 3),
				ev("acme", bridgeevents.MessageStatusChanged, 4)}))
			settle(clk)
			types := []string{bridgeevents.ContactChanged, bridgeevents.TenantStatusChanged}
			equal(t, "acme", ids(list(t, f, eventing.FeedQuery{TenantID: "acme", Types: types})), []string{"evt_acme_2"})
			equal(t, "all", ids(list(t, f, eventing.FeedQuery{Types: types})), []string{"evt_acme_2", "evt_globex_3"})
		},
		"an event past its retention is no longer listed": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1)}))
			clk.Advance(eventing.Retention - time.Hour)
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 2)}))
			settle(clk)
			equal(t, "within", ids(list(t, f, eventing.FeedQuery{TenantID: "acme"})), []string{"evt_acme_1", "evt_acme_2"})
			clk.Advance(time.Hour)
			p := list(t, f, eventing.FeedQuery{TenantID: "acme", Limit: 1})
			equal(t, "past", ids(p), []string{"evt_acme_2"})
			equal(t, "all, past", ids(list(t, f, eventing.FeedQuery{})), []string{"evt_acme_2"})
			equal(t, "after", ids(list(t, f, eventing.FeedQuery{TenantID: "acme", Cursor: p.Cursor})), []string{})
		},
		"an event without an id, a type or a tenant is refused, with its batch": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			for name, bad := range map[string]func(*bridgeevents.Event){
				"no id":           func(e *bridgeevents.Event) { e.ID = "" },
				"no type":         func(e *bridgeevents.Event) { e.Type = "" },
				"no tenant":       func(e *bridgeevents.Event) { e.TenantID = "" },
				"a tenant with #": func(e *bridgeevents.Event) { e.TenantID = "acme#x" },
			} {
				e := ev("acme", bridgeevents.MessageReceived, 2)
				bad(&e)
				if err := f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1), e}); err == nil {
					t.Errorf("%s: appended", name)
				}
			}
			settle(clk)
			equal(t, "acme", ids(list(t, f, eventing.FeedQuery{TenantID: "acme"})), []string{})
			equal(t, "all", ids(list(t, f, eventing.FeedQuery{})), []string{})
		},
		"a cursor handed out before any event lists what comes after": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			acme := list(t, f, eventing.FeedQuery{TenantID: "acme"}).Cursor
			all := list(t, f, eventing.FeedQuery{}).Cursor
			must(t, f.Append(ctx, []bridgeevents.Event{ev("acme", bridgeevents.MessageReceived, 1)}))
			settle(clk)
			equal(t, "acme", ids(list(t, f, eventing.FeedQuery{TenantID: "acme", Cursor: acme})), []string{"evt_acme_1"})
			equal(t, "all", ids(list(t, f, eventing.FeedQuery{Cursor: all})), []string{"evt_acme_1"})
		},
		"the limit bounds a page": func(t *testing.T, f eventing.Feed, clk *testclock.Clock) {
			var evs []bridgeevents.Event
			for i := range eventing.DefaultFeedLimit + 3 {
				evs = append(evs, ev("acme", bridgeevents.MessageReceived, i))
			}
			must(t, f.Append(ctx, evs))
			settle(clk)
			if n := len(list(t, f, eventing.FeedQuery{TenantID: "acme"}).Events); n != eventing.DefaultFeedLimit {
				t.Errorf("default page of %d events", n)
			}
			if n := len(list(t, f, eventing.FeedQuery{TenantID: "acme", Limit: 3}).Events); n != 3 {
				t.Errorf("page of limit 3 has %d events", n)
			}
		},
	})
}
