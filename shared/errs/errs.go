// Package errs is kapso-bridge's one error type. Code says what kind of failure
// it is; httpapi maps codes to HTTP status in one place. Message is safe to show
// a caller; the wrapped error is for logs only.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies a failure.
type Code string

const (
	Invalid       Code = "invalid"       // 400: the input is malformed
	Unauthorized  Code = "unauthorized"  // 401: missing or wrong credentials/signature
	NotFound      Code = "not_found"     // 404
	Conflict      Code = "conflict"      // 409: e.g. same key, different body
	InFlight      Code = "in_flight"     // 409 + Retry-After: another copy is being processed
	TooLarge      Code = "too_large"     // 413
	Unprocessable Code = "unprocessable" // 422: a valid request the upstream refused
	Unavailable   Code = "unavailable"   // 503: a dependency failed; retry
	BadGateway    Code = "bad_gateway"   // 502: the upstream (Kapso) failed
	Internal      Code = "internal"      // 500

	// Codes of a call to a dependency, which its caller acts on and a handler
	// answers in its own terms.
	RateLimited    Code = "rate_limited"    // the dependency asks to slow down; see RetryAfter
	OutcomeUnknown Code = "outcome_unknown" // the call may have acted: re-read before repeating it
	BudgetSpent    Code = "budget_spent"    // not made: the caller's allowance of calls is used up
)

// Error is a classified failure.
type Error struct {
	Code    Code
	Message string // safe for callers
	// RetryAfter, when set, is sent back as the Retry-After header.
	RetryAfter time.Duration
	Err        error // the cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error.
func E(code Code, message string, cause error) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err's code (CodeOf) is code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// FieldError is a request field that failed validation. Field is the JSON
// name or path ("text.body", "theme_config.primary_color"), empty when the
// body as a whole is at fault; Message is safe to show the caller.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Field is the FieldError of field.
func Field(field, message string) *FieldError { return &FieldError{Field: field, Message: message} }
