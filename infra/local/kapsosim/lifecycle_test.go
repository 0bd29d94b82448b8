package kapsosim

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// A change shows in the Platform API at once and reaches the project
// webhook as the event that reports it, with the reason.
func TestChangeNumber(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	h := newHarness(t, Options{ProjectWebhookURL: rc.srv.URL, ProjectWebhookSecret: "s"})
	l := h.link(h.customer("acme"), nil)
	_, pnid, err := h.sim.CompleteLink(l["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ change, status, event string }{
		{"disconnected", "DISCONNECTED", "whatsapp.phone_number.disconnected"},
		{"reconnected", "CONNECTED", "whatsapp.phone_number.reconnected"},
		{"restricted", "RESTRICTED", "whatsapp.account.restricted"},
		{"disabled", "BANNED", "whatsapp.account.disabled"},
		{"reinstated", "CONNECTED", "whatsapp.account.reinstated"},
	} {
		event, _, err := h.sim.ChangeNumber(pnid, c.change, "meta_token_expired")
		if err != nil || event != c.event {
			t.Fatalf("%s: %s %v", c.change, event, err)
		}
		st, out := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+pnid, nil)
		if st != http.StatusOK || out["data"].(map[string]any)["status"] != c.status {
			t.Fatalf("%s: %d %v", c.change, st, out)
		}
	}
	waitFor(t, "six deliveries", func() bool { return len(rc.requests()) >= 6 })
	events := map[string]map[string]any{}
	for _, r := range rc.requests() {
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		events[r.header.Get("X-Webhook-Event")] = body
	}
	if b := events["whatsapp.account.reinstated"]; b["phone_number_id"] != pnid || b["reason"] != "meta_token_expired" {
		t.Fatalf("deliveries %v", events)
	}

	if _, _, err := h.sim.ChangeNumber(pnid, "deleted", ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+pnid, nil); st != http.StatusNotFound {
		t.Fatalf("deleted number answers %d", st)
	}
	if _, _, err := h.sim.ChangeNumber(pnid, "disconnected", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("change of a gone number: %v", err)
	}
	if _, _, err := h.sim.ChangeNumber(pnid, "melted", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown change: %v", err)
	}
}
