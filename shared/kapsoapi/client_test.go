package kapsoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

const testKey = "test-key-123"

// newTestClient serves h and returns a client for it with fast retries.
func newTestClient(t *testing.T, h http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return New(srv.URL+"/platform/v1", testKey, append([]Option{WithRetry(3, time.Millisecond, 5*time.Millisecond)}, opts...)...)
}

// newCountingClient is newTestClient that also counts the requests served.
func newCountingClient(t *testing.T, h http.HandlerFunc, opts ...Option) (*Client, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	return newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}, opts...), calls
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// readBody decodes a request body into a generic map for assertions.
func readBody(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		t.Errorf("request body: %v", err)
	}
	return m
}

func TestRequestsUseEnvelopesAndHeaders(t *testing.T) {
	var seen []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path)
		if got := r.Header.Get("X-API-Key"); got != testKey {
			t.Errorf("X-API-Key = %q", got)
		}
		if r.Method != http.MethodGet && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		switch r.Method + " " + r.URL.Path {
		case "POST /platform/v1/customers":
			b := readBody(t, r)["customer"].(map[string]any)
			if b["name"] != "Acme" || b["external_customer_id"] != "tenant-1" {
				t.Errorf("customer body = %v", b)
			}
			reply(w, 201, `{"data":{"id":"c1","name":"Acme","external_customer_id":"tenant-1","created_at":"2024-01-08T10:00:00Z","extra":{"x":1}}}`)
		case "POST /platform/v1/customers/c1/setup_links":
			b := readBody(t, r)["setup_link"].(map[string]any)
			if b["success_redirect_url"] != "https://app/ok" || b["language"] != nil || b["provision_phone_number"] != false {
				t.Errorf("setup link body = %v", b)
			}
			if _, ok := b["language"]; !ok {
				t.Errorf("language should be sent as null: %v", b)
			}
			if _, ok := b["phone_number_area_code"]; ok {
				t.Errorf("empty area code should be left out: %v", b)
			}
			if th := b["theme_config"].(map[string]any); th["primary_color"] != "#112233" {
				t.Errorf("theme = %v", th)
			}
			reply(w, 201, `{"data":{"id":"l1","status":"active","url":"https://setup.kapso.ai/s/abc","created_at":"2024-01-15T14:00:00.123Z",
				"expires_at":"2024-02-14T14:00:00Z","allowed_connection_types":["dedicated"],"provision_phone_number":null,
				"whatsapp_setup_status":"pending","whatsapp_setup_error":{"code":"x"}}}`)
		case "PATCH /platform/v1/customers/c1/setup_links/l1":
			if b := readBody(t, r)["setup_link"].(map[string]any); b["status"] != "revoked" || len(b) != 1 {
				t.Errorf("revoke body = %v", b)
			}
			reply(w, 200, `{"data":{"id":"l1","status":"revoked","url":"https://setup.kapso.ai/s/abc"}}`)
		case "POST /platform/v1/whatsapp/phone_numbers/123/webhooks":
			b := readBody(t, r)["whatsapp_webhook"].(map[string]any)
			if b["url"] != "https://hook" || b["secret_key"] != "s3" || b["active"] != true || b["inactivity_minutes"] != 45.0 {
				t.Errorf("webhook body = %v", b)
			}
			reply(w, 201, `{"data":{"id":"w1","url":"https://hook","kind":"kapso","events":["whatsapp.message.received"],"active":true}}`)
		case "GET /platform/v1/whatsapp/phone_numbers/123":
			reply(w, 200, `{"data":{"phone_number_id":123,"business_account_id":"987","display_phone_number":"+15551234567","is_coexistence":true,"status":"CONNECTED"}}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			reply(w, 404, `{"error":"nope"}`)
		}
	})
	ctx := context.Background()
	cu, err := c.CreateCustomer(ctx, "Acme", "tenant-1")
	if err != nil || cu.ID != "c1" || cu.ExternalCustomerID != "tenant-1" || !cu.CreatedAt.Equal(time.Date(2024, 1, 8, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("CreateCustomer = %+v, %v", cu, err)
	}
	lang, no := "", false
	l, err := c.CreateSetupLink(ctx, "c1", onboarding.SetupLinkOptions{SuccessRedirectURL: "https://app/ok", Language: &lang,
		ProvisionPhoneNumber: &no, ThemeConfig: map[string]string{"primary_color": "#112233"}})
	if err != nil || l.ID != "l1" || l.Status != "active" || l.ExpiresAt.IsZero() || l.WhatsAppSetupError != `{"code":"x"}` {
		t.Fatalf("CreateSetupLink = %+v, %v", l, err)
	}
	if r, err := c.RevokeSetupLink(ctx, "c1", "l1"); err != nil || r.Status != "revoked" {
		t.Fatalf("RevokeSetupLink = %+v, %v", r, err)
	}
	yes := true
	h, err := c.CreateWebhook(ctx, "123", onboarding.WebhookRegistration{URL: "https://hook", SecretKey: "s3", Active: &yes,
		Events: []string{"whatsapp.message.received"}, InactivityMinutes: 45})
	if err != nil || h.ID != "w1" || !h.Active || h.Kind != "kapso" {
		t.Fatalf("CreateWebhook = %+v, %v", h, err)
	}
	n, err := c.GetPhoneNumber(ctx, "123")
	if err != nil || n.PhoneNumberID != "123" || !n.IsCoexistence || n.BusinessAccountID != "987" {
		t.Fatalf("GetPhoneNumber = %+v, %v", n, err)
	}
	if len(seen) != 5 {
		t.Errorf("requests = %v", seen)
	}
}

func TestPaginationFollowsEveryPage(t *testing.T) {
	var pages []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		pages = append(pages, q.Get("page"))
		if q.Get("customer_id") != "c1" || q.Get("per_page") != "2" {
			t.Errorf("query = %v", q)
		}
		p := q.Get("page")
		items := map[string]string{"1": `{"phone_number_id":"1"},{"phone_number_id":"2"}`,
			"2": `{"phone_number_id":"3"},{"phone_number_id":"4"}`, "3": `{"phone_number_id":"5"}`}[p]
		reply(w, 200, fmt.Sprintf(`{"data":[%s],"meta":{"page":%s,"per_page":2,"total_pages":3,"total_count":5}}`, items, p))
	})
	c.perPage = 2
	nums, err := c.ListPhoneNumbers(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range nums {
		ids = append(ids, n.PhoneNumberID)
	}
	if strings.Join(ids, ",") != "1,2,3,4,5" || strings.Join(pages, ",") != "1,2,3" {
		t.Errorf("ids %v from pages %v", ids, pages)
	}
}

func TestPaginationStopsAtPageCap(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":[{"id":"w"}],"meta":{"page":1,"per_page":1,"total_pages":100000,"total_count":100000}}`)
	})
	c.maxPages = 4
	if _, err := c.ListWebhooks(context.Background(), "123"); err == nil || !strings.Contains(err.Error(), "more than 4 pages") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 4 {
		t.Errorf("calls = %d, want 4", calls.Load())
	}
}

