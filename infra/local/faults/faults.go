// Package faults injects failures into kapso-bridge's dependencies for
// chaos runs of the local stack: an AWS SDK middleware that fails DynamoDB
// and SQS requests (before sending them, or after, so the outcome is
// unknown to the caller), and an HTTP handler wrapper that makes Kapso's
// Platform API answer 5xx, 429 or time out. Both draw from a seeded
// generator at a fixed rate and count what they injected.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// Kinds of injected AWS faults.
const (
	// KindError fails the request before it is sent: nothing happened.
	KindError = "error"
	// KindTimeout sends the request, drops the answer and reports a timeout:
	// the call may or may not have taken effect.
	KindTimeout = "timeout"
)

// Injector decides, per AWS request, whether to fail it.
type Injector struct {
	rate float64

	mu     sync.Mutex
	rng    *rand.Rand
	counts map[string]int // "<operation> <kind>" → faults
	log    io.Writer
}

// New returns an injector failing a share rate (0 to 1) of requests, drawn
// from seed. log, when set, gets one line per fault, written at once, so a
// process killed mid-run leaves a complete record.
func New(rate float64, seed uint64, log io.Writer) *Injector {
	return &Injector{rate: rate, rng: rand.New(rand.NewPCG(seed, seed^0x5deece66d)), counts: map[string]int{}, log: log}
}

// Rate is the share of requests failed.
func (i *Injector) Rate() float64 { return i.rate }

// Error is an injected fault. The SDK's retryer treats it as retryable, and
// a KindTimeout one as a timeout, as it does a real network failure.
type Error struct {
	Operation string
	Kind      string
}

func (e *Error) Error() string {
	if e.Kind == KindTimeout {
		return fmt.Sprintf("injected fault: %s: request sent, answer lost: i/o timeout", e.Operation)
	}
	return fmt.Sprintf("injected fault: %s: connection refused before sending", e.Operation)
}

// RetryableError marks the fault retryable for the SDK's retryer.
func (e *Error) RetryableError() bool { return true }

// Timeout is true for a lost answer.
func (e *Error) Timeout() bool { return e.Kind == KindTimeout }

// draw picks the fault for one request: "" for none.
func (i *Injector) draw(op string) string {
	if i.rate <= 0 {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.rng.Float64() >= i.rate {
		return ""
	}
	kind := KindError
	if i.rng.IntN(2) == 0 {
		kind = KindTimeout
	}
	i.counts[op+" "+kind]++
	if i.log != nil {
		fmt.Fprintf(i.log, "%d aws %s %s\n", time.Now().UnixNano(), op, kind)
	}
	return kind
}

// Middleware adds the injector to an SDK client's stack, at the end of the
// finalize step: after the retryer, so each attempt draws on its own and
// the SDK retries a fault as it would a network failure.
func (i *Injector) Middleware(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("kapso-bridge/inject-faults",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			op := middleware.GetServiceID(ctx) + "." + middleware.GetOperationName(ctx)
			switch i.draw(op) {
			case KindError:
				return middleware.FinalizeOutput{}, middleware.Metadata{}, &Error{Operation: op, Kind: KindError}
			case KindTimeout:
				out, md, err := next.HandleFinalize(ctx, in)
				if err != nil {
					return out, md, err
				}
				return middleware.FinalizeOutput{}, md, &Error{Operation: op, Kind: KindTimeout}
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// Counts returns the faults injected so far by "<operation> <kind>".
func (i *Injector) Counts() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]int, len(i.counts))
	for k, v := range i.counts {
		out[k] = v
	}
	return out
}

// Total is the number of faults injected so far.
func (i *Injector) Total() int {
	n := 0
	for _, v := range i.Counts() {
		n += v
	}
	return n
}

// Handler answers the counts as JSON: {"rate", "total", "faults": {...}}.
func (i *Injector) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counts := i.Counts()
		total := 0
		keys := make([]string, 0, len(counts))
		for k, v := range counts {
			total += v
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"rate": i.rate, "total": total, "faults": counts})
	})
}
