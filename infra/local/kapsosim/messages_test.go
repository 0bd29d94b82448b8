package kapsosim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

const hookSecret = "number-secret"

// connected returns a connected number whose webhook, subscribed to every
// number event, is rc.
func connected(t *testing.T, h *harness, rc *receiver) string {
	t.Helper()
	_, pnid, err := h.sim.CompleteLink(h.link(h.customer("t1"), nil)["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	h.mustCreate("/platform/v1/whatsapp/phone_numbers/"+pnid+"/webhooks", map[string]any{"whatsapp_webhook": map[string]any{
		"url": rc.srv.URL, "secret_key": hookSecret, "events": numberEvents}})
	return pnid
}

// lastDelivery checks the last request rc got is a signed delivery of
// event and returns its body.
func lastDelivery(t *testing.T, rc *receiver, event string) received {
	t.Helper()
	reqs := rc.requests()
	if len(reqs) == 0 {
		t.Fatal("no delivery")
	}
	r := reqs[len(reqs)-1]
	if got := r.header.Get("X-Webhook-Signature"); got != kapso.Sign(hookSecret, r.body) {
		t.Errorf("signature %q does not verify", got)
	}
	if r.header.Get("X-Webhook-Event") != event || r.header.Get("X-Webhook-Payload-Version") != "v2" ||
		len(r.header.Get("X-Idempotency-Key")) != 36 {
		t.Errorf("headers %v", r.header)
	}
	return r
}

// normalise reads a single delivery as the worker will.
func normalise(t *testing.T, event string, body []byte) (messaging.KapsoMessage, kapso.MessageEvent) {
	t.Helper()
	ev, err := kapso.DecodeMessageEvent(body)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	km, err := messaging.FromKapsoMessage(event, ev)
	if err != nil {
		t.Fatalf("normalise %s: %v", body, err)
	}
	return km, ev
}

func TestInboundTextFromAPerson(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	sent, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Text: "Olá", FromPhone: "+5215512345678", Name: "Ana"})
	if err != nil || fmt.Sprint(sent.Statuses) != "[200]" || len(sent.WAMIDs) != 1 || sent.WAMID != sent.WAMIDs[0] {
		t.Fatalf("sent %+v err %v", sent, err)
	}
	r := lastDelivery(t, rc, kapso.EventMessageReceived)
	if r.header.Get("X-Webhook-Batch") != "" || r.header.Get("X-Idempotency-Key") != sent.Key {
		t.Errorf("headers %v", r.header)
	}
	km, ev := normalise(t, kapso.EventMessageReceived, r.body)
	m := km.Message
	if m.WAMID != sent.WAMID || !strings.HasPrefix(m.WAMID, "wamid.HBg") || m.Direction != messaging.Inbound ||
		m.Text != "Olá" || m.Type != "text" || m.From.Phone != "5215512345678" || m.From.Name != "Ana" ||
		m.PhoneNumberID != pnid || m.ConversationID != sent.ConversationID || m.Timestamp.IsZero() {
		t.Errorf("message %+v", m)
	}
	if c := km.Conversation; c == nil || c.Status != messaging.ConversationActive || c.LastActiveAt.IsZero() ||
		c.Person.Phone != "5215512345678" {
		t.Errorf("conversation %+v", km.Conversation)
	}
	if !ev.IsNewConversation || ev.Message.Kapso.Status != "received" || ev.Message.Kapso.Content != "Olá" ||
		ev.Conversation.PhoneNumber != "+5215512345678" {
		t.Errorf("event %+v", ev)
	}
	// The same person again: same conversation, no longer new.
	again, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Text: "?", FromPhone: "5215512345678"})
	if err != nil || again.ConversationID != sent.ConversationID {
		t.Fatalf("again %+v %v", again, err)
	}
	if _, ev := normalise(t, kapso.EventMessageReceived, lastDelivery(t, rc, kapso.EventMessageReceived).body); ev.IsNewConversation ||
		ev.Message.Kapso.ContactName != "Ana" {
		t.Errorf("second message %+v", ev)
	}
}

