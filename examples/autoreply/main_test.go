package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

const received = `{"id":"evt_1","type":"message.received","timestamp":"2026-12-07T10:00:00Z","tenant_id":"acme",` +
	`"source":"webhook","subject":"message:wamid.HBgL1","version":1,"data":{"tenant_id":"acme","message":{` +
	`"id":"wamid.HBgL1","phone_number_id":"111","direction":"inbound","type":"text","text":"Oi!",` +
	`"from":{"business_scoped_user_id":"US.1","parent_business_scoped_user_id":"","username":"","phone_number":"5215512345678","name":"Ana"},` +
	`"to":{"business_scoped_user_id":"","parent_business_scoped_user_id":"","username":"","phone_number":"15550001111","name":""},` +
	`"known":true,"statuses":[]}}}`

// api stands in for the tenant API: it records each send and answers
// with status.
type api struct {
	mu     sync.Mutex
	sends  []*http.Request
	bodies []string
	status int
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sends, a.bodies = append(a.sends, r), append(a.bodies, string(b))
	w.WriteHeader(a.status)
}

func newReplier(t *testing.T, status int) (*replier, *api) {
	t.Helper()
	key, err := bridgeevents.Secret(secret)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{status: status}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &replier{key: key, api: srv.URL, token: "tok", text: "Olá!", client: srv.Client(),
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}, a
}

// deliver POSTs body signed with secret as kapso-bridge would.
func deliver(t *testing.T, h http.Handler, withSecret, body string) int {
	t.Helper()
	key, err := bridgeevents.Secret(withSecret)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ ID string }
	_ = json.Unmarshal([]byte(body), &ev)
	now := time.Now()
	r := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(body))
	r.Header.Set(bridgeevents.HeaderID, ev.ID)
	r.Header.Set(bridgeevents.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	r.Header.Set(bridgeevents.HeaderSignature, bridgeevents.Sign(key, ev.ID, now, []byte(body)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// A signed message.received is answered with one send per delivery, each
// under reply-<wamid>: the API makes a redelivery the same message.
func TestRepliesUnderTheMessagesKey(t *testing.T) {
	rp, a := newReplier(t, http.StatusAccepted)
	for range 2 {
		if code := deliver(t, rp, secret, received); code != http.StatusNoContent {
			t.Fatalf("delivery answered %d", code)
		}
	}
	if len(a.sends) != 2 {
		t.Fatalf("%d sends", len(a.sends))
	}
	for i, r := range a.sends {
		var body map[string]any
		_ = json.Unmarshal([]byte(a.bodies[i]), &body)
		if r.URL.Path != "/v1/tenants/acme/messages" || r.Header.Get("Idempotency-Key") != "reply-wamid.HBgL1" ||
			r.Header.Get("Authorization") != "Bearer tok" || body["to"] != "5215512345678" || body["phone_number_id"] != "111" ||
			body["type"] != "text" || body["text"].(map[string]any)["body"] != "Olá!" {
			t.Errorf("send %d: %s %v %s", i, r.URL.Path, r.Header, a.bodies[i])
		}
	}
	if a.bodies[0] != a.bodies[1] {
		t.Errorf("two deliveries, two bodies under one key:\n%s\n%s", a.bodies[0], a.bodies[1])
	}
}

// What is badly signed, or not signed with this secret, is 401 and sends
// nothing; what is no message from a person sends nothing either.
func TestSendsNothingForWhatItShouldNot(t *testing.T) {
	rp, a := newReplier(t, http.StatusAccepted)
	if code := deliver(t, rp, "whsec_"+strings.Repeat("QUFB", 8), received); code != http.StatusUnauthorized {
		t.Errorf("another secret: %d", code)
	}
	r := httptest.NewRequest(http.MethodPost, "/events", strings.NewReader(received))
	w := httptest.NewRecorder()
	rp.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("unsigned: %d", w.Code)
	}
	status := strings.Replace(received, `"type":"message.received"`, `"type":"tenant.status_changed"`, 1)
	status = strings.Replace(status, `"data":{"tenant_id":"acme","message"`, `"data":{"tenant_id":"acme","other"`, 1)
	outbound := strings.Replace(received, `"direction":"inbound"`, `"direction":"outbound"`, 1)
	for name, body := range map[string]string{"another type": status, "an outbound message": outbound} {
		if code := deliver(t, rp, secret, body); code != http.StatusNoContent {
			t.Errorf("%s: %d", name, code)
		}
	}
	if code := deliver(t, rp, secret, `{"id":"evt_2","type":"message.received","data":[]}`); code != http.StatusBadRequest {
		t.Errorf("not an event: %d", code)
	}
	if len(a.sends) != 0 {
		t.Errorf("%d sends: %v", len(a.sends), a.bodies)
	}
}

// A send the API may take later has the delivery tried again; one it
// refused for good does not.
func TestAsksAgainOnlyWhenWorthIt(t *testing.T) {
	for status, want := range map[int]int{
		http.StatusAccepted: http.StatusNoContent, http.StatusUnprocessableEntity: http.StatusNoContent,
		http.StatusConflict: http.StatusNoContent, http.StatusServiceUnavailable: http.StatusServiceUnavailable,
		http.StatusInternalServerError: http.StatusServiceUnavailable, http.StatusTooManyRequests: http.StatusServiceUnavailable,
		http.StatusUnauthorized: http.StatusServiceUnavailable,
	} {
		rp, _ := newReplier(t, status)
		if code := deliver(t, rp, secret, received); code != want {
			t.Errorf("API %d: delivery answered %d, want %d", status, code, want)
		}
	}
}

func TestReplyKeyFitsTheAPI(t *testing.T) {
	if k := replyKey(bridgeevents.Message{MessageSummary: bridgeevents.MessageSummary{ID: "wamid.1"}}); k != "reply-wamid.1" {
		t.Errorf("key %q", k)
	}
	long := bridgeevents.Message{MessageSummary: bridgeevents.MessageSummary{ID: strings.Repeat("w", 256)}}
	if k := replyKey(long); len(k) > 255 || !strings.HasPrefix(k, "reply-") || k != replyKey(long) {
		t.Errorf("key %q", k)
	}
}

func TestRunRefusesWhatItCannotUse(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	good := map[string]string{"EVENTS_WEBHOOK_SECRET": secret, "BRIDGE_API_TOKEN": "tok"}
	for _, tc := range []struct {
		listen, api string
		env         map[string]string
		want        string
	}{
		{"127.0.0.1:0", "http://127.0.0.1:8080", map[string]string{"BRIDGE_API_TOKEN": "tok"}, "EVENTS_WEBHOOK_SECRET"},
		{"127.0.0.1:0", "http://127.0.0.1:8080", map[string]string{"EVENTS_WEBHOOK_SECRET": secret}, "BRIDGE_API_TOKEN"},
		{"0.0.0.0:8070", "http://127.0.0.1:8080", good, "loopback"},
		{":8070", "http://127.0.0.1:8080", good, "loopback"},
		{"127.0.0.1:0", "127.0.0.1:8080", good, "-api"},
	} {
		if err := run(tc.listen, tc.api, "hi", env(tc.env), log); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}
