package lifecycle

import (
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// redundant reports whether the connection already holds f under another
// time. Kapso re-sends an event under a new delivery key, and a person
// reloads a redirect page; those copies carry a new receive time, hence a
// new fact key, but say nothing new.
//
// Lifecycle and account events can truly repeat (disconnected, reconnected,
// disconnected again), so for them a copy is redundant only when the latest
// such event about the same number or account up to f's time is that copy.
func redundant(conn onboarding.Connection, f onboarding.Fact) bool {
	want := timeless(f)
	if !isLifecycle(f.Kind) {
		for _, g := range conn.Facts {
			if timeless(g) == want {
				return true
			}
		}
		return false
	}
	var latest *onboarding.Fact
	for i, g := range conn.Facts {
		if isLifecycle(g.Kind) && g.PhoneNumberID == f.PhoneNumberID && g.BusinessAccountID == f.BusinessAccountID &&
			!g.At.After(f.At) {
			latest = &conn.Facts[i]
		}
	}
	return latest != nil && timeless(*latest) == want
}

func timeless(f onboarding.Fact) string {
	f.At = time.Unix(0, 0).UTC()
	return f.Key()
}

func isLifecycle(k onboarding.FactKind) bool {
	switch k {
	case onboarding.FactNumberDisconnected, onboarding.FactNumberDeleted, onboarding.FactNumberOffboarded,
		onboarding.FactNumberReconnected, onboarding.FactAccountRestricted, onboarding.FactAccountDisabled,
		onboarding.FactAccountReinstated:
		return true
	}
	return false
}
