package onboarding

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDeriveRules(t *testing.T) {
	connected := []Fact{factFirstLnk, factSuccess, factCreated}
	tests := []struct {
		name       string
		facts      []Fact
		wantStatus TenantStatus
		wantActive string
		attempts   map[string]AttemptStatus
		check      func(t *testing.T, c Connection)
	}{
		{
			name:       "nothing happened",
			wantStatus: TenantNotStarted,
		},
		{
			name:       "a created link is active",
			facts:      []Fact{factFirstLnk},
			wantStatus: TenantLinkActive, wantActive: "sl_1",
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantAttempt(t, a, AttemptActive)
				if a.URL == "" || !a.ExpiresAt.Equal(minute(0).Add(30*24*time.Hour)) {
					t.Errorf("attempt lost its link details: %+v", a)
				}
				if !slices.Equal(a.AllowedConnectionTypes, []ConnectionType{ConnectionCoexistence, ConnectionDedicated}) {
					t.Errorf("allowed types = %v", a.AllowedConnectionTypes)
				}
			},
		},
		{
			name:       "a success redirect alone only awaits confirmation",
			facts:      []Fact{factFirstLnk, factSuccess},
			wantStatus: TenantAwaitingConfirmation,
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantAttempt(t, a, AttemptRedirectedSuccess)
				if a.Redirect == nil || a.Redirect.PhoneNumberID != "pn_1" || a.Redirect.Suspicious {
					t.Errorf("redirect = %+v, want trusted pn_1", a.Redirect)
				}
				if len(c.PhoneNumbers) != 0 {
					t.Errorf("a redirect created numbers: %+v", c.PhoneNumbers)
				}
			},
		},
		{
			name:       "the phone_number.created webhook connects",
			facts:      connected,
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantAttempt(t, a, AttemptConfirmed)
				wantStrings(t, "attempt confirmed by", a.ConfirmedBy, SourcePhoneNumberCreated)
				if !a.ConfirmedAt.Equal(minute(11)) || a.PhoneNumberID != "pn_1" {
					t.Errorf("confirmed at %v with %q", a.ConfirmedAt, a.PhoneNumberID)
				}
				n := mustNumber(t, c, "pn_1")
				if n.Status != NumberStatusConnected || n.SetupLinkID != "sl_1" || !n.ConnectedAt.Equal(minute(11)) {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name:       "a webhook without link or redirect still connects the number",
			facts:      []Fact{factFirstLnk, numberCreated("pn_1", "", 11)},
			wantStatus: TenantConnected, wantActive: "sl_1",
			check: func(t *testing.T, c Connection) {
				wantAttempt(t, mustAttempt(t, c, "sl_1"), AttemptActive)
				if n := mustNumber(t, c, "pn_1"); n.SetupLinkID != "" {
					t.Errorf("number attributed to %q with nothing to say so", n.SetupLinkID)
				}
			},
		},
		{
			name:       "an API confirmation without link id is attributed through the redirect",
			facts:      []Fact{factFirstLnk, factSuccess, factAPI},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantAttempt(t, a, AttemptConfirmed)
				wantStrings(t, "attempt confirmed by", a.ConfirmedBy, SourceAPI)
				if n := mustNumber(t, c, "pn_1"); n.SetupLinkID != "sl_1" || n.NameStatus != "PENDING_REVIEW" {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			// Anyone can type the failure redirect's URL: what it says is
			// shown as the browser's report, and the link stays usable.
			name:       "a failure only the browser reported leaves the link usable",
			facts:      []Fact{factFirstLnk, FailureRedirect("sl_1", "waba_limit_reached", minute(9))},
			wantStatus: TenantLinkActive, wantActive: "sl_1",
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantError(t, a, AttemptActive, "waba_limit_reached", ReportedByBrowser)
				if a.Redirect != nil {
					t.Errorf("redirect = %+v", a.Redirect)
				}
				wantHistory(t, a,
					AttemptEvent{At: minute(0), Event: AttemptEventCreated},
					AttemptEvent{At: minute(9), Event: AttemptEventFailure, ErrorCode: "waba_limit_reached", ReportedBy: ReportedByBrowser})
				if AttentionStored(c.Tenant.Status, WebhookMissing(c)) {
					t.Errorf("a browser's report alone needs a human: %s", c.Tenant.Status)
				}
			},
		},
		{
			name:       "Kapso's setup link reporting the failure fails the attempt",
			facts:      []Fact{factFirstLnk, factFailure, SetupFailed("sl_1", "phone_verification_failed", minute(20))},
			wantStatus: TenantFailed,
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantError(t, a, AttemptFailed, "phone_verification_failed", ReportedByKapso)
				if a.Redirect != nil {
					t.Errorf("redirect = %+v", a.Redirect)
				}
				wantHistory(t, a,
					AttemptEvent{At: minute(0), Event: AttemptEventCreated},
					AttemptEvent{At: minute(9), Event: AttemptEventFailure, ErrorCode: "phone_verification_failed", ReportedBy: ReportedByBrowser},
					AttemptEvent{At: minute(20), Event: AttemptEventSetupFailed, ErrorCode: "phone_verification_failed", ReportedBy: ReportedByKapso})
				if e := c.Timeline[2]; e.Kind != FactSetupFailed || e.Source != SourceAPI || e.Detail["error_code"] != "phone_verification_failed" {
					t.Errorf("timeline entry = %+v", e)
				}
			},
		},
		{
			name:       "Kapso's code wins over the browser's",
			facts:      []Fact{factFirstLnk, FailureRedirect("sl_1", "waba_limit_reached", minute(9)), SetupFailed("sl_1", "", minute(20))},
			wantStatus: TenantFailed,
			check: func(t *testing.T, c Connection) {
				wantError(t, mustAttempt(t, c, "sl_1"), AttemptFailed, CodeUnknown, ReportedByKapso)
			},
		},
		{
			name:       "a reported failure stays a report when the link expires",
			facts:      []Fact{factFirstLnk, factFailure, LinkExpired("sl_1", minute(60))},
			wantStatus: TenantExpired,
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantError(t, a, AttemptExpired, "", "")
				if f := c.Failures(); len(f) != 1 || f[0].ReportedBy != ReportedByBrowser || f[0].ErrorCode != "phone_verification_failed" {
					t.Errorf("failures %+v", f)
				}
			},
		},
		{
			name:       "a reported failure stays a report when Kapso lists the link revoked",
			facts:      []Fact{factFirstLnk, factFailure, LinkRevoked("sl_1", minute(20))},
			wantStatus: TenantExpired,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptRevoked},
		},
		{
			name:       "a confirmation wins over Kapso's failure",
			facts:      []Fact{factFirstLnk, SetupFailed("sl_1", "token_exchange_failed", minute(5)), factCreated},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				wantError(t, mustAttempt(t, c, "sl_1"), AttemptConfirmed, "", "")
				if len(c.Failures()) != 1 {
					t.Errorf("failures %+v", c.Failures())
				}
			},
		},
		{
			name:       "a success after Kapso's failure awaits confirmation",
			facts:      []Fact{factFirstLnk, SetupFailed("sl_1", "token_exchange_failed", minute(5)), factSuccess},
			wantStatus: TenantAwaitingConfirmation,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptRedirectedSuccess},
		},
		{
			name:       "a confirmation wins over a failure redirect",
			facts:      []Fact{factFirstLnk, factFailure, factCreated},
			wantStatus: TenantConnected,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptConfirmed},
		},
		{
			name:       "a trusted success outranks a failure until confirmed",
			facts:      []Fact{factFirstLnk, factFailure, factSuccess},
			wantStatus: TenantAwaitingConfirmation,
		},
		{
			name:       "a newer link supersedes the older active one",
			facts:      []Fact{factFirstLnk, factNewLink},
			wantStatus: TenantLinkActive, wantActive: "sl_2",
			check: func(t *testing.T, c Connection) {
				old := mustAttempt(t, c, "sl_1")
				wantAttempt(t, old, AttemptSuperseded)
				if !old.ClosedAt.Equal(minute(30)) {
					t.Errorf("closed at %v, want the newer link's creation", old.ClosedAt)
				}
				wantAttempt(t, mustAttempt(t, c, "sl_2"), AttemptActive)
			},
		},
		{
			name:       "a confirmation for the old link's number still connects",
			facts:      []Fact{factFirstLnk, factNewLink, factCreated},
			wantStatus: TenantConnected, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptConfirmed, "sl_2": AttemptActive},
		},
		{
			name:       "a failure on a superseded link leaves it superseded",
			facts:      []Fact{factFirstLnk, factNewLink, FailureRedirect("sl_1", "link_expired", minute(35))},
			wantStatus: TenantLinkActive, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptSuperseded, "sl_2": AttemptActive},
			check: func(t *testing.T, c Connection) {
				old := mustAttempt(t, c, "sl_1")
				if old.ErrorCode != "" || old.SupersededBy != "sl_2" || !old.ClosedAt.Equal(minute(30)) {
					t.Errorf("attempt = %+v", old)
				}
				wantHistory(t, old,
					AttemptEvent{At: minute(0), Event: AttemptEventCreated},
					AttemptEvent{At: minute(30), Event: AttemptEventSuperseded, SupersededBy: "sl_2"},
					AttemptEvent{At: minute(35), Event: AttemptEventFailure, ErrorCode: "link_expired", ReportedBy: ReportedByBrowser, Late: true})
				if e := c.Timeline[1]; e.Kind != FactLinkCreated || e.Detail["setup_link_id"] != "sl_2" || e.Detail["supersedes"] != "sl_1" {
					t.Errorf("the newer link's timeline entry = %+v", e)
				}
			},
		},
		{
			name:       "a success redirect on a superseded link leaves it superseded",
			facts:      []Fact{factFirstLnk, factNewLink, successRedirect("sl_1", "pn_1", 35)},
			wantStatus: TenantLinkActive, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptSuperseded},
		},
		{
			name: "a late redirect does not tell which link an unattributed number came through",
			facts: []Fact{factFirstLnk, factNewLink, successRedirect("sl_1", "pn_1", 35),
				APIConfirmed(NumberDetails{PhoneNumberID: "pn_1"}, minute(40))},
			wantStatus: TenantConnected, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptSuperseded, "sl_2": AttemptActive},
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.SetupLinkID != "" {
					t.Errorf("number attributed to %q", n.SetupLinkID)
				}
			},
		},
		{
			name: "an API check of a redirect typed after its link closed leaves the attempt superseded",
			facts: []Fact{factFirstLnk, factNewLink, successRedirect("sl_1", "pn_1", 35),
				APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", SetupLinkID: "sl_1"}, minute(36))},
			wantStatus: TenantConnected, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptSuperseded, "sl_2": AttemptActive},
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.SetupLinkID != "" {
					t.Errorf("number attributed to %q", n.SetupLinkID)
				}
			},
		},
		{
			name: "an API check after the supersession of a redirect seen in time confirms the old link",
			facts: []Fact{factFirstLnk, factSuccess, factNewLink,
				APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", SetupLinkID: "sl_1"}, minute(40))},
			wantStatus: TenantConnected, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptConfirmed, "sl_2": AttemptActive},
		},
		{
			name:       "an API check naming the open link confirms it without a redirect",
			facts:      []Fact{factFirstLnk, APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", SetupLinkID: "sl_1"}, minute(20)), factNewLink},
			wantStatus: TenantConnected, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptConfirmed},
		},
		{
			name:       "a failure reported before the supersession stays on the superseded attempt's history",
			facts:      []Fact{factFirstLnk, factFailure, factNewLink, successRedirect("sl_1", "pn_1", 35)},
			wantStatus: TenantLinkActive, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptSuperseded},
			check: func(t *testing.T, c Connection) {
				old := mustAttempt(t, c, "sl_1")
				if old.ErrorCode != "" || old.SupersededBy != "sl_2" {
					t.Errorf("attempt = %+v", old)
				}
				wantHistory(t, old,
					AttemptEvent{At: minute(0), Event: AttemptEventCreated},
					AttemptEvent{At: minute(9), Event: AttemptEventFailure, ErrorCode: "phone_verification_failed", ReportedBy: ReportedByBrowser},
					AttemptEvent{At: minute(30), Event: AttemptEventSuperseded, SupersededBy: "sl_2"},
					AttemptEvent{At: minute(35), Event: AttemptEventSuccess, PhoneNumberID: "pn_1", Late: true})
				if e := c.Timeline[2]; e.Kind != FactLinkCreated || e.Detail["supersedes"] != "sl_1" {
					t.Errorf("the newer link's timeline entry = %+v", e)
				}
			},
		},
		{
			name:       "a failure then a success on the same link: confirmed, no error code, the failure in its history",
			facts:      []Fact{factFirstLnk, FailureRedirect("sl_1", "token_exchange_failed", minute(9)), factSuccess, factCreated},
			wantStatus: TenantConnected,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptConfirmed},
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				if a.ErrorCode != "" {
					t.Errorf("confirmed attempt keeps error code %q", a.ErrorCode)
				}
				wantHistory(t, a,
					AttemptEvent{At: minute(0), Event: AttemptEventCreated},
					AttemptEvent{At: minute(9), Event: AttemptEventFailure, ErrorCode: "token_exchange_failed", ReportedBy: ReportedByBrowser},
					AttemptEvent{At: minute(10), Event: AttemptEventSuccess, PhoneNumberID: "pn_1"},
					AttemptEvent{At: minute(11), Event: AttemptEventConfirmed, PhoneNumberID: "pn_1"})
			},
		},
		{
			name:       "a success awaiting confirmation carries no error code either",
			facts:      []Fact{factFirstLnk, factFailure, factSuccess},
			wantStatus: TenantAwaitingConfirmation,
			check: func(t *testing.T, c Connection) {
				if a := mustAttempt(t, c, "sl_1"); a.ErrorCode != "" || len(a.History) != 3 {
					t.Errorf("attempt = %+v", a)
				}
			},
		},
		{
			name:       "an expired link stays expired when opened later",
			facts:      []Fact{factFirstLnk, LinkExpired("sl_1", minute(60)), FailureRedirect("sl_1", "link_expired", minute(61))},
			wantStatus: TenantExpired,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptExpired},
		},
		{
			name:       "an expired newest link",
			facts:      []Fact{factFirstLnk, LinkExpired("sl_1", minute(60))},
			wantStatus: TenantExpired,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptExpired},
		},
		{
			name:       "an expired link replaced by a newer one",
			facts:      []Fact{factFirstLnk, LinkExpired("sl_1", minute(20)), factNewLink},
			wantStatus: TenantLinkActive, wantActive: "sl_2",
			attempts: map[string]AttemptStatus{"sl_1": AttemptExpired},
		},
		{
			name:       "a revoked newest link reads as expired",
			facts:      []Fact{factFirstLnk, LinkRevoked("sl_1", minute(5))},
			wantStatus: TenantExpired,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptRevoked},
		},
		{
			name:       "an expiry after the outcome changes nothing",
			facts:      append(slices.Clone(connected), LinkExpired("sl_1", minute(60))),
			wantStatus: TenantConnected,
			attempts:   map[string]AttemptStatus{"sl_1": AttemptConfirmed},
		},
		{
			name:       "a disconnected number requires a reconnect, with its reason",
			facts:      append(slices.Clone(connected), NumberDisconnected("pn_1", minute(50)).WithReason("meta_token_expired")),
			wantStatus: TenantReconnectRequired,
			check: func(t *testing.T, c Connection) {
				n := mustNumber(t, c, "pn_1")
				if n.Status != NumberStatusDisconnected || !n.StatusSince.Equal(minute(50)) || n.StatusReason != "meta_token_expired" {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name: "a reconnection clears the disconnection's reason",
			facts: append(slices.Clone(connected), NumberDisconnected("pn_1", minute(50)).WithReason("meta_token_expired"),
				NumberReconnected("pn_1", minute(70))),
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.StatusReason != "" || !n.StatusSince.Equal(minute(70)) {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name:       "a deletion and an offboarding keep their reasons",
			facts:      append(slices.Clone(connected), numberCreated("pn_2", "", 13), NumberDeleted("pn_1", minute(50)).WithReason("deleted_by_user"), NumberOffboarded("pn_2", minute(51)).WithReason("customer_offboarded")),
			wantStatus: TenantDisconnected,
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.StatusReason != "deleted_by_user" {
					t.Errorf("deleted number = %+v", n)
				}
				if n := mustNumber(t, c, "pn_2"); n.StatusReason != "customer_offboarded" {
					t.Errorf("offboarded number = %+v", n)
				}
			},
		},
		{
			name:       "a reconnected number is connected again",
			facts:      append(slices.Clone(connected), NumberDisconnected("pn_1", minute(50)), NumberReconnected("pn_1", minute(70))),
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); !n.ConnectedAt.Equal(minute(11)) || !n.StatusSince.Equal(minute(70)) {
					t.Errorf("connected at %v, status since %v", n.ConnectedAt, n.StatusSince)
				}
			},
		},
		{
			name:       "a deleted number disconnects",
			facts:      append(slices.Clone(connected), NumberDeleted("pn_1", minute(50))),
			wantStatus: TenantDisconnected,
		},
		{
			name:       "an offboarded number disconnects",
			facts:      append(slices.Clone(connected), NumberOffboarded("pn_1", minute(50))),
			wantStatus: TenantDisconnected,
		},
		{
			name:       "a late creation webhook does not undo a later deletion",
			facts:      []Fact{factFirstLnk, NumberDeleted("pn_1", minute(50)), factCreated},
			wantStatus: TenantDisconnected,
		},
		{
			name:       "a link created after a disconnection is active",
			facts:      append(slices.Clone(connected), NumberDisconnected("pn_1", minute(50)), linkCreated("sl_3", 60)),
			wantStatus: TenantLinkActive, wantActive: "sl_3",
		},
		{
			name:       "a link created before a disconnection does not hide it",
			facts:      append(slices.Clone(connected), factNewLink, NumberDisconnected("pn_1", minute(50))),
			wantStatus: TenantReconnectRequired, wantActive: "sl_2",
		},
		{
			name:       "one disconnected number among deleted ones asks for a reconnect",
			facts:      append(slices.Clone(connected), numberCreated("pn_2", "", 13), NumberDeleted("pn_2", minute(55)), NumberDisconnected("pn_1", minute(50))),
			wantStatus: TenantReconnectRequired,
		},
		{
			name: "a restricted account makes the tenant restricted, with reason and time",
			facts: append(slices.Clone(connected),
				AccountRestricted(AccountRef{PhoneNumberID: "pn_1"}, "RESTRICTED_ADD_PHONE_NUMBER_ACTION", minute(50))),
			wantStatus: TenantRestricted,
			check: func(t *testing.T, c Connection) {
				n := mustNumber(t, c, "pn_1")
				if n.Status != NumberStatusConnected || !n.Restricted || n.RestrictedReason != "RESTRICTED_ADD_PHONE_NUMBER_ACTION" ||
					!n.RestrictedAt.Equal(minute(50)) {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name: "a restriction of a number no longer connected leaves the tenant's loss",
			facts: append(slices.Clone(connected), NumberDisconnected("pn_1", minute(40)),
				AccountRestricted(AccountRef{}, "spam", minute(50))),
			wantStatus: TenantReconnectRequired,
		},
		{
			name:       "a disabled account disables the tenant, found by WABA",
			facts:      []Fact{factFirstLnk, factConfig, AccountDisabled(AccountRef{BusinessAccountID: "waba_1"}, "ACCOUNT_DISABLED", minute(50))},
			wantStatus: TenantDisabled,
			check: func(t *testing.T, c Connection) {
				n := mustNumber(t, c, "pn_1")
				if n.Status != NumberStatusAccountDisabled || n.StatusReason != "ACCOUNT_DISABLED" || !n.StatusSince.Equal(minute(50)) {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name: "a disabled account wins over a restricted and a connected one",
			facts: []Fact{factFirstLnk, factConfig, numberCreated("pn_2", "", 13),
				AccountRestricted(AccountRef{PhoneNumberID: "pn_2"}, "spam", minute(45)),
				AccountDisabled(AccountRef{PhoneNumberID: "pn_1"}, "ACCOUNT_DISABLED", minute(50))},
			wantStatus: TenantDisabled,
		},
		{
			name: "a disablement seen while disconnected shows its reason once reconnected",
			facts: []Fact{factFirstLnk, factConfig, NumberDisconnected("pn_1", minute(40)).WithReason("meta_token_expired"),
				AccountDisabled(AccountRef{BusinessAccountID: "waba_1"}, "ACCOUNT_DISABLED", minute(50)), NumberReconnected("pn_1", minute(60))},
			wantStatus: TenantDisabled,
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.StatusReason != "ACCOUNT_DISABLED" || !n.StatusSince.Equal(minute(60)) {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name: "a link created after a disablement lets the newest attempt speak",
			facts: []Fact{factFirstLnk, factConfig, AccountDisabled(AccountRef{}, "ACCOUNT_DISABLED", minute(20)),
				factNewLink},
			wantStatus: TenantLinkActive, wantActive: "sl_2",
		},
		{
			name: "review statuses carry when they took their value",
			facts: []Fact{factFirstLnk, factConfig, factAPI,
				APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", NameStatus: "PENDING_REVIEW", ReviewStatus: "PENDING"}, minute(45)),
				APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", NameStatus: "APPROVED", ReviewStatus: "PENDING"}, minute(60))},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				n := mustNumber(t, c, "pn_1")
				if n.NameStatus != "APPROVED" || !n.NameStatusSince.Equal(minute(60)) || n.ReviewStatus != "PENDING" ||
					!n.ReviewStatusSince.Equal(minute(45)) {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name: "a reinstated account is connected and unrestricted again",
			facts: []Fact{factFirstLnk, factConfig, AccountRestricted(AccountRef{}, "", minute(40)),
				AccountDisabled(AccountRef{BusinessAccountID: "waba_1"}, "policy", minute(50)),
				AccountReinstated(AccountRef{BusinessAccountID: "waba_1"}, minute(60))},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.Restricted || n.Status != NumberStatusConnected || n.RestrictedReason != "" ||
					!n.RestrictedAt.IsZero() || n.StatusReason != "" {
					t.Errorf("number = %+v", n)
				}
			},
		},
		{
			name:       "an account event for another WABA leaves the number alone",
			facts:      []Fact{factFirstLnk, factConfig, AccountDisabled(AccountRef{BusinessAccountID: "waba_9"}, "", minute(50))},
			wantStatus: TenantConnected,
		},
		{
			name:       "a redirect naming another number than the webhook is suspicious",
			facts:      []Fact{factFirstLnk, successRedirect("sl_1", "pn_evil", 10), factCreated},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				wantAttempt(t, a, AttemptConfirmed)
				if len(a.Redirects) != 1 || !a.Redirects[0].Suspicious || !strings.Contains(a.Redirects[0].SuspiciousReason, "pn_1") {
					t.Errorf("redirects = %+v", a.Redirects)
				}
				if _, ok := c.PhoneNumber("pn_evil"); ok {
					t.Error("the suspicious redirect's number was recorded")
				}
			},
		},
		{
			name:       "a redirect naming a number confirmed through another link is suspicious",
			facts:      []Fact{factFirstLnk, factNewLink, successRedirect("sl_2", "pn_1", 35), factCreated},
			wantStatus: TenantConnected, wantActive: "sl_2",
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_2")
				if a.Redirect == nil || !a.Redirect.Suspicious || !strings.Contains(a.Redirect.SuspiciousReason, "sl_1") {
					t.Errorf("redirect = %+v", a.Redirect)
				}
			},
		},
		{
			name:       "a redirect the caller flagged confirms nothing and awaits nothing",
			facts:      []Fact{factFirstLnk, SuspiciousRedirect(RedirectDetails{SetupLinkID: "sl_1", PhoneNumberID: "pn_x"}, "not under the tenant's customer", minute(10))},
			wantStatus: TenantLinkActive, wantActive: "sl_1",
			check: func(t *testing.T, c Connection) {
				a := mustAttempt(t, c, "sl_1")
				if a.Redirect == nil || !a.Redirect.Suspicious || a.Redirect.SuspiciousReason != "not under the tenant's customer" {
					t.Errorf("redirect = %+v", a.Redirect)
				}
			},
		},
		{
			name: "a flag taints every redirect of the same link and number",
			facts: []Fact{factFirstLnk, factSuccess,
				SuspiciousRedirect(RedirectDetails{SetupLinkID: "sl_1", PhoneNumberID: "pn_1"}, "", minute(15))},
			wantStatus: TenantLinkActive, wantActive: "sl_1",
		},
		{
			name: "the connection type comes from the signed facts",
			facts: []Fact{factFirstLnk, ConfigCreated(NumberDetails{PhoneNumberID: "pn_1", SetupLinkID: "sl_1",
				ConnectionType: ConnectionTypeOf(true)}, minute(12))},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				if n := mustNumber(t, c, "pn_1"); n.ConnectionType != ConnectionCoexistence {
					t.Errorf("connection type = %q", n.ConnectionType)
				}
			},
		},
		{
			name:       "later details fill in without erasing earlier ones",
			facts:      []Fact{factFirstLnk, factConfig, factCreated, WebhookRegistered("pn_1", "wh_1", minute(13)), factAPI},
			wantStatus: TenantConnected,
			check: func(t *testing.T, c Connection) {
				n := mustNumber(t, c, "pn_1")
				if n.BusinessAccountID != "waba_1" || n.ConnectionType != ConnectionDedicated || n.QualityRating != "GREEN" ||
					!n.WebhookRegistered || n.WebhookID != "wh_1" || !n.UpdatedAt.Equal(minute(40)) {
					t.Errorf("number = %+v", n)
				}
				wantStrings(t, "number confirmed by", n.ConfirmedBy, SourceAPI, SourceConfigCreated, SourcePhoneNumberCreated)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := applyAll(t, tt.facts...)
			if c.Tenant.Status != tt.wantStatus || c.Tenant.ActiveSetupLinkID != tt.wantActive {
				t.Fatalf("tenant = %s (active link %q), want %s (%q)", c.Tenant.Status, c.Tenant.ActiveSetupLinkID, tt.wantStatus, tt.wantActive)
			}
			for link, want := range tt.attempts {
				wantAttempt(t, mustAttempt(t, c, link), want)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if got, want := canonical(t, applyAll(t, reversed(tt.facts)...)), canonical(t, c); got != want {
				t.Errorf("reverse order differs:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestApplyIgnoresDuplicates(t *testing.T) {
	c := applyAll(t, factFirstLnk, factSuccess)
	// The same instant in another zone is the same fact.
	again := factSuccess
	again.At = again.At.In(time.FixedZone("BRT", -3*3600))
	next, change := Apply(c, again)
	if !change.Duplicate || change.Applied() || change.TenantStatusFrom != change.TenantStatusTo {
		t.Errorf("change = %+v, want a duplicate", change)
	}
	if canonical(t, next) != canonical(t, c) || next.Tenant.Version != 2 {
		t.Errorf("a duplicate changed the connection (version %d)", next.Tenant.Version)
	}
}

func TestApplyRejectsInvalidFacts(t *testing.T) {
	tests := []struct {
		name string
		fact Fact
	}{
		{"unknown kind", Fact{Kind: "whatever", At: minute(1), SetupLinkID: "sl_1"}},
		{"no time", FailureRedirect("sl_1", "x", time.Time{})},
		{"Kapso's failure without link", SetupFailed("", "x", minute(1))},
		{"redirect without link", SuccessRedirect(RedirectDetails{PhoneNumberID: "pn_1"}, minute(1))},
		{"confirmation without number", APIConfirmed(NumberDetails{SetupLinkID: "sl_1"}, minute(1))},
		{"lifecycle without number", NumberDeleted("", minute(1))},
		{"link without id", LinkCreated(LinkDetails{CreatedAt: minute(1)})},
		{"unknown connection type", PhoneNumberCreated(NumberDetails{PhoneNumberID: "pn_1", ConnectionType: "shared"}, minute(1))},
		{"unknown allowed type", LinkCreated(LinkDetails{SetupLinkID: "sl_1", CreatedAt: minute(1), AllowedConnectionTypes: []ConnectionType{"x"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := applyAll(t, factFirstLnk)
			next, change := Apply(c, tt.fact)
			if !errors.Is(change.Rejected, ErrInvalidFact) || change.Applied() {
				t.Errorf("rejected = %v, want ErrInvalidFact", change.Rejected)
			}
			if canonical(t, next) != canonical(t, c) {
				t.Error("a rejected fact changed the connection")
			}
			if Derive(testTenant, []Fact{tt.fact}).Tenant.Version != 0 {
				t.Error("Derive kept an invalid fact")
			}
		})
	}
}

func TestApplyReportsTransitions(t *testing.T) {
	c := applyAll(t, factFirstLnk, factSuccess)
	_, change := Apply(c, factCreated)
	if !change.Applied() || change.TenantStatusFrom != TenantAwaitingConfirmation || change.TenantStatusTo != TenantConnected {
		t.Fatalf("change = %+v", change)
	}
	wantAttempts := []Transition[AttemptStatus]{{ID: "sl_1", From: AttemptRedirectedSuccess, To: AttemptConfirmed}}
	if !slices.Equal(change.Attempts, wantAttempts) {
		t.Errorf("attempt transitions = %+v, want %+v", change.Attempts, wantAttempts)
	}
	wantNumbers := []Transition[PhoneNumberStatus]{{ID: "pn_1", To: NumberStatusConnected}}
	if !slices.Equal(change.PhoneNumbers, wantNumbers) {
		t.Errorf("number transitions = %+v, want %+v", change.PhoneNumbers, wantNumbers)
	}
	if change.Entry.Source != SourcePhoneNumberCreated || change.Entry.Detail["phone_number_id"] != "pn_1" {
		t.Errorf("entry = %+v", change.Entry)
	}
}

func TestFactKey(t *testing.T) {
	a := linkCreated("sl_1", 0)
	b := a
	b.AllowedTypes = reversedTypes(a.AllowedTypes)
	b.At = b.At.In(time.FixedZone("IST", 5*3600+1800))
	if a.Key() != b.Key() {
		t.Error("the same link in another zone and type order has another key")
	}
	if FailureRedirect("sl_1", "a", minute(1)).Key() == FailureRedirect("sl_1", "b", minute(1)).Key() {
		t.Error("facts with other error codes share a key")
	}
	if got := numberCreated("pn_1", "", 1).Key(); !strings.HasPrefix(got, "phone_number_created#pn_1#") {
		t.Errorf("key %q does not name its kind and number", got)
	}
}

func reversedTypes(types []ConnectionType) []ConnectionType {
	out := slices.Clone(types)
	slices.Reverse(out)
	return out
}

func TestTimelineAndTenantBookkeeping(t *testing.T) {
	c := applyAll(t, factAPI, factFirstLnk, factSuccess)
	var kinds []FactKind
	for i, e := range c.Timeline {
		kinds = append(kinds, e.Kind)
		if i > 0 && e.At.Before(c.Timeline[i-1].At) {
			t.Errorf("timeline out of order at %d", i)
		}
	}
	if !slices.Equal(kinds, []FactKind{FactLinkCreated, FactSuccessRedirect, FactAPIConfirmed}) {
		t.Errorf("timeline kinds = %v", kinds)
	}
	if c.Timeline[1].Source != "redirect" || c.Timeline[2].Source != SourceAPI {
		t.Errorf("timeline sources = %q, %q", c.Timeline[1].Source, c.Timeline[2].Source)
	}
	if c.Tenant.Version != 3 || !c.Tenant.UpdatedAt.Equal(minute(40)) || c.Tenant.ID != "tenant-1" || c.Tenant.KapsoCustomerID != "cus_1" {
		t.Errorf("tenant = %+v", c.Tenant)
	}
}

func TestStatusAt(t *testing.T) {
	c := applyAll(t, factFirstLnk)
	if got := c.StatusAt(minute(60)); got != TenantLinkActive {
		t.Errorf("before expiry: %s", got)
	}
	if got := c.StatusAt(minute(0).Add(31 * 24 * time.Hour)); got != TenantExpired {
		t.Errorf("after expiry: %s", got)
	}
	awaiting := applyAll(t, factFirstLnk, factSuccess)
	if got := awaiting.StatusAt(minute(0).Add(31 * 24 * time.Hour)); got != TenantAwaitingConfirmation {
		t.Errorf("a used link expired: %s", got)
	}
}

// Past its expiry, a link_active tenant reads as the expiry's fact will
// make it: expired, whether or not the browser reported a failure (an
// unsigned report never becomes the outcome on its own).
func TestStatusAtAgreesWithTheExpiry(t *testing.T) {
	expiry := factFirstLnk.ExpiresAt
	tests := []struct {
		name  string
		facts []Fact
		want  TenantStatus
	}{
		{"unused", []Fact{factFirstLnk}, TenantExpired},
		{"a failure reported in time", []Fact{factFirstLnk, factFailure}, TenantExpired},
		{"a failure reported after the expiry", []Fact{factFirstLnk, FailureRedirect("sl_1", "link_expired", expiry.Add(time.Minute))}, TenantExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := applyAll(t, tt.facts...)
			if c.Tenant.Status != TenantLinkActive {
				t.Fatalf("before the expiry: %s", c.Tenant.Status)
			}
			if got := c.StatusAt(expiry.Add(time.Hour)); got != tt.want {
				t.Errorf("StatusAt after the expiry = %s, want %s", got, tt.want)
			}
			if got := applyAll(t, append(tt.facts, LinkExpired("sl_1", expiry))...).Tenant.Status; got != tt.want {
				t.Errorf("with the expiry recorded = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSupportView(t *testing.T) {
	offered := []ConnectionType{ConnectionCoexistence, ConnectionDedicated}
	tests := []struct {
		name  string
		facts []Fact
		want  SupportView
	}{
		{
			name:  "connected",
			facts: []Fact{factFirstLnk, factSuccess, factConfig, factAPI},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantConnected,
				OfferedConnectionTypes: offered, Signup: SignupCompleted, SetupLinkID: "sl_1", PhoneNumberID: "pn_1",
				BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111", ConnectionType: ConnectionDedicated,
				NumberStatus: NumberStatusConnected, StatusSince: minute(12), NameStatus: "PENDING_REVIEW",
				ConfirmedBy: []string{SourceAPI, SourceConfigCreated}},
		},
		{
			name:  "abandoned",
			facts: []Fact{factFirstLnk, LinkExpired("sl_1", minute(60))},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantExpired,
				OfferedConnectionTypes: offered, Signup: SignupAbandoned, SetupLinkID: "sl_1"},
		},
		{
			name:  "a failure only the browser reported",
			facts: []Fact{factFirstLnk, factFailure, SuspiciousRedirect(RedirectDetails{SetupLinkID: "sl_1"}, "", minute(10))},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantLinkActive,
				OfferedConnectionTypes: offered, Signup: SignupFailedUnconfirmed, SetupLinkID: "sl_1",
				ErrorCode: "phone_verification_failed", ErrorReportedBy: ReportedByBrowser,
				Failures:            []Failure{{SetupLinkID: "sl_1", At: minute(9), ErrorCode: "phone_verification_failed", ReportedBy: ReportedByBrowser}},
				SuspiciousRedirects: 1},
		},
		{
			name:  "blocked by Meta, as Kapso reports",
			facts: []Fact{factFirstLnk, factFailure, SetupFailed("sl_1", "phone_verification_failed", minute(20))},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantFailed,
				OfferedConnectionTypes: offered, Signup: SignupFailed, SetupLinkID: "sl_1",
				ErrorCode: "phone_verification_failed", ErrorReportedBy: ReportedByKapso,
				Failures: []Failure{{SetupLinkID: "sl_1", At: minute(9), ErrorCode: "phone_verification_failed", ReportedBy: ReportedByBrowser},
					{SetupLinkID: "sl_1", At: minute(20), ErrorCode: "phone_verification_failed", ReportedBy: ReportedByKapso}}},
		},
		{
			name: "failed, then completed on the same link",
			facts: []Fact{factFirstLnk, FailureRedirect("sl_1", "token_exchange_failed", minute(5)),
				FailureRedirect("sl_1", "phone_verification_failed", minute(9)), factSuccess, factConfig},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantConnected,
				OfferedConnectionTypes: offered, Signup: SignupCompleted, SetupLinkID: "sl_1",
				Failures: []Failure{{SetupLinkID: "sl_1", At: minute(5), ErrorCode: "token_exchange_failed", ReportedBy: ReportedByBrowser},
					{SetupLinkID: "sl_1", At: minute(9), ErrorCode: "phone_verification_failed", ReportedBy: ReportedByBrowser}},
				PhoneNumberID: "pn_1", BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111",
				ConnectionType: ConnectionDedicated, NumberStatus: NumberStatusConnected, StatusSince: minute(12),
				ConfirmedBy: []string{SourceConfigCreated}},
		},
		{
			name:  "every attempt's failures, a superseded link's late one included",
			facts: []Fact{factFirstLnk, factNewLink, FailureRedirect("sl_1", "link_expired", minute(35)), FailureRedirect("sl_2", "waba_limit_reached", minute(36))},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantLinkActive,
				OfferedConnectionTypes: offered, Signup: SignupFailedUnconfirmed, SetupLinkID: "sl_2",
				ErrorCode: "waba_limit_reached", ErrorReportedBy: ReportedByBrowser,
				Failures: []Failure{{SetupLinkID: "sl_1", At: minute(35), ErrorCode: "link_expired", ReportedBy: ReportedByBrowser, Late: true},
					{SetupLinkID: "sl_2", At: minute(36), ErrorCode: "waba_limit_reached", ReportedBy: ReportedByBrowser}}},
		},
		{
			name:  "reconnect required",
			facts: []Fact{factFirstLnk, factConfig, NumberDisconnected("pn_1", minute(50)).WithReason("meta_token_expired")},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantReconnectRequired,
				OfferedConnectionTypes: offered, Signup: SignupCompleted, SetupLinkID: "sl_1", PhoneNumberID: "pn_1",
				BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111", ConnectionType: ConnectionDedicated,
				NumberStatus: NumberStatusDisconnected, StatusSince: minute(50), StatusReason: "meta_token_expired",
				ConfirmedBy: []string{SourceConfigCreated}, ReconnectPhoneNumber: "+15550001111"},
		},
		{
			name: "restricted",
			facts: []Fact{factFirstLnk, factConfig, numberCreated("pn_2", "", 20),
				AccountRestricted(AccountRef{BusinessAccountID: "waba_1"}, "RESTRICTED_BIZ_INITIATED_MESSAGING", minute(50))},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantRestricted,
				OfferedConnectionTypes: offered, Signup: SignupCompleted, SetupLinkID: "sl_1", PhoneNumberID: "pn_1",
				BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111", ConnectionType: ConnectionDedicated,
				NumberStatus: NumberStatusConnected, StatusSince: minute(12), Restricted: true,
				RestrictedReason: "RESTRICTED_BIZ_INITIATED_MESSAGING", RestrictedAt: minute(50),
				ConfirmedBy: []string{SourceConfigCreated}},
		},
		{
			name: "disabled",
			facts: []Fact{factFirstLnk, factConfig, numberCreated("pn_2", "", 20),
				AccountDisabled(AccountRef{BusinessAccountID: "waba_1"}, "ACCOUNT_DISABLED", minute(50))},
			want: SupportView{TenantID: "tenant-1", TenantName: "Acme", KapsoCustomerID: "cus_1", Status: TenantDisabled,
				OfferedConnectionTypes: offered, Signup: SignupCompleted, SetupLinkID: "sl_1", PhoneNumberID: "pn_1",
				BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111", ConnectionType: ConnectionDedicated,
				NumberStatus: NumberStatusAccountDisabled, StatusSince: minute(50), StatusReason: "ACCOUNT_DISABLED",
				ConfirmedBy: []string{SourceConfigCreated}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := applyAll(t, tt.facts...).Support()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("support view\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func mustAttempt(t *testing.T, c Connection, link string) Attempt {
	t.Helper()
	a, ok := c.Attempt(link)
	if !ok {
		t.Fatalf("no attempt for %s in %+v", link, c.Attempts)
	}
	return a
}

func mustNumber(t *testing.T, c Connection, number string) PhoneNumber {
	t.Helper()
	n, ok := c.PhoneNumber(number)
	if !ok {
		t.Fatalf("no number %s in %+v", number, c.PhoneNumbers)
	}
	return n
}

func wantAttempt(t *testing.T, a Attempt, want AttemptStatus) {
	t.Helper()
	if a.Status != want {
		t.Errorf("attempt %s is %s, want %s", a.SetupLinkID, a.Status, want)
	}
}

// wantError holds the attempt to a status and the error it shows, with who
// reported it ("" for none).
func wantError(t *testing.T, a Attempt, status AttemptStatus, code string, by FailureReporter) {
	t.Helper()
	wantAttempt(t, a, status)
	if a.ErrorCode != code || a.ErrorReportedBy != by {
		t.Errorf("attempt %s shows error %q reported by %q, want %q by %q", a.SetupLinkID, a.ErrorCode, a.ErrorReportedBy, code, by)
	}
}

func wantHistory(t *testing.T, a Attempt, want ...AttemptEvent) {
	t.Helper()
	if !reflect.DeepEqual(a.History, want) {
		t.Errorf("history of %s\n got %+v\nwant %+v", a.SetupLinkID, a.History, want)
	}
}

func wantStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// A connection is stored as JSON; applying to the loaded copy must give what
// applying to the original gives.
func TestConnectionSurvivesAJSONRoundTrip(t *testing.T) {
	original := applyAll(t, factFirstLnk, factSuccess, factConfig)
	var loaded Connection
	if err := json.Unmarshal([]byte(canonical(t, original)), &loaded); err != nil {
		t.Fatalf("unmarshal connection: %v", err)
	}
	fromOriginal, _ := Apply(original, NumberDisconnected("pn_1", minute(50)))
	fromLoaded, change := Apply(loaded, NumberDisconnected("pn_1", minute(50)))
	if !change.Applied() || change.TenantStatusFrom != TenantConnected || change.TenantStatusTo != TenantReconnectRequired {
		t.Errorf("change on the loaded copy = %+v", change)
	}
	if got, want := canonical(t, fromLoaded), canonical(t, fromOriginal); got != want {
		t.Errorf("loaded copy diverged:\n got %s\nwant %s", got, want)
	}
	if _, again := Apply(loaded, factConfig); !again.Duplicate {
		t.Error("a known fact was not recognised after loading")
	}
}
