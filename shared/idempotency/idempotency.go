// Package idempotency is the delivery claim protocol of the ingest: a
// delivery's key is claimed with a lease before it is enqueued, and
// marked accepted after. It decides what a second copy of a delivery gets; the
// stores are dynamo.Claims (a DynamoDB conditional write) and its in-memory
// twin memstore.Claims.
//
// The rules:
//   - a key never seen, or whose claim's lease has passed without acceptance
//     (the first copy crashed), is claimed by this copy;
//   - a key already accepted answers "done": 200 without enqueueing again;
//   - a key claimed by a copy still within its lease answers "in flight": the
//     caller must not say 200 before the first copy is durable;
//   - a key seen with a different body is a conflict, never enqueued.
package idempotency

import (
	"context"
	"errors"
	"time"
)

// Status of a stored claim.
type Status string

const (
	InProgress Status = "in_progress"
	Accepted   Status = "accepted"
)

// Record is what is stored under a key.
type Record struct {
	Key      string
	Status   Status
	BodyHash string
	// Token identifies the claimer, so only it can accept or release.
	Token      string
	LeaseUntil time.Time
	// ExpiresAt is when the record stops counting; checked on read because
	// DynamoDB's TTL deletion can lag by days.
	ExpiresAt time.Time
}

// Outcome of a claim attempt.
type Outcome int

const (
	// Claimed: this copy owns the key and must enqueue, then Accept or Release.
	Claimed Outcome = iota
	// Done: an earlier copy was accepted; answer 200, enqueue nothing.
	Done
	// InFlight: another copy holds a live lease; answer non-200 with Retry-After.
	InFlight
	// BodyMismatch: the key was seen with another body; refuse and log.
	BodyMismatch
)

func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Done:
		return "done"
	case InFlight:
		return "in_flight"
	case BodyMismatch:
		return "body_mismatch"
	}
	return "unknown"
}

// Decide says what a new copy gets, given the record already stored under its
// key (nil when none). It is the single place the rules above live; the store
// uses it both to build its condition and to explain a failed one.
func Decide(existing *Record, bodyHash string, now time.Time) Outcome {
	if existing == nil || !now.Before(existing.ExpiresAt) {
		return Claimed
	}
	if existing.BodyHash != bodyHash {
		return BodyMismatch
	}
	if existing.Status == Accepted {
		return Done
	}
	if now.Before(existing.LeaseUntil) {
		return InFlight
	}
	return Claimed
}

// Claim is a successful claim, needed to accept or release it.
type Claim struct {
	Key   string
	Token string
}

// Result of Store.Claim.
type Result struct {
	Outcome Outcome
	Claim   Claim
	// Existing is the record that made the outcome something other than
	// Claimed (its lease tells the caller how long to wait).
	Existing *Record
}

// Store keeps claims.
type Store interface {
	// Claim tries to take key for a body with bodyHash, with a lease.
	Claim(ctx context.Context, key, bodyHash string, lease time.Duration) (Result, error)
	// Accept marks the claim done; the record is kept for retention.
	Accept(ctx context.Context, c Claim) error
	// Release drops the claim so a retry can go through at once.
	Release(ctx context.Context, c Claim) error
}

// ErrLostClaim is returned by Accept or Release when the claim is no longer
// this claimer's: its lease passed and another copy took the key over.
var ErrLostClaim = errors.New("claim no longer held")
