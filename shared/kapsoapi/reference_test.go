package kapsoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// referenceFixture reads one of Kapso's reference examples (testdata/reference/README.md
// names each one's source).
func referenceFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// referenceServer answers method path with the fixture answer (and status),
// and checks the request body against the fixture request when one is named.
type referenceServer struct {
	method, path   string
	status         int
	answer         string // fixture file
	request        string // fixture file the body must equal as JSON; "" for none
	rawRequest     bool   // the body must equal the request fixture byte for byte
	asList         bool   // serve the fixture's data object as the one item of a list page
	query          string // the last request's query
	unexpectedCall bool
}

func (rs *referenceServer) serve(t *testing.T, base string) string {
	t.Helper()
	answer := referenceFixture(t, rs.answer)
	if rs.asList {
		var one struct{ Data json.RawMessage }
		if err := json.Unmarshal(answer, &one); err != nil {
			t.Fatal(err)
		}
		answer = []byte(`{"data":[` + string(one.Data) + `],"meta":{"page":1,"per_page":20,"total_pages":1,"total_count":1}}`)
	}
	var want []byte
	if rs.request != "" {
		want = referenceFixture(t, rs.request)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != rs.method || r.URL.Path != base+rs.path {
			rs.unexpectedCall = true
			http.Error(w, `{"error":"unexpected call"}`, http.StatusNotFound)
			return
		}
		rs.query = r.URL.RawQuery
		if want != nil {
			got, _ := io.ReadAll(r.Body)
			switch {
			case rs.rawRequest && !bytes.Equal(got, want):
				t.Errorf("request body %s, want the reference example byte for byte", got)
			case !rs.rawRequest && !sameJSON(t, got, want):
				t.Errorf("request body %s, want the reference example %s", got, want)
			}
		}
		reply(w, rs.status, string(answer))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + base
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("reference request: %v", err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func refTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPlatformReferenceExamples: for each Platform API call kapso-bridge
// makes, Kapso's documented example answer decodes to the values it shows,
// and the request matches the documented example where there is one.
func TestPlatformReferenceExamples(t *testing.T) {
	ctx := context.Background()
	yes := true
	cases := []struct {
		name string
		srv  referenceServer
		run  func(t *testing.T, c *Client)
	}{
		{"create customer", referenceServer{method: http.MethodPost, path: "/customers", status: http.StatusCreated,
			answer: "platform_create_customer.response.json", request: "platform_create_customer.request.json"},
			func(t *testing.T, c *Client) {
				cu, err := c.CreateCustomer(ctx, "Acme Corp", "cus_abc123")
				if err != nil {
					t.Fatal(err)
				}
				want := onboarding.Customer{ID: "550e8400-e29b-41d4-a716-446655440000", Name: "Acme Corp",
					ExternalCustomerID: "cus_abc123", CreatedAt: refTime(t, "2025-01-15T10:00:00Z")}
				if cu != want {
					t.Errorf("customer %+v, want %+v", cu, want)
				}
			}},
		{"list customers", referenceServer{method: http.MethodGet, path: "/customers", status: http.StatusOK,
			answer: "platform_list_customers.response.json"},
			func(t *testing.T, c *Client) {
				cu, ok, err := c.FindCustomerByExternalID(ctx, "cus_xyz789")
				if err != nil || !ok {
					t.Fatal(ok, err)
				}
				if cu.ID != "7c9e6679-7425-40de-944b-e07fc1f90ae7" || cu.Name != "TechStart Inc" ||
					!cu.CreatedAt.Equal(refTime(t, "2025-01-14T15:30:00Z")) {
					t.Errorf("customer %+v", cu)
				}
			}},
		{"list setup links", referenceServer{method: http.MethodGet, path: "/customers/cus-1/setup_links", status: http.StatusOK,
			answer: "platform_list_setup_links.response.json"},
			func(t *testing.T, c *Client) {
				links, err := c.ListSetupLinks(ctx, "cus-1", "")
				if err != nil {
					t.Fatal(err)
				}
				// The example's meta says page 2 of 1: one page is read.
				if len(links) != 1 {
					t.Fatalf("%d links, want 1", len(links))
				}
				l := links[0]
				if l.ID != "3c90c3cc-0d44-4b50-8888-8dd25736052a" || l.Status != "active" || !l.ProvisionPhoneNumber ||
					l.WhatsAppSetupStatus != "pending" || !slices.Equal(l.AllowedConnectionTypes, []string{"coexistence", "dedicated"}) ||
					!l.ExpiresAt.Equal(refTime(t, "2023-11-07T05:31:56Z")) {
					t.Errorf("link %+v", l)
				}
			}},
		{"revoke setup link", referenceServer{method: http.MethodPatch, path: "/customers/cus-1/setup_links/3c90c3cc-0d44-4b50-8888-8dd25736052a",
			status: http.StatusOK, answer: "platform_update_setup_link.response.json", request: "platform_update_setup_link.request.json"},
			func(t *testing.T, c *Client) {
				l, err := c.RevokeSetupLink(ctx, "cus-1", "3c90c3cc-0d44-4b50-8888-8dd25736052a")
				if err != nil {
					t.Fatal(err)
				}
				// A schema example: it still says active after the revoke.
				if l.ID != "3c90c3cc-0d44-4b50-8888-8dd25736052a" || l.Status != "active" ||
					!l.CreatedAt.Equal(refTime(t, "2023-11-07T05:31:56Z")) {
					t.Errorf("link %+v", l)
				}
			}},
		{"list phone numbers", referenceServer{method: http.MethodGet, path: "/whatsapp/phone_numbers", status: http.StatusOK,
			answer: "platform_list_phone_numbers.response.json"},
			func(t *testing.T, c *Client) {
				nums, err := c.ListPhoneNumbers(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				if len(nums) == 0 {
					t.Fatal("no numbers")
				}
				n := nums[0]
				want := onboarding.KapsoNumber{PhoneNumberID: "1234567890", BusinessAccountID: "98765432109",
					DisplayPhoneNumber: "+1 555-123-4567", CustomerID: n.CustomerID, Status: n.Status,
					QualityRating: "GREEN", NameStatus: n.NameStatus, VerifiedName: "Acme Corp",
					// The example's limit, "10000", is Meta's TIER_10K.
					MessagingLimitTier: "TIER_10K", Throughput: "TIER_10K"}
				if n != want || n.CustomerID == "" {
					t.Errorf("number %+v, want %+v", n, want)
				}
			}},
		{"get phone number", referenceServer{method: http.MethodGet, path: "/whatsapp/phone_numbers/<string>", status: http.StatusOK,
			answer: "platform_get_phone_number.response.json"},
			func(t *testing.T, c *Client) {
				n, err := c.GetPhoneNumber(ctx, "<string>")
				if err != nil {
					t.Fatal(err)
				}
				if n.PhoneNumberID != "<string>" || n.CustomerID != "3c90c3cc-0d44-4b50-8888-8dd25736052a" || !n.IsCoexistence {
					t.Errorf("number %+v", n)
				}
			}},
		{"create webhook", referenceServer{method: http.MethodPost, path: "/whatsapp/phone_numbers/1234567890/webhooks",
			status: http.StatusCreated, answer: "platform_create_phone_webhook.response.json", request: "platform_create_phone_webhook.request.json"},
			func(t *testing.T, c *Client) {
				h, err := c.CreateWebhook(ctx, "1234567890", onboarding.WebhookRegistration{URL: "https://api.acme.com/webhooks/whatsapp",
					SecretKey: "wh_sec_3kfj9dmfkg8s2", Events: []string{"whatsapp.message.received", "whatsapp.message.sent"}, Active: &yes})
				if err != nil {
					t.Fatal(err)
				}
				// The example leaves kind out: Kapso's default.
				if h.ID != "9e8d7c6b-5a4f-3e2d-1c0b-9a8f7e6d5c4b" || h.URL != "https://api.acme.com/webhooks/whatsapp" ||
					h.Kind != "kapso" || !h.Active || len(h.Events) != 2 {
					t.Errorf("webhook %+v", h)
				}
			}},
		{"list webhooks", referenceServer{method: http.MethodGet, path: "/whatsapp/phone_numbers/1234567890/webhooks",
			status: http.StatusOK, answer: "platform_get_phone_webhook.response.json", asList: true},
			func(t *testing.T, c *Client) {
				// The list page is not in the reference: its items are the
				// documented webhook object, in the Platform list envelope.
				hooks, err := c.ListWebhooks(ctx, "1234567890")
				if err != nil {
					t.Fatal(err)
				}
				want := onboarding.NumberWebhook{ID: "3c90c3cc-0d44-4b50-8888-8dd25736052a", URL: "<string>", Kind: "kapso",
					Events: []string{"<string>"}, Active: true}
				if len(hooks) != 1 || !reflect.DeepEqual(hooks[0], want) {
					t.Errorf("webhooks %+v, want [%+v]", hooks, want)
				}
			}},
		{"update webhook", referenceServer{method: http.MethodPatch, path: "/whatsapp/phone_numbers/1234567890/webhooks/9e8d7c6b-5a4f-3e2d-1c0b-9a8f7e6d5c4b",
			status: http.StatusOK, answer: "platform_update_phone_webhook.response.json"},
			func(t *testing.T, c *Client) {
				h, err := c.UpdateWebhook(ctx, "1234567890", "9e8d7c6b-5a4f-3e2d-1c0b-9a8f7e6d5c4b",
					onboarding.WebhookChange{Events: []string{"whatsapp.message.received"}})
				if err != nil {
					t.Fatal(err)
				}
				if h.ID != "9e8d7c6b-5a4f-3e2d-1c0b-9a8f7e6d5c4b" || !h.Active ||
					!slices.Equal(h.Events, []string{"whatsapp.message.received"}) {
					t.Errorf("webhook %+v", h)
				}
			}},
		{"list messages", referenceServer{method: http.MethodGet, path: "/whatsapp/messages", status: http.StatusOK,
			answer: "meta_list_messages.sdk-test.json"},
			func(t *testing.T, c *Client) {
				p, err := c.ListMessages(ctx, "123", "", 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Items) != 1 || p.After != "" {
					t.Fatalf("page %+v", p)
				}
				m := p.Items[0]
				if m.ID != "msg-1" || m.Direction != "inbound" || m.Status != "delivered" || !m.Timestamp.Equal(time.Unix(1735689600, 0)) {
					t.Errorf("message %+v", m)
				}
			}},
		{"list conversations", referenceServer{method: http.MethodGet, path: "/whatsapp/conversations", status: http.StatusOK,
			answer: "meta_list_conversations.sdk-test.json"},
			func(t *testing.T, c *Client) {
				p, err := c.ListConversations(ctx, "123", "", 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Items) != 1 || p.After != "" {
					t.Fatalf("page %+v", p)
				}
				cv := p.Items[0]
				if cv.ID != "conv-1" || cv.Status != "active" || cv.PhoneNumberID != "123" ||
					!cv.LastActiveAt.Equal(refTime(t, "2025-01-01T12:00:00Z")) {
					t.Errorf("conversation %+v", cv)
				}
			}},
		{"refusal", referenceServer{method: http.MethodPost, path: "/customers/cus-1/setup_links",
			status: http.StatusUnprocessableEntity, answer: "platform_error_422.legacy.json"},
			func(t *testing.T, c *Client) {
				_, err := c.CreateSetupLink(ctx, "cus-1", onboarding.SetupLinkOptions{SuccessRedirectURL: "not a url"})
				var api *APIError
				if !errors.As(err, &api) || api.Status != http.StatusUnprocessableEntity ||
					api.Message != "Success redirect url must be a valid URL" {
					t.Errorf("error %v, want the documented 422 text", err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.srv
			c := New(srv.serve(t, "/platform/v1"), testKey, WithRetry(1, 0, 0))
			tc.run(t, c)
			if srv.unexpectedCall {
				t.Errorf("the client did not call %s %s", srv.method, srv.path)
			}
		})
	}
}

// TestMetaProxyReferenceExamples: the sends and lists kapso-bridge makes
// through the Meta proxy, against Kapso's examples.
func TestMetaProxyReferenceExamples(t *testing.T) {
	ctx := context.Background()
	t.Run("send", func(t *testing.T) {
		srv := referenceServer{method: http.MethodPost, path: "/v24.0/1234567890/messages", status: http.StatusOK,
			answer: "meta_send_message.response.json", request: "meta_send_message.request.json", rawRequest: true}
		s := NewMetaProxy(srv.serve(t, "/meta/whatsapp"), "v24.0", testKey, WithRetry(1, 0, 0))
		res, err := s.Send(ctx, "1234567890", referenceFixture(t, "meta_send_message.request.json"))
		if err != nil {
			t.Fatal(err)
		}
		if res.WAMID != "wamid.HBgN..." || res.WAID != "15551234567" || res.Input != "15551234567" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("message history", func(t *testing.T) {
		srv := referenceServer{method: http.MethodGet, path: "/v24.0/123/messages", status: http.StatusOK,
			answer: "meta_list_messages.sdk-test.json"}
		s := NewMetaProxy(srv.serve(t, "/meta/whatsapp"), "v24.0", testKey, WithRetry(1, 0, 0))
		p, err := s.ListMessages(ctx, "123", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.After != "" || p.Items[0].ID != "msg-1" || p.Items[0].Direction != "inbound" ||
			p.Items[0].Status != "delivered" {
			t.Errorf("page %+v", p)
		}
		// Kapso's fields come only when asked for.
		if q, _ := url.ParseQuery(srv.query); !strings.HasPrefix(q.Get("fields"), "kapso(direction,status,") || q.Get("limit") != "100" {
			t.Errorf("query %q", srv.query)
		}
	})
	t.Run("conversation history", func(t *testing.T) {
		srv := referenceServer{method: http.MethodGet, path: "/v24.0/123/conversations", status: http.StatusOK,
			answer: "meta_list_conversations.sdk-test.json"}
		s := NewMetaProxy(srv.serve(t, "/meta/whatsapp"), "v24.0", testKey, WithRetry(1, 0, 0))
		p, err := s.ListConversations(ctx, "123", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 1 || p.Items[0].ID != "conv-1" || p.Items[0].PhoneNumberID != "123" ||
			!p.Items[0].LastActiveAt.Equal(refTime(t, "2025-01-01T12:00:00Z")) {
			t.Errorf("page %+v", p)
		}
		if q, _ := url.ParseQuery(srv.query); !strings.HasPrefix(q.Get("fields"), "kapso(contact_name,") {
			t.Errorf("query %q", srv.query)
		}
	})
	t.Run("list templates", func(t *testing.T) {
		srv := referenceServer{method: http.MethodGet, path: "/v24.0/102290129340398/message_templates", status: http.StatusOK,
			answer: "meta_list_message_templates.response.json"}
		s := NewMetaProxy(srv.serve(t, "/meta/whatsapp"), "v24.0", testKey, WithRetry(1, 0, 0))
		ts, err := s.ListTemplates(ctx, "102290129340398")
		if err != nil {
			t.Fatal(err)
		}
		// The example's paging has no next: one page is read.
		if len(ts) != 2 {
			t.Fatalf("%d templates, want 2", len(ts))
		}
		hello, promo := ts[0], ts[1]
		if hello.ID != "1192339204654487" || hello.Name != "hello_world" || hello.Language != "en_US" ||
			hello.Status != "APPROVED" || hello.Category != "MARKETING" || hello.QualityScore != "" || hello.RejectedReason != "" {
			t.Errorf("hello_world %+v", hello)
		}
		if !strings.HasPrefix(string(promo.Components), `[`) || !strings.Contains(string(promo.Components), `"body_text"`) ||
			!strings.Contains(string(promo.Components), `"QUICK_REPLY"`) {
			t.Errorf("seasonal_promotion components %s", promo.Components)
		}
		if q, _ := url.ParseQuery(srv.query); q.Get("limit") != "100" || q.Get("fields") != templateFields {
			t.Errorf("query %q", srv.query)
		}
	})
	t.Run("create template", func(t *testing.T) {
		srv := referenceServer{method: http.MethodPost, path: "/v24.0/102290129340398/message_templates", status: http.StatusOK,
			answer: "meta_create_message_template.response.json", request: "meta_create_message_template.request.json"}
		s := NewMetaProxy(srv.serve(t, "/meta/whatsapp"), "v24.0", testKey, WithRetry(1, 0, 0))
		var d templates.Draft
		if err := json.Unmarshal(referenceFixture(t, "meta_create_message_template.request.json"), &d); err != nil {
			t.Fatal(err)
		}
		// Kapso's example keeps Meta's rules as kapso-bridge checks them.
		if ferr := d.Check(); ferr != nil {
			t.Fatalf("the documented draft breaks a rule: %v", ferr)
		}
		created, err := s.CreateTemplate(ctx, "102290129340398", d)
		if err != nil {
			t.Fatal(err)
		}
		if created != (templates.Created{ID: "1627019861106475", Status: "PENDING", Category: "UTILITY"}) {
			t.Errorf("created %+v", created)
		}
	})
	t.Run("send refusal", func(t *testing.T) {
		srv := referenceServer{method: http.MethodPost, path: "/v24.0/1234567890/messages", status: http.StatusBadRequest,
			answer: "meta_error_reengagement.sdk-test.json"}
		s := NewMetaProxy(srv.serve(t, "/meta/whatsapp"), "v24.0", testKey, WithRetry(1, 0, 0))
		_, err := s.Send(ctx, "1234567890", referenceFixture(t, "meta_send_message.request.json"))
		var me *MetaError
		if !errors.As(err, &me) {
			t.Fatalf("error %v, want a MetaError", err)
		}
		if me.Code != 131047 || me.Subcode != 999001 || me.Type != "OAuthException" ||
			me.Details != "Customer outside 24 hour window" || me.FBTraceID != "TRACE123" {
			t.Errorf("error %+v", me)
		}
	})
}
