package envelope

import (
	"errors"
	"time"
)

// ErrBodyNotFound: a BodyRef names no stored body. A read may race the write
// that stores it, so callers retry rather than give up.
var ErrBodyNotFound = errors.New("payload not found")

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
