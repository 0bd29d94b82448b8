package onboarding

import (
	"slices"
	"testing"
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
