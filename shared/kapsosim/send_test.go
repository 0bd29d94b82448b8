package kapsosim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
)

const proxyText = `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"Seu pedido saiu"}}`

func proxySender(h *harness) *kapsoapi.Sender {
	return kapsoapi.NewSender(h.srv.URL+"/meta/whatsapp", "v24.0", apiKey,
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
		jsonRaw(`{"messaging_product":"whatsapp","recipient":"`+bsuid+`","type":"template","template":{"name":"pedido"}}`))
	if st != http.StatusOK || !strings.Contains(mustJSON(t, out), bsuid) {
		t.Errorf("bsuid send: %d %v", st, out)
	}
	if ms := outbound(h, pnid); len(ms) != 1 || ms[0].Person.BSUID != bsuid || ms[0].Text != "[template pedido]" {
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

	// 5xx: unknown outcome to the sender, nothing sent.
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: SendFault5xx}); err != nil {
		t.Fatal(err)
	}
	if _, err := snd.Send(ctx, pnid, []byte(proxyText)); !errors.Is(err, kapsoapi.ErrSendUnknown) {
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
