package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// sendAPI is the tenant API over in-memory stores where tenant acme has
// number 111 connected and Ana (+5215512345678) wrote to it an hour
// before now.
type sendAPI struct {
	mux   *http.ServeMux
	msgs  *memstore.Messages
	queue *memstore.OutboundQueue
	now   time.Time
}

func newSendAPI(tb testing.TB) *sendAPI {
	tb.Helper()
	return newSendAPIWith(tb, func(*tenantapi.API) {})
}

// newSendAPIWith is newSendAPI with the API's other parts set by with.
func newSendAPIWith(tb testing.TB, with func(*tenantapi.API)) *sendAPI {
	tb.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	store, msgs := &memstore.Onboarding{}, &memstore.Messages{}
	if _, err := onboarding.EnsureCustomer(ctx, store, "acme", "Acme", func(context.Context) (string, error) {
		return "cus-1", nil
	}); err != nil {
		tb.Fatal(err)
	}
	for _, f := range []onboarding.Fact{
		onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: "111", SetupLinkID: "sl-1"}, now.Add(-48*time.Hour)),
		onboarding.WebhookRegistered("111", "wh", now.Add(-48*time.Hour)),
	} {
		if _, _, err := store.AppendFact(ctx, "acme", f); err != nil {
			tb.Fatal(err)
		}
	}
	ana := messaging.Person{Phone: "5215512345678", Name: "Ana"}
	if err := msgs.PutContact(ctx, "acme", "111", ana, messaging.Sighting{At: now.Add(-time.Hour), Inbound: true,
		ConversationID: "conv-ana"}); err != nil {
		tb.Fatal(err)
	}
	s := &sendAPI{mux: http.NewServeMux(), msgs: msgs, queue: &memstore.OutboundQueue{}, now: now}
	api := &tenantapi.API{Store: store, Messages: msgs, Outbox: msgs, Outbound: s.queue, Token: apiToken,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return s.now },
		Timeout: 5 * time.Second}
	with(api)
	api.Register(s.mux)
	return s
}

func (s *sendAPI) post(key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/tenants/acme/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return rec
}

