package stack_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// A number Meta rates RED at Kapso shows as such after one reconciler
// pass: on the connection, among the tenants needing attention with
// quality_low, and as one number.health_changed on the events topic and in
// the feed. A second pass over the same health changes nothing and tells
// nothing.
func TestLowQualityNumberNeedsAttentionAfterOnePass(t *testing.T) {
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"})
	t.Cleanup(s.Stop)
	all := subscribe(t, s, "")
	number, _ := connect(t, s, "acme")
	connect(t, s, "globex")
	if err := s.Sim.SetNumberHealth(number, kapsosim.NumberHealth{QualityRating: "RED"}); err != nil {
		t.Fatal(err)
	}
	// The list is read from an index, which follows the connection a moment
	// later: a webhook just registered may still be listed as missing.
	var listed map[string]any
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		_, listed = api(t, s, http.MethodGet, "/v1/tenants?needs_attention=true", "")
		return len(listed["tenants"].([]any)) == 0
	}) {
		t.Fatalf("needing attention before the pass: %v", listed)
	}
	reconcileNow(t, s)

	_, list := api(t, s, http.MethodGet, "/v1/tenants?needs_attention=true", "")
	tenants := list["tenants"].([]any)
	if len(tenants) != 1 {
		t.Fatalf("needing attention after the pass: %v", list)
	}
	acme := tenants[0].(map[string]any)
	if acme["tenant_id"] != "acme" || !slices.Contains(acme["needs_attention"].([]any), any("quality_low")) {
		t.Fatalf("acme %v", acme)
	}
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	n := conn["phone_numbers"].([]any)[0].(map[string]any)
	if n["quality_rating"] != "RED" || n["messaging_limit_tier"] != "TIER_1K" || n["name_status"] != "APPROVED" ||
		n["throughput"] != "STANDARD" || n["health_read_at"] == nil {
		t.Fatalf("number %v", n)
	}

	ofAcme := ofType(bridgeevents.NumberHealthChanged, "acme")
	all.waitFor("acme's health", ofAcme, func(evs []told) bool { return len(evs) > 0 })
	settleEvents(t, s, all)
	evs := distinct(all.events(ofAcme))
	if len(evs) != 1 || evs[0].Subject != "number:"+number || evs[0].Source != "reconciler" {
		t.Fatalf("acme's health events:%s", describe(evs))
	}
	if d := record[bridgeevents.NumberHealth](t, evs[0]); d.QualityRating != "RED" || d.PreviousQualityRating != "" ||
		d.PhoneNumberID != number || !slices.Contains(d.NeedsAttention, "quality_low") {
		t.Fatalf("data %+v", d)
	}
	// The feed lists an event once it has settled.
	if feed := feedOf(t, s, "acme", "number.health_changed"); len(feed) != 1 || feed[0].(map[string]any)["id"] != evs[0].ID {
		t.Fatalf("feed %v", feed)
	}

	before := len(all.events(nil))
	reconcileNow(t, s)
	settleEvents(t, s, all)
	if after := all.events(nil); len(after) != before {
		t.Errorf("a pass over the same health told:%s", describe(after[before:]))
	}
}
