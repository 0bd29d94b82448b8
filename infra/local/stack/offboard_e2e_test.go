package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// A tenant mid-conversation is offboarded: deleting at once, gone after
// the reconciler's pass, which does not bring it back; Kapso delivers its
// number nothing more; another tenant is untouched; a new setup link for
// the same id starts a new tenant, without the old number.
func TestOffboardedTenantIsGone(t *testing.T) {
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"})
	t.Cleanup(s.Stop)
	number, oldCustomer := connect(t, s, "acme")
	connect(t, s, "beta")
	person := map[string]any{"from": "16505551234", "text": "hello"}
	in := sim(t, s, "/_sim/numbers/"+number+"/messages", person)
	settled(t, s)
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+in.WAMID, ""); status != http.StatusOK {
		t.Fatalf("the message before: %d", status)
	}
	_, beforeBeta := api(t, s, http.MethodGet, "/v1/tenants/beta/connection", "")
	// The number's webhook secret, to sign a delivery Kapso makes late (a
	// retry of one sent before the deletion).
	hooks := s.Sim.Webhooks(number)
	if len(hooks) == 0 {
		t.Fatal("no webhook registered for the number")
	}
	late := func(text string) int {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"phone_number_id": number, "message": map[string]any{
			"id": "wamid.late-" + text, "from": "16505551234", "timestamp": fmt.Sprint(time.Now().Unix()), "type": "text",
			"text": map[string]string{"body": text}}})
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/webhooks/kapso/"+number, bytes.NewReader(body))
		req.Header.Set("X-Webhook-Signature", kapso.Sign(hooks[0].SecretKey, body))
		req.Header.Set("X-Webhook-Event", kapso.EventMessageReceived)
		req.Header.Set("X-Idempotency-Key", "late-"+text)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	status, job := api(t, s, http.MethodDelete, "/v1/tenants/acme", "")
	if status != http.StatusAccepted || job["status"] != "deleting" {
		t.Fatalf("DELETE: %d %v", status, job)
	}
	if _, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); conn["status"] != "deleting" {
		t.Fatalf("connection while deleting: %v", conn)
	}
	// Kapso no longer has the number's webhook: a new message reaches no one.
	b, _ := json.Marshal(person)
	res, err := http.Post(s.SimURL+"/_sim/numbers/"+number+"/messages", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(raw), `"statuses":[200]`) {
		t.Errorf("Kapso still delivers the number: %s", raw)
	}
	// A late delivery while deleting is answered; what caches let
	// through before they saw the mark is deleted with the rest.
	if status := late("while-deleting"); status != http.StatusOK {
		t.Errorf("a late delivery while deleting: %d, want 200", status)
	}
	settled(t, s)

	reconcileNow(t, s)
	status, done := api(t, s, http.MethodDelete, "/v1/tenants/acme", "")
	if status != http.StatusOK || done["status"] != "deleted" {
		t.Fatalf("after the pass: %d %v", status, done)
	}
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); status != http.StatusNotFound {
		t.Errorf("connection once deleted: %d", status)
	}
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+in.WAMID, ""); status != http.StatusNotFound {
		t.Errorf("the message once deleted: %d", status)
	}
	_, list := api(t, s, http.MethodGet, "/v1/tenants", "")
	if b, _ := json.Marshal(list); strings.Contains(string(b), `"acme"`) {
		t.Errorf("listed once deleted: %s", b)
	}
	// Once deleted, the number's tombstone answers its deliveries and
	// drops them.
	if status := late("after"); status != http.StatusOK {
		t.Errorf("a late delivery once deleted: %d, want 200", status)
	}
	settled(t, s)
	reconcileNow(t, s)
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); status != http.StatusNotFound {
		t.Errorf("a second pass brought it back: %d", status)
	}
	if _, afterBeta := api(t, s, http.MethodGet, "/v1/tenants/beta/connection", ""); afterBeta["status"] != beforeBeta["status"] ||
		len(afterBeta["timeline"].([]any)) < len(beforeBeta["timeline"].([]any)) {
		t.Errorf("beta changed: %v", afterBeta)
	}

	newLink(t, s, "acme")
	for _, w := range []string{"wamid.late-while-deleting", "wamid.late-after", in.WAMID} {
		if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+w, ""); status != http.StatusNotFound {
			t.Errorf("the new tenant has the old number's message %s: %d", w, status)
		}
	}
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	if conn["status"] != "link_active" || conn["kapso_customer_id"] == oldCustomer || len(conn["phone_numbers"].([]any)) != 0 {
		t.Errorf("the new tenant: %v", conn)
	}
	reconcileNow(t, s)
	if _, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); len(conn["phone_numbers"].([]any)) != 0 {
		t.Errorf("the old number came back: %v", conn["phone_numbers"])
	}
}
