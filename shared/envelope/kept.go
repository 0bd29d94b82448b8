package envelope

import (
	"context"
	"errors"
	"time"
)

// ErrBodyNotFound: a BodyRef names no stored body. A read may race the write
// that stores it, so callers retry rather than give up.
var ErrBodyNotFound = errors.New("payload not found")

// PayloadStore loads the bodies stored aside, too large for a queue message
// or holding characters SQS refuses (dynamo.Payloads).
type PayloadStore interface {
	Get(ctx context.Context, ref string) ([]byte, error)
}

// RejectStore keeps what is applied to no one, with the reason, where an
// operator sees it (dynamo.Rejects).
type RejectStore interface {
	Keep(ctx context.Context, id, reason string, receivedAt time.Time, raw []byte) error
}

// Rejected is what a worker kept of a queue message or an event it can
// never apply, with the reason, for an operator to see.
type Rejected struct {
	ID         string
	Reason     string
	ReceivedAt time.Time
	// Raw is what could not be applied, cut to the store's limit.
	Raw       []byte
	Truncated bool
}
