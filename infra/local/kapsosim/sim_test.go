package kapsosim

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

const apiKey = "sim-key"

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint answering with statuses in turn (the last repeats).
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []received
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Header.Clone(), b})
		st := rc.statuses[min(len(rc.got), len(rc.statuses))-1]
		rc.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

type harness struct {
	t   *testing.T
	sim *Simulator
	srv *httptest.Server
}

// newHarness serves a simulator; o.PublicURL is set to the server's URL.
func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.sim.ServeHTTP(w, r) }))
	o.PublicURL = h.srv.URL
	if o.APIKey == "" {
		o.APIKey = apiKey
	}
	if o.RetrySchedule == nil {
		o.RetrySchedule = []time.Duration{0, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}
	}
	h.sim = New(o)
	t.Cleanup(func() { h.srv.Close(); h.sim.Close() })
	return h
}

// call makes a JSON request and decodes the answer.
func (h *harness) call(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (h *harness) mustCreate(path string, body any) map[string]any {
	h.t.Helper()
	st, out := h.call("POST", path, body)
	if st != http.StatusCreated {
		h.t.Fatalf("POST %s = %d %v", path, st, out)
	}
	return out["data"].(map[string]any)
}

func (h *harness) customer(ext string) string {
	return h.mustCreate("/platform/v1/customers", map[string]any{"customer": map[string]any{"name": "Acme " + ext, "external_customer_id": ext}})["id"].(string)
}

func (h *harness) link(customerID string, opts map[string]any) map[string]any {
	return h.mustCreate("/platform/v1/customers/"+customerID+"/setup_links", map[string]any{"setup_link": opts})
}

func (h *harness) linkIDs(customerID, status string) []string {
	h.t.Helper()
	st, out := h.call("GET", "/platform/v1/customers/"+customerID+"/setup_links?status="+status, nil)
	if st != 200 {
		h.t.Fatalf("list links = %d %v", st, out)
	}
	var ids []string
	for _, l := range out["data"].([]any) {
		ids = append(ids, l.(map[string]any)["id"].(string))
	}
	return ids
}

// postForm submits a setup-page form and returns the answer without
// following its redirect.
func postForm(t *testing.T, u string, form url.Values) *http.Response {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll.Until(5*time.Second, 5*time.Millisecond, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// settled waits until the simulator has nothing more on its way: every
// delivery made with its retries, every automatic status set.
func settled(t *testing.T, h *harness) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSignMatchesKapsoVectors(t *testing.T) {
	body, _ := hex.DecodeString("7b202274657874223a20224f6cc3a120f09f8c8e222c202261223a2031207d0d0a")
	cases := []struct{ secret, body, want string }{
		{"segredo-do-webhook", `{"type":"whatsapp.message.received"}`, "66f325f1396ffd7390c4feb64b1bfaea776c1e20ee72b7919618d4faea640504"},
		{"webhook-secret", string(body), "f0988cf20f547de9fdaa8b5a31e0cbdb62162b73c52c0e90746ca691483fc026"},
	}
	for _, c := range cases {
		if got := kapso.Sign(c.secret, []byte(c.body)); got != c.want {
			t.Errorf("kapso.Sign(%q) = %s, want %s", c.secret, got, c.want)
		}
	}
}

func TestCustomersUniqueByExternalIDAndFiltered(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.customer("t1")
	h.customer("t2")
	st, out := h.call("POST", "/platform/v1/customers", map[string]any{"customer": map[string]any{"name": "Again", "external_customer_id": "t1"}})
	if st != 422 || out["error"] != "External customer has already been taken" {
		t.Fatalf("duplicate = %d %v", st, out)
	}
	st, out = h.call("GET", "/platform/v1/customers?external_customer_id=t1", nil)
	data := out["data"].([]any)
	if st != 200 || len(data) != 1 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("filter = %d %v", st, out)
	}
	if meta := out["meta"].(map[string]any); meta["total_count"] != 1.0 || meta["total_pages"] != 1.0 {
		t.Errorf("meta = %v", meta)
	}
	if st, out := h.call("POST", "/platform/v1/customers", map[string]any{"customer": map[string]any{"name": ""}}); st != 422 {
		t.Errorf("blank name = %d %v", st, out)
	}
}

func TestPaginationMeta(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 5 {
		h.customer(fmt.Sprint("t", i))
	}
	st, out := h.call("GET", "/platform/v1/customers?page=3&per_page=2", nil)
	meta := out["meta"].(map[string]any)
	if st != 200 || len(out["data"].([]any)) != 1 || meta["page"] != 3.0 || meta["total_pages"] != 3.0 || meta["total_count"] != 5.0 {
		t.Fatalf("page 3 = %d %v", st, out)
	}
	if st, _ := h.call("GET", "/platform/v1/customers?page=0", nil); st != 422 {
		t.Errorf("page=0 = %d", st)
	}
}

func TestAPIKeyRequired(t *testing.T) {
	h := newHarness(t, Options{})
	resp, err := http.Get(h.srv.URL + "/platform/v1/customers")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no key = %d", resp.StatusCode)
	}
}

func TestOneActiveLinkPerCustomer(t *testing.T) {
	clk := testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	h := newHarness(t, Options{Now: clk.Now})
	c := h.customer("t1")
	first := h.link(c, nil)
	if first["token"] == nil || first["url"] != h.srv.URL+"/setup/"+first["token"].(string) || first["status"] != "active" {
		t.Fatalf("link = %v", first)
	}
	if first["expires_at"] != "2025-03-31T12:00:00Z" {
		t.Errorf("expires_at = %v", first["expires_at"])
	}
	second := h.link(c, nil)
	if got := h.linkIDs(c, "active"); len(got) != 1 || got[0] != second["id"] {
		t.Errorf("active = %v", got)
	}
	if got := h.linkIDs(c, "revoked"); len(got) != 1 || got[0] != first["id"] {
		t.Errorf("revoked = %v", got)
	}
	if id, ok := h.sim.LinkIDFromURL(second["url"].(string)); !ok || id != second["id"] {
		t.Errorf("LinkIDFromURL = %q %v", id, ok)
	}
	if _, ok := h.sim.LinkIDFromURL(h.srv.URL + "/setup/nope"); ok {
		t.Error("unknown token resolved")
	}
}

func TestConcurrentLinksLeaveOneActive(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.customer("t1")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { h.link(c, nil) })
	}
	wg.Wait()
	if got := h.linkIDs(c, "active"); len(got) != 1 {
		t.Errorf("%d active links", len(got))
	}
	if got := h.linkIDs(c, "revoked"); len(got) != 19 {
		t.Errorf("%d revoked links", len(got))
	}
}

