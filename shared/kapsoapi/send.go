package kapsoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

const (
	// DefaultMetaBaseURL is Kapso's proxy for Meta's Cloud API.
	DefaultMetaBaseURL = "https://api.kapso.ai/meta/whatsapp"
	// DefaultGraphVersion is the Graph API version sends go to.
	DefaultGraphVersion = "v24.0"
	// maxWAMID bounds the message id accepted from an answer (real ones are
	// well under 100 bytes); it becomes a key in our store.
	maxWAMID = 512
	sendOp   = "send message"
)

// ErrSendUnknown is wrapped when a send may have reached Kapso (and Meta) but
// its outcome is unknown: the connection failed or timed out after the request
// was written, a gateway timed out (504), or a 2xx answer could not be read. Send
// never repeats such a request, since neither Kapso nor Meta deduplicates and a
// repeat is a second message to a person. Mark the message unknown and
// reconcile it against Kapso's message list before sending again.
var ErrSendUnknown = errors.New("kapso send outcome unknown")

// MetaProxy sends messages through Kapso's Meta proxy. Safe for concurrent use.
type MetaProxy struct {
	c *Client
	// origin is the proxy's scheme and host, the one place Kapso's API key
	// goes; files is the client of media downloads and uploads (media.go).
	origin origin
	files  *http.Client
}

