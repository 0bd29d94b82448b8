package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// connect signs tenant up without a browser: a setup link, the simulator's
// signup, the browser's redirect followed by a plain GET. It returns the
// number once the tenant is connected.
func connect(t *testing.T, s *stack.Stack, tenant string) (number, customer string) {
	t.Helper()
	id, _ := newLink(t, s, tenant)
	redirect, number, err := s.Sim.CompleteLink(id, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	browse(t, redirect)
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
	var conn map[string]any
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		_, conn = api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/connection", "")
		return ok(conn)
	}) {
		dumpState(t, s)
		t.Fatalf("connection of %s never reached the expected state: %v", tenant, conn)
	}
	return conn
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
	// Two reconciler runs, and what they set going done.
	reconcileNow(t, s)
	reconcileNow(t, s)
	settled(t, s)
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
	if rep := reconcileNow(t, s); rep.OpenTenants.Fixed != 1 || !rep.Finished || rep.Errors != 0 || len(rep.DLQs) != len(schema.Queues) {
		t.Fatalf("report %+v", rep)
	}
	conn := waitConnection(t, s, "acme", func(c map[string]any) bool { return c["status"] == "connected" })
	if numberStatus(conn, number) != "connected" {
		t.Fatalf("number %v", numberStatus(conn, number))
	}
}

