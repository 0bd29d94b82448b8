// Package httpapi is what kapso-bridge's HTTP handlers share: WriteError, the
// one place errors become HTTP status codes, and the JSON answer. The handlers
// are plain net/http, served as they are locally and wrapped for API Gateway
// in each Lambda's main, one package per function (webhook, tenantapi,
// redirect) so that each function links only its own handler's dependencies.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// InvalidCursor is a 400 of its own code, so that a caller can tell a
// stale or foreign list cursor (start the list again) from a malformed
// request (fix it).
const InvalidCursor errs.Code = "invalid_cursor"

// OutsideCustomerServiceWindow is a 422 of its own code: a free-form
// message to a person whose last inbound message is more than 24 hours old
// (or who never wrote). The caller can send a template instead.
const OutsideCustomerServiceWindow errs.Code = "outside_customer_service_window"

// TemplateNotSendable is a 422 of its own code: a template send the
// stored template says Meta would refuse (unknown, not APPROVED, not in
// that language, or the wrong number of parameters).
const TemplateNotSendable errs.Code = "template_not_sendable"

// UnsupportedMediaType is a 415 of its own code: an upload whose MIME
// type Meta does not take as media.
const UnsupportedMediaType errs.Code = "unsupported_media_type"

// MediaNotStored is a 404 of its own code: the message has media whose
// copy is not in the bucket, pending, failed or never made (MediaState
// says which).
const MediaNotStored errs.Code = "media_not_stored"

// MediaState is a MediaNotStored failure with where the copy stands, which
// the answer's body carries: media_state, and a failure's reason code as
// media_error.
type MediaState struct {
	Err    *errs.Error
	State  string
	Reason string
}

func (e *MediaState) Error() string { return e.Err.Error() }
func (e *MediaState) Unwrap() error { return e.Err }

// InsufficientScope is a 403 of its own code (RFC 6750): the bearer
// token is good, but does not grant the scope the route needs.
const InsufficientScope errs.Code = "insufficient_scope"

// ExportTooLarge is a 422 of its own code: a person's export larger than
// one answer takes; the paged read routes have all of it.
const ExportTooLarge errs.Code = "export_too_large"

var statusByCode = map[errs.Code]int{
	ExportTooLarge:               http.StatusUnprocessableEntity,
	InsufficientScope:            http.StatusForbidden,
	OutsideCustomerServiceWindow: http.StatusUnprocessableEntity,
	TemplateNotSendable:          http.StatusUnprocessableEntity,
	UnsupportedMediaType:         http.StatusUnsupportedMediaType,
	MediaNotStored:               http.StatusNotFound,
	errs.Invalid:                 http.StatusBadRequest,
	InvalidCursor:                http.StatusBadRequest,
	errs.Unauthorized:            http.StatusUnauthorized,
	errs.NotFound:                http.StatusNotFound,
	errs.Conflict:                http.StatusConflict,
	errs.InFlight:                http.StatusConflict,
	errs.TooLarge:                http.StatusRequestEntityTooLarge,
	errs.Unprocessable:           http.StatusUnprocessableEntity,
	errs.BadGateway:              http.StatusBadGateway,
	errs.Unavailable:             http.StatusServiceUnavailable,
	errs.Internal:                http.StatusInternalServerError,
}

// statusOf is the HTTP status for an error.
func statusOf(err error) int {
	if s, ok := statusByCode[errs.CodeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error struct {
		Code       errs.Code `json:"code"`
		Message    string    `json:"message"`
		MediaState string    `json:"media_state,omitempty"`
		MediaError string    `json:"media_error,omitempty"`
	} `json:"error"`
}

// WriteError answers with err's status and its caller-safe message, and logs
// the whole chain. Internal error text never reaches the caller.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error, attrs ...any) {
	status := statusOf(err)
	var body errorBody
	body.Error.Code = errs.CodeOf(err)
	body.Error.Message = http.StatusText(status)
	if e, ok := errs.As(err); ok {
		if e.Message != "" {
			body.Error.Message = e.Message
		}
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
		}
	}
	var ms *MediaState
	if errors.As(err, &ms) {
		body.Error.MediaState, body.Error.MediaError = ms.State, ms.Reason
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	log.Log(context.Background(), level, "request failed", append(attrs, "status", status, "err", err.Error())...)
	WriteJSON(w, status, body)
}

// WriteJSON answers with v as JSON, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
