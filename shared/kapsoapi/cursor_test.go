package kapsoapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

func TestListMessagesFollowsCursors(t *testing.T) {
	const item1 = `{"id":"wamid.1","timestamp":"1700000000","type":"text","text":{"body":"hi"},
		"kapso":{"direction":"inbound","status":"received"}}`
	const item2 = `{"id":"wamid.2","timestamp":1700000060,"type":"image","kapso":{"direction":"outbound","status":null}}`
	var queries []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/platform/v1/whatsapp/messages" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		q := r.URL.Query()
		queries = append(queries, q.Encode())
		switch q.Get("after") {
		case "":
			reply(w, 200, `{"data":[`+item1+`],"paging":{"cursors":{"before":"b1","after":"c1"},
				"next":"https://api.kapso.ai/platform/v1/whatsapp/messages?after=c1","previous":null}}`)
		case "c1":
			reply(w, 200, `{"data":[`+item2+`],"paging":{"cursors":{"before":"c1","after":"c2"},"next":null}}`)
		default:
			t.Errorf("after = %q", q.Get("after"))
		}
	})
	ctx := context.Background()
	p, err := c.ListMessages(ctx, "123", "", 0)
	if err != nil || len(p.Items) != 1 || p.After != "c1" {
		t.Fatalf("first page = %+v, %v", p, err)
	}
	m := p.Items[0]
	if m.ID != "wamid.1" || !m.Timestamp.Equal(time.Unix(1700000000, 0)) || m.Direction != "inbound" ||
		m.Status != "received" || string(m.Raw) != item1 {
		t.Errorf("message = %+v (raw %s)", m, m.Raw)
	}
	p, err = c.ListMessages(ctx, "123", p.After, 500)
	if err != nil || len(p.Items) != 1 || p.After != "" {
		t.Fatalf("last page = %+v, %v", p, err)
	}
	if m := p.Items[0]; m.ID != "wamid.2" || m.Timestamp.Unix() != 1700000060 || m.Direction != "outbound" || m.Status != "" {
		t.Errorf("message = %+v", m)
	}
	want := []string{"limit=100&page=1&per_page=100&phone_number_id=123", "after=c1&limit=100&phone_number_id=123"}
	if strings.Join(queries, " ") != strings.Join(want, " ") {
		t.Errorf("queries = %v, want %v", queries, want)
	}
}

func TestCursorLimitClamped(t *testing.T) {
	var got []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Query().Get("limit"))
		reply(w, 200, `{"data":[]}`)
	})
	for _, l := range []int{-1, 0, 1, 7, 100, 101} {
		if _, err := c.ListWebhookDeliveries(context.Background(), "", "", l); err != nil {
			t.Fatal(err)
		}
	}
	if s := strings.Join(got, ","); s != "100,100,1,7,100,100" {
		t.Errorf("limits = %s", s)
	}
}

func TestCursorEndDetection(t *testing.T) {
	cases := map[string]struct {
		body, after string
	}{
		"next null":           {`{"data":[{"id":"d1"}],"paging":{"cursors":{"after":"c2"},"next":null}}`, ""},
		"next empty":          {`{"data":[{"id":"d1"}],"paging":{"cursors":{"after":"c2"},"next":""}}`, ""},
		"next absent":         {`{"data":[{"id":"d1"}],"paging":{"cursors":{"after":"c2"}}}`, ""},
		"no paging":           {`{"data":[{"id":"d1"}]}`, ""},
		"empty page":          {`{"data":[],"paging":{"cursors":{"after":"c2"},"next":"https://x"}}`, ""},
		"next without cursor": {`{"data":[{"id":"d1"}],"paging":{"cursors":{},"next":"https://x"}}`, ""},
		"more":                {`{"data":[{"id":"d1"}],"paging":{"cursors":{"after":"c2"},"next":"https://x"}}`, "c2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, tc.body) })
			p, err := c.ListWebhookDeliveries(context.Background(), "failed", "c1", 10)
			if err != nil || p.After != tc.after {
				t.Fatalf("page = %+v, %v; want after %q", p, err, tc.after)
			}
		})
	}
}

func TestCursorRepeatedIsRefused(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":[{"id":"d1"}],"paging":{"cursors":{"after":"c1"},"next":"https://x"}}`)
	})
	if _, err := c.ListWebhookDeliveries(context.Background(), "", "c1", 0); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("err = %v", err)
	}
}

