package stack_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// A tenant's templates are read by the reconciler's first pass and listed;
// a template Meta then pauses is PAUSED after the next pass, with the
// change on its history and told once as template.status_changed, and a
// send of it is refused with 422 before Kapso hears of it.
func TestAPausedTemplateIsToldAndRefusedAtSend(t *testing.T) {
	// Every pass reads the WABA again, so that the test need not wait an hour.
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h", config.TemplateSyncInterval.Name: "1ns"})
	t.Cleanup(s.Stop)
	all := subscribe(t, s, "")
	number, _ := connect(t, s, "acme")
	waba, err := s.Sim.BusinessAccountID(number)
	if err != nil {
		t.Fatal(err)
	}
	reconcileNow(t, s)
	_, list := api(t, s, http.MethodGet, "/v1/tenants/acme/templates", "")
	if got := len(list["templates"].([]any)); got != len(s.Sim.Templates(waba)) || got == 0 {
		t.Fatalf("templates after the first pass: %v", list)
	}
	if _, err := s.Sim.SetTemplateStatus(waba, "order_update", "en_US", kapsosim.TemplateChange{Status: "PAUSED"}); err != nil {
		t.Fatal(err)
	}
	reconcileNow(t, s)

	_, list = api(t, s, http.MethodGet, "/v1/tenants/acme/templates?name=order_update", "")
	tpl := list["templates"].([]any)[0].(map[string]any)
	history := tpl["history"].([]any)
	if tpl["status"] != "PAUSED" || len(history) != 2 || history[1].(map[string]any)["source"] != "reconciler" {
		t.Fatalf("order_update %v", tpl)
	}
	ofAcme := ofType(bridgeevents.TemplateStatusChanged, "acme")
	all.waitFor("the pause", ofAcme, func(evs []told) bool { return len(evs) > 0 })
	settleEvents(t, s, all)
	evs := distinct(all.events(ofAcme))
	if len(evs) != 1 || evs[0].Source != "reconciler" {
		t.Fatalf("template events:%s", describe(evs))
	}
	if d := record[bridgeevents.TemplateStatus](t, evs[0]); d.Name != "order_update" || d.Status != "PAUSED" ||
		d.PreviousStatus != "APPROVED" || d.BusinessAccountID != waba {
		t.Fatalf("data %+v", d)
	}
	if feed := feedOf(t, s, "acme", "template.status_changed"); len(feed) != 1 || feed[0].(map[string]any)["id"] != evs[0].ID {
		t.Fatalf("feed %v", feed)
	}

	sends := s.Sim.ProxyCalls(kapsosim.RouteSend)
	status, body := send(t, s, "acme", "paused-1",
		`{"to":"+16505550000","type":"template","template":{"name":"order_update","language":{"code":"en_US"}}}`)
	if status != http.StatusUnprocessableEntity || errorCode(body) != "template_not_sendable" {
		t.Fatalf("send of a paused template: %d %v", status, body)
	}
	if got := s.Sim.ProxyCalls(kapsosim.RouteSend); got != sends {
		t.Fatalf("the refused send reached Kapso (%d calls)", got-sends)
	}
	// A pass over the same templates tells nothing more.
	before := len(all.events(nil))
	reconcileNow(t, s)
	settleEvents(t, s, all)
	if after := all.events(nil); len(after) != before {
		t.Errorf("a pass over the same templates told:%s", describe(after[before:]))
	}
}

// feedOf is the tenant's feed of events of that type once it lists any
// (an event is listed once it has settled), or what it lists after 30 s.
func feedOf(t *testing.T, s *stack.Stack, tenant, typ string) []any {
	t.Helper()
	var feed []any
	poll.Until(30*time.Second, 200*time.Millisecond, func() bool {
		_, page := api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/events?type="+typ, "")
		feed, _ = page["events"].([]any)
		return len(feed) > 0
	})
	return feed
}
