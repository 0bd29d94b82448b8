package messaging

import (
	"errors"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// MaxClockSkew is how far ahead of its receipt an event's own time may be:
// clocks differ by seconds, not by more.
const MaxClockSkew = 5 * time.Minute

// ErrAhead marks an event dated more than MaxClockSkew after it was
// received. It is always wrapped in an *errs.Error with code Invalid; the
// event is suspicious rather than malformed: its signature holds.
var ErrAhead = errors.New("event dated after its receipt")

// notAhead refuses a time more than MaxClockSkew after receivedAt. Either
// time zero (none given) passes.
func notAhead(what string, at, receivedAt time.Time) error {
	if at.IsZero() || receivedAt.IsZero() || !at.After(receivedAt.Add(MaxClockSkew)) {
		return nil
	}
	return errs.E(errs.Invalid, fmt.Sprintf("%s dated %s, %s after the delivery was received at %s",
		what, at.UTC().Format(time.RFC3339), at.Sub(receivedAt).Round(time.Second), receivedAt.UTC().Format(time.RFC3339)), ErrAhead)
}

// The NotAhead methods refuse, with ErrAhead, an event any of whose times
// is more than MaxClockSkew after receivedAt, the time the delivery was
// received. A time from the future would pin a conversation to the top of
// its list and move a person's last sighting, and with it the customer
// service window, for as long as the clock takes to catch up.

// NotAhead checks the message's time.
func (m Message) NotAhead(receivedAt time.Time) error {
	return notAhead("message", m.Timestamp, receivedAt)
}

// NotAhead checks the message's, its statuses' and its conversation's times.
func (km KapsoMessage) NotAhead(receivedAt time.Time) error {
	if err := km.Message.NotAhead(receivedAt); err != nil {
		return err
	}
	for _, u := range km.Statuses {
		if err := u.NotAhead(receivedAt); err != nil {
			return err
		}
	}
	if c := km.Conversation; c != nil {
		return c.NotAhead(receivedAt)
	}
	return nil
}

// NotAhead checks the status's time.
func (u StatusUpdate) NotAhead(receivedAt time.Time) error {
	return notAhead("status "+string(u.Status), u.At, receivedAt)
}

// NotAhead checks the conversation's last activity.
func (c Conversation) NotAhead(receivedAt time.Time) error {
	return notAhead("conversation last_active_at", c.LastActiveAt, receivedAt)
}

// NotAhead checks the time of the change.
func (c IdentityChange) NotAhead(receivedAt time.Time) error {
	return notAhead("identity change", c.At, receivedAt)
}

// NotAhead checks the time of the change.
func (c MarketingChange) NotAhead(receivedAt time.Time) error {
	return notAhead("marketing preference occurred_at", c.Preference.OccurredAt, receivedAt)
}
