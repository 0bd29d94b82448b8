package kapsosim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
)

const proxyText = `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"Seu pedido saiu"}}`

func proxySender(h *harness) *kapsoapi.MetaProxy {
	return kapsoapi.NewMetaProxy(h.srv.URL+"/meta/whatsapp", "v24.0", apiKey,
		kapsoapi.WithRetry(3, 10*time.Millisecond, 50*time.Millisecond))
}

func outbound(h *harness, pnid string) []ChatMessage {
	var out []ChatMessage
	for _, m := range h.sim.Messages(pnid) {
		if m.Direction == "outbound" {
			out = append(out, m)
		}
	}
	return out
}

func TestProxySendRecordsOutbound(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	res, err := proxySender(h).Send(context.Background(), pnid, []byte(proxyText))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.WAMID, "wamid.") || res.WAID != "5215512345678" || res.Input != "5215512345678" {
		t.Errorf("result %+v", res)
	}
	if n := h.sim.SentByProxy(); n != 1 {
		t.Errorf("SentByProxy %d", n)
	}
	ms := outbound(h, pnid)
	if len(ms) != 1 || ms[0].WAMID != res.WAMID || ms[0].Text != "Seu pedido saiu" || ms[0].Status() != "sent" ||
		ms[0].Person.Phone != "5215512345678" {
		t.Fatalf("messages %+v", ms)
	}
	r := lastDelivery(t, rc, kapso.EventMessageSent)
	km, _ := normalise(t, kapso.EventMessageSent, r.body)
	if km.Message.WAMID != res.WAMID {
		t.Errorf("sent webhook for %s, want %s", km.Message.WAMID, res.WAMID)
	}
	if _, err := h.sim.SetMessageStatus(context.Background(), res.WAMID, StatusChange{Status: "delivered"}); err != nil {
		t.Fatal(err)
	}
	lastDelivery(t, rc, kapso.EventMessageDelivered)
}

func TestProxySendAutoStatuses(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	if err := h.sim.SetAutoStatuses(pnid, []string{"delivered", "read"}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetAutoStatuses(pnid, []string{"bogus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bogus status: %v", err)
	}
	res, err := proxySender(h).Send(context.Background(), pnid, []byte(proxyText))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "read", func() bool {
		ms := outbound(h, pnid)
		return len(ms) == 1 && ms[0].WAMID == res.WAMID && ms[0].Status() == "read"
	})
}

func TestProxySendValidation(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	_, err := proxySender(h).Send(context.Background(), "999999999999", []byte(proxyText))
	var me *kapsoapi.MetaError
	if !errors.As(err, &me) || me.Status != http.StatusNotFound || me.Code != 100 || me.Type != "OAuthException" {
		t.Errorf("unknown number: %v", err)
	}
	for _, body := range []string{`[1]`, `{"type":"text","text":{"body":"x"}}`, `{"to":"5215512345678"}`,
		`{"to":"12ab","type":"text"}`} {
		st, out := h.call("POST", "/meta/whatsapp/v24.0/"+pnid+"/messages", jsonRaw(body))
		e, _ := out["error"].(map[string]any)
		if st != http.StatusBadRequest || e == nil || e["code"] != float64(100) {
			t.Errorf("%s: %d %v", body, st, out)
		}
	}
	if st, _ := h.call("POST", "/meta/whatsapp/v24.0/"+pnid+"/messages", nil); st != http.StatusBadRequest {
		t.Errorf("empty body: %d", st)
	}
	if n := h.sim.SentByProxy(); n != 0 || len(outbound(h, pnid)) != 0 {
		t.Errorf("recorded %d", n)
	}
	// A BSUID recipient is sent to by the recipient field.
	bsuid := h.sim.NewBSUID()
	st, out := h.call("POST", "/meta/whatsapp/v24.0/"+pnid+"/messages",
		jsonRaw(`{"messaging_product":"whatsapp","recipient":"`+bsuid+`","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`))
	if st != http.StatusOK || !strings.Contains(mustJSON(t, out), bsuid) {
		t.Errorf("bsuid send: %d %v", st, out)
	}
	if ms := outbound(h, pnid); len(ms) != 1 || ms[0].Person.BSUID != bsuid || ms[0].Text != "[template hello_world]" {
		t.Errorf("messages %+v", ms)
	}
}

