// Package kapsoapi is a client for Kapso's Platform API: customers, setup
// links, phone numbers, phone-number webhooks, and the cursor-paged lists of
// messages, conversations and webhook deliveries; and, through Kapso's Meta
// proxy (MetaProxy), for sends, a number's history, media and a WABA's
// message templates. Kapso is an untrusted upstream: every call is bounded
// by the caller's context, response bodies are size-limited, decoded into
// typed structs and checked before use.
package kapsoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultMaxAttempts = 3
	defaultBaseDelay   = 200 * time.Millisecond
	defaultMaxDelay    = 2 * time.Second
	// defaultHTTPTimeout bounds one attempt when the caller's context has no
	// shorter deadline, so a hung connection still counts as a retryable timeout.
	defaultHTTPTimeout = 15 * time.Second
	// maxResponseBytes: the largest body Kapso's JSON answers need; anything
	// bigger is refused rather than buffered.
	maxResponseBytes = 1 << 20
	defaultPerPage   = 100
	// defaultMaxPages caps pagination so a server that keeps announcing more
	// pages cannot keep a call running forever.
	defaultMaxPages = 100
	maxErrorMessage = 500
)

// ErrUnavailable is wrapped when Kapso could not be reached, or kept failing
// (5xx, timeouts) after the retries the call allows. The outcome of a
// non-idempotent call that ends with it is unknown: re-read before acting.
var ErrUnavailable = errors.New("kapso unavailable")

// Client calls Kapso's Platform API. It is safe for concurrent use.
type Client struct {
	baseURL     string
	apiKey      string
	http        *http.Client
	log         *slog.Logger
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
	perPage     int
	maxPages    int
}

// Option configures a Client.
type Option func(*Client)

// WithRetry sets how many attempts a retryable call gets in all, and the
// bounds of its exponential backoff (full jitter).
func WithRetry(maxAttempts int, baseDelay, maxDelay time.Duration) Option {
	return func(c *Client) {
		c.maxAttempts = max(maxAttempts, 1)
		c.baseDelay = max(baseDelay, 0)
		c.maxDelay = max(maxDelay, c.baseDelay)
	}
}

// WithLogger sets the logger; calls are logged at debug level.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// New returns a client for the Platform API at baseURL
// (e.g. https://api.kapso.ai/platform/v1), authenticating with apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:     strings.TrimRight(baseURL, "/"),
		apiKey:      apiKey,
		http:        &http.Client{Timeout: defaultHTTPTimeout},
		log:         slog.New(slog.DiscardHandler),
		maxAttempts: defaultMaxAttempts,
		baseDelay:   defaultBaseDelay,
		maxDelay:    defaultMaxDelay,
		perPage:     defaultPerPage,
		maxPages:    defaultMaxPages,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// retryPolicy says what a call may be repeated after.
type retryPolicy int

const (
	// retrySafe: repeating the call cannot change the outcome (reads, revoking,
	// creation guarded by a unique key), so 5xx, 429 and timeouts are retried.
	retrySafe retryPolicy = iota
	// retryUnsent: repeating could act twice, so only failures where Kapso
	// cannot have acted are retried: 429, and connections that never opened.
	retryUnsent
)

// call is one Platform API request.
type call struct {
	op     string // for errors and logs
	method string
	path   string // escaped, relative to baseURL
	query  url.Values
	body   any // marshalled as JSON when not nil
	policy retryPolicy
	// decode, when set, reads a 2xx answer that has no {"data"} envelope
	// (the Meta proxy's answers) instead of decoding data into out.
	decode func([]byte) error
	// refused, when set, turns an answer other than 2xx, 5xx or 429 into
	// the call's error (the APIError's own otherwise).
	refused func(api *APIError, body []byte) error
}

// pageMeta is the page pagination block of list answers.
type pageMeta struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	TotalPages int `json:"total_pages"`
	TotalCount int `json:"total_count"`
}

// cursorPaging is the cursor pagination block of list answers.
type cursorPaging struct {
	Cursors struct {
		Before flexString `json:"before"`
		After  flexString `json:"after"`
	} `json:"cursors"`
	// Next and Previous are URLs, or null at either end; only their presence matters.
	Next     json.RawMessage `json:"next"`
	Previous json.RawMessage `json:"previous"`
}

// hasNext reports whether Kapso announced a next page: next is a non-empty string.
func (p *cursorPaging) hasNext() bool {
	if p == nil {
		return false
	}
	var s string
	return json.Unmarshal(p.Next, &s) == nil && s != ""
}

type envelope struct {
	Data   json.RawMessage `json:"data"`
	Meta   *pageMeta       `json:"meta"`
	Paging *cursorPaging   `json:"paging"`
}

// listInfo is what a list answer says about further pages (nil when absent).
type listInfo struct {
	meta   *pageMeta
	paging *cursorPaging
}

