package memstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Visibility is the in-memory twin of sqsqueue.Visibility: it records
// each hold a worker asks of its queue, for a test to read.
type Visibility struct {
	mu   sync.Mutex
	held []time.Duration
	err  error
}

// Hold records d; it fails without a receipt handle, as SQS does, or with
// the error Fail set.
func (v *Visibility) Hold(_ context.Context, receiptHandle string, d time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if receiptHandle == "" {
		return errors.New("hold message back: no receipt handle")
	}
	v.held = append(v.held, d)
	return v.err
}

// Fail makes every later Hold answer err (nil: succeed again).
func (v *Visibility) Fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.err = err
}

// Held is every hold recorded so far, in order.
func (v *Visibility) Held() []time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.held)
}

// Take is Held, forgetting what it answers.
func (v *Visibility) Take() []time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.held
	v.held = nil
	return out
}