func TestRevokeAndExpiry(t *testing.T) {
	clk := testclock.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	h := newHarness(t, Options{Now: clk.Now})
	c := h.customer("t1")
	l := h.link(c, map[string]any{"failure_redirect_url": "https://app.example/fail?x=1"})
	id := l["id"].(string)

	clk.Advance(30*24*time.Hour - time.Second)
	if got := h.linkIDs(c, "active"); len(got) != 1 {
		t.Fatalf("active before expiry = %v", got)
	}
	clk.Advance(time.Second)
	if got := h.linkIDs(c, "expired"); len(got) != 1 || got[0] != id {
		t.Fatalf("expired = %v", got)
	}
	redirect, _, err := h.sim.CompleteLink(id, "dedicated")
	if !errors.Is(err, ErrLinkUnusable) || redirect != "https://app.example/fail?error_code=link_expired&setup_link_id="+id+"&x=1" {
		t.Fatalf("complete expired = %q %v", redirect, err)
	}
	page := getPage(t, l["url"].(string))
	if !strings.Contains(page, `id="fail-link_expired"`) || strings.Contains(page, `id="connect-`) {
		t.Errorf("expired page = %s", page)
	}

	st, out := h.call("PATCH", "/platform/v1/customers/"+c+"/setup_links/"+id, map[string]any{"setup_link": map[string]any{"status": "revoked"}})
	if st != 200 || out["data"].(map[string]any)["status"] != "revoked" {
		t.Errorf("revoke = %d %v", st, out)
	}
	if st, _ := h.call("PATCH", "/platform/v1/customers/"+c+"/setup_links/nope", map[string]any{"setup_link": map[string]any{"status": "revoked"}}); st != 404 {
		t.Errorf("revoke unknown = %d", st)
	}
	if st, _ := h.call("GET", "/platform/v1/customers/"+c+"/setup_links?status=gone", nil); st != 422 {
		t.Errorf("bad status filter = %d", st)
	}
}

