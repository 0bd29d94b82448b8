// Package sender is the worker behind the outbound queue: it sends each
// message a tenant asked to send through Kapso's Meta proxy, exactly once.
// A send is claimed with a conditional write before the call and its WAMID
// recorded after, so a queue message delivered twice, or two copies at once,
// never make a second call; a call whose outcome is unknown is left to the
// reconciler, never repeated.
package outboundworker

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdasqs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Kapso is the Meta proxy (kapsoapi.MetaProxy). A failed send's errs code
// says what became of the message (see package messaging): unknown, refused
// for good, or not sent.
type Kapso interface {
	Send(ctx context.Context, phoneNumberID string, message []byte) (messaging.SendResult, error)
}

// Outbox is what the sender needs of the outbox (messaging.Outbox): a
// message read, and its moves.
type Outbox interface {
	Outbound(ctx context.Context, tenantID, id string) (messaging.OutboundMessage, bool, error)
	MoveOutbound(ctx context.Context, tenantID, id string, t messaging.Transition) (messaging.OutboundMessage, error)
}

// Erasures tells whether a send's recipient was erased after it was
// asked for (erasure.Check).
type Erasures interface {
	Erased(ctx context.Context, tenantID, phoneNumberID string, at time.Time, people ...messaging.Person) (bool, error)
}

// Worker handles outbound queue batches.
type Worker struct {
	Outbox Outbox
	Queue  messaging.OutboundQueue
	Kapso  Kapso
	Pacer  messaging.SendPacer
	// Erasures keeps a send to a person erased since it was asked for
	// from going; none is checked when nil.
	Erasures Erasures
	Log      *slog.Logger
	Now      func() time.Time
	// MaxAttempts bounds the claims of one message, each at most one
	// accepted call (default 8); then it fails as retries_exhausted.
	MaxAttempts int
	// ClaimTimeout is how long a claim can be in flight: the function's
	// timeout (messaging.DefaultClaimTimeout when zero). A claim older than
	// that belongs to a sender that died, and its outcome is unknown.
	ClaimTimeout time.Duration
	// CallTimeout bounds one Kapso call (default 10 s).
	CallTimeout time.Duration
}

// Defaults of the worker.
const (
	DefaultMaxAttempts = 8
	DefaultCallTimeout = 10 * time.Second
	// maxBackoff caps the wait between two refused attempts.
	maxBackoff = 5 * time.Minute
	// recordTries is how often the WAMID's write is tried before the
	// message is left for the reconciler, which finds it in Kapso's list.
	recordTries = 4
)

// Handle sends a batch's messages concurrently, so that one number's pacing
// never holds up another's, and reports the queue messages to deliver again.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	return lambdasqs.Concurrently(ctx, batch, w.handle, func(msg events.SQSMessage, err error) {
		w.log().Error("outbound queue message failed", "message_id", msg.MessageId, "err", err.Error())
	}), nil
}

// handle takes one job. An error returns the queue message to the queue;
// everything that can be decided is decided and the message acknowledged.
func (w *Worker) handle(ctx context.Context, msg events.SQSMessage) error {
	job, err := messaging.ParseOutboundJob([]byte(msg.Body))
	if err != nil {
		// Not something the API writes: leave it to the DLQ and a human.
		return err
	}
	log := w.log().With("tenant_id", job.TenantID, "outbound_id", job.ID)
	m, ok, err := w.Outbox.Outbound(ctx, job.TenantID, job.ID)
	if err != nil {
		return fmt.Errorf("load outbound %s: %w", job.ID, err)
	}
	if !ok {
		// Erased with its person, or never stored: nothing to send.
		log.Warn("outbound job names no stored message; dropped")
		return nil
	}
	switch m.State {
	case messaging.OutQueued:
		if w.Erasures != nil {
			erased, err := w.Erasures.Erased(ctx, m.TenantID, m.PhoneNumberID, m.CreatedAt, m.To)
			if err != nil {
				return fmt.Errorf("check outbound %s against erasures: %w", job.ID, err)
			}
			if erased {
				// Never sent: the erasure's job deletes the message, and
				// the reconciler's requeue until then is dropped here.
				log.Warn("send to a person erased since it was asked for; dropped")
				return nil
			}
		}
		return w.send(ctx, job, m, log)
	case messaging.OutSending:
		return w.staleClaim(ctx, job, m, log)
	default:
		// Accepted, failed, or unknown (the reconciler's): a copy of a job
		// already done.
		log.Debug("outbound job already handled", "state", m.State)
		return nil
	}
}

