package onboarding

import (
	"testing"
	"time"
)

// Every fact says what made it: the kind's usual door, unless the fact
// carries its source.
func TestFactOrigin(t *testing.T) {
	at := minute(1)
	number := NumberDetails{PhoneNumberID: "pn_1"}
	ref := AccountRef{PhoneNumberID: "pn_1"}
	for _, tc := range []struct {
		fact Fact
		want Origin
	}{
		{linkCreated("sl_1", 1), OriginAPI},
		{LinkCreated(LinkDetails{SetupLinkID: "sl_1", CreatedAt: at, Adopted: "found at Kapso"}), OriginReconciler},
		{successRedirect("sl_1", "pn_1", 1), OriginRedirect},
		{FailureRedirect("sl_1", "phone_verification_failed", at), OriginRedirect},
		{SuspiciousRedirect(RedirectDetails{SetupLinkID: "sl_1"}, "not the customer's", at), OriginRedirect},
		{APIConfirmed(number, at), OriginRedirect},
		{APIConfirmed(number, at).WithSource(SourceReconciler), OriginReconciler},
		{PhoneNumberCreated(number, at), OriginWebhook},
		{ConfigCreated(number, at), OriginWebhook},
		{WebhookRegistered("pn_1", "wh_1", at), OriginAPI},
		{WebhookRegistered("pn_1", "wh_1", at).WithSource(SourceReconciler), OriginReconciler},
		{NumberDisconnected("pn_1", at), OriginWebhook},
		{NumberDisconnected("pn_1", at).WithSource(SourceAPI), OriginWebhook},
		{NumberDisconnected("pn_1", at).WithSource(SourceReconciler), OriginReconciler},
		{NumberDeleted("pn_1", at), OriginWebhook},
		{NumberOffboarded("pn_1", at), OriginWebhook},
		{NumberReconnected("pn_1", at), OriginWebhook},
		{AccountRestricted(ref, "policy", at), OriginWebhook},
		{AccountDisabled(ref, "", at), OriginWebhook},
		{AccountReinstated(ref, at), OriginWebhook},
		{SuspiciousWebhook("whatsapp.phone_number.deleted", "pn_1", "still listed", at), OriginWebhook},
		{LinkExpired("sl_1", at), OriginReconciler},
		{LinkRevoked("sl_1", at).WithSource(SourceReconciler), OriginReconciler},
		{SetupFailed("sl_1", "", at).WithSource(SourceReconciler), OriginReconciler},
	} {
		if got := tc.fact.Origin(); got != tc.want {
			t.Errorf("%s (source %q): %q, want %q", tc.fact.Kind, tc.fact.Source, got, tc.want)
		}
	}
}

// A snapshot's cause is the fact's kind, its reason or else its error
// code, and its origin.
func TestCauseOf(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		fact Fact
		want Cause
	}{
		{NumberDisconnected("pn_1", at).WithReason("meta_token_expired"),
			Cause{Kind: FactNumberDisconnected, Reason: "meta_token_expired", Origin: OriginWebhook}},
		{SetupFailed("sl_1", "phone_verification_failed", at).WithSource(SourceReconciler),
			Cause{Kind: FactSetupFailed, Reason: "phone_verification_failed", Origin: OriginReconciler}},
		{FailureRedirect("sl_1", "user_cancelled", at), Cause{Kind: FactFailureRedirect, Reason: "user_cancelled", Origin: OriginRedirect}},
		{linkCreated("sl_1", 1), Cause{Kind: FactLinkCreated, Origin: OriginAPI}},
	} {
		if got := CauseOf(tc.fact); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.fact.Kind, got, tc.want)
		}
	}
}
