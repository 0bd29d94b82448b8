package routes

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The routes are part of kapso-bridge's contract with Kapso, the SaaS and
// numbers already registered at Kapso: they are spelled out here again, so
// an edit to one of them fails a test.
func TestRoutes(t *testing.T) {
	for got, want := range map[Route]string{
		ProjectWebhook:  "POST /webhooks/kapso",
		NumberWebhook:   "POST /webhooks/kapso/{phone_number_id}",
		MetaWebhook:     "POST /webhooks/meta/{phone_number_id}",
		ConnectSuccess:  "GET /connect/success",
		ConnectFailure:  "GET /connect/failure",
		ListTenants:     "GET /v1/tenants",
		CreateSetupLink: "POST /v1/tenants/{tenant_id}/setup-links",
		GetConnection:   "GET /v1/tenants/{tenant_id}/connection",

		ListConversations:        "GET /v1/tenants/{tenant_id}/conversations",
		ListConversationMessages: "GET /v1/tenants/{tenant_id}/conversations/{conversation_id}/messages",
		GetMessage:               "GET /v1/tenants/{tenant_id}/messages/{wamid}",
		GetContact:               "GET /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}",
		ListEvents:               "GET /v1/events",
		ListTenantEvents:         "GET /v1/tenants/{tenant_id}/events",
		ListTemplates:            "GET /v1/tenants/{tenant_id}/templates",
		CreateTemplate:           "POST /v1/tenants/{tenant_id}/templates",
		SyncTemplates:            "POST /v1/tenants/{tenant_id}/templates/sync",
		ListAudit:                "GET /v1/audit",
		EraseContact:             "DELETE /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}",
		GetErasure:               "GET /v1/tenants/{tenant_id}/erasures/{erasure_id}",
		ExportContact:            "GET /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}/export",
	} {
		if got.Pattern() != want {
			t.Errorf("route %q, want %q", got.Pattern(), want)
		}
	}
}

func TestURLs(t *testing.T) {
	for got, want := range map[string]string{
		ProjectWebhookURL("https://b.example"):                    "https://b.example/webhooks/kapso",
		NumberWebhookURL("https://b.example/", "106540352242922"): "https://b.example/webhooks/kapso/106540352242922",
		SuccessRedirectURL("https://b.example"):                   "https://b.example/connect/success",
		FailureRedirectURL("https://b.example/"):                  "https://b.example/connect/failure",
		URLPattern("https://b.example", CreateSetupLink):          "https://b.example/v1/tenants/{tenant_id}/setup-links",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// A number's webhook URL reaches the number route with its id as the path
// parameter, as the ingest reads it.
func TestNumberWebhookURLIsServedByTheNumberRoute(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	mux.HandleFunc(NumberWebhook.Pattern(), func(w http.ResponseWriter, r *http.Request) { got = r.PathValue(PhoneNumberID) })
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, NumberWebhookURL("https://b.example", "123"), nil))
	if got != "123" {
		t.Errorf("phone_number_id = %q, want 123", got)
	}
}

// The function groups are disjoint and cover every route.
func TestEachRouteHasOneFunction(t *testing.T) {
	seen := map[Route]int{}
	for _, group := range [][]Route{Ingest, TenantAPI, Redirects} {
		for _, r := range group {
			seen[r]++
		}
	}
	for _, r := range []Route{ProjectWebhook, NumberWebhook, MetaWebhook, ConnectSuccess, ConnectFailure, ListTenants, CreateSetupLink,
		GetConnection, ListConversations, ListConversationMessages, GetMessage, GetContact, SendMessage, ListEvents, ListTenantEvents, GetMessageMedia, UploadMedia, ListAudit, DeleteTenant,
		EraseContact, GetErasure, ExportContact} {
		if seen[r] != 1 {
			t.Errorf("%s is served by %d functions", r.Pattern(), seen[r])
		}
	}
	if len(seen) != 25 {
		t.Errorf("%d routes in the function groups, want 25", len(seen))
	}
}
