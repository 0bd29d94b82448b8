package idempotency

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	live := func(s Status, hash string) *Record {
		return &Record{Status: s, BodyHash: hash, LeaseUntil: now.Add(5 * time.Second), ExpiresAt: now.Add(time.Hour)}
	}
	leasePassed := live(InProgress, "h")
	leasePassed.LeaseUntil = now.Add(-time.Second)
	expired := live(Accepted, "other")
	expired.ExpiresAt = now.Add(-time.Second)

	cases := []struct {
		name     string
		existing *Record
		hash     string
		want     Outcome
	}{
		{"new key", nil, "h", Claimed},
		{"accepted, same body", live(Accepted, "h"), "h", Done},
		{"accepted, other body", live(Accepted, "h"), "x", BodyMismatch},
		{"in flight, same body", live(InProgress, "h"), "h", InFlight},
		{"in flight, other body", live(InProgress, "h"), "x", BodyMismatch},
		{"lease passed: first copy crashed", leasePassed, "h", Claimed},
		{"lease passed but other body", leasePassed, "x", BodyMismatch},
		{"record past its retention (ttl lag)", expired, "h", Claimed},
	}
	for _, c := range cases {
		if got := Decide(c.existing, c.hash, now); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