func TestListConversations(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/platform/v1/whatsapp/conversations" || r.URL.Query().Get("phone_number_id") != "123" ||
			r.URL.Query().Get("after") != "c0" || r.URL.Query().Get("limit") != "50" {
			t.Errorf("request %s?%s", r.URL.Path, r.URL.RawQuery)
		}
		// The second conversation is of another number: a server that ignored the filter.
		reply(w, 200, `{"data":[
			{"id":"conv_1","status":"active","phone_number_id":"123","last_active_at":"2025-03-01T10:00:00Z","updated_at":"2025-03-01T10:00:01.5Z","phone_number":null},
			{"id":"conv_2","status":"ended","phone_number_id":"999"}],
			"paging":{"cursors":{"before":"c0","after":"c3"},"next":"https://x"}}`)
	})
	p, err := c.ListConversations(context.Background(), "123", "c0", 50)
	if err != nil || len(p.Items) != 1 || p.After != "c3" {
		t.Fatalf("page = %+v, %v", p, err)
	}
	cv := p.Items[0]
	if cv.ID != "conv_1" || cv.Status != "active" || cv.PhoneNumberID != "123" ||
		!cv.LastActiveAt.Equal(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)) ||
		!cv.UpdatedAt.Equal(time.Date(2025, 3, 1, 10, 0, 1, 5e8, time.UTC)) || !strings.Contains(string(cv.Raw), `"phone_number":null`) {
		t.Errorf("conversation = %+v", cv)
	}
}

func TestListWebhookDeliveries(t *testing.T) {
	var queries []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/platform/v1/webhook_deliveries" {
			t.Errorf("path %s", r.URL.Path)
		}
		queries = append(queries, r.URL.RawQuery)
		reply(w, 200, `{"data":[
			{"id":"d1","webhook_id":"w1","phone_number_id":123,"event":"whatsapp.message.received","status":"failed",
			 "attempts":5,"response_status":500,"idempotency_key":"k1","created_at":"2025-03-01T10:00:00Z","last_attempt_at":"2025-03-01T11:00:00Z"},
			{"id":"d2","phone_number_id":null,"response_status":null},
			{"id":"d3","phone_number_id":"123","status":"delivered","response_status":200}]}`)
	})
	p, err := c.ListWebhookDeliveries(context.Background(), "failed", "", 0)
	if err != nil || len(p.Items) != 2 || p.After != "" {
		t.Fatalf("page = %+v, %v", p, err)
	}
	want := messaging.WebhookDelivery{ID: "d1", WebhookID: "w1", PhoneNumberID: "123", Event: "whatsapp.message.received",
		Status: "failed", IdempotencyKey: "k1", Attempts: 5, ResponseStatus: 500,
		CreatedAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), LastAttemptAt: time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)}
	if p.Items[0] != want {
		t.Errorf("delivery = %+v", p.Items[0])
	}
	if d := p.Items[1]; d != (messaging.WebhookDelivery{ID: "d2"}) {
		t.Errorf("sparse delivery = %+v", d)
	}
	if _, err := c.ListWebhookDeliveries(context.Background(), "", "", 0); err != nil {
		t.Fatal(err)
	}
	if strings.Join(queries, " ") != "errors_only=true&limit=100&page=1&per_page=100&period=7d limit=100&page=1&per_page=100" {
		t.Errorf("queries = %v", queries)
	}
}

func TestCursorListsRefuseBadAnswers(t *testing.T) {
	cases := map[string]struct {
		body string
		call func(*Client) error
	}{
		"message without id": {`{"data":[{"id":"wamid.1"},{"timestamp":"1"}]}`, func(c *Client) error {
			_, err := c.ListMessages(context.Background(), "123", "", 0)
			return err
		}},
		"message timestamp not seconds": {`{"data":[{"id":"wamid.1","timestamp":"2025-03-01T10:00:00Z"}]}`, func(c *Client) error {
			_, err := c.ListMessages(context.Background(), "123", "", 0)
			return err
		}},
		"conversation without id": {`{"data":[{"status":"active"}]}`, func(c *Client) error {
			_, err := c.ListConversations(context.Background(), "123", "", 0)
			return err
		}},
		"conversation bad time": {`{"data":[{"id":"conv","updated_at":"yesterday"}]}`, func(c *Client) error {
			_, err := c.ListConversations(context.Background(), "123", "", 0)
			return err
		}},
		"delivery without id": {`{"data":[{"status":"failed"}]}`, func(c *Client) error {
			_, err := c.ListWebhookDeliveries(context.Background(), "", "", 0)
			return err
		}},
		"delivery attempts not a number": {`{"data":[{"id":"d","attempts":"many"}]}`, func(c *Client) error {
			_, err := c.ListWebhookDeliveries(context.Background(), "", "", 0)
			return err
		}},
		"data not a list": {`{"data":{"id":"d"}}`, func(c *Client) error {
			_, err := c.ListWebhookDeliveries(context.Background(), "", "", 0)
			return err
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, tc.body) })
			if err := tc.call(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestCursorListsRefuseOversizedBodies(t *testing.T) {
	big := `{"data":[{"id":"x","pad":"` + strings.Repeat("x", maxResponseBytes) + `"}]}`
	calls := []func(*Client) error{
		func(c *Client) error { _, err := c.ListMessages(context.Background(), "123", "", 0); return err },
		func(c *Client) error { _, err := c.ListConversations(context.Background(), "123", "", 0); return err },
		func(c *Client) error { _, err := c.ListWebhookDeliveries(context.Background(), "", "", 0); return err },
	}
	for i, call := range calls {
		c, n := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, big) })
		if err := call(c); err == nil || !strings.Contains(err.Error(), "larger than") || errors.Is(err, ErrUnavailable) {
			t.Errorf("call %d: err = %v", i, err)
		}
		if n.Load() != 1 {
			t.Errorf("call %d: %d requests", i, n.Load())
		}
	}
}

