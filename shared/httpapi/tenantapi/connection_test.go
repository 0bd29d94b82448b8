package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

var viewEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return viewEpoch.Add(time.Duration(minutes) * time.Minute) }

// connectionOf stores a tenant named "Acme Padaria" with the links and facts
// given, and answers its connection view as JSON.
func connectionOf(t *testing.T, links []string, facts ...onboarding.Fact) map[string]any {
	t.Helper()
	ctx := context.Background()
	store := &memstore.Onboarding{}
	if _, err := onboarding.EnsureCustomer(ctx, store, "acme", "Acme Padaria", func(context.Context) (string, error) {
		return "cus-1", nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, id := range links {
		if _, err := store.RecordLink(ctx, "acme", onboarding.LinkDetails{SetupLinkID: id, URL: "https://kapso.example/" + id,
			CreatedAt: at(i * 10), ExpiresAt: at(i * 10).Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range facts {
		if _, _, err := store.AppendFact(ctx, "acme", f); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	(&tenantapi.API{Store: store, Token: apiToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return at(120) }}).Register(mux)
	req := httptest.NewRequest(http.MethodGet, "/v1/tenants/acme/connection", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("connection: %d %s", rec.Code, rec.Body)
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// compact renders part of the view as compact JSON, keys sorted.
func compact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(want)); err != nil {
		t.Fatalf("want of %s: %v", what, err)
	}
	var norm any
	_ = json.Unmarshal(buf.Bytes(), &norm)
	if g, w := compact(t, got), compact(t, norm); g != w {
		t.Errorf("%s\n got %s\nwant %s", what, g, w)
	}
}

var acmeNumber = onboarding.NumberDetails{PhoneNumberID: "111", SetupLinkID: "sl-1", BusinessAccountID: "222",
	DisplayPhoneNumber: "+15550001111", ConnectionType: onboarding.ConnectionDedicated}

// The history is true: an old link opened after a newer one was created
// stays superseded, the failure it brought is late; a failure then a
// success on the newer link leaves it confirmed without an error code and
// the failure in its history; every failure is explained; a disconnection
// keeps its reason; the tenant's name is shown.
func TestConnectionViewHistory(t *testing.T) {
	number := acmeNumber
	number.SetupLinkID, number.ConnectionType = "sl-2", onboarding.ConnectionCoexistence
	v := connectionOf(t, []string{"sl-1", "sl-2"},
		onboarding.FailureRedirect("sl-1", "link_expired", at(12)),
		onboarding.FailureRedirect("sl-2", "token_exchange_failed", at(13)),
		onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: "sl-2", PhoneNumberID: "111"}, at(14)),
		onboarding.PhoneNumberCreated(number, at(15)),
		onboarding.NumberDisconnected("111", at(30)).WithReason("meta_token_expired").WithSource(onboarding.SourceAPI))

	wantJSON(t, "top level", map[string]any{"tenant_id": v["tenant_id"], "tenant_name": v["tenant_name"],
		"kapso_customer_id": v["kapso_customer_id"], "status": v["status"], "active_setup_link": v["active_setup_link"]},
		`{"tenant_id":"acme","tenant_name":"Acme Padaria","kapso_customer_id":"cus-1","status":"reconnect_required","active_setup_link":null}`)
	wantJSON(t, "attempts", v["attempts"], `[
	 {"setup_link_id":"sl-1","status":"superseded","url":"https://kapso.example/sl-1",
	  "created_at":"2026-03-01T12:00:00Z","expires_at":"2026-03-02T12:00:00Z","redirect":null,"error_code":"","error_reported_by":"",
	  "confirmed_by":[],"confirmed_at":null,"closed_at":"2026-03-01T12:10:00Z","superseded_by":"sl-2",
	  "history":[
	   {"at":"2026-03-01T12:00:00Z","event":"created"},
	   {"at":"2026-03-01T12:10:00Z","event":"superseded","superseded_by":"sl-2"},
	   {"at":"2026-03-01T12:12:00Z","event":"failure_redirect","error_code":"link_expired","reported_by":"browser","late":true,
	    "meaning":"The setup link had expired, or Kapso revoked it because a newer link was created for the tenant.",
	    "next_step":"Send the customer the tenant's active setup link, or create a new one if none is active."}]},
	 {"setup_link_id":"sl-2","status":"confirmed","url":"https://kapso.example/sl-2",
	  "created_at":"2026-03-01T12:10:00Z","expires_at":"2026-03-02T12:10:00Z",
	  "redirect":{"kind":"success","at":"2026-03-01T12:14:00Z","phone_number_id":"111","error_code":"","reported_by":"browser",
	   "suspicious":false,"reason":"","late":false},
	  "error_code":"","error_reported_by":"","confirmed_by":["webhook:whatsapp.phone_number.created"],"confirmed_at":"2026-03-01T12:15:00Z",
	  "closed_at":null,"superseded_by":"",
	  "history":[
	   {"at":"2026-03-01T12:10:00Z","event":"created"},
	   {"at":"2026-03-01T12:13:00Z","event":"failure_redirect","error_code":"token_exchange_failed","reported_by":"browser",
	    "meaning":"Meta signup finished but Kapso could not exchange Meta's authorisation for an access token; usually temporary.",
	    "next_step":"Ask the customer to try the active link again in a few minutes; if it fails again, contact Kapso support with the setup link id."},
	   {"at":"2026-03-01T12:14:00Z","event":"success_redirect","phone_number_id":"111"},
	   {"at":"2026-03-01T12:15:00Z","event":"confirmed","phone_number_id":"111"}]}]`)
	wantJSON(t, "phone numbers", v["phone_numbers"], `[
	 {"phone_number_id":"111","business_account_id":"222","display_phone_number":"+15550001111","connection_type":"coexistence",
	  "status":"disconnected","status_since":"2026-03-01T12:30:00Z","status_reason":"meta_token_expired",
	  "status_reason_meaning":"Meta's access for the number expired or was withdrawn (password change, app removed, admin rights lost); the number is disconnected.",
	  "status_next_step":"Create a setup link with reconnect_phone_number set to the number and ask the customer to sign up again; messages resume once it reconnects.",
	  "name_status":"","name_status_since":null,"review_status":"","review_status_since":null,
	  "restricted":false,"restricted_reason":"","restricted_at":null,"webhook_registered":false,"connected_at":"2026-03-01T12:15:00Z",
	  "quality_rating":"","messaging_limit_tier":"","verified_name":"","throughput":"","health_read_at":null}]`)
	wantJSON(t, "support", v["support"], `{
	  "tenant_name":"Acme Padaria","status":"reconnect_required","signup":"completed","offered_connection_types":null,
	  "setup_link_id":"sl-2","error_code":"","error_reported_by":"",
	  "failures":[
	   {"setup_link_id":"sl-1","at":"2026-03-01T12:12:00Z","error_code":"link_expired","reported_by":"browser","late":true,
	    "meaning":"The setup link had expired, or Kapso revoked it because a newer link was created for the tenant.",
	    "next_step":"Send the customer the tenant's active setup link, or create a new one if none is active."},
	   {"setup_link_id":"sl-2","at":"2026-03-01T12:13:00Z","error_code":"token_exchange_failed","reported_by":"browser","late":false,
	    "meaning":"Meta signup finished but Kapso could not exchange Meta's authorisation for an access token; usually temporary.",
	    "next_step":"Ask the customer to try the active link again in a few minutes; if it fails again, contact Kapso support with the setup link id."}],
	  "suspicious_redirects":0,"phone_number_id":"111","business_account_id":"222","display_phone_number":"+15550001111",
	  "connection_type":"coexistence","number_status":"disconnected","status_since":"2026-03-01T12:30:00Z",
	  "status_reason":"meta_token_expired",
	  "status_reason_meaning":"Meta's access for the number expired or was withdrawn (password change, app removed, admin rights lost); the number is disconnected.",
	  "status_next_step":"Create a setup link with reconnect_phone_number set to the number and ask the customer to sign up again; messages resume once it reconnects.",
	  "name_status":"","review_status":"","restricted":false,"restricted_reason":"","restricted_at":null,
	  "webhook_registered":false,"confirmed_by":["webhook:whatsapp.phone_number.created"],"reconnect_phone_number":"+15550001111"}`)
	timeline := v["timeline"].([]any)
	wantJSON(t, "the newer link's creation", timeline[1], `{"at":"2026-03-01T12:10:00Z","kind":"link_created","source":"setup_link",
	  "detail":{"expires_at":"2026-03-02T12:10:00Z","setup_link_id":"sl-2","supersedes":"sl-1","url":"https://kapso.example/sl-2"}}`)
	wantJSON(t, "the disconnection", timeline[len(timeline)-1], `{"at":"2026-03-01T12:30:00Z","kind":"number_disconnected","source":"api",
	  "detail":{"phone_number_id":"111","reason":"meta_token_expired"}}`)
}

// A number's health shows as the reconciler last read it, with when; the
// reading is on the timeline.
func TestConnectionViewHealth(t *testing.T) {
	v := connectionOf(t, []string{"sl-1"},
		onboarding.PhoneNumberCreated(acmeNumber, at(5)),
		onboarding.HealthRead(onboarding.NumberHealth{PhoneNumberID: "111", QualityRating: "GREEN", MessagingLimitTier: "TIER_1K",
			VerifiedName: "Acme", NameStatus: "APPROVED", Throughput: "STANDARD", ReadAt: at(20)}),
		onboarding.HealthRead(onboarding.NumberHealth{PhoneNumberID: "111", QualityRating: "RED", MessagingLimitTier: "TIER_1K",
			VerifiedName: "Acme", NameStatus: "DECLINED", Throughput: "purple", ReadAt: at(30)}))
	n := v["phone_numbers"].([]any)[0].(map[string]any)
	wantJSON(t, "health", map[string]any{"quality_rating": n["quality_rating"], "messaging_limit_tier": n["messaging_limit_tier"],
		"verified_name": n["verified_name"], "name_status": n["name_status"], "name_status_since": n["name_status_since"],
		"throughput": n["throughput"], "health_read_at": n["health_read_at"]},
		`{"quality_rating":"RED","messaging_limit_tier":"TIER_1K","verified_name":"Acme","name_status":"DECLINED",
		  "name_status_since":"2026-03-01T12:30:00Z","throughput":"UNKNOWN","health_read_at":"2026-03-01T12:30:00Z"}`)
	timeline := v["timeline"].([]any)
	wantJSON(t, "the reading", timeline[len(timeline)-1], `{"at":"2026-03-01T12:30:00Z","kind":"health_read","source":"reconciler",
	  "detail":{"messaging_limit_tier":"TIER_1K","name_status":"DECLINED","phone_number_id":"111","quality_rating":"RED",
	  "throughput":"UNKNOWN","verified_name":"Acme"}}`)
}

// A restricted account makes the tenant restricted, with the reason, its
// meaning and the time; review states carry when they were reported.
func TestConnectionViewRestricted(t *testing.T) {
	v := connectionOf(t, []string{"sl-1"},
		onboarding.PhoneNumberCreated(acmeNumber, at(5)),
		onboarding.APIConfirmed(onboarding.NumberDetails{PhoneNumberID: "111", NameStatus: "PENDING_REVIEW", ReviewStatus: "PENDING"}, at(6)),
		onboarding.AccountRestricted(onboarding.AccountRef{BusinessAccountID: "222"}, "RESTRICTED_ADD_PHONE_NUMBER_ACTION", at(40)).WithSource(onboarding.SourceAPI))
	if v["status"] != "restricted" {
		t.Errorf("status = %v", v["status"])
	}
	wantJSON(t, "phone numbers", v["phone_numbers"], `[
	 {"phone_number_id":"111","business_account_id":"222","display_phone_number":"+15550001111","connection_type":"dedicated",
	  "status":"connected","status_since":"2026-03-01T12:05:00Z","status_reason":"",
	  "name_status":"PENDING_REVIEW","name_status_since":"2026-03-01T12:06:00Z",
	  "review_status":"PENDING","review_status_since":"2026-03-01T12:06:00Z",
	  "restricted":true,"restricted_reason":"RESTRICTED_ADD_PHONE_NUMBER_ACTION",
	  "restricted_reason_meaning":"Meta stopped the account from adding phone numbers; numbers already connected keep working.",
	  "restricted_next_step":"Ask the customer to check Account quality in Meta Business Suite and appeal; do not connect more numbers on this account meanwhile.",
	  "restricted_at":"2026-03-01T12:40:00Z","webhook_registered":false,"connected_at":"2026-03-01T12:05:00Z",
	  "quality_rating":"","messaging_limit_tier":"","verified_name":"","throughput":"","health_read_at":null}]`)
	wantJSON(t, "support", v["support"], `{
	  "tenant_name":"Acme Padaria","status":"restricted","signup":"completed","offered_connection_types":null,
	  "setup_link_id":"sl-1","error_code":"","error_reported_by":"","failures":[],"suspicious_redirects":0,
	  "phone_number_id":"111","business_account_id":"222","display_phone_number":"+15550001111","connection_type":"dedicated",
	  "number_status":"connected","status_since":"2026-03-01T12:05:00Z","status_reason":"",
	  "name_status":"PENDING_REVIEW","review_status":"PENDING",
	  "restricted":true,"restricted_reason":"RESTRICTED_ADD_PHONE_NUMBER_ACTION","restricted_at":"2026-03-01T12:40:00Z",
	  "webhook_registered":false,"confirmed_by":["api","webhook:whatsapp.phone_number.created"],"reconnect_phone_number":""}`)
}

// A disabled account makes the tenant disabled; a reason that is free text
// is shown as it is; a webhook Kapso did not bear out is on the timeline
// and changes nothing.
func TestConnectionViewDisabled(t *testing.T) {
	v := connectionOf(t, []string{"sl-1"},
		onboarding.PhoneNumberCreated(acmeNumber, at(5)),
		onboarding.AccountDisabled(onboarding.AccountRef{PhoneNumberID: "111"}, "found by the reconciler: Kapso shows the number BANNED", at(40)).WithSource(onboarding.SourceReconciler),
		onboarding.SuspiciousWebhook("whatsapp.account.reinstated", "111", "not confirmed by the Platform API (111: Kapso shows the number BANNED)", at(41)))
	if v["status"] != "disabled" {
		t.Errorf("status = %v", v["status"])
	}
	wantJSON(t, "support", v["support"], `{
	  "tenant_name":"Acme Padaria","status":"disabled","signup":"completed","offered_connection_types":null,
	  "setup_link_id":"sl-1","error_code":"","error_reported_by":"","failures":[],"suspicious_redirects":0,
	  "phone_number_id":"111","business_account_id":"222","display_phone_number":"+15550001111","connection_type":"dedicated",
	  "number_status":"account_disabled","status_since":"2026-03-01T12:40:00Z",
	  "status_reason":"found by the reconciler: Kapso shows the number BANNED",
	  "name_status":"","review_status":"","restricted":false,"restricted_reason":"","restricted_at":null,
	  "webhook_registered":false,"confirmed_by":["webhook:whatsapp.phone_number.created"],"reconnect_phone_number":""}`)
	timeline := v["timeline"].([]any)
	wantJSON(t, "timeline end", timeline[len(timeline)-2:], `[
	 {"at":"2026-03-01T12:40:00Z","kind":"account_disabled","source":"reconciler",
	  "detail":{"phone_number_id":"111","reason":"found by the reconciler: Kapso shows the number BANNED"}},
	 {"at":"2026-03-01T12:41:00Z","kind":"suspicious_webhook","source":"webhook:whatsapp.account.reinstated",
	  "detail":{"event":"whatsapp.account.reinstated","phone_number_id":"111",
	   "reason":"not confirmed by the Platform API (111: Kapso shows the number BANNED)"}}]`)
}

// A failure only the browser reported (anyone can type the failure
// redirect) is shown, explained and marked as the browser's, and leaves the
// link usable: the tenant stays link_active, its link offered.
func TestConnectionViewReportedFailure(t *testing.T) {
	v := connectionOf(t, []string{"sl-1"}, onboarding.FailureRedirect("sl-1", "waba_limit_reached", at(3)))
	s := v["support"].(map[string]any)
	wantJSON(t, "support error", map[string]any{"status": s["status"], "signup": s["signup"], "error_code": s["error_code"],
		"error_reported_by": s["error_reported_by"], "error_meaning": s["error_meaning"], "error_next_step": s["error_next_step"],
		"failures": s["failures"]}, `{"status":"link_active","signup":"failed_unconfirmed",
	  "error_code":"waba_limit_reached","error_reported_by":"browser",
	  "error_meaning":"The customer's Meta business already has as many WhatsApp Business Accounts or phone numbers as Meta allows it.",
	  "error_next_step":"Ask the customer to pick an existing WhatsApp Business Account during signup, or remove an unused account or number in Meta Business Suite, then try again.",
	  "failures":[{"setup_link_id":"sl-1","at":"2026-03-01T12:03:00Z","error_code":"waba_limit_reached","reported_by":"browser","late":false,
	   "meaning":"The customer's Meta business already has as many WhatsApp Business Accounts or phone numbers as Meta allows it.",
	   "next_step":"Ask the customer to pick an existing WhatsApp Business Account during signup, or remove an unused account or number in Meta Business Suite, then try again."}]}`)
	if v["status"] != "link_active" {
		t.Errorf("status %v", v["status"])
	}
	link, _ := v["active_setup_link"].(map[string]any)
	if link == nil || link["setup_link_id"] != "sl-1" || link["url"] != "https://kapso.example/sl-1" || link["status"] != "active" ||
		link["error_code"] != "waba_limit_reached" || link["error_reported_by"] != "browser" {
		t.Errorf("active setup link %v", v["active_setup_link"])
	}
	history := link["history"].([]any)
	if e := history[len(history)-1].(map[string]any); e["event"] != "failure_redirect" || e["reported_by"] != "browser" || e["meaning"] == "" {
		t.Errorf("history %v", history)
	}
}

// A failure Kapso's setup link reports is the attempt's outcome: the tenant
// is failed, the failure explained and marked as Kapso's.
func TestConnectionViewFailedSignup(t *testing.T) {
	v := connectionOf(t, []string{"sl-1"}, onboarding.FailureRedirect("sl-1", "waba_limit_reached", at(3)),
		onboarding.SetupFailed("sl-1", "waba_limit_reached", at(20)).WithSource(onboarding.SourceReconciler))
	s := v["support"].(map[string]any)
	wantJSON(t, "support error", map[string]any{"status": s["status"], "signup": s["signup"], "error_code": s["error_code"],
		"error_reported_by": s["error_reported_by"], "error_meaning": s["error_meaning"], "error_next_step": s["error_next_step"]},
		`{"status":"failed","signup":"failed","error_code":"waba_limit_reached","error_reported_by":"kapso",
	  "error_meaning":"The customer's Meta business already has as many WhatsApp Business Accounts or phone numbers as Meta allows it.",
	  "error_next_step":"Ask the customer to pick an existing WhatsApp Business Account during signup, or remove an unused account or number in Meta Business Suite, then try again."}`)
	if v["active_setup_link"] != nil {
		t.Errorf("a failed link is offered: %v", v["active_setup_link"])
	}
	failures := s["failures"].([]any)
	if len(failures) != 2 || failures[1].(map[string]any)["reported_by"] != "kapso" {
		t.Errorf("failures %v", failures)
	}
	history := v["attempts"].([]any)[0].(map[string]any)["history"].([]any)
	if e := history[len(history)-1].(map[string]any); e["event"] != "setup_failed" || e["reported_by"] != "kapso" || e["next_step"] == "" {
		t.Errorf("history %v", history)
	}
}
