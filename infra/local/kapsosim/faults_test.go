package kapsosim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// raw makes a Platform API request and answers the response (body read)
// with its decoded JSON.
func (h *harness) raw(method, path string, body []byte) (*http.Response, map[string]any) {
	h.t.Helper()
	resp, b := h.request(method, h.srv.URL+path, bytes.NewReader(body), true)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp, out
}

// list gets one page of a cursor list and returns its items and next URL
// as a path.
func (h *harness) list(path string) ([]map[string]any, map[string]any) {
	h.t.Helper()
	st, out := h.call("GET", path, nil)
	if st != http.StatusOK {
		h.t.Fatalf("GET %s = %d %v", path, st, out)
	}
	var items []map[string]any
	for _, it := range out["data"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items, out["paging"].(map[string]any)
}

func (h *harness) nextPath(paging map[string]any) string {
	next, _ := paging["next"].(string)
	if next == "" {
		return ""
	}
	if !strings.HasPrefix(next, h.srv.URL+"/platform/v1/") || !strings.Contains(next, "after=") {
		h.t.Fatalf("next %q", next)
	}
	return strings.TrimPrefix(next, h.srv.URL)
}

func TestMessagesListPagesNewestFirstAcrossAnInsert(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	ctx := context.Background()
	var wamids []string // oldest first
	for range 4 {
		sent, err := h.sim.SendInbound(ctx, pnid, Inbound{})
		if err != nil {
			t.Fatal(err)
		}
		wamids = append(wamids, sent.WAMID)
	}
	out, err := h.sim.SendOutbound(ctx, pnid, Outbound{Text: "a caminho"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.SetMessageStatus(ctx, out.WAMID, StatusChange{Status: "delivered"}); err != nil {
		t.Fatal(err)
	}
	wamids = append(wamids, out.WAMID)

	page1, paging := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid + "&limit=2")
	if len(page1) != 2 || page1[0]["id"] != wamids[4] || page1[1]["id"] != wamids[3] {
		t.Fatalf("page 1 = %v", page1)
	}
	k := page1[0]["kapso"].(map[string]any)
	if k["direction"] != "outbound" || k["status"] != "delivered" || len(k["statuses"].([]any)) != 2 ||
		k["whatsapp_conversation_id"] != out.ConversationID || k["contact_name"] != defaultName || k["content"] != "a caminho" {
		t.Errorf("outbound item kapso = %v", k)
	}
	cursors := paging["cursors"].(map[string]any)
	if cursors["after"] == "" || cursors["before"] == "" || paging["previous"] != "" {
		t.Errorf("paging = %v", paging)
	}
	next := h.nextPath(paging)

	// A message arriving between page calls is newer than every listed one:
	// it shifts nothing.
	late, err := h.sim.SendInbound(ctx, pnid, Inbound{Text: "mais uma"})
	if err != nil {
		t.Fatal(err)
	}
	page2, paging := h.list(next)
	if len(page2) != 2 || page2[0]["id"] != wamids[2] || page2[1]["id"] != wamids[1] {
		t.Fatalf("page 2 = %v", page2)
	}
	page3, paging := h.list(h.nextPath(paging))
	if len(page3) != 1 || page3[0]["id"] != wamids[0] || paging["next"] != "" {
		t.Fatalf("page 3 = %v, paging %v", page3, paging)
	}
	if k := page3[0]["kapso"].(map[string]any); k["direction"] != "inbound" || k["status"] != "received" {
		t.Errorf("inbound item kapso = %v", k)
	}
	// The item is the message object of the webhook.
	var hook struct {
		Message json.RawMessage `json:"message"`
	}
	_ = json.Unmarshal(rc.requests()[0].body, &hook)
	var fromHook map[string]any
	_ = json.Unmarshal(hook.Message, &fromHook)
	if a, b := mustJSON(t, fromHook), mustJSON(t, page3[0]); a != b {
		t.Errorf("item %s\nwebhook message %s", b, a)
	}

	all, paging := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid)
	if len(all) != 6 || all[0]["id"] != late.WAMID || paging["next"] != "" {
		t.Errorf("default page = %d items, paging %v", len(all), paging)
	}
	if got, _ := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid + "&limit=500"); len(got) != 6 {
		t.Errorf("limit 500 = %d items", len(got))
	}
	if got, paging := h.list("/platform/v1/whatsapp/messages?phone_number_id=999"); len(got) != 0 || paging["next"] != "" {
		t.Errorf("unknown number = %v %v", got, paging)
	}
	// Without phone_number_id, the project's messages (Kapso's filter is optional).
	if got, _ := h.list("/platform/v1/whatsapp/messages"); len(got) != 6 || got[0]["id"] != late.WAMID {
		t.Errorf("no phone_number_id = %d items", len(got))
	}
	for _, bad := range []string{"?phone_number_id=" + pnid + "&limit=0", "?phone_number_id=" + pnid + "&after=!",
		"?phone_number_id=" + pnid + "&per_page=0", "?page=x"} {
		if st, out := h.call("GET", "/platform/v1/whatsapp/messages"+bad, nil); st != http.StatusUnprocessableEntity {
			t.Errorf("%q = %d %v", bad, st, out)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConversationsListByLastActivity(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC))
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{Now: clock.Now})
	pnid := connected(t, h, rc)
	ctx := context.Background()
	var convs []string
	for _, phone := range []string{"5511999990001", "5511999990002", "5511999990003"} {
		sent, err := h.sim.SendInbound(ctx, pnid, Inbound{FromPhone: phone})
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, sent.ConversationID)
		clock.Advance(time.Minute)
	}
	// The first person writes again: theirs is now the latest.
	if _, err := h.sim.SendInbound(ctx, pnid, Inbound{FromPhone: "5511999990001"}); err != nil {
		t.Fatal(err)
	}
	want := []string{convs[0], convs[2], convs[1]}
	var got []string
	for path := "/platform/v1/whatsapp/conversations?limit=2&phone_number_id=" + pnid; path != ""; {
		items, paging := h.list(path)
		for _, c := range items {
			got = append(got, c["id"].(string))
			if c["phone_number_id"] != pnid || c["status"] != "active" || c["kapso"] == nil {
				t.Errorf("conversation %v", c)
			}
		}
		path = h.nextPath(paging)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("conversations %v, want %v", got, want)
	}
	if items, _ := h.list("/platform/v1/whatsapp/conversations"); len(items) != 3 || items[0]["id"] != convs[0] {
		t.Errorf("no phone_number_id = %v", items)
	}
	// Asked by page number (Kapso's documented paging), a meta block.
	got = nil
	for page := 1; page <= 3; page++ {
		st, out := h.call("GET", fmt.Sprintf("/platform/v1/whatsapp/conversations?phone_number_id=%s&page=%d&per_page=2", pnid, page), nil)
		meta, _ := out["meta"].(map[string]any)
		if st != http.StatusOK || out["paging"] != nil || meta["page"] != float64(page) || meta["per_page"] != 2.0 ||
			meta["total_pages"] != 2.0 || meta["total_count"] != 3.0 {
			t.Fatalf("page %d = %d %v", page, st, out)
		}
		for _, c := range out["data"].([]any) {
			got = append(got, c.(map[string]any)["id"].(string))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("conversations by page %v, want %v", got, want)
	}
}