func TestCursorPagesCountAgainstTheBudget(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":[{"id":"wamid.`+r.URL.Query().Get("after")+`x"}],"paging":{"cursors":{"after":"`+
			r.URL.Query().Get("after")+`x"},"next":"https://x"}}`)
	})
	ctx := WithMeter(context.Background(), NewMeter(MeterOptions{Budget: 2}))
	after := ""
	var err error
	for range 3 {
		var p messaging.ListedPage[messaging.ListedMessage]
		if p, err = c.ListMessages(ctx, "123", after, 0); err != nil {
			break
		}
		after = p.After
	}
	if !errors.Is(err, ErrBudgetSpent) || calls.Load() != 2 || after != "xx" {
		t.Fatalf("err %v after %d requests, cursor %q", err, calls.Load(), after)
	}
}

func TestCursorListsNeedAPhoneNumber(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	if _, err := c.ListMessages(context.Background(), " ", "", 0); err == nil {
		t.Error("messages of no number listed")
	}
	if _, err := c.ListConversations(context.Background(), "", "", 0); err == nil {
		t.Error("conversations of no number listed")
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests", calls.Load())
	}
}

func TestUpdateWebhookSendsOnlySetFields(t *testing.T) {
	var n atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			reply(w, 503, `{"error":"down"}`) // retried: setting fields is idempotent
			return
		}
		if r.Method != http.MethodPatch || r.URL.Path != "/platform/v1/whatsapp/phone_numbers/123/webhooks/w1" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		b := readBody(t, r)["whatsapp_webhook"].(map[string]any)
		if len(b) != 2 || b["active"] != false || b["url"] != "https://new" {
			t.Errorf("body = %v", b)
		}
		reply(w, 200, `{"data":{"id":"w1","url":"https://new","kind":"kapso","active":false}}`)
	})
	off := false
	h, err := c.UpdateWebhook(context.Background(), "123", "w1", onboarding.WebhookChange{Active: &off, URL: "https://new"})
	if err != nil || h.ID != "w1" || h.Active || h.URL != "https://new" || n.Load() != 2 {
		t.Fatalf("= %+v, %v (requests %d)", h, err, n.Load())
	}
}

func TestUpdateWebhookRefusals(t *testing.T) {
	c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":{"id":"w2","url":"https://new"}}`)
	})
	ctx := context.Background()
	if _, err := c.UpdateWebhook(ctx, "123", "w1", onboarding.WebhookChange{}); err == nil {
		t.Error("empty update sent")
	}
	if _, err := c.UpdateWebhook(ctx, "123", "", onboarding.WebhookChange{URL: "https://new"}); err == nil {
		t.Error("update without webhook id sent")
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests", calls.Load())
	}
	if _, err := c.UpdateWebhook(ctx, "123", "w1", onboarding.WebhookChange{SecretKey: "s", Events: []string{"e"}}); err == nil ||
		!strings.Contains(err.Error(), "answer is about webhook w2") {
		t.Errorf("answer about another webhook: %v", err)
	}
}

// The Platform API pages its lists by number with a meta block (Kapso's
// platform-api-overview): the first page is asked for at the size wanted,
// every page is read, each after the first at the size the first was
// served at, and the last page ends the list.
func TestPlatformListsFollowPageNumbers(t *testing.T) {
	var queries []string
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		queries = append(queries, q.Get("page")+"/"+q.Get("per_page"))
		switch q.Get("page") {
		case "1":
			reply(w, 200, `{"data":[{"id":"d3"},{"id":"d2"}],"meta":{"page":1,"per_page":2,"total_pages":2,"total_count":3}}`)
		case "2":
			reply(w, 200, `{"data":[{"id":"d1"}],"meta":{"page":2,"per_page":2,"total_pages":2,"total_count":3}}`)
		default:
			reply(w, 200, `{"data":[{"id":"dx"}],"meta":{"page":3,"per_page":2,"total_pages":2,"total_count":3}}`)
		}
	})
	var ids []string
	after := ""
	for range 5 {
		p, err := c.ListWebhookDeliveries(context.Background(), "failed", after, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Items {
			ids = append(ids, d.ID)
		}
		if after = p.After; after == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "d3,d2,d1" {
		t.Errorf("read %v, want d3,d2,d1", ids)
	}
	if strings.Join(queries, " ") != "1/100 2/2" {
		t.Errorf("pages asked %v, want the first at 100 per page, then 2 at the 2 per page it was served at", queries)
	}
}
