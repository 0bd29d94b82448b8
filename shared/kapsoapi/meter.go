package kapsoapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// defaultRetryAfter is how long Kapso documents a rate-limited key must wait
// (its Retry-After is 60); used when a 429 comes without the header.
const defaultRetryAfter = 60 * time.Second

// ErrBudgetSpent is wrapped when a call was refused before sending because
// the meter in its context allows no more attempts. Nothing was sent.
var ErrBudgetSpent = errors.New("kapso call budget spent")

// MeterOptions: Budget is the most HTTP attempts allowed (0: unlimited);
// Interval the least time between the starts of two attempts (0: no pacing).
type MeterOptions struct {
	Budget   int
	Interval time.Duration
}

// MeterStats counts what a meter saw.
type MeterStats struct {
	Calls       int           // attempts sent
	RateLimited int           // 429 answers seen
	Waits       int           // times an attempt waited for a 429's Retry-After
	Waited      time.Duration // total time spent in those waits
	Paced       time.Duration // total time spent pacing
}

// Meter is shared by the calls of one run (one sweep, one job): it caps how
// many requests the run makes, spaces them, and makes every call wait out a
// 429 that any of them received, since Kapso's limit is per API key and not
// per call. It is safe for concurrent use.
type Meter struct {
	budget   int
	interval time.Duration

	mu          sync.Mutex
	reserved    int       // attempts sent or about to be
	nextStart   time.Time // earliest start of the next attempt (pacing)
	pausedUntil time.Time // set by a 429
	pauseErr    *APIError // the 429 that set pausedUntil
	stats       MeterStats
}

// NewMeter returns a meter with those limits.
func NewMeter(o MeterOptions) *Meter {
	return &Meter{budget: max(o.Budget, 0), interval: max(o.Interval, 0)}
}

type meterKey struct{}

// WithMeter returns a context whose Platform API calls are counted and paced by m.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

func meterFrom(ctx context.Context) *Meter {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	return m
}

// Stats returns the counts so far.
func (m *Meter) Stats() MeterStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Spent reports whether the budget is used up.
func (m *Meter) Spent() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spentLocked()
}

func (m *Meter) spentLocked() bool { return m.budget > 0 && m.reserved >= m.budget }

// acquire lets one attempt of the call op go, once any 429 pause is over and
// its paced start has come. It fails without waiting when the wait cannot fit
// ctx's deadline:
//   - budget used up: an error wrapping ErrBudgetSpent;
//   - a 429 pause ends after the deadline: that 429's *APIError (RetryAfter is
//     the time left), so the caller sees a rate limit, as it would have from Kapso;
//   - the paced start comes after the deadline, or ctx ends while waiting: an
//     error wrapping ErrUnavailable, like any call that ran out of time.
func (m *Meter) acquire(ctx context.Context, op string) error {
	deadline, hasDeadline := ctx.Deadline()
	m.mu.Lock()
	for {
		if m.spentLocked() {
			m.mu.Unlock()
			return fmt.Errorf("%w (%d calls)", ErrBudgetSpent, m.budget)
		}
		now := time.Now()
		if !m.pausedUntil.After(now) {
			break
		}
		until := m.pausedUntil
		if hasDeadline && deadline.Before(until) {
			e := *m.pauseErr
			m.mu.Unlock()
			e.Op, e.RetryAfter = op, until.Sub(now)
			return &e
		}
		m.stats.Waits++
		m.mu.Unlock()
		start := time.Now()
		ok := wait(ctx, until.Sub(now))
		m.mu.Lock()
		m.stats.Waited += time.Since(start)
		if !ok {
			m.mu.Unlock()
			return fmt.Errorf("%w: waiting out a rate limit: %w", ErrUnavailable, ctx.Err())
		}
		// Another 429 may have come meanwhile, or the budget been used: look again.
	}
	now := time.Now()
	start := now
	if m.interval > 0 {
		if m.nextStart.After(start) {
			start = m.nextStart
		}
		if hasDeadline && !deadline.After(start) {
			m.mu.Unlock()
			return fmt.Errorf("%w: no time left before the next paced call", ErrUnavailable)
		}
		m.nextStart = start.Add(m.interval)
	}
	m.reserved++
	m.mu.Unlock()
	ok := true
	d := start.Sub(now)
	if d > 0 {
		ok = wait(ctx, d)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Paced += max(d, 0)
	if !ok {
		// Not sent: give the attempt back to the budget.
		m.reserved--
		return fmt.Errorf("%w: waiting for the next paced call: %w", ErrUnavailable, ctx.Err())
	}
	m.stats.Calls++
	return nil
}

// rateLimited pauses every call under the meter until Kapso's Retry-After
// has passed.
func (m *Meter) rateLimited(e *APIError) {
	d := e.RetryAfter
	if d <= 0 {
		d = defaultRetryAfter
	}
	until := time.Now().Add(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.RateLimited++
	if until.After(m.pausedUntil) {
		m.pausedUntil, m.pauseErr = until, e
	}
}

// wait waits d or until ctx ends; it reports whether the full wait happened.
// Unlike sleep it does not give up early on a deadline: acquire has already
// checked that the wait fits.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