func TestPaginationWithoutMetaStopsOnShortPage(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			reply(w, 200, `{"data":[{"id":"a","url":"https://x"},{"id":"b","url":"https://x"}]}`)
			return
		}
		reply(w, 200, `{"data":[{"id":"c","url":"https://x"}]}`)
	})
	c.perPage = 2
	links, err := c.ListSetupLinks(context.Background(), "c1", "active")
	if err != nil || len(links) != 3 || calls.Load() != 2 {
		t.Fatalf("links %v, err %v, calls %d", links, err, calls.Load())
	}
}

func TestFindCustomerChecksTheExternalID(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		// A server that ignores the filter.
		reply(w, 200, `{"data":[{"id":"other","external_customer_id":"tenant-2"},{"id":"mine","external_customer_id":"tenant-1"}],
			"meta":{"page":1,"per_page":100,"total_pages":1,"total_count":2}}`)
	})
	cu, ok, err := c.FindCustomerByExternalID(context.Background(), "tenant-1")
	if err != nil || !ok || cu.ID != "mine" {
		t.Fatalf("= %+v %v %v", cu, ok, err)
	}
	_, ok, err = c.FindCustomerByExternalID(context.Background(), "tenant-3")
	if err != nil || ok {
		t.Fatalf("tenant-3 found=%v err=%v", ok, err)
	}
}