// NewMetaProxy returns a sender for the proxy at metaBaseURL (empty:
// DefaultMetaBaseURL) and Graph API graphVersion (empty: DefaultGraphVersion),
// authenticating with apiKey. WithRetry bounds the retries Send makes when a
// request certainly did not reach Kapso (connection never opened, 429), and
// WithLogger sets the logger.
func NewMetaProxy(metaBaseURL, graphVersion, apiKey string, opts ...Option) *MetaProxy {
	base := strings.TrimRight(strings.TrimSpace(metaBaseURL), "/")
	if base == "" {
		base = DefaultMetaBaseURL
	}
	version := strings.Trim(strings.TrimSpace(graphVersion), "/")
	if version == "" {
		version = DefaultGraphVersion
	}
	c := New(base+"/"+version, apiKey, opts...)
	// A redirect would be followed as a GET (301-303) or re-POSTed elsewhere
	// (307, 308); neither is a send we asked for, so it comes back as an answer.
	c.http = &http.Client{
		Timeout:       defaultHTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	o := originOf(base)
	return &MetaProxy{c: c, origin: o, files: newFilesClient(o)}
}

// MetaError is a refusal from Kapso or Meta: any answer other than 2xx. It is
// parsed from Meta's {"error":{"message","type","code","error_subcode",
// "error_data":{"details"},"error_user_title","error_user_msg","fbtrace_id"}}
// or Kapso's {"error":"..."} (then Code is 0). It unwraps to the *APIError of
// the same answer.
type MetaError struct {
	Status      int // HTTP status
	Code        int
	Subcode     int
	Type        string // e.g. "OAuthException"
	Title       string // error_user_title
	Message     string // error.message, or Kapso's error text, or the status text
	UserMessage string // error_user_msg
	Details     string // error_data.details
	FBTraceID   string
	// RetryAfter is the Retry-After of a 429 (0 when absent).
	RetryAfter time.Duration

	api *APIError
}

func (e *MetaError) Error() string {
	op := sendOp
	if e.api != nil && e.api.Op != "" {
		op = e.api.Op
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: answered %d", op, e.Status)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", meta error %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
	}
	for _, s := range []string{e.Title, e.Message, e.Details} {
		if s != "" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.FBTraceID != "" {
		fmt.Fprintf(&b, " (fbtrace_id %s)", e.FBTraceID)
	}
	return b.String()
}

// Unwrap returns the answer as an *APIError.
func (e *MetaError) Unwrap() error {
	if e.api == nil {
		return nil
	}
	return e.api
}

// permanentCodes will fail the same way however often the message is sent.
var permanentCodes = map[int]bool{
	100:    true, // invalid parameter
	131008: true, // required parameter missing
	131009: true, // parameter value invalid
	131026: true, // message undeliverable / invalid recipient
	131031: true, // business account locked
	131045: true, // incorrect certificate
	131047: true, // re-engagement: outside the 24h window
	131051: true, // unsupported message type
	133010: true, // phone number not registered
	// Temporarily blocked for policy violations: the block lasts days and needs
	// a person to act, so this message is failed rather than retried.
	368: true,
}

// transientCodes are rate limits and outages: the same message may succeed later.
var transientCodes = map[int]bool{
	1:      true, // API unknown
	2:      true, // API service
	4:      true, // application request limit
	80007:  true, // rate limit
	130429: true, // throughput limit
	131016: true, // service unavailable
	131048: true, // spam rate limit
	131056: true, // pair rate limit
}

func permanentCode(code int) bool {
	return permanentCodes[code] || (code >= 132000 && code <= 132015) // template errors
}

// Permanent reports whether sending the same message again can never succeed:
// a known permanent Meta code, or a refusal below 500 other than 429 that
// carries no known transient code.
func (e *MetaError) Permanent() bool {
	if e == nil {
		return false
	}
	if permanentCode(e.Code) {
		return true
	}
	if e.Status == http.StatusTooManyRequests || inFlight(e) || transientCodes[e.Code] {
		return false
	}
	return e.Status < 500
}

// inFlight is Kapso's 409 on a send: "Another message in-flight for this
// conversation. Retry shortly." Kapso refused before sending, so the same
// message may be sent again.
func inFlight(e *MetaError) bool { return e.Status == http.StatusConflict }

// reason is the refusal as a failed message records it: Meta's code, its
// title (else its type), message and details.
func (e *MetaError) reason() messaging.StatusError {
	title := e.Title
	if title == "" {
		title = e.Type
	}
	return messaging.StatusError{Code: e.Code, Title: title, Message: e.Message, Details: e.Details}
}

// Retryable reports whether the same message may succeed when the caller sends
// it again later: a 429, a 5xx, or a transient Meta code (rate limits,
// outages). A 504 is not: it wraps ErrSendUnknown, since the request may have
// been delivered; reconcile before sending again.
func (e *MetaError) Retryable() bool {
	if e == nil || permanentCode(e.Code) || e.Status == http.StatusGatewayTimeout {
		return false
	}
	return e.Status == http.StatusTooManyRequests || inFlight(e) || e.Status >= 500 || transientCodes[e.Code]
}

// Send posts message, a Meta Cloud API message object as raw JSON, unchanged,
// from the number phoneNumberID. A request is repeated only when it certainly
// did not reach Kapso: the connection never opened, or Kapso answered 429
// (after Retry-After, or through the Meter in ctx). The error's errs code
// says what became of the message (classify):
//   - errs.OutcomeUnknown (wrapping ErrSendUnknown): it may have been sent;
//     reconcile, do not resend blindly;
//   - a refusal (wrapping a messaging.SendRefusal and the *MetaError): not
//     sent; errs.Unprocessable when sending it again can never succeed;
//   - otherwise (ErrUnavailable, ErrBudgetSpent, a bad argument, ctx ended
//     before sending): nothing was sent.
func (s *MetaProxy) Send(ctx context.Context, phoneNumberID string, message []byte) (messaging.SendResult, error) {
	res, err := s.send(ctx, phoneNumberID, message)
	if err != nil {
		return messaging.SendResult{}, classify(err)
	}
	return res, nil
}

func (s *MetaProxy) send(ctx context.Context, phoneNumberID string, message []byte) (messaging.SendResult, error) {
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return messaging.SendResult{}, fmt.Errorf("%s: %w", sendOp, err)
	}
	if t := bytes.TrimSpace(message); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return messaging.SendResult{}, fmt.Errorf("%s: %w", sendOp, argumentError("message is not a JSON object"))
	}
	c := s.c
	cl := call{op: sendOp, method: http.MethodPost, path: "/" + id + "/messages", policy: retryUnsent}
	m := meterFrom(ctx)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return messaging.SendResult{}, fmt.Errorf("%w: %s not sent: %w", ErrUnavailable, sendOp, err)
		}
		if m != nil {
			if err := m.acquire(ctx, cl.op); err != nil {
				var apiErr *APIError
				if errors.As(err, &apiErr) {
					// The meter is waiting out a 429 past ctx's deadline.
					return messaging.SendResult{}, fromAPIError(apiErr)
				}
				return messaging.SendResult{}, err
			}
		}
		status, header, body, err := c.attempt(ctx, cl, attempt, message)
		more := attempt < c.maxAttempts
		if err != nil {
			if !neverSent(err) {
				// Written, or possibly written: a timeout, a reset, an
				// unreadable or oversized answer.
				return messaging.SendResult{}, fmt.Errorf("%w: %w", ErrSendUnknown, err)
			}
			if ctx.Err() != nil || !more {
				return messaging.SendResult{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			if !sleep(ctx, c.backoff(attempt)) {
				return messaging.SendResult{}, fmt.Errorf("%w: no time left to retry: %w", ErrUnavailable, err)
			}
			continue
		}
		if status >= 200 && status < 300 {
			res, err := decodeSendResult(body)
			if err != nil {
				return messaging.SendResult{}, fmt.Errorf("%w: answered %d: %w", ErrSendUnknown, status, err)
			}
			return res, nil
		}
		me := newMetaError(status, header, body)
		switch {
		case status == http.StatusTooManyRequests:
			// Refused without acting: the one answer after which Send repeats.
			if m != nil {
				m.rateLimited(me.api)
				if !more {
					return messaging.SendResult{}, me
				}
				continue
			}
			wait := me.RetryAfter
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
			if !more || !sleep(ctx, wait) {
				return messaging.SendResult{}, me
			}
		case status == http.StatusGatewayTimeout && !me.Permanent():
			// A gateway gave up waiting: Kapso or Meta may still have taken
			// the message. Any other 5xx is Kapso answering that it failed
			// to take it (Meta answers an error only for a message it did
			// not create), so the caller may send it again.
			return messaging.SendResult{}, fmt.Errorf("%w: %w", ErrSendUnknown, me)
		default:
			return messaging.SendResult{}, me
		}
	}
}