func sentID(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var out struct {
		Message struct{ ID, Status, ConversationID string } `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Message.ID == "" {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	return out.Message.ID
}

func TestSendQueuesOnceAndAnswersTheSameMessageAgain(t *testing.T) {
	s := newSendAPI(t)
	body := []byte(`{"to":"+5215512345678","type":"text","text":{"body":"Your bread is ready"}}`)
	first := s.post("k-1", body)
	if first.Code != http.StatusAccepted {
		t.Fatalf("send: %d %s", first.Code, first.Body)
	}
	id := sentID(t, first)
	// The same request, its JSON laid out otherwise: the same message.
	again := s.post("k-1", []byte(`{ "type":"text", "text":{"body":"Your bread is ready"}, "to":"5215512345678" }`))
	if again.Code != http.StatusAccepted || sentID(t, again) != id || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s %v", again.Code, again.Body, again.Header())
	}
	if other := s.post("k-1", []byte(`{"to":"+5215512345678","type":"text","text":{"body":"Something else"}}`)); other.Code != http.StatusConflict {
		t.Errorf("same key, another body: %d %s", other.Code, other.Body)
	}
	m, ok, err := s.msgs.Outbound(context.Background(), "acme", id)
	if err != nil || !ok || m.PhoneNumberID != "111" || m.ConversationID != "conv-ana" || m.State != messaging.OutQueued {
		t.Fatalf("stored: %+v %v %v", m, ok, err)
	}
	listed, _, err := s.msgs.ConversationMessages(context.Background(), "acme", "conv-ana", messaging.Page{})
	if err != nil || len(listed) != 1 || listed[0].Outbound == nil || listed[0].Outbound.ID != id {
		t.Errorf("the conversation lists %+v, %v", listed, err)
	}
	// Queued each time it was asked while still queued: the sender's
	// claim makes the copies harmless, and a lost first copy is healed.
	if jobs := s.queue.Take(0); len(jobs) != 2 || jobs[0].Job.ID != id || jobs[1].Job.ID != id {
		t.Errorf("queued %v", jobs)
	}
}

func TestSendWindowAndRecipients(t *testing.T) {
	s := newSendAPI(t)
	template := `{"to":"+447700900123","type":"template","template":{"name":"welcome","language":{"code":"en"}}}`
	for _, c := range []struct {
		name, body string
		at         time.Duration // after the API's now
		status     int
		code       string
	}{
		{"free-form inside the window", `{"to":"+5215512345678","type":"text","text":{"body":"hi"}}`, 0, 202, ""},
		{"free-form after 24 hours", `{"to":"+5215512345678","type":"text","text":{"body":"hi again"}}`, 23*time.Hour + time.Minute,
			422, "outside_customer_service_window"},
		{"free-form to who never wrote", `{"to":"+447700900123","type":"text","text":{"body":"hi"}}`, 0, 422,
			"outside_customer_service_window"},
		{"a template to who never wrote", template, 0, 202, ""},
		{"a number that is not the tenant's", `{"phone_number_id":"999","to":"+5215512345678","type":"text","text":{"body":"hi"}}`, 0,
			404, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(c.at)
			rec := s.post(c.name, []byte(c.body))
			if rec.Code != c.status || (c.code != "" && !strings.Contains(rec.Body.String(), `"code":"`+c.code+`"`)) {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, c.status, c.code)
			}
			if queued := len(s.queue.Take(0)); (c.status == 202) != (queued == 1) {
				t.Errorf("%d queued for a %d", queued, rec.Code)
			}
		})
	}
}

// A send is checked as strictly as a setup link: text that is not text,
// and control characters, are refused by field before anything is stored,
// queued or sent.
func TestSendRefusesBadText(t *testing.T) {
	s := newSendAPI(t)
	for _, c := range []struct{ name, body, field string }{
		{"a lone surrogate", `{"to":"+5215512345678","type":"text","text":{"body":"hi \ud800"}}`, "text.body"},
		{"a lone low surrogate", `{"to":"+5215512345678","type":"text","text":{"body":"\udc00 hi"}}`, "text.body"},
		{"NUL", `{"to":"+5215512345678","type":"text","text":{"body":"hi\u0000"}}`, "text.body"},
		{"an escape", `{"to":"+5215512345678","type":"text","text":{"body":"\u001b[2Jhi"}}`, "text.body"},
		{"NUL in a caption", `{"to":"+5215512345678","type":"image","image":{"id":"1","caption":"a\u0000"}}`, "image.caption"},
		{"a lone surrogate in a template parameter", `{"to":"+5215512345678","type":"template","template":{"name":"welcome",` +
			`"language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"\ud800"}]}]}}`,
			"template.components[0].parameters[0].text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := s.post(c.name, []byte(c.body))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code":"invalid"`) ||
				!strings.Contains(rec.Body.String(), c.field+": ") {
				t.Fatalf("%d %s, want a 400 naming %s", rec.Code, rec.Body, c.field)
			}
			if n := len(s.queue.Take(0)); n != 0 {
				t.Errorf("queued %d", n)
			}
			if _, ok, _ := s.msgs.Outbound(context.Background(), "acme", messaging.OutboundID("acme", c.name)); ok {
				t.Errorf("stored")
			}
		})
	}
}

// A media link Meta would fetch from a non-public address is refused by
// field before anything is stored, queued or sent.
func TestSendRefusesPrivateMediaLinks(t *testing.T) {
	s := newSendAPI(t)
	for _, link := range []string{"https://127.0.0.1/a.jpg", "https://169.254.169.254/latest/meta-data/", "https://[::1]/a.jpg",
		"https://10.0.0.1/a.jpg", "https://2130706433/a.jpg", "https://0x7f.1/a.jpg", "https://[::ffff:10.0.0.1]/a.jpg",
		"https://localhost/a.jpg", "https://media.localhost/a.jpg"} {
		t.Run(link, func(t *testing.T) {
			rec := s.post(link, []byte(`{"to":"+5215512345678","type":"image","image":{"link":"`+link+`"}}`))
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"message":"image.link: `) {
				t.Fatalf("%d %s, want a 400 naming image.link", rec.Code, rec.Body)
			}
			if n := len(s.queue.Take(0)); n != 0 {
				t.Errorf("queued %d", n)
			}
		})
	}
	if rec := s.post("public", []byte(`{"to":"+5215512345678","type":"image","image":{"link":"https://cdn.example.com/a.jpg"}}`)); rec.Code != http.StatusAccepted {
		t.Fatalf("a public link: %d %s", rec.Code, rec.Body)
	}
}