// send paces, claims, calls Kapso once and records what it answered.
func (w *Worker) send(ctx context.Context, job messaging.OutboundJob, m messaging.OutboundMessage, log *slog.Logger) error {
	wait, err := w.Pacer.Reserve(ctx, m.PhoneNumberID, w.now())
	if errors.Is(err, messaging.ErrSlotsTaken) {
		// Do not sleep in the function: come back when slots are free.
		return w.later(ctx, job, time.Second+rand.N(time.Second))
	}
	if err != nil {
		return fmt.Errorf("pace %s: %w", m.PhoneNumberID, err)
	}
	if wait > 0 && !sleep(ctx, wait) {
		return ctx.Err()
	}
	token := claimToken()
	claimed, err := w.Outbox.MoveOutbound(ctx, job.TenantID, job.ID, messaging.Transition{
		From: []messaging.OutboundState{messaging.OutQueued}, To: messaging.OutSending, At: w.now(), Claim: token})
	if errors.Is(err, messaging.ErrOutboundState) && (claimed.State != messaging.OutSending || claimed.Claim != token) {
		log.Debug("another sender claimed the message", "state", claimed.State)
		return nil
	}
	if errors.Is(err, messaging.ErrOutboundNotFound) {
		log.Warn("outbound message erased before its claim; dropped")
		return nil
	}
	// The claim is ours even when its first answer was lost and the SDK's
	// retry found the message claimed: the token says so.
	if err != nil && !errors.Is(err, messaging.ErrOutboundState) {
		return fmt.Errorf("claim outbound %s: %w", job.ID, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, w.callTimeout())
	res, err := w.Kapso.Send(callCtx, m.PhoneNumberID, m.Body)
	cancel()
	if err == nil {
		return w.accepted(ctx, job, claimed, res.WAMID, log)
	}
	return w.refused(ctx, job, claimed, err, log)
}

// accepted records the WAMID Kapso answered. The write is retried: until
// it lands the WAMID is only in memory, and if it never does the claim goes
// stale and the reconciler adopts the message from Kapso's list.
func (w *Worker) accepted(ctx context.Context, job messaging.OutboundJob, m messaging.OutboundMessage, wamid string, log *slog.Logger) error {
	t := messaging.Transition{From: []messaging.OutboundState{messaging.OutSending, messaging.OutUnknown},
		To: messaging.OutAccepted, WAMID: wamid, Content: &m}
	var err error
	for try := range recordTries {
		t.At = w.now()
		var stored messaging.OutboundMessage
		stored, err = w.Outbox.MoveOutbound(ctx, job.TenantID, job.ID, t)
		switch {
		case err == nil, errors.Is(err, messaging.ErrOutboundState) && stored.State == messaging.OutAccepted && stored.WAMID == wamid:
			// The second: an earlier try's write landed and its answer was lost.
			log.Info("message sent", "wamid", wamid, "attempts", stored.Attempts)
			return nil
		case errors.Is(err, messaging.ErrOutboundState), errors.Is(err, messaging.ErrWAMIDTaken):
			// Resolved meanwhile (the reconciler adopted or failed it), or
			// Kapso named a WAMID another send holds: nothing to send again.
			log.Error("sent message could not be recorded as accepted", "wamid", wamid, "state", stored.State, "err", err.Error())
			return nil
		case errors.Is(err, messaging.ErrOutboundNotFound):
			// Erased during the call: the accept writes nothing (its
			// transaction is conditional on the outbound item), and
			// nothing is recorded of the person again.
			log.Warn("sent message erased during its call; not recorded", "wamid", wamid)
			return nil
		}
		if !sleep(ctx, time.Duration(100<<try)*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("record WAMID %s of outbound %s: %w", wamid, job.ID, err)
}

// refused decides what a failed call means: unknown (never repeated),
// rejected for good, or refused for now (queued again, later).
func (w *Worker) refused(ctx context.Context, job messaging.OutboundJob, m messaging.OutboundMessage, callErr error, log *slog.Logger) error {
	from := []messaging.OutboundState{messaging.OutSending}
	var refusal *messaging.SendRefusal
	refused := errors.As(callErr, &refusal)
	switch {
	case errs.Is(callErr, errs.OutcomeUnknown):
		log.Warn("send outcome unknown; the reconciler resolves it", "err", callErr.Error())
		return w.move(ctx, job, messaging.Transition{From: from, To: messaging.OutUnknown})
	case refused && errs.Is(callErr, errs.Unprocessable):
		log.Warn("send rejected", "code", refusal.Reason.Code, "title", refusal.Reason.Title, "err", callErr.Error())
		return w.move(ctx, job, messaging.Transition{From: from, To: messaging.OutFailed,
			Reason: messaging.ReasonRejected, Error: reasonOf(refusal)})
	}
	// Refused for now (429, 5xx, a transient Meta code) or never sent
	// (no connection): nothing reached Meta, so the message may go again.
	delay := backoff(m.Attempts)
	if e, ok := errs.As(callErr); ok && e.RetryAfter > delay {
		delay = e.RetryAfter
	}
	if m.Attempts >= w.maxAttempts() {
		log.Error("send refused too often; failed", "attempts", m.Attempts, "err", callErr.Error())
		t := messaging.Transition{From: from, To: messaging.OutFailed, Reason: messaging.ReasonRetriesExhausted}
		if refused {
			t.Error = reasonOf(refusal)
		}
		return w.move(ctx, job, t)
	}
	log.Warn("send refused for now; retrying", "attempts", m.Attempts, "delay", delay.String(), "err", callErr.Error())
	if err := w.move(ctx, job, messaging.Transition{From: from, To: messaging.OutQueued}); err != nil {
		return err
	}
	return w.later(ctx, job, delay)
}

// staleClaim handles a job whose message is claimed: a copy of the job
// while the claim's call is in flight, or the redelivery after a sender
// died mid-call, whose outcome is unknown.
func (w *Worker) staleClaim(ctx context.Context, job messaging.OutboundJob, m messaging.OutboundMessage, log *slog.Logger) error {
	if age := w.now().Sub(m.UpdatedAt); age < w.claimTimeout() {
		return w.later(ctx, job, w.claimTimeout()-age+time.Second)
	}
	log.Warn("claim outlived its sender; send outcome unknown", "claimed_at", m.UpdatedAt)
	return w.move(ctx, job, messaging.Transition{From: []messaging.OutboundState{messaging.OutSending}, To: messaging.OutUnknown})
}

// move applies t now; a state changed meanwhile means another copy decided.
func (w *Worker) move(ctx context.Context, job messaging.OutboundJob, t messaging.Transition) error {
	t.At = w.now()
	_, err := w.Outbox.MoveOutbound(ctx, job.TenantID, job.ID, t)
	if err != nil && !errors.Is(err, messaging.ErrOutboundState) {
		return fmt.Errorf("move outbound %s to %s: %w", job.ID, t.To, err)
	}
	return nil
}

// later puts the job back on the queue after delay. If that fails, the
// queue message is returned instead: it comes back after its visibility
// timeout.
func (w *Worker) later(ctx context.Context, job messaging.OutboundJob, delay time.Duration) error {
	if err := w.Queue.Enqueue(ctx, job, delay); err != nil {
		return fmt.Errorf("requeue outbound %s: %w", job.ID, err)
	}
	return nil
}

// claimToken is a random token that names one claim.
func claimToken() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reasonOf is a refusal's reason, as the failed message records it.
func reasonOf(r *messaging.SendRefusal) *messaging.StatusError {
	reason := r.Reason
	return &reason
}

// backoff is the wait before attempt n+1: 2^n seconds with jitter, capped.
func backoff(attempts int) time.Duration {
	d := maxBackoff
	if attempts < 9 {
		d = min(time.Duration(1<<attempts)*time.Second, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}

func (w *Worker) maxAttempts() int {
	if w.MaxAttempts > 0 {
		return w.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (w *Worker) claimTimeout() time.Duration {
	if w.ClaimTimeout > 0 {
		return w.ClaimTimeout
	}
	return messaging.DefaultClaimTimeout
}

func (w *Worker) callTimeout() time.Duration {
	if w.CallTimeout > 0 {
		return w.CallTimeout
	}
	return DefaultCallTimeout
}
