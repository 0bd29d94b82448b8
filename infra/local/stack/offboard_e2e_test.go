package stack_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
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
	reconcileNow(t, s)
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); status != http.StatusNotFound {
		t.Errorf("a second pass brought it back: %d", status)
	}
	if _, afterBeta := api(t, s, http.MethodGet, "/v1/tenants/beta/connection", ""); afterBeta["status"] != beforeBeta["status"] ||
		len(afterBeta["timeline"].([]any)) < len(beforeBeta["timeline"].([]any)) {
		t.Errorf("beta changed: %v", afterBeta)
	}

	newLink(t, s, "acme")
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	if conn["status"] != "link_active" || conn["kapso_customer_id"] == oldCustomer || len(conn["phone_numbers"].([]any)) != 0 {
		t.Errorf("the new tenant: %v", conn)
	}
	reconcileNow(t, s)
	if _, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", ""); len(conn["phone_numbers"].([]any)) != 0 {
		t.Errorf("the old number came back: %v", conn["phone_numbers"])
	}
}