// FuzzSendBody posts random bodies and keys to the send route: the answer
// is 202 with the message stored and queued once, or a 4xx that stored
// and queued nothing; never a panic or a 5xx.
func FuzzSendBody(f *testing.F) {
	for _, b := range []string{
		`{"to":"+5215512345678","type":"text","text":{"body":"hi"}}`,
		`{"to":"5215512345678","type":"text","text":{"body":"hi","preview_url":true}}`,
		`{"phone_number_id":"111","to":"+447700900123","type":"template","template":{"name":"welcome","language":{"code":"en"},"components":[{"type":"body"}]}}`,
		`{"to":"+5215512345678","type":"image","image":{"link":"https://example.com/a.jpg","caption":"a"}}`,
		`{"to":"+5215512345678","type":"reaction","reaction":{"message_id":"wamid.x","emoji":"👍"}}`,
		`{"to":"+5215512345678","type":"location","location":{"latitude":1.5,"longitude":2}}`,
		`{"to":"+5215512345678","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"reply":{"id":"a","title":"A"}}]}}}`,
		`{"recipient":"BR.77210938475610293847","type":"text","text":{"body":"hi"}}`,
		`{"to":"+5215512345678","type":"text","text":{"body":"\ud800"}}`, `null`, `[]`, `{}`, `{"to":1}`,
	} {
		f.Add([]byte(b), "k-1")
	}
	f.Add([]byte(`{"to":"+5215512345678","type":"text","text":{"body":"hi"}}`), "")
	f.Add([]byte(`{"to":"+5215512345678","type":"text","text":{"body":"hi"}}`), "k\x01")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		s := newSendAPI(t)
		rec := s.post("", body)
		if key != "" {
			req := httptest.NewRequest(http.MethodPost, "/v1/tenants/acme/messages", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiToken)
			req.Header["Idempotency-Key"] = []string{key}
			rec = httptest.NewRecorder()
			s.mux.ServeHTTP(rec, req)
		}
		switch rec.Code {
		case http.StatusAccepted:
			id := sentID(t, rec)
			m, ok, err := s.msgs.Outbound(context.Background(), "acme", id)
			if err != nil || !ok || id != messaging.OutboundID("acme", key) || !messaging.ValidIdempotencyKey(key) {
				t.Fatalf("accepted %q under key %q: stored %v %v", body, key, ok, err)
			}
			req, err := tenantapi.ParseSendRequest(body)
			if err != nil || req.Fingerprint() != m.Fingerprint || !json.Valid(m.Body) {
				t.Fatalf("accepted %q: %v, fingerprint %s, meta body %s", body, err, m.Fingerprint, m.Body)
			}
			if jobs := s.queue.Take(0); len(jobs) != 1 {
				t.Fatalf("queued %d times", len(jobs))
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity:
			if len(s.queue.Take(0)) != 0 {
				t.Fatalf("a refused request (%d) was queued", rec.Code)
			}
			if _, ok, _ := s.msgs.Outbound(context.Background(), "acme", messaging.OutboundID("acme", key)); ok {
				t.Fatalf("a refused request (%d) was stored", rec.Code)
			}
		default:
			t.Fatalf("POST %q under %q: %d %s", body, key, rec.Code, rec.Body)
		}
	})
}
