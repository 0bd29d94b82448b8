package kapsosim

import (
	"net/http"
	"strings"
	"testing"
)

// A connected number's health starts at GREEN, TIER_1K (1000), APPROVED,
// STANDARD, in the get-number answer's shape; the control changes the
// fields it names and no other, and refuses what is no health.
func TestNumberHealth(t *testing.T) {
	h := newHarness(t, Options{})
	l := h.link(h.customer("acme"), nil)
	_, pnid, err := h.sim.CompleteLink(l["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	get := func() map[string]any {
		t.Helper()
		st, out := h.call("GET", "/platform/v1/whatsapp/phone_numbers/"+pnid, nil)
		if st != http.StatusOK {
			t.Fatalf("get number: %d %v", st, out)
		}
		return out["data"].(map[string]any)
	}
	want := func(d map[string]any, quality, name, throughput string, limit any) {
		t.Helper()
		if d["quality_rating"] != quality || d["name_status"] != name || d["throughput_tier"] != throughput ||
			d["whatsapp_business_manager_messaging_limit"] != limit {
			t.Fatalf("health %v, want %s %s %s %v", d, quality, name, throughput, limit)
		}
	}
	want(get(), "GREEN", "APPROVED", "STANDARD", 1000.0)
	if st, out := h.call("POST", "/_sim/numbers/"+pnid+"/health", map[string]any{"quality_rating": "RED"}); st != http.StatusOK {
		t.Fatalf("set health: %d %v", st, out)
	}
	want(get(), "RED", "APPROVED", "STANDARD", 1000.0)
	if st, _ := h.call("POST", "/_sim/numbers/"+pnid+"/health", map[string]any{"name_status": "DECLINED",
		"messaging_limit": "10000", "throughput": "HIGH"}); st != http.StatusOK {
		t.Fatalf("set health: %d", st)
	}
	want(get(), "RED", "DECLINED", "HIGH", "10000")
	for name, c := range map[string]struct {
		path   string
		body   any
		status int
	}{
		"unknown number":     {"/_sim/numbers/999/health", map[string]any{"quality_rating": "RED"}, http.StatusNotFound},
		"limit of bad type":  {"/_sim/numbers/" + pnid + "/health", map[string]any{"messaging_limit": []int{1}}, http.StatusUnprocessableEntity},
		"value too long":     {"/_sim/numbers/" + pnid + "/health", map[string]any{"quality_rating": strings.Repeat("R", 65)}, http.StatusUnprocessableEntity},
		"body not an object": {"/_sim/numbers/" + pnid + "/health", []int{1}, http.StatusBadRequest},
	} {
		if st, _ := h.call("POST", c.path, c.body); st != c.status {
			t.Errorf("%s: %d, want %d", name, st, c.status)
		}
	}
	want(get(), "RED", "DECLINED", "HIGH", "10000")
}