func TestInboundFromBSUIDOnlyPerson(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	const bsuid = "US.13491208655302741918"
	if _, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Text: "oi", FromBSUID: bsuid, Name: "João"}); err != nil {
		t.Fatal(err)
	}
	r := lastDelivery(t, rc, kapso.EventMessageReceived)
	var raw struct {
		Message      map[string]any `json:"message"`
		Conversation map[string]any `json:"conversation"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.Message["from"]; ok || raw.Message["from_user_id"] != bsuid {
		t.Errorf("message identity %v", raw.Message)
	}
	if v, ok := raw.Conversation["phone_number"]; !ok || v != nil || raw.Conversation["business_scoped_user_id"] != bsuid {
		t.Errorf("conversation identity %v", raw.Conversation)
	}
	km, _ := normalise(t, kapso.EventMessageReceived, r.body)
	if p := km.Message.From; p.BSUID != bsuid || p.Phone != "" || p.Key() != "bsuid:"+bsuid || p.Name != "João" {
		t.Errorf("from %+v", p)
	}
}

func TestInboundBatch(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	sent, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Text: "pedido", FromPhone: "16505550000", Count: 3})
	if err != nil || len(sent.WAMIDs) != 3 || len(rc.requests()) != 1 {
		t.Fatalf("sent %+v err %v, %d requests", sent, err, len(rc.requests()))
	}
	r := lastDelivery(t, rc, kapso.EventMessageReceived)
	if r.header.Get("X-Webhook-Batch") != "true" || r.header.Get("X-Batch-Size") != "3" {
		t.Errorf("batch headers %v", r.header)
	}
	var batch struct {
		Type      string            `json:"type"`
		Batch     bool              `json:"batch"`
		Data      []json.RawMessage `json:"data"`
		BatchInfo wireBatchInfo     `json:"batch_info"`
	}
	if err := json.Unmarshal(r.body, &batch); err != nil {
		t.Fatal(err)
	}
	if batch.Type != kapso.EventMessageReceived || !batch.Batch || len(batch.Data) != 3 || batch.BatchInfo.Size != 3 ||
		batch.BatchInfo.LastSequence-batch.BatchInfo.FirstSequence != 2 || batch.BatchInfo.ConversationID != sent.ConversationID {
		t.Errorf("batch %s", r.body)
	}
	items, err := kapso.Split(kapso.EventMessageReceived, r.body)
	if err != nil || len(items) != 3 {
		t.Fatalf("split: %d items, %v", len(items), err)
	}
	var last time.Time
	for i, it := range items {
		km, ev := normalise(t, kapso.EventMessageReceived, it.Payload)
		if km.Message.WAMID != sent.WAMIDs[i] || km.Message.Text != fmt.Sprintf("pedido (%d/3)", i+1) ||
			km.Message.ConversationID != sent.ConversationID || ev.IsNewConversation != (i == 0) ||
			km.Message.Timestamp.Before(last) {
			t.Errorf("item %d: %+v new=%v", i, km.Message, ev.IsNewConversation)
		}
		last = km.Message.Timestamp
	}
}

func TestOutboundStatusProgression(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	ctx := context.Background()
	if _, err := h.sim.SendOutbound(ctx, pnid, Outbound{Text: "hi"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("outbound without recipient or conversation: %v", err)
	}
	in, err := h.sim.SendInbound(ctx, pnid, Inbound{FromPhone: "5215512345678", FromBSUID: "MX.998877", Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	// No recipient: the latest conversation's person.
	out, err := h.sim.SendOutbound(ctx, pnid, Outbound{Text: "Seu pedido sai às 15h"})
	if err != nil || out.Event != kapso.EventMessageSent || out.ConversationID != in.ConversationID {
		t.Fatalf("outbound %+v %v", out, err)
	}
	want := []messaging.Status{messaging.Sent}
	check := func(event string) messaging.KapsoMessage {
		t.Helper()
		km, ev := normalise(t, event, lastDelivery(t, rc, event).body)
		var got []messaging.Status
		for _, u := range km.Statuses {
			got = append(got, u.Status)
		}
		m := km.Message
		if m.WAMID != out.WAMID || m.Direction != messaging.Outbound || m.To.Phone != "5215512345678" ||
			m.To.BSUID != "MX.998877" || m.Text != "Seu pedido sai às 15h" || fmt.Sprint(got) != fmt.Sprint(want) ||
			ev.Message.Kapso.Status != string(want[len(want)-1]) {
			t.Errorf("%s: message %+v statuses %v, want %v", event, m, got, want)
		}
		return km
	}
	check(kapso.EventMessageSent)
	for _, st := range []string{"delivered", "read"} {
		sent, err := h.sim.SetMessageStatus(ctx, out.WAMID, StatusChange{Status: st})
		if err != nil || sent.Event != "whatsapp.message."+st || fmt.Sprint(sent.Statuses) != "[200]" {
			t.Fatalf("%s: %+v %v", st, sent, err)
		}
		want = append(want, messaging.Status(st))
		check(sent.Event)
	}

	failing, err := h.sim.SendOutbound(ctx, pnid, Outbound{ToPhone: "+5215512345678", Text: "Seu pedido sai às 15h"})
	if err != nil {
		t.Fatal(err)
	}
	out, want = failing, []messaging.Status{messaging.Sent, messaging.Failed}
	if _, err := h.sim.SetMessageStatus(ctx, failing.WAMID, StatusChange{Status: "failed"}); err != nil {
		t.Fatal(err)
	}
	km := check(kapso.EventMessageFailed)
	if e := km.Statuses[1].Error; e == nil || e.Code != 131047 || e.Title != "Re-engagement message" || e.Details == "" {
		t.Errorf("failure %+v", e)
	}
	got := h.sim.Messages(pnid)
	if len(got) != 3 || got[1].Status() != "read" || got[2].Status() != "failed" || got[2].Statuses[1].ErrorCode != 131047 {
		t.Errorf("messages %+v", got)
	}
	// Sent within one second, they still get a second each, so that a
	// conversation reads in order; no status precedes its message.
	for i, m := range got {
		if i > 0 && m.At.Unix() <= got[i-1].At.Unix() {
			t.Errorf("message %d at %v, after %v", i, m.At, got[i-1].At)
		}
		for _, st := range m.Statuses {
			if st.At.Before(m.At) {
				t.Errorf("message %d: status %+v before the message (%v)", i, st, m.At)
			}
		}
	}

	for _, c := range []struct {
		wamid, status string
		want          error
	}{
		{out.WAMID, "sent", ErrInvalid},
		{out.WAMID, "deleted", ErrInvalid},
		{in.WAMID, "read", ErrInvalid}, // inbound messages have no delivery status
		{"wamid.nope", "read", ErrNotFound},
	} {
		if _, err := h.sim.SetMessageStatus(ctx, c.wamid, StatusChange{Status: c.status}); !errors.Is(err, c.want) {
			t.Errorf("%s → %s: %v, want %v", c.wamid, c.status, err, c.want)
		}
	}
}

func TestMessageControls(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	st, out := h.call("POST", "/_sim/numbers/"+pnid+"/messages", map[string]any{"text": "oi", "from_bsuid": "BR.1234", "count": 2})
	if st != 200 || len(out["wamids"].([]any)) != 2 || fmt.Sprint(out["statuses"]) != "[200]" {
		t.Fatalf("messages = %d %v", st, out)
	}
	st, out = h.call("POST", "/_sim/numbers/"+pnid+"/outbound", map[string]any{"text": "olá", "to_bsuid": "BR.1234"})
	wamid, _ := out["wamid"].(string)
	if st != 200 || wamid == "" {
		t.Fatalf("outbound = %d %v", st, out)
	}
	if st, out = h.call("POST", "/_sim/messages/"+url.PathEscape(wamid)+"/status", map[string]any{"status": "read"}); st != 200 ||
		out["event"] != kapso.EventMessageRead {
		t.Errorf("status = %d %v", st, out)
	}
	// An empty body is a request with every default.
	if st, out = h.call("POST", "/_sim/numbers/"+pnid+"/messages", nil); st != 200 {
		t.Errorf("empty body = %d %v", st, out)
	}
	for _, c := range []struct {
		path string
		body map[string]any
		want int
	}{
		{"/_sim/numbers/000/messages", map[string]any{"text": "x"}, 404},
		{"/_sim/numbers/000/outbound", map[string]any{"to_phone": "5215512345678"}, 404},
		{"/_sim/messages/wamid.nope/status", map[string]any{"status": "read"}, 404},
		{"/_sim/messages/" + url.PathEscape(wamid) + "/status", map[string]any{"status": "seen"}, 422},
		{"/_sim/messages/" + url.PathEscape(wamid) + "/status", map[string]any{"status": "failed", "error_code": -1}, 422},
		{"/_sim/numbers/" + pnid + "/messages", map[string]any{"count": 101}, 422},
		{"/_sim/numbers/" + pnid + "/messages", map[string]any{"from_bsuid": "not-a-bsuid"}, 422},
		{"/_sim/numbers/" + pnid + "/messages", map[string]any{"from_phone": "12ab"}, 422},
	} {
		if st, out := h.call("POST", c.path, c.body); st != c.want {
			t.Errorf("POST %s %v = %d %v, want %d", c.path, c.body, st, out, c.want)
		}
	}

	// A number without a webhook cannot be written to yet.
	_, bare, err := h.sim.CompleteLink(h.link(h.customer("t2"), nil)["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := h.call("POST", "/_sim/numbers/"+bare+"/messages", map[string]any{}); st != 409 {
		t.Errorf("number without webhook = %d", st)
	}

	// The home page lists the numbers with their forms, which post back.
	page := getPage(t, h.srv.URL+"/")
	for _, want := range []string{`id="number-` + pnid, `id="send-` + pnid, `id="send-bsuid-` + pnid, `id="outbound-` + pnid,
		`/_sim/messages/` + wamid + `/status`, "not registered this number", "whatsapp.message.read"} {
		if !strings.Contains(page, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	before := len(rc.requests())
	resp := postForm(t, h.srv.URL+"/_sim/numbers/"+pnid+"/outbound", url.Values{"to": {"+5215512345678"}, "text": {"hello"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/?note=") ||
		!strings.Contains(loc, "whatsapp.message.sent") || len(rc.requests()) != before+1 {
		t.Errorf("form outbound = %d %s", resp.StatusCode, loc)
	}
	resp = postForm(t, h.srv.URL+"/_sim/messages/wamid.nope/status", url.Values{"status": {"read"}})
	if loc, _ := url.QueryUnescape(resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "Error:") {
		t.Errorf("form error = %d %s", resp.StatusCode, loc)
	}
	// curl -d labels JSON as a form: it is still JSON, answered as JSON.
	resp, err = http.Post(h.srv.URL+"/_sim/messages/"+url.PathEscape(wamid)+"/status", "application/x-www-form-urlencoded",
		strings.NewReader(`{"status":"delivered"}`))
	if err != nil {
		t.Fatal(err)
	}
	var got Sent
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Event != kapso.EventMessageDelivered {
		t.Errorf("JSON labelled as a form = %d %+v", resp.StatusCode, got)
	}
	resp, err = http.Post(h.srv.URL+"/_sim/numbers/"+pnid+"/messages", "application/json", strings.NewReader(`{"text":`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad JSON = %d", resp.StatusCode)
	}
	_, state := h.call("GET", "/_sim/state", nil)
	if len(state["conversations"].([]any)) != 3 || len(state["messages"].([]any)) != 5 {
		t.Errorf("state: %d conversations, %d messages", len(state["conversations"].([]any)), len(state["messages"].([]any)))
	}
}

func TestMessageDeliveriesRetried(t *testing.T) {
	// Two failures, then 200: the third attempt carries the same key.
	rc := newReceiver(t, 500, 500, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	sent, err := h.sim.SendInbound(context.Background(), pnid, Inbound{})
	if err != nil || fmt.Sprint(sent.Statuses) != "[500]" {
		t.Fatalf("sent %+v %v", sent, err)
	}
	waitFor(t, "retries", func() bool { return len(rc.requests()) == 3 })
	for i, r := range rc.requests() {
		if r.header.Get("X-Idempotency-Key") != sent.Key || r.header.Get("X-Webhook-Signature") != kapso.Sign(hookSecret, r.body) {
			t.Errorf("attempt %d: %v", i+1, r.header)
		}
	}
	settled(t, h)
	if n := len(rc.requests()); n != 3 {
		t.Errorf("%d attempts after a 200", n)
	}
}

func TestFailedBatchResentMessageByMessage(t *testing.T) {
	// Every attempt of the batch fails (4 in the schedule), then its
	// messages go one by one under new keys.
	rc := newReceiver(t, 500, 500, 500, 500, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	sent, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "single re-sends", func() bool { return len(rc.requests()) == 6 })
	reqs := rc.requests()
	for i, r := range reqs[:4] {
		if r.header.Get("X-Idempotency-Key") != sent.Key || r.header.Get("X-Webhook-Batch") != "true" {
			t.Errorf("batch attempt %d: %v", i+1, r.header)
		}
	}
	for i, r := range reqs[4:] {
		km, _ := normalise(t, kapso.EventMessageReceived, r.body)
		if k := r.header.Get("X-Idempotency-Key"); k == sent.Key || r.header.Get("X-Webhook-Batch") != "" ||
			km.Message.WAMID != sent.WAMIDs[i] || r.header.Get("X-Webhook-Signature") != kapso.Sign(hookSecret, r.body) {
			t.Errorf("re-send %d: %v %s", i, r.header, km.Message.WAMID)
		}
	}
	if reqs[4].header.Get("X-Idempotency-Key") == reqs[5].header.Get("X-Idempotency-Key") {
		t.Error("re-sends share a key")
	}
}
