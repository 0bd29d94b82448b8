package messaging

import (
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	msg := now.Add(-time.Hour + 500*time.Millisecond)
	if got := (Retention{}).ExpiresAt(msg, now); !got.IsZero() {
		t.Fatalf("unset retention expires at %s, want never", got)
	}
	r := Retention{Days: 7}
	if got, want := r.ExpiresAt(msg, now), now.Add(-time.Hour).Add(7*24*time.Hour); !got.Equal(want) {
		t.Fatalf("expires at %s, want %s (the message's time plus 7 days, in whole seconds)", got, want)
	}
	if got, want := r.ExpiresAt(time.Time{}, now), now.Add(7*24*time.Hour); !got.Equal(want) {
		t.Fatalf("an item without a time expires at %s, want %s (from now)", got, want)
	}
	exp := r.ExpiresAt(msg, now)
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{exp.Add(-time.Second), false}, {exp, true}, {exp.Add(time.Hour), true}} {
		if got := Expired(exp, c.at); got != c.want {
			t.Errorf("Expired(%s, %s) = %v, want %v", exp, c.at, got, c.want)
		}
	}
	if Expired(time.Time{}, now.Add(100*365*24*time.Hour)) {
		t.Error("an item without an expiry expired")
	}
	day := 24 * time.Hour
	for _, c := range []struct{ a, b, want time.Duration }{{0, 0, 0}, {0, day, day}, {2 * day, 0, 2 * day}, {3 * day, day, day}, {day, 3 * day, day}} {
		if got := Shorter(c.a, c.b); got != c.want {
			t.Errorf("Shorter(%s, %s) = %s, want %s", c.a, c.b, got, c.want)
		}
	}
}