func TestErrorStatusesBecomeTypedErrors(t *testing.T) {
	// Each status is one code, and the code is what callers branch on.
	cases := []struct {
		status int
		code   errs.Code
	}{
		{401, errs.Unauthorized}, {402, errs.Unauthorized}, {403, errs.Unauthorized}, {404, errs.NotFound},
		{409, errs.Conflict}, {422, errs.Unprocessable}, {400, errs.Invalid},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
				reply(w, tc.status, `{"error":"External customer has already been taken"}`)
			})
			_, err := c.CreateSetupLink(context.Background(), "c1", onboarding.SetupLinkOptions{})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status || apiErr.Op != "create setup link" ||
				apiErr.Message != "External customer has already been taken" {
				t.Fatalf("err = %#v", err)
			}
			if !errs.Is(err, tc.code) || errors.Is(err, ErrUnavailable) {
				t.Errorf("classification wrong for %v: %s", err, errs.CodeOf(err))
			}
			// Kapso's validation text says what to change; the others stay in the logs.
			if e, _ := errs.As(err); (tc.code == errs.Unprocessable) != (e.Message == apiErr.Message) {
				t.Errorf("message %q", e.Message)
			}
			if !strings.HasPrefix(err.Error(), "create setup link for customer c1: ") {
				t.Errorf("not wrapped with the operation: %v", err)
			}
			if calls.Load() != 1 {
				t.Errorf("a %d was retried", tc.status)
			}
		})
	}
}

func TestRateLimitWaitsRetryAfterWhenItFits(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			reply(w, 429, `{"error":"Rate limit exceeded"}`)
			return
		}
		reply(w, 200, `{"data":{"phone_number_id":"123"}}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	n, err := c.GetPhoneNumber(ctx, "123")
	if err != nil || n.PhoneNumberID != "123" {
		t.Fatalf("= %+v, %v", n, err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, before Retry-After", d)
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestRateLimitBeyondDeadlineReturnsRetryAfter(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		reply(w, 429, `{"error":"Rate limit exceeded"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	// A POST: a 429 means Kapso did not act, so even a create may wait and repeat.
	_, err := c.CreateWebhook(ctx, "123", onboarding.WebhookRegistration{URL: "https://h", SecretKey: "s"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errs.Is(err, errs.RateLimited) || apiErr.RetryAfter != time.Minute {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("took %v: slept although the wait did not fit the deadline", d)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestServerErrorsRetriedThenSucceed(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			reply(w, 503, `{"error":"down"}`)
			return
		}
		reply(w, 200, `{"data":[],"meta":{"page":1,"per_page":100,"total_pages":0,"total_count":0}}`)
	})
	hooks, err := c.ListWebhooks(context.Background(), "123")
	if err != nil || len(hooks) != 0 || calls.Load() != 3 {
		t.Fatalf("hooks %v err %v calls %d", hooks, err, calls.Load())
	}
}

func TestRetriesExhaustedIsUnavailable(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 502, `{"error":"bad gateway"}`)
	})
	_, err := c.GetPhoneNumber(context.Background(), "123")
	var apiErr *APIError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.Status != 502 || !errs.Is(err, errs.Unavailable) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", calls.Load())
	}
}

func TestCreatesNotRetriedOnServerError(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 500, `{"error":"boom"}`)
	})
	_, err := c.CreateSetupLink(context.Background(), "c1", onboarding.SetupLinkOptions{})
	if !errors.Is(err, ErrUnavailable) || calls.Load() != 1 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
	calls.Store(0)
	// CreateCustomer is guarded by the unique external id, so it is retried.
	_, err = c.CreateCustomer(context.Background(), "Acme", "t1")
	if !errors.Is(err, ErrUnavailable) || calls.Load() != 3 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
}