func getPage(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", u, resp.StatusCode)
	}
	return string(b)
}

func TestInvalidRequestsAre422(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.customer("t1")
	other := h.customer("t2")
	otherLink := h.link(other, nil)
	_, pnid, err := h.sim.CompleteLink(otherLink["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	_, n := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+pnid, nil)
	otherNumber := n["data"].(map[string]any)["display_phone_number"]
	cases := map[string]map[string]any{
		"unknown connection type": {"allowed_connection_types": []string{"cloud"}},
		"empty connection types":  {"allowed_connection_types": []string{}},
		"bad language":            {"language": "fr"},
		"colour not #RRGGBB":      {"theme_config": map[string]string{"primary_color": "red"}},
		"unknown theme key":       {"theme_config": map[string]string{"sparkle": "#FFFFFF"}},
		"area code outside US":    {"phone_number_area_code": "415", "phone_number_country_isos": []string{"BR"}},
		"reconnect foreign":       {"reconnect_phone_number": otherNumber},
		"relative redirect":       {"success_redirect_url": "/ok"},
	}
	for name, body := range cases {
		st, out := h.call("POST", "/platform/v1/customers/"+c+"/setup_links", map[string]any{"setup_link": body})
		if st != 422 || out["error"] == "" {
			t.Errorf("%s = %d %v", name, st, out)
		}
	}
	if st, _ := h.call("POST", "/platform/v1/customers/nope/setup_links", map[string]any{"setup_link": map[string]any{}}); st != 404 {
		t.Errorf("unknown customer = %d", st)
	}
	if st, _ := h.call("GET", "/platform/v1/whatsapp/phone_numbers/000", nil); st != 404 {
		t.Errorf("unknown number = %d", st)
	}
	ok := h.link(c, map[string]any{"theme_config": map[string]string{"primary_color": "#A1b2C3"}, "language": "pt",
		"phone_number_area_code": "415", "allowed_connection_types": []string{"dedicated"}})
	if ok["language"] != "pt" || ok["phone_number_area_code"] != "415" {
		t.Errorf("valid link = %v", ok)
	}
}

func TestReconnectKeepsNumberAndType(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.customer("t1")
	l := h.link(c, nil)
	_, pnid, err := h.sim.CompleteLink(l["id"].(string), "coexistence")
	if err != nil {
		t.Fatal(err)
	}
	_, n := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+pnid, nil)
	display := n["data"].(map[string]any)["display_phone_number"].(string)
	if st, _ := h.call("POST", "/platform/v1/customers/"+c+"/setup_links", map[string]any{"setup_link": map[string]any{
		"reconnect_phone_number": display, "allowed_connection_types": []string{"dedicated"}}}); st != 422 {
		t.Errorf("reconnect with another type = %d", st)
	}
	re := h.link(c, map[string]any{"reconnect_phone_number": display})
	if types := re["allowed_connection_types"].([]any); len(types) != 1 || types[0] != "coexistence" {
		t.Errorf("reconnect types = %v", types)
	}
	_, again, err := h.sim.CompleteLink(re["id"].(string), "coexistence")
	if err != nil || again != pnid {
		t.Errorf("reconnect gave %q, %v; want %q", again, err, pnid)
	}
	if st, out := h.call("GET", "/platform/v1/whatsapp/phone_numbers?customer_id="+c, nil); st != 200 || len(out["data"].([]any)) != 1 {
		t.Errorf("numbers = %v", out)
	}
}

func TestSetupPageCompletesWithRedirect(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.customer("t1")
	l := h.link(c, map[string]any{"success_redirect_url": "https://app.example/ok", "allowed_connection_types": []string{"dedicated"},
		"provision_phone_number": true})
	page := getPage(t, l["url"].(string))
	for _, want := range []string{`id="connect-dedicated"`, `id="fail-facebook_auth_failed"`, `id="fail-token_exchange_failed"`, "Acme t1"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, `id="connect-coexistence"`) {
		t.Error("page offers a type the link does not allow")
	}
	resp := postForm(t, l["url"].(string)+"/complete", url.Values{"connection_type": {"dedicated"}})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != 302 || loc.Host != "app.example" || q.Get("setup_link_id") != l["id"] || q.Get("status") != "completed" ||
		len(q.Get("phone_number_id")) != 15 || len(q.Get("business_account_id")) != 15 ||
		!strings.HasPrefix(q.Get("display_phone_number"), "+1555") || q.Get("provisioned_phone_number_id") == "" {
		t.Fatalf("redirect %d %s", resp.StatusCode, loc)
	}
	st, n := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+q.Get("phone_number_id"), nil)
	if nd := n["data"].(map[string]any); st != 200 || nd["customer_id"] != c || nd["is_coexistence"] != false {
		t.Errorf("number = %d %v", st, n)
	}
	if got := h.linkIDs(c, "used"); len(got) != 1 {
		t.Errorf("used = %v", got)
	}
	// A used link fails with already_used.
	if !strings.Contains(getPage(t, l["url"].(string)), `id="fail-already_used"`) {
		t.Error("used page lacks already_used")
	}
	st, out := h.call("POST", "/_sim/links/"+l["id"].(string)+"/complete", map[string]any{"connection_type": "dedicated"})
	if st != 409 || !strings.Contains(out["error"].(string), "already_used") {
		t.Errorf("complete twice = %d %v", st, out)
	}
}

