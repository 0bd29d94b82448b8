// Package delivery is what every queue worker does with a delivery before
// and beside its own work: open it from its queue message, loading a body
// stored aside, and keep aside, with its reason, whatever can never be
// applied, where an operator sees it. Only a failure to keep something
// aside fails its message: then SQS delivers it again, and the DLQ holds it
// in the end.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

// Kind is why something was kept aside, the first word of a labelled
// reason.
type Kind string

const (
	// Unusable: it can never be applied, however often it is retried
	// (unreadable, beyond a bound, refused for good).
	Unusable Kind = "unusable"
	// Suspicious: it claims what its delivery does not vouch for.
	Suspicious Kind = "suspicious"
	// Unhandled: kapso-bridge has no use for it yet.
	Unhandled Kind = "unhandled"
)

// Intake opens a queue's deliveries for its worker and keeps aside what
// the worker can never apply.
type Intake struct {
	Payloads envelope.PayloadStore
	Rejects  envelope.RejectStore
	Log      *slog.Logger
	// Level is the level of the line logged for each thing kept aside.
	Level slog.Level
	// Labelled starts every reason with its kind ("unusable: …"), the word
	// an operator sorts the day's rejects by; unlabelled, a reason is its
	// text alone.
	Labelled bool
}

// Open decodes a queue message into its delivery and body, loading the
// body when it was stored aside. A message in no known format can never be
// processed: it is kept aside as unusable and ok is false, with an error
// only if keeping it failed. ok is false with an error too when the body
// cannot be loaded: it may be a read that raced its write, so the message
// is retried.
func (in Intake) Open(ctx context.Context, msg events.SQSMessage) (d envelope.Delivery, body []byte, ok bool, err error) {
	d, body, err = envelope.Decode(msg.Body)
	if err != nil {
		return envelope.Delivery{}, nil, false, in.KeepAside(ctx, "message#"+msg.MessageId, Unusable, err.Error(),
			envelope.SentAt(msg.Attributes), []byte(msg.Body))
	}
	if d.BodyRef == "" {
		return d, body, true, nil
	}
	if in.Payloads == nil {
		return d, nil, false, fmt.Errorf("delivery %s is stored aside but this worker has no payload store", d.Key)
	}
	if body, err = in.Payloads.Get(ctx, d.BodyRef); err != nil {
		return d, nil, false, fmt.Errorf("load body %s of delivery %s: %w", d.BodyRef, d.Key, err)
	}
	return d, body, true, nil
}

// KeepAside keeps raw, received at receivedAt, under id in the reject
// store with its reason, and logs it. The reason is cut to MaxReasonBytes.
func (in Intake) KeepAside(ctx context.Context, id string, kind Kind, reason string, receivedAt time.Time, raw []byte) error {
	if in.Labelled {
		reason = string(kind) + ": " + reason
	}
	reason = clip(reason, MaxReasonBytes)
	in.logger().Log(ctx, in.Level, "event kept aside", "id", id, "reason", reason)
	if in.Rejects == nil {
		return fmt.Errorf("%s is kept aside (%s) but this worker has no reject store", id, reason)
	}
	if err := in.Rejects.Keep(ctx, id, reason, receivedAt, raw); err != nil {
		return fmt.Errorf("keep %s aside: %w", id, err)
	}
	return nil
}

// MaxReasonBytes bounds a reason kept aside: it may quote what the event
// says, and the event is kept whole next to it.
const MaxReasonBytes = 1024

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (in Intake) logger() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.Default()
}
