package kapsoapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is an answer from Kapso other than 2xx.
type APIError struct {
	Status  int
	Message string // Kapso's "error" text, or the HTTP status text
	// RetryAfter is Kapso's Retry-After on a 429 (0 when absent).
	RetryAfter time.Duration
	Op         string // the call that failed, e.g. "create setup link"
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("kapso answered %d: %s", e.Status, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

func hasStatus(err error, statuses ...int) bool {
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	for _, s := range statuses {
		if e.Status == s {
			return true
		}
	}
	return false
}

// IsNotFound: Kapso answered 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict: Kapso answered 409 (a limit, or a duplicate).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsValidation: Kapso answered 422, the request was refused as invalid.
func IsValidation(err error) bool { return hasStatus(err, http.StatusUnprocessableEntity) }

// IsUnauthorized: Kapso answered 401 or 403, the API key is wrong or lacks access.
func IsUnauthorized(err error) bool {
	return hasStatus(err, http.StatusUnauthorized, http.StatusForbidden)
}

// IsPaymentRequired: Kapso answered 402, the plan does not allow the call.
func IsPaymentRequired(err error) bool { return hasStatus(err, http.StatusPaymentRequired) }

// IsRateLimited: Kapso answered 429; see APIError.RetryAfter.
func IsRateLimited(err error) bool { return hasStatus(err, http.StatusTooManyRequests) }

func newAPIError(op string, status int, h http.Header, body []byte) *APIError {
	e := &APIError{Status: status, Op: op, Message: errorMessage(body)}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if status == http.StatusTooManyRequests {
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), time.Now())
	}
	return e
}

// errorMessage reads Kapso's {"error":"..."}; it also accepts
// {"error":{"message":...}} and {"errors":[...]} since the body is not ours.
func errorMessage(body []byte) string {
	var v struct {
		Error  json.RawMessage   `json:"error"`
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	parts := []string{text(v.Error)}
	for _, e := range v.Errors {
		parts = append(parts, text(e))
	}
	msg := strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
	msg = strings.Trim(msg, "; ")
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	return msg
}

func text(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Message != "" {
		return o.Message
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		if n > math.MaxInt64/int(time.Second) {
			// More seconds than a Duration holds: the longest wait, not a
			// product that wraps to a short or negative one.
			return math.MaxInt64
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
