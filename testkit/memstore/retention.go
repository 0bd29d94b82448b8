package memstore

import (
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// The expiries of dynamo.Messages under its Retention: a message's is set
// by a copy with the message's time and only filled by any other write, a
// conversation's moves with each newer activity, a contact's is its last
// sighting plus the retention, a send's its creation plus it. Reads leave
// out what has expired, at the store's clock.

func (s *Messages) now() time.Time { return now(s.Now) }

// expiry is when an item whose time is at expires; zero when none.
func (s *Messages) expiry(at time.Time) time.Time { return s.Retention.ExpiresAt(at, s.now()) }

// expireTo sets *exp from at when move, else fills it.
func (s *Messages) expireTo(exp *time.Time, move bool, at time.Time) {
	if s.Retention.Set() && (move || exp.IsZero()) {
		*exp = s.expiry(at)
	}
}

func (s *Messages) expired(exp time.Time) bool { return messaging.Expired(exp, s.now()) }

// outboundExpired: a send expires at its creation plus the retention.
func (s *Messages) outboundExpired(o *messaging.OutboundMessage) bool {
	return s.Retention.Set() && s.expired(s.expiry(o.CreatedAt))
}

// contactExpired: a contact expires at its last sighting plus the
// retention.
func (s *Messages) contactExpired(c messaging.Contact) bool {
	return s.Retention.Set() && !c.LastSeenAt.IsZero() && s.expired(s.expiry(c.LastSeenAt))
}