func TestFailRedirects(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.customer("t1")
	l := h.link(c, map[string]any{"failure_redirect_url": "https://app.example/fail"})
	id := l["id"].(string)
	resp := postForm(t, l["url"].(string)+"/fail", url.Values{"error_code": {"waba_limit_reached"}})
	if want := "https://app.example/fail?error_code=waba_limit_reached&setup_link_id=" + id; resp.StatusCode != 302 || resp.Header.Get("Location") != want {
		t.Errorf("form fail = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	st, out := h.call("POST", "/_sim/links/"+id+"/fail", map[string]any{"error_code": "phone_verification_failed"})
	if st != 200 || !strings.Contains(out["redirect_url"].(string), "error_code=phone_verification_failed") {
		t.Errorf("control fail = %d %v", st, out)
	}
	if st, _ := h.call("POST", "/_sim/links/"+id+"/fail", map[string]any{"error_code": "bored"}); st != 422 {
		t.Errorf("unknown code = %d", st)
	}
	_, list := h.call("GET", "/platform/v1/customers/"+c+"/setup_links", nil)
	got := list["data"].([]any)[0].(map[string]any)
	if got["status"] != "active" || got["whatsapp_setup_status"] != "failed" || got["whatsapp_setup_error"] != "phone_verification_failed" {
		t.Errorf("link after failure = %v", got)
	}
}

func TestProjectWebhookSignedAndRetriedUntil200(t *testing.T) {
	rc := newReceiver(t, 500, 503, 200)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, ProjectWebhookSecret: "proj-secret"})
	c := h.customer("t1")
	l := h.link(c, nil)
	st, out := h.call("POST", "/_sim/links/"+l["id"].(string)+"/complete", map[string]any{"connection_type": "coexistence"})
	if st != 200 || len(out["phone_number_id"].(string)) != 15 {
		t.Fatalf("complete = %d %v", st, out)
	}
	waitFor(t, "3 attempts", func() bool { return len(rc.requests()) == 3 })
	h.sim.Close() // waits for the sender: nothing more may come
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts after a 200", len(reqs))
	}
	key := reqs[0].header.Get("X-Idempotency-Key")
	for i, r := range reqs {
		if r.header.Get("X-Webhook-Signature") != kapso.Sign("proj-secret", r.body) || r.header.Get("X-Idempotency-Key") != key ||
			r.header.Get("X-Webhook-Event") != "whatsapp.phone_number.created" || r.header.Get("X-Webhook-Payload-Version") != "v2" {
			t.Errorf("attempt %d headers %v", i+1, r.header)
		}
	}
	if len(key) != 36 {
		t.Errorf("key %q is not a UUID", key)
	}
	var body struct {
		PhoneNumberID string `json:"phone_number_id"`
		IsCoexistence bool   `json:"is_coexistence"`
		Customer      struct {
			ID                 string `json:"id"`
			ExternalCustomerID string `json:"external_customer_id"`
		} `json:"customer"`
		Project   struct{ ID string } `json:"project"`
		SetupLink struct{ ID string } `json:"setup_link"`
	}
	if err := json.Unmarshal(reqs[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if body.PhoneNumberID != out["phone_number_id"] || !body.IsCoexistence || body.Customer.ExternalCustomerID != "t1" || body.Customer.ID == "" ||
		body.Project.ID == "" || body.SetupLink.ID != l["id"] {
		t.Errorf("body = %s", reqs[0].body)
	}
	ds := h.sim.Deliveries()
	if len(ds) != 3 || ds[0].Status != 500 || ds[2].Status != 200 || ds[2].Attempt != 3 || ds[1].Key != key {
		t.Errorf("deliveries = %+v", ds)
	}
}

func TestProjectWebhookStopsAfterSchedule(t *testing.T) {
	rc := newReceiver(t, 500)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, ProjectWebhookSecret: "s",
		RetrySchedule: []time.Duration{0, 10 * time.Second, 10 * time.Second}, TimeScale: 0.001})
	key, err := h.sim.SendProjectEvent("whatsapp.phone_number.disconnected", []byte(`{"phone_number_id":"1"}`))
	if err != nil || key == "" {
		t.Fatal(err)
	}
	waitFor(t, "3 attempts", func() bool { return len(rc.requests()) == 3 })
	settled(t, h)
	if n := len(rc.requests()); n != 3 {
		t.Errorf("%d attempts for a 3-step schedule", n)
	}
}

