package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RunHints holds a store of redirect hints to its contract.
func RunHints(t *testing.T, newStore func(t *testing.T, now func() time.Time) onboarding.RedirectHints) {
	ctx := context.Background()
	ids := func(hs []onboarding.KeptRedirect) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ID)
		}
		return out
	}
	list := func(t *testing.T, s onboarding.RedirectHints, limit int) []onboarding.KeptRedirect {
		t.Helper()
		hs, err := s.Redirects(ctx, limit)
		must(t, err)
		return hs
	}
	run(t, newStore, map[string]func(t *testing.T, s onboarding.RedirectHints, clk *testclock.Clock){
		"hints list oldest first, whatever their ids": func(t *testing.T, s onboarding.RedirectHints, clk *testclock.Clock) {
			for _, h := range []struct {
				id  string
				min int
			}{{"redirect#c", 1}, {"redirect#a", 3}, {"redirect#b", 2}, {"redirect#0", 3}} {
				must(t, s.KeepRedirect(ctx, h.id, at(h.min), []byte("raw "+h.id)))
			}
			all := list(t, s, 10)
			equal(t, "all", ids(all), []string{"redirect#c", "redirect#b", "redirect#0", "redirect#a"})
			for i, h := range all {
				if !bytes.Equal(h.Raw, []byte("raw "+h.ID)) || !h.ReceivedAt.Equal(at([]int{1, 2, 3, 3}[i])) {
					t.Errorf("hint %d: %+v", i, h)
				}
			}
			equal(t, "limited", ids(list(t, s, 2)), []string{"redirect#c", "redirect#b"})
		},
		"dropped hints are gone; kept again they replace or add": func(t *testing.T, s onboarding.RedirectHints, clk *testclock.Clock) {
			must(t, s.KeepRedirect(ctx, "r#1", at(1), []byte("first")))
			must(t, s.KeepRedirect(ctx, "r#2", at(2), []byte("second")))
			must(t, s.KeepRedirect(ctx, "r#2", at(2), []byte("second again")))
			must(t, s.KeepRedirect(ctx, "r#1", at(4), []byte("reload")))
			hs := list(t, s, 10)
			equal(t, "kept", ids(hs), []string{"r#1", "r#2", "r#1"})
			if string(hs[1].Raw) != "second again" || string(hs[2].Raw) != "reload" {
				t.Errorf("kept again: %+v", hs)
			}
			must(t, s.DropRedirect(ctx, hs[0].ID, hs[0].ReceivedAt))
			must(t, s.DropRedirect(ctx, hs[0].ID, hs[0].ReceivedAt))
			must(t, s.DropRedirect(ctx, "never", at(1)))
			equal(t, "after drop", ids(list(t, s, 10)), []string{"r#2", "r#1"})
			must(t, s.KeepRedirect(ctx, "r#0", time.Time{}, []byte("now")))
			hs = list(t, s, 10)
			if first := hs[0]; first.ID != "r#0" || !first.ReceivedAt.Equal(clk.Now()) {
				t.Errorf("kept without a time, at the clock's now (before the others): %+v", first)
			}
			for _, h := range hs {
				must(t, s.DropRedirect(ctx, h.ID, h.ReceivedAt))
			}
			equal(t, "all dropped", ids(list(t, s, 10)), []string(nil))
		},
		"hints up to the bound are kept, larger or empty ones refused": func(t *testing.T, s onboarding.RedirectHints, clk *testclock.Clock) {
			big := bytes.Repeat([]byte{0xff}, onboarding.MaxRedirectHintBytes)
			must(t, s.KeepRedirect(ctx, "big", at(1), big))
			if err := s.KeepRedirect(ctx, "huge", at(1), append(big, 'y')); errs.CodeOf(err) != errs.TooLarge {
				t.Errorf("a hint above the bound: %v", err)
			}
			if err := s.KeepRedirect(ctx, "empty", at(1), nil); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("an empty hint: %v", err)
			}
			if err := s.KeepRedirect(ctx, "", at(1), []byte("x")); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("a hint without id: %v", err)
			}
			hs := list(t, s, 10)
			if len(hs) != 1 || !bytes.Equal(hs[0].Raw, big) {
				t.Errorf("kept %d hints", len(hs))
			}
		},
		"many hints page through the limit": func(t *testing.T, s onboarding.RedirectHints, clk *testclock.Clock) {
			for i := range 25 {
				must(t, s.KeepRedirect(ctx, fmt.Sprintf("r#%02d", 24-i), at(i).Add(time.Nanosecond), []byte{byte(i + 1)}))
			}
			hs := list(t, s, 7)
			equal(t, "first seven", ids(hs), []string{"r#24", "r#23", "r#22", "r#21", "r#20", "r#19", "r#18"})
			equal(t, "all", len(list(t, s, 0)), 25)
		},
	})
}