// reconcileNow runs one reconciler pass through the local server (make
// reconcile) and returns its report.
func reconcileNow(t *testing.T, s *stack.Stack) reconcile.Report {
	t.Helper()
	res, err := http.Post(s.URL+stack.ReconcilePath, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer struct {
		Report reconcile.Report `json:"report"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("reconcile: %d %v", res.StatusCode, err)
	}
	return answer.Report
}

// newLink creates a setup link for tenant and returns its id and URL.
func newLink(t *testing.T, s *stack.Stack, tenant string) (id, linkURL string) {
	t.Helper()
	status, body := api(t, s, http.MethodPost, "/v1/tenants/"+tenant+"/setup-links", `{"tenant_name":"Acme Inc"}`)
	if status != http.StatusCreated {
		t.Fatalf("create link: %d %v", status, body)
	}
	link := body["setup_link"].(map[string]any)
	return link["id"].(string), link["url"].(string)
}

// browse follows a redirect URL as a browser would reach it, without
// going on to the app's page, and returns where it was sent.
func browse(t *testing.T, target string) *url.URL {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if res.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("GET %s: %d %v", target, res.StatusCode, err)
	}
	return loc
}

// failures are the connection's support.failures.
func failures(conn map[string]any) []map[string]any {
	support, _ := conn["support"].(map[string]any)
	list, _ := support["failures"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, f := range list {
		out = append(out, f.(map[string]any))
	}
	return out
}

// needsAttention lists the tenants GET /v1/tenants?needs_attention=true names.
func needsAttention(t *testing.T, s *stack.Stack) []string {
	t.Helper()
	_, list := api(t, s, http.MethodGet, "/v1/tenants?needs_attention=true&limit=200", "")
	var ids []string
	tenants, _ := list["tenants"].([]any)
	for _, tenant := range tenants {
		ids = append(ids, fmt.Sprint(tenant.(map[string]any)["tenant_id"]))
	}
	return ids
}

// Redirects are unsigned: anyone can type a failure redirect for a real
// link. It is shown as the browser's report, with the code's meaning, and
// changes nothing else: Kapso lists the link active, so the tenant stays
// link_active with its link offered, needs nobody, and the reconciler's
// runs leave it so.
func TestForgedFailureRedirectLeavesTheLinkUsable(t *testing.T) {
	s := startStack(t)
	id, linkURL := newLink(t, s, "acme")
	landing := browse(t, s.URL+"/connect/failure?setup_link_id="+id+"&error_code=waba_limit_reached")
	if landing.Query().Get("error_code") != "waba_limit_reached" {
		t.Fatalf("the browser was sent to %s", landing)
	}
	usable := func(conn map[string]any) {
		t.Helper()
		support := conn["support"].(map[string]any)
		link, _ := conn["active_setup_link"].(map[string]any)
		if conn["status"] != "link_active" || link == nil || link["setup_link_id"] != id || link["url"] != linkURL ||
			link["status"] != "active" || link["error_code"] != "waba_limit_reached" || link["error_reported_by"] != "browser" {
			t.Fatalf("status %v, active link %v", conn["status"], link)
		}
		history := link["history"].([]any)
		last := history[len(history)-1].(map[string]any)
		if last["event"] != "failure_redirect" || last["reported_by"] != "browser" || last["meaning"] == nil {
			t.Fatalf("history %v", history)
		}
		f := failures(conn)
		if len(f) != 1 || f[0]["reported_by"] != "browser" || f[0]["error_code"] != "waba_limit_reached" ||
			support["signup"] != "failed_unconfirmed" || support["error_reported_by"] != "browser" {
			t.Fatalf("support %v", support)
		}
		if slices.Contains(needsAttention(t, s), "acme") {
			t.Fatal("a forged failure redirect made the tenant need a human")
		}
	}
	usable(waitConnection(t, s, "acme", func(c map[string]any) bool { return timelineKinds(c)["failure_redirect"] == 1 }))
	// Two reconciler runs, and what they set going done.
	reconcileNow(t, s)
	reconcileNow(t, s)
	settled(t, s)
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	usable(conn)
}

// After a failure, the person connects on the same customer while the
// project webhook is lost. Acme connects before any reconciler run; Beta
// after one, which found the failure at Kapso (Beta failed, as Kapso
// reports). Each time, the next run finds the connection.
func TestReconcilerFindsAConnectionAfterAFailure(t *testing.T) {
	s := startStackEvery(t, "1h")
	links := map[string]string{}
	for _, tenant := range []string{"acme", "beta"} {
		links[tenant], _ = newLink(t, s, tenant)
		redirect, err := s.Sim.FailLink(links[tenant], "phone_verification_failed")
		if err != nil {
			t.Fatal(err)
		}
		browse(t, redirect)
		conn := waitConnection(t, s, tenant, func(c map[string]any) bool { return timelineKinds(c)["failure_redirect"] == 1 })
		if conn["status"] != "link_active" {
			t.Fatalf("%s after the failure redirect: %v", tenant, conn["status"])
		}
	}
	s.Sim.SetWebhookMode("drop")
	complete := func(tenant string) string {
		t.Helper()
		_, number, err := s.Sim.CompleteLink(links[tenant], "dedicated")
		if err != nil {
			t.Fatal(err)
		}
		return number
	}
	connected := func(tenant, number string) {
		t.Helper()
		conn := waitConnection(t, s, tenant, func(c map[string]any) bool { return c["status"] == "connected" })
		if numberStatus(conn, number) != "connected" {
			t.Fatalf("%s: number %v", tenant, numberStatus(conn, number))
		}
	}

	acme := complete("acme")
	if rep := reconcileNow(t, s); rep.OpenTenants.Fixed != 1 || rep.SetupLinks.Fixed != 1 || rep.Errors != 0 {
		t.Fatalf("first run %+v", rep)
	}
	connected("acme", acme)
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/beta/connection", "")
	if f := failures(conn); conn["status"] != "failed" || len(f) != 2 || f[1]["reported_by"] != "kapso" ||
		!slices.Contains(needsAttention(t, s), "beta") {
		t.Fatalf("beta after the first run: %v %v", conn["status"], f)
	}

	beta := complete("beta")
	if rep := reconcileNow(t, s); rep.OpenTenants.Fixed != 1 || rep.Errors != 0 {
		t.Fatalf("second run %+v", rep)
	}
	connected("beta", beta)
}