func TestFailedDeliveriesRecordedAfterTheSchedule(t *testing.T) {
	rc := newReceiver(t, 500)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, ProjectWebhookSecret: "p",
		RetrySchedule: DefaultRetrySchedule(), TimeScale: 0.0002})
	pnid := connected(t, h, rc)
	hook := h.sim.Webhooks(pnid)[0]
	waitFor(t, "the connection webhook to give up", func() bool { return len(h.sim.FailedDeliveries()) == 1 })
	project := h.sim.FailedDeliveries()[0]
	if project.WebhookID != "" || project.PhoneNumberID != "" || project.Event != "whatsapp.phone_number.created" ||
		project.Attempts != 4 || project.ResponseStatus != 500 || project.LastAttemptAt.Before(project.CreatedAt) {
		t.Errorf("project record %+v", project)
	}

	sent, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The batch gives up, then each of its messages does: three records.
	waitFor(t, "batch and re-sends to give up", func() bool { return len(h.sim.FailedDeliveries()) == 4 })
	fs := h.sim.FailedDeliveries()
	if b := fs[1]; b.IdempotencyKey != sent.Key || b.WebhookID != hook.ID || b.PhoneNumberID != pnid ||
		b.Event != kapso.EventMessageReceived || b.Attempts != 4 || b.ResponseStatus != 500 {
		t.Errorf("batch record %+v", b)
	}
	if fs[2].IdempotencyKey == sent.Key || fs[3].IdempotencyKey == fs[2].IdempotencyKey || fs[2].Attempts != 4 {
		t.Errorf("re-send records %+v %+v", fs[2], fs[3])
	}

	var got []map[string]any
	for path := "/platform/v1/webhook_deliveries?status=failed&limit=3"; path != ""; {
		items, paging := h.list(path)
		got = append(got, items...)
		path = h.nextPath(paging)
	}
	if len(got) != 4 {
		t.Fatalf("listed %d records", len(got))
	}
	last := got[3] // oldest: the project webhook's
	if last["id"] != project.ID || last["webhook_id"] != "" || last["phone_number_id"] != nil || last["status"] != "failed" ||
		last["attempts"] != 4.0 || last["response_status"] != 500.0 || last["idempotency_key"] != project.IdempotencyKey ||
		last["created_at"] == nil || last["last_attempt_at"] == nil || last["event"] != "whatsapp.phone_number.created" {
		t.Errorf("project item %v", last)
	}
	if got[2]["phone_number_id"] != pnid || got[2]["webhook_id"] != hook.ID {
		t.Errorf("batch item %v", got[2])
	}
	if items, _ := h.list("/platform/v1/webhook_deliveries?status=delivered"); len(items) != 0 {
		t.Errorf("status=delivered listed %v", items)
	}
	// Kapso's own failure query: errors_only and period, by page number;
	// event and webhook_id narrow it.
	st, out := h.call("GET", "/platform/v1/webhook_deliveries?errors_only=true&period=24h&page=1&per_page=3", nil)
	if meta, _ := out["meta"].(map[string]any); st != http.StatusOK || len(out["data"].([]any)) != 3 || meta["total_count"] != 4.0 ||
		meta["total_pages"] != 2.0 {
		t.Errorf("errors_only page 1 = %d %v", st, out)
	}
	if items := listedIDs(t, h, "/platform/v1/webhook_deliveries?event=whatsapp.phone_number.created&per_page=10"); len(items) != 1 || items[0] != project.ID {
		t.Errorf("by event %v", items)
	}
	if items := listedIDs(t, h, "/platform/v1/webhook_deliveries?webhook_id="+hook.ID+"&per_page=10"); len(items) != 3 {
		t.Errorf("by webhook %v", items)
	}
	for _, bad := range []string{"?period=1y", "?errors_only=yes", "?page=0"} {
		if st, out := h.call("GET", "/platform/v1/webhook_deliveries"+bad, nil); st != http.StatusUnprocessableEntity {
			t.Errorf("%q = %d %v", bad, st, out)
		}
	}
}

