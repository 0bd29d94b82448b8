package kapsosim

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Faults Kapso can show that the bridge must survive: rate limiting, lost
// or misdirected number webhooks, and a setup link made while its caller
// has given up waiting.

// apiLimits is the Platform API's rate limiting.
type apiLimits struct {
	calls       int       // every Platform API request received
	windowStart time.Time // the fixed minute being counted
	inWindow    int       // authenticated calls in that minute
	forced      int       // the next calls answered 429 whatever the window
	forcedAfter time.Duration
}

// defaultRetryAfter is what Kapso documents for its 429s.
const defaultRetryAfter = 60 * time.Second

// retryAfterSeconds rounds up, at least 1, so a client waiting it is past
// the window's end.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// admit counts an authenticated Platform API call against the rate limit,
// sets the rate limit headers, and answers 429 when the call is refused.
func (s *Simulator) admit(w http.ResponseWriter) bool {
	s.mu.Lock()
	limit := s.opts.RateLimitPerMinute
	l := &s.limits
	refused, retryAfter := false, time.Duration(0)
	if l.forced > 0 {
		l.forced--
		refused, retryAfter = true, l.forcedAfter
	}
	remaining := 0
	if limit > 0 {
		now := s.now()
		if start := now.Truncate(time.Minute); !start.Equal(l.windowStart) {
			l.windowStart, l.inWindow = start, 0
		}
		if !refused {
			if l.inWindow >= limit {
				refused, retryAfter = true, l.windowStart.Add(time.Minute).Sub(now)
			} else {
				l.inWindow++
			}
		}
		remaining = limit - l.inWindow
	}
	s.mu.Unlock()
	if limit > 0 {
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	}
	if refused {
		w.Header().Set("Retry-After", retryAfterSeconds(retryAfter))
		writeError(w, http.StatusTooManyRequests, "Rate limit exceeded")
	}
	return !refused
}

// RateLimitNext makes the next calls Platform API calls answer 429 with
// Retry-After retryAfter (60 s when not positive), whatever
// Options.RateLimitPerMinute says. calls 0 ends a pending run.
func (s *Simulator) RateLimitNext(calls int, retryAfter time.Duration) {
	if retryAfter <= 0 {
		retryAfter = defaultRetryAfter
	}
	s.mu.Lock()
	s.limits.forced, s.limits.forcedAfter = max(calls, 0), retryAfter
	s.mu.Unlock()
}

// PlatformCalls returns how many Platform API requests the simulator has
// received, refused ones included.
func (s *Simulator) PlatformCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits.calls
}

// SetNumberWebhookMode sets how the number's message and conversation
// webhooks are sent: ModeNormal, or ModeDrop to send none of them (Kapso
// lost them, so no failed delivery is recorded) while the messages and
// their statuses still change, as the list endpoints show. The number need
// not exist yet.
func (s *Simulator) SetNumberWebhookMode(phoneNumberID, mode string) error {
	if mode != ModeNormal && mode != ModeDrop {
		return fmt.Errorf("set webhook mode of %s: %w: mode must be normal or drop", phoneNumberID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if mode == ModeNormal {
		delete(s.numberModes, phoneNumberID)
	} else {
		s.numberModes[phoneNumberID] = mode
	}
	return nil
}

// SetWebhookState changes every webhook of the number: active (when not
// nil), as when Kapso auto-pauses a failing webhook, and url (when not ""),
// as when someone points it elsewhere. It returns how many webhooks changed.
func (s *Simulator) SetWebhookState(phoneNumberID string, active *bool, url string) (int, error) {
	if url != "" && !validRedirect(url) {
		return 0, fmt.Errorf("set webhook state of %s: %w: url must be an absolute http(s) URL", phoneNumberID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findNumber(phoneNumberID) == nil {
		return 0, fmt.Errorf("set webhook state of %s: %w", phoneNumberID, ErrNotFound)
	}
	n := 0
	for _, h := range s.webhooks {
		if h.PhoneNumberID != phoneNumberID {
			continue
		}
		if active != nil {
			h.Active = *active
		}
		if url != "" {
			h.URL = url
		}
		n++
	}
	return n, nil
}

// stall holds back the answers of setup link creations.
type stall struct {
	calls int
	wait  time.Duration
}

// StallLinkCreation makes the next calls setup link creations make the link
// as usual (listed, the customer's previous active link revoked), then wait
// d, or until the request or the simulator ends, before answering: the
// caller times out after Kapso made the link. calls 0 ends a pending run.
func (s *Simulator) StallLinkCreation(calls int, d time.Duration) {
	s.mu.Lock()
	s.stall = stall{calls: max(calls, 0), wait: max(d, 0)}
	s.mu.Unlock()
}

// takeStallLocked uses up one stalled creation and says how long it waits;
// callers hold s.mu.
func (s *Simulator) takeStallLocked() time.Duration {
	if s.stall.calls == 0 {
		return 0
	}
	s.stall.calls--
	return s.stall.wait
}

// hold waits d, or until ctx or the simulator ends.
func (s *Simulator) hold(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
}

// --- /_sim controls ---

func (s *Simulator) ctlRateLimit(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Calls             int     `json:"calls"`
		RetryAfterSeconds float64 `json:"retry_after_seconds"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Calls < 0 || body.RetryAfterSeconds < 0 {
		writeError(w, http.StatusUnprocessableEntity, "calls and retry_after_seconds must not be negative")
		return
	}
	after := time.Duration(body.RetryAfterSeconds * float64(time.Second))
	s.RateLimitNext(body.Calls, after)
	if after <= 0 {
		after = defaultRetryAfter
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": body.Calls, "retry_after_seconds": after.Seconds()})
}

func (s *Simulator) ctlNumberWebhookMode(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mode string `json:"mode"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if err := s.SetNumberWebhookMode(r.PathValue("phone_number_id"), body.Mode); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"phone_number_id": r.PathValue("phone_number_id"), "mode": body.Mode})
}

func (s *Simulator) ctlWebhookState(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Active *bool  `json:"active"`
		URL    string `json:"url"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Active == nil && body.URL == "" {
		writeError(w, http.StatusUnprocessableEntity, "give active, url or both")
		return
	}
	pnid := r.PathValue("phone_number_id")
	n, err := s.SetWebhookState(pnid, body.Active, body.URL)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"phone_number_id": pnid, "webhooks_changed": n,
		"webhooks": s.Webhooks(pnid)})
}

func (s *Simulator) ctlStall(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Calls   int     `json:"calls"`
		Seconds float64 `json:"seconds"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.Calls < 0 || body.Seconds < 0 {
		writeError(w, http.StatusUnprocessableEntity, "calls and seconds must not be negative")
		return
	}
	s.StallLinkCreation(body.Calls, time.Duration(body.Seconds*float64(time.Second)))
	writeJSON(w, http.StatusOK, map[string]any{"calls": body.Calls, "seconds": body.Seconds})
}