// failingTransport fails the first requests with err, then passes through.
type failingTransport struct {
	fails atomic.Int32
	err   error
	calls atomic.Int32
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return nil, f.err
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestCreatesRetriedOnlyWhenNeverSent(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		reply(w, 201, `{"data":{"id":"w1","url":"https://h"}}`)
	}
	dial := &failingTransport{err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	dial.fails.Store(1)
	c := newTestClient(t, handler)
	c.http = &http.Client{Transport: dial}
	if _, err := c.CreateWebhook(context.Background(), "123", onboarding.WebhookRegistration{URL: "https://h", SecretKey: "s"}); err != nil {
		t.Fatalf("dial failure not retried: %v", err)
	}
	if dial.calls.Load() != 2 {
		t.Errorf("calls = %d", dial.calls.Load())
	}

	reset := &failingTransport{err: io.ErrUnexpectedEOF}
	reset.fails.Store(1)
	c = newTestClient(t, handler)
	c.http = &http.Client{Transport: reset}
	_, err := c.CreateWebhook(context.Background(), "123", onboarding.WebhookRegistration{URL: "https://h", SecretKey: "s"})
	if !errors.Is(err, ErrUnavailable) || reset.calls.Load() != 1 {
		t.Fatalf("sent request retried: err %v calls %d", err, reset.calls.Load())
	}
}

func TestCallBoundedByContextDeadline(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hang until the client gives up
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetPhoneNumber(ctx, "123")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestOversizedBodyRefused(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":{"phone_number_id":"123","verified_name":"`+strings.Repeat("x", maxResponseBytes)+`"}}`)
	})
	_, err := c.GetPhoneNumber(context.Background(), "123")
	if err == nil || !strings.Contains(err.Error(), "larger than") || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestAnswersThatLookWrongAreErrors(t *testing.T) {
	cases := map[string]struct {
		body string
		call func(*Client) error
	}{
		"customer without id": {`{"data":{"id":"","name":"x"}}`, func(c *Client) error {
			_, err := c.CreateCustomer(context.Background(), "x", "t")
			return err
		}},
		"link without url": {`{"data":{"id":"l1","url":""}}`, func(c *Client) error {
			_, err := c.CreateSetupLink(context.Background(), "c1", onboarding.SetupLinkOptions{})
			return err
		}},
		"another number": {`{"data":{"phone_number_id":"999"}}`, func(c *Client) error {
			_, err := c.GetPhoneNumber(context.Background(), "123")
			return err
		}},
		"no data": {`{"error":null}`, func(c *Client) error {
			_, err := c.GetPhoneNumber(context.Background(), "123")
			return err
		}},
		"bad time": {`{"data":{"id":"c","created_at":"yesterday"}}`, func(c *Client) error {
			_, err := c.CreateCustomer(context.Background(), "x", "t")
			return err
		}},
		"not json": {`<html>`, func(c *Client) error {
			_, err := c.ListPhoneNumbers(context.Background(), "")
			return err
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, tc.body) })
			if err := tc.call(c); err == nil {
				t.Fatal("accepted")
			} else if !errs.Is(err, errs.BadGateway) {
				t.Errorf("%v: code %s", err, errs.CodeOf(err))
			}
		})
	}
}

func TestEmptyIDsRefusedWithoutACall(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	ctx := context.Background()
	failures := []error{}
	_, err := c.CreateSetupLink(ctx, "", onboarding.SetupLinkOptions{})
	failures = append(failures, err)
	_, err = c.RevokeSetupLink(ctx, "c1", "")
	failures = append(failures, err)
	_, _, err = c.FindCustomerByExternalID(ctx, "")
	failures = append(failures, err)
	_, err = c.GetPhoneNumber(ctx, " ")
	failures = append(failures, err)
	_, err = c.CreateWebhook(ctx, "123", onboarding.WebhookRegistration{URL: "https://h"})
	failures = append(failures, err)
	for i, err := range failures {
		if err == nil {
			t.Errorf("call %d accepted", i)
		}
		// The caller's mistake, not Kapso's answer: no code of Kapso's.
		if _, classified := errs.As(err); classified {
			t.Errorf("call %d: %v is classified", i, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests made", calls.Load())
	}
}

func TestLogsNeverCarryTheAPIKey(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 503, `{"error":"down"}`) }, WithLogger(log))
	_, _ = c.GetPhoneNumber(context.Background(), "123")
	if !strings.Contains(buf.String(), "get phone number") || strings.Count(buf.String(), "attempt=") != 3 {
		t.Fatalf("logs = %s", buf.String())
	}
	if strings.Contains(buf.String(), testKey) {
		t.Error("API key logged")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{"60": time.Minute, "": 0, "-3": 0, "soon": 0,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestListPhoneNumbersDropsOtherCustomers(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		// A server that ignores the filter.
		reply(w, 200, `{"data":[{"phone_number_id":"1","customer_id":"c1"},{"phone_number_id":"2","customer_id":"c2"}],
			"meta":{"page":1,"per_page":100,"total_pages":1,"total_count":2}}`)
	})
	nums, err := c.ListPhoneNumbers(context.Background(), "c1")
	if err != nil || len(nums) != 1 || nums[0].PhoneNumberID != "1" {
		t.Fatalf("= %+v %v", nums, err)
	}
}
