package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

// connect signs tenant up without a browser: a setup link, the simulator's
// signup, the browser's redirect followed by a plain GET. It returns the
// number once the tenant is connected.
func connect(t *testing.T, s *stack.Stack, tenant string) (number, customer string) {
	t.Helper()
	status, body := api(t, s, http.MethodPost, "/v1/tenants/"+tenant+"/setup-links", `{"tenant_name":"Acme Inc"}`)
	if status != http.StatusCreated {
		t.Fatalf("create link: %d %v", status, body)
	}
	redirect, number, err := s.Sim.CompleteLink(body["setup_link"].(map[string]any)["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(redirect)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	conn := waitConnection(t, s, tenant, func(c map[string]any) bool {
		return c["status"] == "connected" && webhookRegistered(c, number)
	})
	return number, conn["kapso_customer_id"].(string)
}

func webhookRegistered(conn map[string]any, number string) bool {
	numbers, _ := conn["phone_numbers"].([]any)
	for _, n := range numbers {
		if n := n.(map[string]any); n["phone_number_id"] == number {
			return n["webhook_registered"] == true
		}
	}
	return false
}

func numberStatus(conn map[string]any, number string) any {
	numbers, _ := conn["phone_numbers"].([]any)
	for _, n := range numbers {
		if n := n.(map[string]any); n["phone_number_id"] == number {
			return n["status"]
		}
	}
	return nil
}

// waitConnection polls the tenant's connection until ok, or fails after 30 s.
func waitConnection(t *testing.T, s *stack.Stack, tenant string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, conn := api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/connection", "")
		if ok(conn) {
			return conn
		}
		if time.Now().After(deadline) {
			dumpState(t, s)
			t.Fatalf("connection of %s never reached the expected state: %v", tenant, conn)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func timelineKinds(conn map[string]any) map[string]int {
	kinds := map[string]int{}
	entries, _ := conn["timeline"].([]any)
	for _, e := range entries {
		kinds[fmt.Sprint(e.(map[string]any)["kind"])]++
	}
	return kinds
}

// A signed project webhook body replayed through the real ingest under
// another event name and a new idempotency key changes nothing: Kapso
// still shows the number connected. The claim is on the timeline as
// suspicious, and the reconciler's runs leave the tenant connected.
func TestReplayedWebhookUnderAnotherNameChangesNothing(t *testing.T) {
	s := startStack(t)
	number, customer := connect(t, s, "acme")
	body, _ := json.Marshal(map[string]any{"phone_number_id": number, "customer": map[string]string{"id": customer}})
	secret := s.Env.Value(config.ProjectWebhookSecret)
	for i, event := range []string{kapso.EventPhoneNumberDisconnected, kapso.EventPhoneNumberDeleted} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/webhooks/kapso", bytes.NewReader(body))
		req.Header.Set("X-Webhook-Signature", kapso.Sign(secret, body))
		req.Header.Set("X-Idempotency-Key", fmt.Sprintf("replay-%d", i))
		req.Header.Set("X-Webhook-Event", event)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("replay as %s: %d", event, res.StatusCode)
		}
	}
	conn := waitConnection(t, s, "acme", func(c map[string]any) bool { return timelineKinds(c)["suspicious_webhook"] == 2 })
	if conn["status"] != "connected" || numberStatus(conn, number) != "connected" {
		t.Fatalf("after replays: %v", conn)
	}
	time.Sleep(5 * time.Second) // two reconciler runs (every 2 s here)
	_, conn = api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	if conn["status"] != "connected" || numberStatus(conn, number) != "connected" {
		t.Fatalf("after the reconciler: %v", conn)
	}
}

// A disconnection whose webhook never arrives is found by the reconciler:
// Kapso shows the number disconnected, so it is recorded, by the reconciler.
func TestReconcilerCorrectsAMissedDisconnection(t *testing.T) {
	s := startStack(t)
	number, _ := connect(t, s, "acme")
	s.Sim.SetWebhookMode("drop")
	if _, _, err := s.Sim.ChangeNumber(number, "disconnected", "meta_token_expired"); err != nil {
		t.Fatal(err)
	}
	conn := waitConnection(t, s, "acme", func(c map[string]any) bool { return c["status"] == "reconnect_required" })
	if numberStatus(conn, number) != "disconnected" {
		t.Fatalf("number %v", numberStatus(conn, number))
	}
	entries := conn["timeline"].([]any)
	last := entries[len(entries)-1].(map[string]any)
	if last["kind"] != "number_disconnected" || last["source"] != "reconciler" {
		t.Fatalf("last timeline entry %v", last)
	}
}

// make reconcile: a connection whose webhook the simulator dropped, and
// whose person closed the tab before the redirect, shows up after one
// on-demand pass (the periodic one is an hour away here).
func TestOnDemandReconcileFindsADroppedConnection(t *testing.T) {
	s := startStackEvery(t, "1h")
	s.Sim.SetWebhookMode("drop")
	status, body := api(t, s, http.MethodPost, "/v1/tenants/acme/setup-links", `{"tenant_name":"Acme Inc"}`)
	if status != http.StatusCreated {
		t.Fatalf("create link: %d %v", status, body)
	}
	_, number, err := s.Sim.CompleteLink(body["setup_link"].(map[string]any)["id"].(string), "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	s.Sim.SetWebhookMode("normal")
	if _, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); conn["status"] == "connected" {
		t.Fatal("connected before the reconciler ran")
	}
	res, err := http.Post(s.URL+stack.ReconcilePath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Report reconcile.Report `json:"report"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", res.StatusCode, err)
	}
	res.Body.Close()
	if rep := answer.Report; rep.OpenTenants.Fixed != 1 || !rep.Finished || rep.Errors != 0 || len(rep.DLQs) != 3 {
		t.Fatalf("report %+v", rep)
	}
	conn := waitConnection(t, s, "acme", func(c map[string]any) bool { return c["status"] == "connected" })
	if numberStatus(conn, number) != "connected" {
		t.Fatalf("number %v", numberStatus(conn, number))
	}
}
