package stack_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// A message whose webhooks Kapso lost is stored by the reconciler's
// catch-up, which reads the number's history through the Meta proxy
// (GET /{phone_number_id}/messages and /conversations, Graph cursors), as
// Kapso documents it.
func TestCatchUpReadsTheHistoryThroughTheMetaProxy(t *testing.T) {
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"})
	t.Cleanup(s.Stop)
	number, _ := connect(t, s, "acme")
	if err := s.Sim.SetNumberWebhookMode(number, kapsosim.ModeDrop); err != nil {
		t.Fatal(err)
	}
	sent, err := s.Sim.SendInbound(context.Background(), number, kapsosim.Inbound{Text: "lost in transit", FromPhone: "+5215512345678"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+sent.WAMID, ""); status != http.StatusNotFound {
		t.Fatalf("a dropped message is stored already: %d", status)
	}
	history := s.Sim.ProxyCalls(kapsosim.RouteMessageHistory)
	rep := reconcileNow(t, s)
	if rep.Messages.Fixed < 1 || s.Sim.ProxyCalls(kapsosim.RouteMessageHistory) == history {
		t.Fatalf("catch-up: %+v, %d history reads", rep.Messages, s.Sim.ProxyCalls(kapsosim.RouteMessageHistory)-history)
	}
	m := waitMessage(t, s, "acme", sent.WAMID, func(m map[string]any) bool { return m["text"] == "lost in transit" })
	if m["direction"] != "inbound" || m["conversation_id"] != sent.ConversationID {
		t.Fatalf("caught-up message %v", m)
	}
}
