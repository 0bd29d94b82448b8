package kapsoapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Every failure leaves the package with the errs code callers branch on,
// and keeps what it wraps.
func TestFailuresAreClassifiedOnce(t *testing.T) {
	api := func(status int) *APIError {
		return newAPIError("get phone number", status, http.Header{}, []byte(`{"error":"x"}`))
	}
	limited := api(http.StatusTooManyRequests)
	limited.RetryAfter = time.Minute
	for name, tc := range map[string]struct {
		err        error
		code       errs.Code
		retryAfter time.Duration
	}{
		"404":                    {api(404), errs.NotFound, 0},
		"409":                    {api(409), errs.Conflict, 0},
		"422":                    {api(422), errs.Unprocessable, 0},
		"400":                    {api(400), errs.Invalid, 0},
		"401":                    {api(401), errs.Unauthorized, 0},
		"402":                    {api(402), errs.Unauthorized, 0},
		"403":                    {api(403), errs.Unauthorized, 0},
		"410":                    {api(410), errs.Unavailable, 0},
		"429":                    {limited, errs.RateLimited, time.Minute},
		"5xx after retries":      {fmt.Errorf("%w: %w", ErrUnavailable, api(502)), errs.Unavailable, 0},
		"not reached":            {fmt.Errorf("%w: %w", ErrUnavailable, context.DeadlineExceeded), errs.Unavailable, 0},
		"budget spent":           {fmt.Errorf("%w (2 calls)", ErrBudgetSpent), errs.BudgetSpent, 0},
		"unusable answer":        {errors.New("setup link without id"), errs.BadGateway, 0},
		"oversized answer":       {errTooLarge, errs.BadGateway, 0},
		"send outcome unknown":   {fmt.Errorf("%w: %w", ErrSendUnknown, newMetaError(504, http.Header{}, nil)), errs.OutcomeUnknown, 0},
		"send refused for good":  {newMetaError(400, http.Header{}, []byte(`{"error":{"code":131026}}`)), errs.Unprocessable, 0},
		"send refused, 5xx":      {newMetaError(500, http.Header{}, []byte(`{"error":{"code":2}}`)), errs.Unavailable, 0},
		"send refused, limited":  {newMetaError(429, http.Header{"Retry-After": {"40"}}, nil), errs.RateLimited, 40 * time.Second},
		"send rate limit, meter": {fromAPIError(limited), errs.RateLimited, time.Minute},
		"template refused":       {metaRefused("Meta refused the template")(api(400), []byte(`{"error":{"code":100}}`)), errs.Unprocessable, 0},
	} {
		t.Run(name, func(t *testing.T) {
			err := classify(tc.err)
			e, ok := errs.As(err)
			if !ok || e.Code != tc.code || e.RetryAfter != tc.retryAfter || e.Message == "" {
				t.Fatalf("classify(%v) = %#v", tc.err, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%v does not wrap %v", err, tc.err)
			}
			// A send Kapso or Meta answered, and only that, carries Meta's reason.
			var me *MetaError
			var refusal *messaging.SendRefusal
			var other *metaRefusal
			refused := errors.As(tc.err, &me) && !errors.Is(tc.err, ErrSendUnknown) && !errors.As(tc.err, &other)
			if errors.As(err, &refusal) != refused {
				t.Errorf("%v: SendRefusal %v, want one: %v", err, refusal, refused)
			}
		})
	}
	// The caller's mistake is not Kapso's answer: it keeps no code.
	bad := fmt.Errorf("get phone number: %w", argumentError("empty phone number id"))
	if err := classify(bad); err != bad {
		t.Errorf("argument error classified: %v", err)
	}
}

// A refusal records Meta's reason, its title falling back to its type.
func TestSendRefusalReason(t *testing.T) {
	me := newMetaError(400, http.Header{}, []byte(`{"error":{"message":"(#131026) Message Undeliverable.","type":"OAuthException","code":131026,"error_data":{"details":"Recipient cannot be reached"}}}`))
	var refusal *messaging.SendRefusal
	if !errors.As(classify(me), &refusal) {
		t.Fatal("no SendRefusal")
	}
	want := messaging.StatusError{Code: 131026, Title: "OAuthException", Message: "(#131026) Message Undeliverable.",
		Details: "Recipient cannot be reached"}
	if refusal.Reason != want {
		t.Errorf("reason %+v, want %+v", refusal.Reason, want)
	}
}