// listedIDs reads the ids of one page-paged list answer.
func listedIDs(t *testing.T, h *harness, path string) []string {
	t.Helper()
	st, out := h.call("GET", path, nil)
	if _, ok := out["meta"]; st != http.StatusOK || !ok {
		t.Fatalf("GET %s = %d %v", path, st, out)
	}
	var ids []string
	for _, it := range out["data"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

func TestUpdateWebhook(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	id := h.sim.Webhooks(pnid)[0].ID
	path := "/platform/v1/whatsapp/phone_numbers/" + pnid + "/webhooks/" + id
	st, out := h.call("PATCH", path, map[string]any{"whatsapp_webhook": map[string]any{
		"active": false, "url": "https://elsewhere.example/hook", "secret_key": "new", "events": []string{kapso.EventMessageSent}}})
	d, _ := out["data"].(map[string]any)
	if st != http.StatusOK || d["id"] != id || d["active"] != false || d["url"] != "https://elsewhere.example/hook" ||
		len(d["events"].([]any)) != 1 || d["secret_key"] != nil {
		t.Fatalf("patch = %d %v", st, out)
	}
	if w := h.sim.Webhooks(pnid)[0]; w.SecretKey != "new" || w.Active {
		t.Errorf("webhook %+v", w)
	}
	st, out = h.call("PATCH", path, map[string]any{"whatsapp_webhook": map[string]any{"active": true}})
	if d := out["data"].(map[string]any); st != http.StatusOK || d["active"] != true || d["url"] != "https://elsewhere.example/hook" {
		t.Errorf("patch active = %d %v", st, out)
	}
	for _, body := range []string{`{"whatsapp_webhook":{"url":"nope"}}`, `{"whatsapp_webhook":{"events":[]}}`,
		`{"whatsapp_webhook":{"events":["x.y"]}}`, `{"whatsapp_webhook":{"secret_key":""}}`, `{"whatsapp_webhook":{"active":"yes"}}`,
		`{}`, `not json`} {
		if resp, out := h.raw("PATCH", path, []byte(body)); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s = %d %v", body, resp.StatusCode, out)
		}
	}
	for _, p := range []string{"/platform/v1/whatsapp/phone_numbers/999/webhooks/" + id,
		"/platform/v1/whatsapp/phone_numbers/" + pnid + "/webhooks/nope"} {
		if st, _ := h.call("PATCH", p, map[string]any{"whatsapp_webhook": map[string]any{"active": true}}); st != http.StatusNotFound {
			t.Errorf("%s = %d", p, st)
		}
	}
}

func TestRateLimit(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 10, 14, 0, 15, 0, time.UTC))
	h := newHarness(t, Options{RateLimitPerMinute: 2, Now: clock.Now})
	for i, want := range []string{"1", "0"} {
		resp, _ := h.raw("GET", "/platform/v1/customers", nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "2" || resp.Header.Get("X-RateLimit-Remaining") != want {
			t.Errorf("call %d = %d %v", i+1, resp.StatusCode, resp.Header)
		}
	}
	resp, out := h.raw("GET", "/platform/v1/customers", nil)
	if resp.StatusCode != http.StatusTooManyRequests || out["error"] != "Rate limit exceeded" ||
		resp.Header.Get("Retry-After") != "45" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("over the limit = %d %v %v", resp.StatusCode, resp.Header, out)
	}
	clock.Advance(45 * time.Second) // the next minute
	if resp, _ := h.raw("GET", "/platform/v1/customers", nil); resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Remaining") != "1" {
		t.Errorf("next window = %d %v", resp.StatusCode, resp.Header)
	}

	if st, out := h.call("POST", "/_sim/ratelimit", map[string]any{"calls": 2, "retry_after_seconds": 7}); st != 200 {
		t.Fatalf("control = %d %v", st, out)
	}
	for range 2 {
		if resp, _ := h.raw("GET", "/platform/v1/customers", nil); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
			t.Errorf("forced = %d %v", resp.StatusCode, resp.Header)
		}
	}
	if resp, _ := h.raw("GET", "/platform/v1/customers", nil); resp.StatusCode != 200 {
		t.Errorf("after the forced run = %d", resp.StatusCode)
	}
	if n := h.sim.PlatformCalls(); n != 7 {
		t.Errorf("PlatformCalls = %d", n)
	}
	if _, st := h.call("GET", "/_sim/state", nil); st["platform_calls"] != 7.0 {
		t.Errorf("state platform_calls = %v", st["platform_calls"])
	}
}