func TestProxySendFaults(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	snd := proxySender(h)
	ctx := context.Background()

	// A 429 is repeated by the sender itself.
	if st, out := h.call("POST", "/_sim/send/faults", map[string]any{"calls": 1, "fault": "429", "retry_after_seconds": 1}); st != 200 {
		t.Fatalf("faults control: %d %v", st, out)
	}
	res, err := snd.Send(ctx, pnid, []byte(proxyText))
	if err != nil || res.WAMID == "" || h.sim.SentByProxy() != 1 {
		t.Fatalf("after 429: %+v %v (sent %d)", res, err, h.sim.SentByProxy())
	}

	// 5xx: Kapso failed to take it, nothing sent; the sender may send again.
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: SendFault5xx}); err != nil {
		t.Fatal(err)
	}
	_, err = snd.Send(ctx, pnid, []byte(proxyText))
	if me5 := (*kapsoapi.MetaError)(nil); !errors.As(err, &me5) || me5.Status != http.StatusInternalServerError || !me5.Retryable() {
		t.Errorf("5xx: %v", err)
	}
	if h.sim.SentByProxy() != 1 || len(outbound(h, pnid)) != 1 {
		t.Errorf("5xx recorded a message")
	}

	// permanent: refused, not sent.
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: SendFaultPermanent}); err != nil {
		t.Fatal(err)
	}
	_, err = snd.Send(ctx, pnid, []byte(proxyText))
	var me *kapsoapi.MetaError
	if !errors.As(err, &me) || !me.Permanent() || me.Code != 131026 || me.Title != "Message undeliverable" ||
		errors.Is(err, kapsoapi.ErrSendUnknown) {
		t.Errorf("permanent: %v", err)
	}
	if h.sim.SentByProxy() != 1 {
		t.Errorf("permanent recorded a message")
	}

	// timeout_after_accept: the caller gives up, the message was sent.
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: SendFaultTimeoutAfterAccept}); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := snd.Send(tctx, pnid, []byte(proxyText)); !errors.Is(err, kapsoapi.ErrSendUnknown) {
		t.Errorf("timeout_after_accept: %v", err)
	}
	if h.sim.SentByProxy() != 2 || len(outbound(h, pnid)) != 2 {
		t.Errorf("timeout_after_accept: sent %d", h.sim.SentByProxy())
	}

	// Faults run out.
	if _, err := snd.Send(ctx, pnid, []byte(proxyText)); err != nil || h.sim.SentByProxy() != 3 {
		t.Errorf("after faults: %v", err)
	}
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: "nope"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad fault: %v", err)
	}
	if st, out := h.call("GET", "/_sim/send", nil); st != 200 || out["sent_by_proxy"] != float64(3) {
		t.Errorf("send state: %d %v", st, out)
	}
}

// jsonRaw passes a body to harness.call unchanged.
type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// connectedAs connects a number for another customer, its webhook to rc.
func connectedAs(t *testing.T, h *harness, rc *receiver, ext string) string {
	t.Helper()
	_, pnid, err := h.sim.CompleteLink(h.link(h.customer(ext), nil)["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	h.mustCreate("/platform/v1/whatsapp/phone_numbers/"+pnid+"/webhooks", map[string]any{"whatsapp_webhook": map[string]any{
		"url": rc.srv.URL, "secret_key": hookSecret, "events": numberEvents}})
	return pnid
}

// events lists the events rc got, in order.
func events(rc *receiver) []string {
	var out []string
	for _, r := range rc.requests() {
		out = append(out, r.header.Get("X-Webhook-Event"))
	}
	return out
}

