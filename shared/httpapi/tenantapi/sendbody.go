package tenantapi

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
)

// parseSendRequest reads a send request strictly: the body is at most
// MaxSendBodyBytes of valid UTF-8 holding exactly one JSON object, with no
// unknown or repeated field, every value of the expected JSON type, and
// every string text a person may be sent (messaging.OutboundTextProblem).
// The request is then validated. Every error is a *errs.FieldError naming
// the field's JSON path.
func parseSendRequest(body []byte) (messaging.OutboundRequest, error) {
	var r messaging.OutboundRequest
	if len(body) > MaxSendBodyBytes {
		return r, errs.Field("", fmt.Sprintf("body must be at most %d bytes, got %d", MaxSendBodyBytes, len(body)))
	}
	if !utf8.Valid(body) {
		return r, errs.Field("", "body must be valid UTF-8")
	}
	if err := strictjson.Decode(body, &r, strictjson.Options{Text: messaging.OutboundTextProblem}); err != nil {
		return messaging.OutboundRequest{}, sendBodyError(err)
	}
	if err := r.Validate(); err != nil {
		return messaging.OutboundRequest{}, err
	}
	return r, nil
}

// sendBodyError words a refused body as a send request's field error.
func sendBodyError(err error) *errs.FieldError {
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return errs.Field("", "body is not a valid send request")
	}
	switch e.Kind {
	case strictjson.NotObject:
		return errs.Field("", "body must be a JSON object")
	case strictjson.Trailing:
		return errs.Field("", "body must hold exactly one JSON object")
	case strictjson.Syntax, strictjson.Truncated:
		return errs.Field(e.Path, "is not valid JSON")
	case strictjson.Repeated:
		return errs.Field(e.Path, "is repeated")
	}
	return errs.Field(e.Path, e.Problem)
}