func TestCloseStopsPendingRetries(t *testing.T) {
	rc := newReceiver(t, 500)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, RetrySchedule: []time.Duration{0, time.Hour}})
	if _, err := h.sim.SendProjectEvent("project.event", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first attempt", func() bool { return len(h.sim.Deliveries()) == 1 })
	start := time.Now()
	h.sim.Close()
	if time.Since(start) > time.Second || len(rc.requests()) != 1 {
		t.Errorf("Close took %v, %d attempts", time.Since(start), len(rc.requests()))
	}
	if _, err := h.sim.SendProjectEvent("project.event", []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
}

func TestWebhookModes(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, ProjectWebhookSecret: "s", PayloadVersion: "v1"})
	c := h.customer("t1")
	if st, _ := h.call("POST", "/_sim/webhooks/mode", map[string]any{"mode": "duplicate"}); st != 200 {
		t.Fatalf("mode = %d", st)
	}
	if _, _, err := h.sim.CompleteLink(h.link(c, nil)["id"].(string), "dedicated"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two copies", func() bool { return len(rc.requests()) == 2 })
	reqs := rc.requests()
	if reqs[0].header.Get("X-Idempotency-Key") != reqs[1].header.Get("X-Idempotency-Key") || !bytes.Equal(reqs[0].body, reqs[1].body) {
		t.Error("duplicate copies differ")
	}
	var v1 struct {
		WhatsAppConfig struct {
			PhoneNumberID string `json:"phone_number_id"`
		} `json:"whatsapp_config"`
		SetupLink struct{ Status string } `json:"setup_link"`
	}
	if err := json.Unmarshal(reqs[0].body, &v1); err != nil || reqs[0].header.Get("X-Webhook-Event") != "whatsapp.config.created" ||
		len(v1.WhatsAppConfig.PhoneNumberID) != 15 || v1.SetupLink.Status != "used" || reqs[0].header.Get("X-Webhook-Payload-Version") != "v1" {
		t.Errorf("v1 body %s (%v)", reqs[0].body, err)
	}

	h.sim.SetWebhookMode(ModeDrop)
	if _, _, err := h.sim.CompleteLink(h.link(c, nil)["id"].(string), "dedicated"); err != nil {
		t.Fatal(err)
	}
	h.sim.Close() // waits for any sender
	if n := len(rc.requests()); n != 2 {
		t.Errorf("drop mode sent: %d requests", n)
	}
	if st, _ := h.call("POST", "/_sim/webhooks/mode", map[string]any{"mode": "chaos"}); st != 422 {
		t.Errorf("bad mode = %d", st)
	}
}

