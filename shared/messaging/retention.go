package messaging

import (
	"context"
	"time"
)

// Retention is how long a tenant's messages, conversations and contacts
// are kept (MESSAGE_RETENTION_DAYS): a message until its own time plus
// Days, a conversation or contact until its last activity plus Days. The
// zero Retention keeps everything.
type Retention struct {
	Days int
}

// Set reports whether anything expires.
func (r Retention) Set() bool { return r.Days > 0 }

// Duration is the retention as a duration; 0 when unset.
func (r Retention) Duration() time.Duration { return time.Duration(r.Days) * 24 * time.Hour }

// ExpiresAt is when an item whose time is at expires, at whole seconds
// (the unit of DynamoDB's TTL attribute); an item without a time of its
// own (at zero) counts from now. It is the zero time when r is unset.
func (r Retention) ExpiresAt(at, now time.Time) time.Time {
	if !r.Set() {
		return time.Time{}
	}
	if at.IsZero() {
		at = now
	}
	return at.Add(r.Duration()).Truncate(time.Second).UTC()
}

// Expired reports whether an item that expires at expiresAt is past it at
// now. An item without an expiry never is. Readers check it themselves:
// DynamoDB deletes an expired item only some time after its expiry.
func Expired(expiresAt, now time.Time) bool {
	return !expiresAt.IsZero() && !now.Before(expiresAt)
}

// Shorter is the shorter of two retentions, in days or as durations,
// where 0 is none (kept): what the events, whose feed has its own
// retention, and the media, whose bucket may have its own, keep when
// messages expire sooner.
func Shorter[T ~int | ~int64](a, b T) T {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// RetentionBackfill gives the items stored before a retention was set, or
// under another one, the expiry of the current one: a scan in pages, each
// resumable from where the one before stopped.
type RetentionBackfill interface {
	// ApplyRetention reads about limit items from position ("" is the
	// start) and gives each item of a message, send, conversation,
	// contact or pending event whose expiry r did not compute the one r
	// gives, conditional on the item being as read (present, unexpired,
	// no newer activity, no other write of r's expiry meanwhile).
	ApplyRetention(ctx context.Context, r Retention, position string, limit int) (RetentionPass, error)
}

// RetentionPass is what one ApplyRetention did.
type RetentionPass struct {
	// Scanned items read, Stale those whose expiry was missing or of
	// another retention, Updated those given r's (a Stale one changed
	// meanwhile is left to its newer write).
	Scanned, Stale, Updated int
	// Next is the position the next pass starts from; "" when the scan
	// reached the end of the items.
	Next string
}