func TestRateLimitNextWithoutALimit(t *testing.T) {
	h := newHarness(t, Options{})
	h.sim.RateLimitNext(1, 0)
	resp, _ := h.raw("GET", "/platform/v1/customers", nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || resp.Header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("forced = %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := h.raw("GET", "/platform/v1/customers", nil); resp.StatusCode != 200 {
		t.Errorf("then = %d", resp.StatusCode)
	}
}

func TestNumberWebhookDropMode(t *testing.T) {
	rc := newReceiver(t, 500) // a delivery would fail and be recorded
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	if st, out := h.call("POST", "/_sim/numbers/"+pnid+"/webhooks/mode", map[string]any{"mode": "drop"}); st != 200 {
		t.Fatalf("mode = %d %v", st, out)
	}
	ctx := context.Background()
	in, err := h.sim.SendInbound(ctx, pnid, Inbound{})
	if err != nil || len(in.Statuses) != 0 {
		t.Fatalf("inbound %+v %v", in, err)
	}
	out, err := h.sim.SendOutbound(ctx, pnid, Outbound{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.SetMessageStatus(ctx, out.WAMID, StatusChange{Status: "read"}); err != nil {
		t.Fatal(err)
	}
	if st, err := h.sim.SendNumberEvent(ctx, pnid, kapso.EventConversationEnded, []byte(`{}`), ""); err != nil || len(st) != 0 {
		t.Errorf("conversation event %v %v", st, err)
	}
	settled(t, h)
	if n := len(rc.requests()); n != 0 {
		t.Errorf("%d deliveries in drop mode", n)
	}
	if fs := h.sim.FailedDeliveries(); len(fs) != 0 {
		t.Errorf("failed records %v", fs)
	}
	items, _ := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid)
	if len(items) != 2 || items[0]["id"] != out.WAMID || items[0]["kapso"].(map[string]any)["status"] != "read" || items[1]["id"] != in.WAMID {
		t.Errorf("listed %v", items)
	}
	if err := h.sim.SetNumberWebhookMode(pnid, "sideways"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad mode: %v", err)
	}
	if st, _ := h.call("POST", "/_sim/numbers/"+pnid+"/webhooks/mode", map[string]any{"mode": "duplicate"}); st != 422 {
		t.Errorf("duplicate mode = %d", st)
	}
	if err := h.sim.SetNumberWebhookMode(pnid, ModeNormal); err != nil {
		t.Fatal(err)
	}
	if sent, err := h.sim.SendInbound(ctx, pnid, Inbound{}); err != nil || len(sent.Statuses) != 1 {
		t.Errorf("normal again: %+v %v", sent, err)
	}
}

func TestWebhookStatePausesAndRedirects(t *testing.T) {
	rc, other := newReceiver(t, 200), newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	if st, out := h.call("POST", "/_sim/numbers/"+pnid+"/webhooks/state", map[string]any{"active": false}); st != 200 || out["webhooks_changed"] != 1.0 {
		t.Fatalf("pause = %d %v", st, out)
	}
	ctx := context.Background()
	sent, err := h.sim.SendInbound(ctx, pnid, Inbound{})
	if err != nil || len(sent.Statuses) != 0 || len(rc.requests()) != 0 {
		t.Fatalf("paused: %+v %v, %d requests", sent, err, len(rc.requests()))
	}
	if items, _ := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid); len(items) != 1 {
		t.Errorf("paused number lists %d messages", len(items))
	}
	st, out := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+pnid+"/webhooks", nil)
	if hooks := out["data"].([]any); st != 200 || hooks[0].(map[string]any)["active"] != false {
		t.Errorf("listed %v", out)
	}
	active := true
	if _, err := h.sim.SetWebhookState(pnid, &active, other.srv.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.SendInbound(ctx, pnid, Inbound{}); err != nil || len(other.requests()) != 1 || len(rc.requests()) != 0 {
		t.Errorf("redirected: %v, %d/%d requests", err, len(other.requests()), len(rc.requests()))
	}
	if st, _ := h.call("POST", "/_sim/numbers/999/webhooks/state", map[string]any{"active": false}); st != 404 {
		t.Errorf("unknown number = %d", st)
	}
	if st, _ := h.call("POST", "/_sim/numbers/"+pnid+"/webhooks/state", map[string]any{"url": "ftp://x"}); st != 422 {
		t.Errorf("bad url = %d", st)
	}
}

func TestStalledLinkCreation(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.customer("t1")
	old := h.link(c, nil)["id"].(string)
	if st, out := h.call("POST", "/_sim/setup_links/stall", map[string]any{"calls": 1, "seconds": 5}); st != 200 {
		t.Fatalf("stall = %d %v", st, out)
	}
	client := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("POST", h.srv.URL+"/platform/v1/customers/"+c+"/setup_links", strings.NewReader(`{"setup_link":{}}`))
	req.Header.Set("X-API-Key", apiKey)
	start := time.Now()
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("stalled creation answered %d", resp.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("client waited %v", d)
	}
	active := h.linkIDs(c, "active")
	if len(active) != 1 || active[0] == old {
		t.Errorf("active links %v", active)
	}
	if revoked := h.linkIDs(c, "revoked"); len(revoked) != 1 || revoked[0] != old {
		t.Errorf("revoked links %v", revoked)
	}
	start = time.Now()
	h.link(c, nil) // the run is over
	if d := time.Since(start); d > time.Second {
		t.Errorf("next creation took %v", d)
	}
}

// The Meta proxy's history: Meta's objects, the kapso block only when
// fields asks for it, narrowed by direction and time.
func TestMetaProxyHistory(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC))
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{Now: clock.Now})
	pnid := connected(t, h, rc)
	for range 2 {
		if _, err := h.sim.SendInbound(context.Background(), pnid, Inbound{FromPhone: "5511999990001"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
	base := "/meta/whatsapp/v24.0/" + pnid
	items, paging := h.list(base + "/messages?limit=1")
	if len(items) != 1 || items[0]["kapso"] != nil || items[0]["id"] == nil || paging["next"] == "" {
		t.Errorf("without fields: %v %v", items, paging)
	}
	items, _ = h.list(base + "/messages?fields=kapso(direction,status)&direction=inbound&since=2026-03-10T14:30:00Z")
	if len(items) != 1 || items[0]["kapso"].(map[string]any)["direction"] != "inbound" {
		t.Errorf("with fields, since: %v", items)
	}
	if items, _ := h.list(base + "/messages?direction=outbound"); len(items) != 0 {
		t.Errorf("outbound: %v", items)
	}
	items, _ = h.list(base + "/conversations?fields=kapso(contact_name)")
	if len(items) != 1 || items[0]["kapso"] == nil || items[0]["phone_number_id"] != pnid {
		t.Errorf("conversations: %v", items)
	}
	for _, bad := range []string{"/messages?since=yesterday", "/messages?direction=up", "/conversations?last_active_since=x", "/messages?limit=0"} {
		if st, out := h.call("GET", base+bad, nil); st != http.StatusUnprocessableEntity {
			t.Errorf("%s = %d %v", bad, st, out)
		}
	}
}
