package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RunPending holds a store of pending events to its contract.
func RunPending(t *testing.T, newStore func(t *testing.T, now func() time.Time) messaging.PendingStore) {
	ctx := context.Background()
	ids := func(es []messaging.PendingEvent) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	list := func(t *testing.T, s messaging.PendingStore, number, after string, limit int) []messaging.PendingEvent {
		t.Helper()
		es, err := s.Pending(ctx, number, after, limit)
		must(t, err)
		return es
	}
	run(t, newStore, map[string]func(t *testing.T, s messaging.PendingStore, clk *testclock.Clock){
		"kept events list in id order, page by page": func(t *testing.T, s messaging.PendingStore, clk *testclock.Clock) {
			for i, id := range []string{"key-b#0", "key-a#1", "key-a#0"} {
				must(t, s.KeepPending(ctx, number, id, at(i), []byte("raw "+id)))
			}
			must(t, s.KeepPending(ctx, "other-number", "key-c#0", at(1), []byte("other")))
			all := list(t, s, number, "", 10)
			equal(t, "all", ids(all), []string{"key-a#0", "key-a#1", "key-b#0"})
			for i, e := range all {
				if !bytes.Equal(e.Raw, []byte("raw "+e.ID)) || !e.ReceivedAt.Equal(at(2-i)) {
					t.Errorf("event %d: %+v", i, e)
				}
			}
			equal(t, "first page", ids(list(t, s, number, "", 2)), []string{"key-a#0", "key-a#1"})
			equal(t, "second page", ids(list(t, s, number, "key-a#1", 2)), []string{"key-b#0"})
			equal(t, "past the end", ids(list(t, s, number, "key-b#0", 2)), []string(nil))
			equal(t, "unknown number", ids(list(t, s, "no-number", "", 2)), []string(nil))
		},
		"dropped events are gone, kept again they are new": func(t *testing.T, s messaging.PendingStore, clk *testclock.Clock) {
			must(t, s.KeepPending(ctx, number, "k#0", at(1), []byte("first")))
			must(t, s.KeepPending(ctx, number, "k#1", at(1), []byte("second")))
			must(t, s.DropPending(ctx, number, "k#0"))
			must(t, s.DropPending(ctx, number, "k#0"))
			must(t, s.DropPending(ctx, number, "never"))
			equal(t, "after drop", ids(list(t, s, number, "", 10)), []string{"k#1"})
			must(t, s.KeepPending(ctx, number, "k#1", at(2), []byte("again")))
			must(t, s.KeepPending(ctx, number, "k#0", time.Time{}, nil))
			es := list(t, s, number, "", 10)
			if len(es) != 2 || len(es[0].Raw) != 0 || !es[0].ReceivedAt.Equal(clk.Now()) ||
				string(es[1].Raw) != "again" || !es[1].ReceivedAt.Equal(at(2)) {
				t.Errorf("kept again: %+v", es)
			}
		},
		"large events up to the limit are kept, larger ones refused": func(t *testing.T, s messaging.PendingStore, clk *testclock.Clock) {
			big := bytes.Repeat([]byte{0xff, 'x'}, 350*1024/2)
			must(t, s.KeepPending(ctx, number, "big", at(1), big))
			err := s.KeepPending(ctx, number, "huge", at(1), append(big, 'y'))
			if errs.CodeOf(err) != errs.TooLarge {
				t.Errorf("a raw above 350 KiB: %v", err)
			}
			es := list(t, s, number, "", 10)
			if len(es) != 1 || !bytes.Equal(es[0].Raw, big) {
				t.Errorf("kept %d events", len(es))
			}
		},
		"many events page through the limit": func(t *testing.T, s messaging.PendingStore, clk *testclock.Clock) {
			for i := range 25 {
				must(t, s.KeepPending(ctx, number, fmt.Sprintf("k#%02d", i), at(i), []byte{byte(i)}))
			}
			var got []string
			after := ""
			for range 10 {
				es := list(t, s, number, after, 7)
				if len(es) == 0 {
					break
				}
				got = append(got, ids(es)...)
				after = es[len(es)-1].ID
			}
			if len(got) != 25 || got[0] != "k#00" || got[24] != "k#24" {
				t.Errorf("paged %v", got)
			}
		},
	})
}
