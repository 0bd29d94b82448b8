package kapsoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// fuzzAnswer is what the fuzz server answers to every request.
type fuzzAnswer struct {
	mu         sync.Mutex
	status     int
	retryAfter string
	body       []byte
}

func (a *fuzzAnswer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	status, retryAfter, body := a.status, a.retryAfter, a.body
	a.mu.Unlock()
	if retryAfter != "" {
		w.Header()["Retry-After"] = []string{retryAfter}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// FuzzClientAnswers has a server answer every call of the client with the
// same random status, Retry-After and body: no panic, an error for any
// status but 2xx, for a body over the size limit, and for data that does
// not decode; a list follows no more pages than its cap.
func FuzzClientAnswers(f *testing.F) {
	for _, b := range []string{
		`{"data":{"id":"c1","name":"Acme","external_customer_id":"acme","created_at":"2026-01-02T03:04:05Z"}}`,
		`{"data":[{"id":"c1","name":"Acme","external_customer_id":"acme"}],"meta":{"page":1,"per_page":100,"total_pages":1000,"total_count":1}}`,
		`{"data":{"id":"l1","status":"active","url":"https://app.kapso.ai/setup/l1","created_at":"2026-01-02 03:04:05.1 +0000","expires_at":null,"whatsapp_setup_error":{"code":1}}}`,
		`{"data":[{"id":123,"phone_number_id":106540352242922,"display_phone_number":"+1 555"}]}`,
		`{"data":[{"id":"w1","url":"https://x","kind":"kapso","events":["a"],"active":true}]}`,
		`{"data":[{"id":"wamid.1","timestamp":"1700000000","type":"text"}],"paging":{"cursors":{"before":"a","after":"b"},"next":"https://x"}}`,
		`{"data":[{}],"paging":{"cursors":{"after":null},"next":"n"}}`,
		`{"data":[],"paging":{"cursors":{"after":"b"},"next":"https://x"}}`,
		`{"data":[{"id":"1","name":"order_update","language":"en_US","status":"APPROVED","components":[{"type":"BODY"}],"quality_score":{"score":"GREEN"}},{"name":1,"quality_score":"RED"}],"paging":{"cursors":{"after":"b"},"next":"https://x"}}`,
		`{"id":"1627019861106475","status":"PENDING","category":"UTILITY"}`,
		`{"error":{"message":"Invalid parameter","code":100,"error_subcode":2388024,"error_user_title":"Content in this language already exists","error_user_msg":"There is\nalready"}}`,
		`{"data":null}`, `{}`, `[]`, `null`, ``, `{"data":`, `{"error":"Validation failed"}`,
		`{"error":{"message":"bad"},"errors":["x",{"message":"y"},null,1]}`,
	} {
		for _, st := range []int{200, 201, 204, 400, 404, 409, 422, 429, 500, 503} {
			f.Add(uint16(st), "", []byte(b), false)
		}
	}
	f.Add(uint16(429), "120", []byte(`{"error":"slow down"}`), false)
	f.Add(uint16(429), "Wed, 21 Oct 2099 07:28:00 GMT", []byte(`{}`), false)
	f.Add(uint16(429), "99999999999999", []byte(`{}`), false)
	f.Add(uint16(200), "", []byte(`{"data":{"id":"c1"}}`), true)

	answer := &fuzzAnswer{}
	srv := httptest.NewServer(answer)
	f.Cleanup(srv.Close)
	c := New(srv.URL+"/platform/v1", "key", WithRetry(1, 0, 0))
	c.maxPages = 3
	c.perPage = 2
	p := NewMetaProxy(srv.URL+"/meta/whatsapp", "v24.0", "key", WithRetry(1, 0, 0))
	p.c.maxPages = 3
	yes := true

	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte, oversize bool) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		st := 200 + int(status)%400 // 200..599
		if oversize {
			body = append(bytes.Clone(body), bytes.Repeat([]byte(" "), maxResponseBytes)...)
		}
		if strings.ContainsAny(retryAfter, "\r\n\x00") {
			retryAfter = ""
		}
		answer.mu.Lock()
		answer.status, answer.retryAfter, answer.body = st, retryAfter, body
		answer.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		check := func(op string, err error) {
			t.Helper()
			if (st < 200 || st > 299 || oversize) && err == nil {
				t.Fatalf("%s: no error for status %d (oversize %v)", op, st, oversize)
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				if apiErr.Status != st || apiErr.RetryAfter < 0 || len(apiErr.Message) > maxErrorMessage {
					t.Fatalf("%s: %+v for status %d", op, apiErr, st)
				}
			}
		}
		cust, err := c.CreateCustomer(ctx, "Acme", "acme")
		check("create customer", err)
		if err == nil && cust.ID == "" {
			t.Fatal("customer without id")
		}
		_, _, err = c.FindCustomerByExternalID(ctx, "acme")
		check("find customer", err)
		link, err := c.CreateSetupLink(ctx, "c1", onboarding.SetupLinkOptions{SuccessRedirectURL: "https://b/s",
			FailureRedirectURL: "https://b/f", ProvisionPhoneNumber: &yes})
		check("create setup link", err)
		if err == nil && link.ID == "" {
			t.Fatal("setup link without id")
		}
		_, err = c.ListSetupLinks(ctx, "c1", "active")
		check("list setup links", err)
		_, err = c.RevokeSetupLink(ctx, "c1", "l1")
		check("revoke setup link", err)
		_, err = c.ListPhoneNumbers(ctx, "c1")
		check("list phone numbers", err)
		_, err = c.GetPhoneNumber(ctx, "106540352242922")
		check("get phone number", err)
		_, err = c.ListWebhooks(ctx, "106540352242922")
		check("list webhooks", err)
		_, err = c.CreateWebhook(ctx, "106540352242922", onboarding.WebhookRegistration{URL: "https://b/w", SecretKey: "s", Kind: "kapso"})
		check("create webhook", err)
		_, err = c.UpdateWebhook(ctx, "106540352242922", "w1", onboarding.WebhookChange{Active: &yes})
		check("update webhook", err)
		msgs, err := c.ListMessages(ctx, "106540352242922", "a", 10)
		check("list messages", err)
		if err == nil && msgs.After == "a" {
			t.Fatal("a cursor that repeats the current one was followed")
		}
		_, err = c.ListConversations(ctx, "106540352242922", "", 10)
		check("list conversations", err)
		_, err = c.ListWebhookDeliveries(ctx, "failed", "", 10)
		check("list webhook deliveries", err)
		ts, err := p.ListTemplates(ctx, "102290129340398")
		check("list templates", err)
		for _, tm := range ts {
			if !keyable(tm) || len(tm.Status) > maxTemplateText || len(tm.QualityScore) > maxTemplateText ||
				len(tm.Components) > maxTemplateComponents || (len(tm.Components) > 0 && tm.Components[0] != '[') {
				t.Fatalf("template read as %+v", tm)
			}
		}
		created, err := p.CreateTemplate(ctx, "102290129340398", templates.Draft{Name: "a", Language: "en", Category: templates.Utility,
			Components: json.RawMessage(`[{"type":"BODY","text":"x"}]`)})
		check("create template", err)
		if err == nil && created.ID == "" {
			t.Fatal("template without id")
		}
		if e, ok := errs.As(err); ok && (len(e.Message) > 2*maxErrorMessage+100 || strings.ContainsAny(e.Message, "\n\r")) {
			t.Fatalf("create template refused with %q", e.Message)
		}
	})
}

// FuzzParseRetryAfter: a Retry-After is never negative, and delay-seconds
// are read as that many seconds, a number too large for a Duration as the
// longest wait rather than a wrapped one.
func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{"", "0", "120", " 5 ", "-1", "9223372037", "18446744074", "99999999999999999999",
		"Wed, 21 Oct 2099 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", "+3", "1.5", "0x10"} {
		f.Add(v)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v", v, d)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil || n < 0:
		case n <= math.MaxInt64/int(time.Second):
			if d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v", v, d)
			}
		case d != time.Duration(math.MaxInt64):
			t.Fatalf("parseRetryAfter(%q) = %v, want the longest wait", v, d)
		}
	})
}