// do runs cl with retries and decodes the answer's data into out. When ctx
// carries a Meter every attempt goes through it, and a 429 pauses the meter
// instead of this call alone sleeping.
func (c *Client) do(ctx context.Context, cl call, out any) (listInfo, error) {
	m := meterFrom(ctx)
	var body []byte
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return listInfo{}, fmt.Errorf("encode request: %w", err)
		}
		body = b
	}
	for attempt := 1; ; attempt++ {
		if m != nil {
			if err := m.acquire(ctx, cl.op); err != nil {
				return listInfo{}, err
			}
		}
		status, header, respBody, err := c.attempt(ctx, cl, attempt, body)
		more := attempt < c.maxAttempts
		if err != nil {
			if errors.Is(err, errTooLarge) {
				// A refused oversized body is a bad answer, not an outage.
				return listInfo{}, err
			}
			if ctx.Err() != nil || !more || (cl.policy == retryUnsent && !neverSent(err)) {
				return listInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			if !sleep(ctx, c.backoff(attempt)) {
				return listInfo{}, fmt.Errorf("%w: no time left to retry: %w", ErrUnavailable, err)
			}
			continue
		}
		if status >= 200 && status < 300 {
			if cl.decode != nil {
				return listInfo{}, cl.decode(respBody)
			}
			return decodeEnvelope(respBody, out)
		}
		apiErr := newAPIError(cl.op, status, header, respBody)
		switch {
		case status == http.StatusTooManyRequests:
			// Kapso refused the request without acting, so any call may repeat it.
			if m != nil {
				// The limit is per API key: hold back every call of the run,
				// this one's retry included (acquire waits or gives up).
				m.rateLimited(apiErr)
				if !more {
					return listInfo{}, apiErr
				}
				continue
			}
			wait := apiErr.RetryAfter
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
			if !more || !sleep(ctx, wait) {
				return listInfo{}, apiErr
			}
		case status >= 500:
			if !more || cl.policy == retryUnsent {
				return listInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, apiErr)
			}
			if !sleep(ctx, c.backoff(attempt)) {
				return listInfo{}, fmt.Errorf("%w: no time left to retry: %w", ErrUnavailable, apiErr)
			}
		default:
			if cl.refused != nil {
				return listInfo{}, cl.refused(apiErr, respBody)
			}
			return listInfo{}, apiErr
		}
	}
}

var errTooLarge = fmt.Errorf("response body larger than %d bytes", maxResponseBytes)

// attempt sends the request once and reads at most maxResponseBytes of the answer.
func (c *Client) attempt(ctx context.Context, cl call, n int, body []byte) (int, http.Header, []byte, error) {
	u := c.baseURL + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("X-API-Key", c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.DebugContext(ctx, "kapso call failed", "op", cl.op, "method", cl.method, "path", cl.path,
			"attempt", n, "duration", time.Since(start), "error", err)
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	c.log.DebugContext(ctx, "kapso call", "op", cl.op, "method", cl.method, "path", cl.path,
		"attempt", n, "status", resp.StatusCode, "bytes", len(b), "duration", time.Since(start))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read response: %w", err)
	}
	if len(b) > maxResponseBytes {
		return 0, nil, nil, errTooLarge
	}
	return resp.StatusCode, resp.Header, b, nil
}

func decodeEnvelope(b []byte, out any) (listInfo, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return listInfo{}, fmt.Errorf("decode response: %w", err)
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return listInfo{}, errors.New("response has no data")
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return listInfo{}, fmt.Errorf("decode response data: %w", err)
	}
	return listInfo{meta: env.Meta, paging: env.Paging}, nil
}

// neverSent reports whether the request failed before reaching Kapso (the
// connection was never opened), so repeating it cannot act twice.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// backoff is exponential with full jitter: a random wait in [0, min(max, base·2^(n-1))].
func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseDelay << min(attempt-1, 30)
	if d <= 0 || d > c.maxDelay {
		d = c.maxDelay
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// sleep waits d unless that would run past ctx's deadline or ctx ends first;
// it reports whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	return wait(ctx, d)
}

// listPages follows page pagination from page 1 to the last page, at most
// c.maxPages pages.
func listPages[W any](ctx context.Context, c *Client, cl call) ([]W, error) {
	var all []W
	for page := 1; ; page++ {
		if page > c.maxPages {
			return nil, fmt.Errorf("more than %d pages", c.maxPages)
		}
		q := url.Values{}
		for k, v := range cl.query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(c.perPage))
		pc := cl
		pc.query = q
		var items []W
		info, err := c.do(ctx, pc, &items)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		all = append(all, items...)
		meta := info.meta
		switch {
		case len(items) == 0:
			return all, nil
		case meta != nil && meta.TotalPages > 0:
			if page >= meta.TotalPages {
				return all, nil
			}
		case meta != nil:
			return all, nil
		case len(items) < c.perPage:
			// No meta: a short page is the last one.
			return all, nil
		}
	}
}

// convertAll turns decoded wire items into their public form, failing on the
// first that looks wrong.
func convertAll[W, T any](ws []W, conv func(W) (T, error)) ([]T, error) {
	out := make([]T, 0, len(ws))
	for _, w := range ws {
		v, err := conv(w)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// pathID escapes one path segment and refuses an empty one, which would
// silently address a different resource.
func pathID(what, id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", argumentError("empty " + what)
	}
	return url.PathEscape(id), nil
}