func TestNumberEventsGoToActiveSubscribedWebhooks(t *testing.T) {
	a, b, off := newReceiver(t, 200), newReceiver(t, 500), newReceiver(t, 200)
	h := newHarness(t, Options{})
	c := h.customer("t1")
	_, pnid, err := h.sim.CompleteLink(h.link(c, nil)["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	hooks := "/platform/v1/whatsapp/phone_numbers/" + pnid + "/webhooks"
	events := []string{"whatsapp.message.received"}
	h.mustCreate(hooks, map[string]any{"whatsapp_webhook": map[string]any{"url": a.srv.URL, "secret_key": "sa", "events": events}})
	h.mustCreate(hooks, map[string]any{"whatsapp_webhook": map[string]any{"url": b.srv.URL, "secret_key": "sb", "events": events, "payload_version": "v1"}})
	created := h.mustCreate(hooks, map[string]any{"whatsapp_webhook": map[string]any{"url": off.srv.URL, "secret_key": "so", "events": events, "active": false}})
	if _, ok := created["secret_key"]; ok {
		t.Error("API echoes the secret")
	}
	if got := h.sim.Webhooks(pnid); len(got) != 3 || got[0].SecretKey != "sa" {
		t.Errorf("Webhooks = %+v", got)
	}
	for name, body := range map[string]map[string]any{
		"no secret":     {"url": a.srv.URL, "events": events},
		"no events":     {"url": a.srv.URL, "secret_key": "x"},
		"unknown event": {"url": a.srv.URL, "secret_key": "x", "events": []string{"whatsapp.nope"}},
		"bad kind":      {"url": a.srv.URL, "secret_key": "x", "kind": "sms", "events": events},
	} {
		if st, out := h.call("POST", hooks, map[string]any{"whatsapp_webhook": body}); st != 422 {
			t.Errorf("%s = %d %v", name, st, out)
		}
	}

	payload := []byte(`{"message":{"id":"wamid.1"},  "phone_number_id":"` + pnid + `"}`)
	statuses, err := h.sim.SendNumberEvent(context.Background(), pnid, "whatsapp.message.received", payload, "k-1")
	if err != nil || fmt.Sprint(statuses) != "[200 500]" {
		t.Fatalf("statuses %v err %v", statuses, err)
	}
	ra, rb := a.requests()[0], b.requests()[0]
	if !bytes.Equal(ra.body, payload) || ra.header.Get("X-Webhook-Signature") != kapso.Sign("sa", payload) ||
		rb.header.Get("X-Webhook-Signature") != kapso.Sign("sb", payload) || ra.header.Get("X-Idempotency-Key") != "k-1" ||
		rb.header.Get("X-Webhook-Payload-Version") != "v1" || ra.header.Get("X-Webhook-Batch") != "" {
		t.Errorf("deliveries a=%v b=%v", ra.header, rb.header)
	}
	if len(off.requests()) != 0 {
		t.Error("inactive webhook received an event")
	}
	if _, err := h.sim.SendNumberEvent(context.Background(), pnid, "whatsapp.message.read", payload, ""); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("unsubscribed event: %v", err)
	}

	st, out := h.call("POST", "/_sim/numbers/"+pnid+"/events", map[string]any{"event": "whatsapp.message.received",
		"payload": map[string]any{"type": "whatsapp.message.received", "batch": true, "data": []any{map[string]any{}, map[string]any{}}}})
	if st != 200 || fmt.Sprint(out["statuses"]) != "[200 500]" {
		t.Fatalf("control = %d %v", st, out)
	}
	if r := a.requests()[1]; r.header.Get("X-Webhook-Batch") != "true" || r.header.Get("X-Batch-Size") != "2" || len(r.header.Get("X-Idempotency-Key")) != 36 {
		t.Errorf("batch headers %v", r.header)
	}
	if st, _ := h.call("POST", "/_sim/numbers/000/events", map[string]any{"event": "whatsapp.message.received", "payload": map[string]any{}}); st != 409 {
		t.Errorf("unknown number = %d", st)
	}
}

func TestStateAndDeliveriesControls(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL})
	c := h.customer("t1")
	h.link(c, nil)
	st, out := h.call("POST", "/_sim/project/events", map[string]any{"event": "whatsapp.phone_number.disconnected", "payload": map[string]any{"phone_number_id": "1"}})
	if st != 202 || out["key"] == "" {
		t.Fatalf("project event = %d %v", st, out)
	}
	waitFor(t, "delivery", func() bool { return len(h.sim.Deliveries()) == 1 })
	_, ds := h.call("GET", "/_sim/deliveries", nil)
	d := ds["data"].([]any)[0].(map[string]any)
	if d["event"] != "whatsapp.phone_number.disconnected" || d["status"] != 200.0 || d["key"] != out["key"] || d["attempt"] != 1.0 {
		t.Errorf("delivery = %v", d)
	}
	_, state := h.call("GET", "/_sim/state", nil)
	if len(state["customers"].([]any)) != 1 || len(state["setup_links"].([]any)) != 1 || state["project_id"] == "" {
		t.Errorf("state = %v", state)
	}
}