// The default moves every number's sends on, a moment apart, each status's
// webhook to the number's webhook; a number's own setting overrides it,
// even an empty one.
func TestProxySendDefaultAutoStatuses(t *testing.T) {
	const delay = 100 * time.Millisecond
	rc, still := newReceiver(t, 200), newReceiver(t, 200)
	h := newHarness(t, Options{DefaultAutoStatuses: []string{"delivered", "read"}, AutoStatusDelay: delay})
	pnid := connected(t, h, rc)
	quiet := connectedAs(t, h, still, "t2")
	if err := h.sim.SetAutoStatuses(quiet, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := proxySender(h).Send(context.Background(), pnid, []byte(proxyText))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proxySender(h).Send(context.Background(), quiet, []byte(proxyText)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "read", func() bool {
		ms := outbound(h, pnid)
		return len(ms) == 1 && ms[0].WAMID == res.WAMID && ms[0].Status() == "read"
	})
	if took := time.Since(start); took < 2*delay {
		t.Errorf("delivered then read within %v, want each %v after the last", took, delay)
	}
	ms := outbound(h, pnid)
	if sts := ms[0].Statuses; len(sts) != 3 || sts[1].Status != "delivered" || sts[1].At.Sub(sts[0].At) < delay-time.Second {
		t.Errorf("statuses %+v", sts)
	}
	waitFor(t, "read webhook", func() bool { return len(rc.requests()) == 3 })
	if got := events(rc); !slices.Equal(got, []string{kapso.EventMessageSent, kapso.EventMessageDelivered, kapso.EventMessageRead}) {
		t.Errorf("webhooks %v", got)
	}
	lastDelivery(t, rc, kapso.EventMessageRead)

	// The number with its own (empty) setting stays sent.
	settled(t, h)
	if ms := outbound(h, quiet); len(ms) != 1 || ms[0].Status() != "sent" {
		t.Errorf("overridden number moved on: %+v", ms)
	}
	if got := events(still); !slices.Equal(got, []string{kapso.EventMessageSent}) {
		t.Errorf("overridden number's webhooks %v", got)
	}

	if err := h.sim.SetDefaultAutoStatuses([]string{"sent"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bogus default: %v", err)
	}
	// The control sets the default with no phone_number_id, a number's own
	// setting with one.
	if st, out := h.call("POST", "/_sim/send/auto_statuses", map[string]any{"statuses": []string{"failed"}}); st != 200 ||
		!strings.Contains(mustJSON(t, out["default_auto_statuses"]), "failed") {
		t.Fatalf("default control: %d %v", st, out)
	}
	if st, out := h.call("POST", "/_sim/send/auto_statuses", map[string]any{"phone_number_id": quiet,
		"statuses": []string{"delivered"}}); st != 200 {
		t.Fatalf("number control: %d %v", st, out)
	}
	if st, _ := h.call("POST", "/_sim/send/auto_statuses", map[string]any{"statuses": []string{"nope"}}); st != http.StatusUnprocessableEntity && st != http.StatusBadRequest {
		t.Errorf("bogus control: %d", st)
	}
	res, err = proxySender(h).Send(context.Background(), pnid, []byte(proxyText))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failed", func() bool {
		ms := outbound(h, pnid)
		return len(ms) == 2 && ms[1].WAMID == res.WAMID && ms[1].Status() == "failed"
	})
}

// A send shows in Kapso's message list, newest first, with its WAMID,
// recipient, type and text: the reconciler adopts a send whose answer was
// lost by finding it there.
func TestProxySendListedAsOutbound(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	ctx := context.Background()
	if _, err := h.sim.SendInbound(ctx, pnid, Inbound{FromPhone: "5215512345678", Text: "Oi"}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: SendFaultTimeoutAfterAccept}); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := proxySender(h).Send(tctx, pnid, []byte(proxyText)); !errors.Is(err, kapsoapi.ErrSendUnknown) {
		t.Fatalf("timeout_after_accept: %v", err)
	}
	tmpl := `{"messaging_product":"whatsapp","to":"+5215512345678","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`
	res, err := proxySender(h).Send(ctx, pnid, []byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	lost := outbound(h, pnid)[0].WAMID

	items, _ := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid + "&direction=outbound")
	if len(items) != 2 {
		t.Fatalf("outbound list %v", items)
	}
	newest, older := items[0], items[1]
	kap := func(m map[string]any) map[string]any { k, _ := m["kapso"].(map[string]any); return k }
	if newest["id"] != res.WAMID || newest["type"] != "template" || newest["to"] != "5215512345678" ||
		newest["text"] != nil || kap(newest)["content"] != "[template hello_world]" || kap(newest)["direction"] != "outbound" {
		t.Errorf("template send listed as %v", newest)
	}
	text, _ := older["text"].(map[string]any)
	if older["id"] != lost || older["type"] != "text" || older["to"] != "5215512345678" || text["body"] != "Seu pedido saiu" ||
		kap(older)["status"] != "sent" {
		t.Errorf("text send listed as %v", older)
	}
	if in, _ := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid + "&direction=inbound"); len(in) != 1 || in[0]["type"] != "text" {
		t.Errorf("inbound list %v", in)
	}
	if all, _ := h.list("/platform/v1/whatsapp/messages?phone_number_id=" + pnid); len(all) != 3 {
		t.Errorf("full list has %d", len(all))
	}
	if st, _ := h.call("GET", "/platform/v1/whatsapp/messages?phone_number_id="+pnid+"&direction=sideways", nil); st != http.StatusUnprocessableEntity {
		t.Errorf("bad direction: %d", st)
	}
}