type sendAnswer struct {
	Contacts []struct {
		Input  flexString `json:"input"`
		WAID   flexString `json:"wa_id"`
		UserID flexString `json:"user_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            flexString `json:"id"`
		MessageStatus string     `json:"message_status"`
	} `json:"messages"`
}

func decodeSendResult(b []byte) (messaging.SendResult, error) {
	var a sendAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return messaging.SendResult{}, fmt.Errorf("decode response: %w", err)
	}
	if len(a.Messages) == 0 {
		return messaging.SendResult{}, errors.New("response has no messages[0].id")
	}
	id := string(a.Messages[0].ID)
	if id == "" || len(id) > maxWAMID || strings.IndexFunc(id, badIDRune) >= 0 {
		return messaging.SendResult{}, fmt.Errorf("response has an unusable message id %.60q", id)
	}
	r := messaging.SendResult{WAMID: id, MessageStatus: clip(a.Messages[0].MessageStatus)}
	if len(a.Contacts) > 0 {
		r.Input = clip(string(a.Contacts[0].Input))
		r.WAID = clip(string(a.Contacts[0].WAID))
		r.UserID = clip(string(a.Contacts[0].UserID))
	}
	return r, nil
}

func badIDRune(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxErrorMessage {
		s = s[:maxErrorMessage]
	}
	return s
}

// metaErrorBody is Meta's error object; every field is optional.
type metaErrorBody struct {
	Message   looseText  `json:"message"`
	Type      looseText  `json:"type"`
	Code      flexString `json:"code"`
	Subcode   flexString `json:"error_subcode"`
	ErrorData struct {
		Details looseText `json:"details"`
	} `json:"error_data"`
	Title     looseText  `json:"title"`
	UserTitle looseText  `json:"error_user_title"`
	UserMsg   looseText  `json:"error_user_msg"`
	FBTraceID flexString `json:"fbtrace_id"`
}

func newMetaError(status int, h http.Header, body []byte) *MetaError {
	api := newAPIError(sendOp, status, h, body)
	e := &MetaError{Status: status, Message: api.Message, RetryAfter: api.RetryAfter, api: api}
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil || len(bytes.TrimSpace(v.Error)) == 0 || bytes.TrimSpace(v.Error)[0] != '{' {
		return e // Kapso's {"error":"..."}, or no JSON: APIError's message
	}
	var o metaErrorBody
	if json.Unmarshal(v.Error, &o) != nil {
		// A field of an unexpected type: keep the fields that decode alone.
		o = metaErrorBody{}
		_ = json.Unmarshal(v.Error, &struct {
			Message *looseText  `json:"message"`
			Code    *flexString `json:"code"`
		}{&o.Message, &o.Code})
	}
	e.Code = atoi(string(o.Code))
	e.Subcode = atoi(string(o.Subcode))
	e.Type = clip(string(o.Type))
	e.Title = clip(string(o.UserTitle))
	if e.Title == "" {
		e.Title = clip(string(o.Title))
	}
	if msg := clip(string(o.Message)); msg != "" {
		e.Message = msg
	}
	e.UserMessage = clip(string(o.UserMsg))
	e.Details = clip(string(o.ErrorData.Details))
	e.FBTraceID = clip(string(o.FBTraceID))
	return e
}

// fromAPIError turns a rate limit held by the meter into a send refusal.
func fromAPIError(a *APIError) *MetaError {
	return &MetaError{Status: a.Status, Message: a.Message, RetryAfter: a.RetryAfter, api: a}
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}