func TestSeedMakesIDsRepeatable(t *testing.T) {
	a, b, c := New(Options{Seed: 7}), New(Options{Seed: 7}), New(Options{Seed: 8})
	defer a.Close()
	defer b.Close()
	defer c.Close()
	if a.projectID != b.projectID || a.projectID == c.projectID {
		t.Error("seeded ids differ")
	}
}

// A delivery replayed is the one sent, byte for byte and signature
// included, under its own key or the one asked for; an unknown key is 404.
func TestDeliveryReplayedByteForByte(t *testing.T) {
	rc := newReceiver(t, 200, 200, 200)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, ProjectWebhookSecret: "proj-secret"})
	key, err := h.sim.SendProjectEvent("whatsapp.phone_number.created", []byte(`{"phone_number_id":"111"}`))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return len(rc.requests()) == 1 })
	if st, out := h.call("POST", "/_sim/deliveries/"+key+"/replay", nil); st != 200 || out["status"] != float64(200) {
		t.Fatalf("replay = %d %v", st, out)
	}
	if st, _ := h.call("POST", "/_sim/deliveries/"+key+"/replay", map[string]any{"new_key": "other"}); st != 200 {
		t.Fatalf("replay under another key = %d", st)
	}
	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, r := range reqs[1:] {
		if !bytes.Equal(r.body, reqs[0].body) || r.header.Get("X-Webhook-Signature") != reqs[0].header.Get("X-Webhook-Signature") {
			t.Errorf("replay %d differs: %s %v", i+1, r.body, r.header)
		}
	}
	if reqs[1].header.Get("X-Idempotency-Key") != key || reqs[2].header.Get("X-Idempotency-Key") != "other" {
		t.Errorf("keys %q %q", reqs[1].header.Get("X-Idempotency-Key"), reqs[2].header.Get("X-Idempotency-Key"))
	}
	if st, _ := h.call("POST", "/_sim/deliveries/nope/replay", nil); st != http.StatusNotFound {
		t.Errorf("unknown key = %d", st)
	}
}
