package eventing

import (
	"context"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

// Topic tells events to the SaaS's subscribers (the events topic, which
// its queues and the webhook sender's subscribe to): each at least once,
// always under its id, in no particular order.
type Topic interface {
	// Publish tells events and returns how many of them, from the first,
	// were told; when not all were, the error is about the first one not
	// told (perhaps some after it were). An event the topic can never take
	// (too large) is an error of code errs.TooLarge.
	Publish(ctx context.Context, events []bridgeevents.Event) (int, error)
}
