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

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// classify gives a failed call its errs code: the one place Kapso's
// failures become kapso-bridge's, so that callers branch on errs codes and
// never on Kapso's statuses. The error it returns wraps err, which keeps
// the detail (*APIError, *MetaError, ErrUnavailable…) for logs and tests.
//   - A bad argument (argumentError) is the caller's mistake and was never
//     sent: it is left unclassified.
//   - A send that may have reached Kapso (ErrSendUnknown): OutcomeUnknown.
//   - A send Kapso or Meta refused (*MetaError): Unprocessable when sending
//     it again can never succeed (MetaError.Permanent), RateLimited on a
//     429, else Unavailable; a messaging.SendRefusal carries Meta's reason.
//   - Any other Meta proxy call Kapso or Meta refused (a template, a
//     WABA's template list: metaRefusal): Unprocessable, with Meta's words
//     for the person who made the request; its codes stay in the error.
//   - A call the meter in its context refused (ErrBudgetSpent): BudgetSpent.
//   - Any other answer than 2xx (*APIError): by its status (statusCode).
//   - Kapso not reached, or failing after the retries the call allows, or
//     the call's time run out (ErrUnavailable): Unavailable.
//   - Anything else is an answer kapso-bridge cannot use (malformed,
//     oversized, about another record): BadGateway.
func classify(err error) error {
	var arg argumentError
	var me *MetaError
	var api *APIError
	var refusal *metaRefusal
	switch {
	case errors.As(err, &arg):
		return err
	case errors.Is(err, ErrSendUnknown):
		return errs.E(errs.OutcomeUnknown, "the message may have been sent", err)
	case errors.As(err, &refusal):
		return &errs.Error{Code: errs.Unprocessable, Message: refusal.message(), Err: err}
	case errors.As(err, &me):
		code := errs.Unavailable
		switch {
		case me.Permanent():
			code = errs.Unprocessable
		case me.Status == http.StatusTooManyRequests:
			code = errs.RateLimited
		}
		return &errs.Error{Code: code, Message: "Kapso or Meta refused the message", RetryAfter: me.RetryAfter,
			Err: &messaging.SendRefusal{Reason: me.reason(), Err: err}}
	case errors.Is(err, ErrBudgetSpent):
		return errs.E(errs.BudgetSpent, "the run's Kapso calls are used up", err)
	case errors.As(err, &api):
		code := statusCode(api.Status)
		msg := codeMessages[code]
		if code == errs.Unprocessable && api.Message != "" {
			// Kapso's validation text says what to change, in terms the
			// caller knows (its own request's fields).
			msg = api.Message
		}
		return &errs.Error{Code: code, Message: msg, RetryAfter: api.RetryAfter, Err: err}
	case errors.Is(err, ErrUnavailable):
		return errs.E(errs.Unavailable, codeMessages[errs.Unavailable], err)
	}
	return errs.E(errs.BadGateway, codeMessages[errs.BadGateway], err)
}

// statusCode is the errs code of an answer's HTTP status.
func statusCode(status int) errs.Code {
	switch status {
	case http.StatusBadRequest:
		return errs.Invalid
	case http.StatusUnauthorized, http.StatusPaymentRequired, http.StatusForbidden:
		// The API key is wrong, lacks access, or its plan does not allow the call.
		return errs.Unauthorized
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusConflict:
		return errs.Conflict // a limit, or a duplicate
	case http.StatusUnprocessableEntity:
		return errs.Unprocessable
	case http.StatusTooManyRequests:
		return errs.RateLimited // RetryAfter says for how long
	}
	return errs.Unavailable
}

var codeMessages = map[errs.Code]string{
	errs.Invalid:       "Kapso refused the request as malformed",
	errs.Unauthorized:  "Kapso refused the request",
	errs.NotFound:      "Kapso has no such record",
	errs.Conflict:      "Kapso refused the request as a conflict",
	errs.Unprocessable: "Kapso refused the request",
	errs.RateLimited:   "Kapso is rate limiting; retry later",
	errs.Unavailable:   "Kapso is unavailable; retry",
	errs.BadGateway:    "Kapso answered with something kapso-bridge cannot use",
}

// failed is how a Platform API call's error leaves the package: what the
// call was doing, then the failure classified.
func failed(doing string, err error) error {
	return fmt.Errorf("%s: %w", doing, classify(err))
}

// argumentError is a call refused before it was made: the caller's mistake.
type argumentError string

func (e argumentError) Error() string { return string(e) }

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
