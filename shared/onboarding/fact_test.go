package onboarding

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAlreadyKnows(t *testing.T) {
	waba := AccountRef{BusinessAccountID: "waba_1"}
	tests := []struct {
		name  string
		known []Fact
		fact  Fact
		want  bool
	}{
		{"the same redirect, reloaded later", []Fact{factFirstLnk, factSuccess},
			successRedirect("sl_1", "pn_1", 20), true},
		{"a redirect naming another number", []Fact{factFirstLnk, factSuccess},
			successRedirect("sl_1", "pn_2", 20), false},
		{"the same confirmation under a new delivery key", []Fact{factFirstLnk, factCreated},
			numberCreated("pn_1", "sl_1", 25), true},
		{"the same webhook recorded again", []Fact{factCreated, WebhookRegistered("pn_1", "wh_1", minute(12))},
			WebhookRegistered("pn_1", "wh_1", minute(30)), true},
		{"another webhook", []Fact{factCreated, WebhookRegistered("pn_1", "wh_1", minute(12))},
			WebhookRegistered("pn_1", "wh_2", minute(30)), false},
		{"nothing known", nil, factSuccess, false},
		{"a disconnection repeated", []Fact{factCreated, NumberDisconnected("pn_1", minute(20))},
			NumberDisconnected("pn_1", minute(21)), true},
		{"a disconnection after a reconnection", []Fact{factCreated, NumberDisconnected("pn_1", minute(20)),
			NumberReconnected("pn_1", minute(30))}, NumberDisconnected("pn_1", minute(40)), false},
		{"a copy of the disconnection the reconnection undid", []Fact{factCreated, NumberDisconnected("pn_1", minute(20)),
			NumberReconnected("pn_1", minute(30))}, NumberDisconnected("pn_1", minute(25)), true},
		{"a disconnection older than every known one", []Fact{factCreated, NumberDisconnected("pn_1", minute(20))},
			NumberDisconnected("pn_1", minute(15)), false},
		{"another number's disconnection", []Fact{factCreated, NumberDisconnected("pn_1", minute(20))},
			NumberDisconnected("pn_2", minute(21)), false},
		{"an account restriction repeated", []Fact{factConfig, AccountRestricted(waba, "policy", minute(20))},
			AccountRestricted(waba, "policy", minute(22)), true},
		{"a restriction of another account", []Fact{factConfig, AccountRestricted(waba, "policy", minute(20))},
			AccountRestricted(AccountRef{BusinessAccountID: "waba_2"}, "policy", minute(22)), false},
		{"a restriction after a reinstatement", []Fact{factConfig, AccountRestricted(waba, "policy", minute(20)),
			AccountReinstated(waba, minute(30))}, AccountRestricted(waba, "policy", minute(35)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := applyAll(t, tt.known...).AlreadyKnows(tt.fact); got != tt.want {
				t.Errorf("AlreadyKnows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChangeClosedLinks(t *testing.T) {
	tests := []struct {
		name  string
		known []Fact
		fact  Fact
		want  []Transition[AttemptStatus]
	}{
		{"a new link supersedes the open one", []Fact{factFirstLnk}, factNewLink,
			[]Transition[AttemptStatus]{{ID: "sl_1", From: AttemptActive, To: AttemptSuperseded}}},
		{"a success redirect settles the link", []Fact{factFirstLnk}, factSuccess,
			[]Transition[AttemptStatus]{{ID: "sl_1", From: AttemptActive, To: AttemptRedirectedSuccess}}},
		{"the link expires", []Fact{factFirstLnk}, LinkExpired("sl_1", minute(60)),
			[]Transition[AttemptStatus]{{ID: "sl_1", From: AttemptActive, To: AttemptExpired}}},
		{"the first link opens nothing to close", nil, factFirstLnk, nil},
		{"a settled link moving on stays closed", []Fact{factFirstLnk, factSuccess}, factCreated, nil},
		{"a duplicate closes nothing", []Fact{factFirstLnk, factSuccess}, factSuccess, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, change := Apply(applyAll(t, tt.known...), tt.fact)
			if got := change.ClosedLinks(); !slices.Equal(got, tt.want) {
				t.Errorf("ClosedLinks = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A webhook whose claim Kapso did not bear out is on the timeline, with the
// event it claimed and why it was not believed, and changes nothing else.
func TestSuspiciousWebhookChangesOnlyTheTimeline(t *testing.T) {
	const event = "whatsapp.phone_number.disconnected"
	const why = "not confirmed by the Platform API (pn_1: Kapso shows the number CONNECTED)"
	tests := []struct {
		name  string
		known []Fact
		fact  Fact
	}{
		{"a connected tenant", []Fact{factFirstLnk, factConfig},
			SuspiciousWebhook(event, "pn_1", why, minute(20))},
		{"a restricted tenant", []Fact{factFirstLnk, factConfig, AccountRestricted(AccountRef{BusinessAccountID: "waba_1"}, "spam", minute(15))},
			SuspiciousWebhook("whatsapp.account.reinstated", "pn_1", why, minute(20))},
		{"a reconnect-required tenant", []Fact{factFirstLnk, factConfig, NumberDisconnected("pn_1", minute(15))},
			SuspiciousWebhook("whatsapp.phone_number.deleted", "pn_1", why, minute(20))},
		{"a tenant with an open link", []Fact{factFirstLnk},
			SuspiciousWebhook("whatsapp.account.disabled", "", "the event names no number of this tenant", minute(20))},
		{"before the facts it is about", []Fact{factFirstLnk, factConfig},
			SuspiciousWebhook(event, "pn_1", why, minute(1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := applyAll(t, tt.known...)
			after, change := Apply(before, tt.fact)
			if !change.Applied() || len(change.Attempts) != 0 || len(change.PhoneNumbers) != 0 ||
				change.TenantStatusFrom != change.TenantStatusTo {
				t.Errorf("change = %+v, want only a timeline entry", change)
			}
			if after.Tenant.Status != before.Tenant.Status || after.Tenant.ActiveSetupLinkID != before.Tenant.ActiveSetupLinkID ||
				!reflect.DeepEqual(after.Attempts, before.Attempts) || !reflect.DeepEqual(after.PhoneNumbers, before.PhoneNumbers) {
				t.Errorf("state changed:\n got %+v %+v %+v\nwant %+v %+v %+v", after.Tenant, after.Attempts, after.PhoneNumbers,
					before.Tenant, before.Attempts, before.PhoneNumbers)
			}
			if len(after.Timeline) != len(before.Timeline)+1 {
				t.Fatalf("timeline has %d entries, want %d", len(after.Timeline), len(before.Timeline)+1)
			}
			i := slices.IndexFunc(after.Timeline, func(e TimelineEntry) bool { return e.Kind == FactSuspiciousWebhook })
			want := TimelineEntry{At: tt.fact.At, Kind: FactSuspiciousWebhook, Source: "webhook:" + tt.fact.Event,
				Detail: map[string]string{"event": tt.fact.Event, "reason": tt.fact.Reason}}
			if tt.fact.PhoneNumberID != "" {
				want.Detail["phone_number_id"] = tt.fact.PhoneNumberID
			}
			if i < 0 || !reflect.DeepEqual(after.Timeline[i], want) || !reflect.DeepEqual(change.Entry, want) {
				t.Errorf("timeline entry\n got %+v\nwant %+v", after.Timeline, want)
			}
		})
	}
}

func TestSuspiciousWebhookNeedsItsEvent(t *testing.T) {
	if err := SuspiciousWebhook("", "pn_1", "x", minute(1)).Validate(); !errors.Is(err, ErrInvalidFact) {
		t.Errorf("Validate = %v, want ErrInvalidFact", err)
	}
}

// Source and Reason reach the timeline; a fact without them keeps the Key it
// was stored under before they existed.
func TestFactSourceAndReason(t *testing.T) {
	f := NumberDisconnected("pn_1", minute(50)).WithReason("meta_token_expired").WithSource(SourceAPI)
	c := applyAll(t, factFirstLnk, factConfig, f)
	e := c.Timeline[len(c.Timeline)-1]
	wantEntry := TimelineEntry{At: minute(50), Kind: FactNumberDisconnected, Source: SourceAPI,
		Detail: map[string]string{"phone_number_id": "pn_1", "reason": "meta_token_expired"}}
	if !reflect.DeepEqual(e, wantEntry) {
		t.Errorf("entry = %+v, want %+v", e, wantEntry)
	}
	found := AccountRestricted(AccountRef{PhoneNumberID: "pn_1"}, "found by the reconciler", minute(60)).WithSource(SourceReconciler)
	if e := applyAll(t, factConfig, found).Timeline[1]; e.Source != SourceReconciler || e.Detail["reason"] != "found by the reconciler" {
		t.Errorf("reconciler entry = %+v", e)
	}
	if e := applyAll(t, factConfig, NumberDisconnected("pn_1", minute(50))).Timeline[1]; e.Source != "webhook:whatsapp.phone_number.disconnected" {
		t.Errorf("a fact without Source shows %q", e.Source)
	}
	if f.Key() == f.WithSource("").Key() {
		t.Error("Source is not part of the Key")
	}
	// The same event told by another channel is already known.
	if !applyAll(t, factConfig, f).AlreadyKnows(f.WithSource(SourceReconciler)) {
		t.Error("a disconnection known from the API is new when the reconciler tells it")
	}
	keys := map[string]string{
		factFailure.Key(): "failure_redirect#sl_1#b5bff1c12b9f5c4421fc9f17",
		NumberDisconnected("pn_1", minute(50)).Key(): "number_disconnected#pn_1#19ac20dfae8b62beb3db0644",
	}
	for got, want := range keys {
		if got != want {
			t.Errorf("stored key changed: %s, want %s", got, want)
		}
	}
}

// The change of a newer link's creation says which link it superseded.
func TestChangeEntryNamesTheSupersededLink(t *testing.T) {
	_, change := Apply(applyAll(t, factFirstLnk), factNewLink)
	if change.Entry.Kind != FactLinkCreated || change.Entry.Detail["supersedes"] != "sl_1" {
		t.Errorf("entry = %+v", change.Entry)
	}
}

// Kapso's whatsapp_setup_error is free text of any length: the fact keeps
// at most MaxSetupErrorBytes of it, valid UTF-8, and a code when it is empty.
func TestSetupFailedBoundsKapsosError(t *testing.T) {
	long := SetupFailed("sl_1", strings.Repeat("é", MaxSetupErrorBytes), minute(1))
	if len(long.ErrorCode) > MaxSetupErrorBytes || !utf8.ValidString(long.ErrorCode) || !strings.HasPrefix(long.ErrorCode, "éé") {
		t.Errorf("long error kept as %d bytes %q", len(long.ErrorCode), long.ErrorCode)
	}
	if f := SetupFailed("sl_1", "  ", minute(1)); f.ErrorCode != CodeUnknown || f.Validate() != nil {
		t.Errorf("empty error: %+v", f)
	}
	if f := SetupFailed("sl_1", " waba_limit_reached\n", minute(1)); f.ErrorCode != "waba_limit_reached" {
		t.Errorf("code = %q", f.ErrorCode)
	}
}
