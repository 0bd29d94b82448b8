package onboarding

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// permute calls visit with every ordering of facts (Heap's algorithm).
func permute(facts []Fact, visit func([]Fact)) {
	p := append([]Fact(nil), facts...)
	var generate func(k int)
	generate = func(k int) {
		if k <= 1 {
			visit(p)
			return
		}
		for i := 0; i < k-1; i++ {
			generate(k - 1)
			if k%2 == 0 {
				p[i], p[k-1] = p[k-1], p[i]
			} else {
				p[0], p[k-1] = p[k-1], p[0]
			}
		}
		generate(k - 1)
	}
	generate(len(p))
}

func applyTo(c Connection, facts []Fact) Connection {
	for _, f := range facts {
		c, _ = Apply(c, f)
	}
	return c
}

func TestEveryOrderOfTheSixFactsEndsTheSame(t *testing.T) {
	base := applyAll(t, factFirstLnk)
	want := canonical(t, Derive(testTenant, append([]Fact{factFirstLnk}, sixFacts...)))

	final := applyTo(base, sixFacts)
	if final.Tenant.Status != TenantConnected || final.Tenant.ActiveSetupLinkID != "sl_2" {
		t.Fatalf("tenant = %+v, want connected with sl_2 usable", final.Tenant)
	}
	a := mustAttempt(t, final, "sl_1")
	wantAttempt(t, a, AttemptConfirmed)
	wantStrings(t, "confirmed by", a.ConfirmedBy, SourceAPI, SourceConfigCreated, SourcePhoneNumberCreated)

	if orders := everyOrderEndsAs(t, base, sixFacts, want); orders != 720 {
		t.Errorf("visited %d orders, want 720", orders)
	}
}

// everyOrderEndsAs applies every ordering of facts to base, once, each
// twice in a row, then all again, then all reversed, and fails unless each
// ends as want. It returns how many orderings it visited.
func everyOrderEndsAs(t *testing.T, base Connection, facts []Fact, want string) int {
	t.Helper()
	orders := 0
	permute(facts, func(order []Fact) {
		orders++
		twiceInARow := make([]Fact, 0, 2*len(order))
		for _, f := range order {
			twiceInARow = append(twiceInARow, f, f)
		}
		runs := map[string][]Fact{
			"once":           order,
			"twice in a row": twiceInARow,
			"then again":     append(append([]Fact(nil), order...), order...),
			"then reversed":  append(append([]Fact(nil), order...), reversed(order)...),
		}
		for name, run := range runs {
			if got := canonical(t, applyTo(base, run)); got != want {
				t.Fatalf("order %v (%s) ends differently:\n got %s\nwant %s", kindsOf(order), name, got, want)
			}
		}
	})
	return orders
}

// A forged failure redirect (before and after the signup), the real
// signup's success redirect, its webhook and the API's confirmation: every
// order, any number of times, ends connected through sl_1, the forged
// reports kept in its history as the browser's.
func TestEveryOrderOfAForgedFailureAndTheRealSignupEndsTheSame(t *testing.T) {
	base := applyAll(t, factFirstLnk)
	facts := []Fact{
		FailureRedirect("sl_1", "waba_limit_reached", minute(5)),
		factSuccess, factCreated,
		APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", SetupLinkID: "sl_1"}, minute(12)),
		FailureRedirect("sl_1", "facebook_auth_failed", minute(13)),
	}
	final := applyTo(base, facts)
	a := mustAttempt(t, final, "sl_1")
	if final.Tenant.Status != TenantConnected || a.Status != AttemptConfirmed || a.ErrorCode != "" || len(final.Failures()) != 2 ||
		final.Failures()[1].ReportedBy != ReportedByBrowser {
		t.Fatalf("final state: %s %+v", final.Tenant.Status, a)
	}
	if orders := everyOrderEndsAs(t, base, facts, canonical(t, final)); orders != 120 {
		t.Errorf("visited %d orders, want 120", orders)
	}
}

// A forged failure on a link the person then gives up on: the browser's
// report, Kapso's record of a real failure, a retry's success redirect and
// the expiry, in every order, end the same; without Kapso's record and the
// retry the link stays usable whatever order the reports came in.
func TestEveryOrderOfFailureReportsEndsTheSame(t *testing.T) {
	base := applyAll(t, factFirstLnk)
	reports := []Fact{
		FailureRedirect("sl_1", "waba_limit_reached", minute(5)),
		FailureRedirect("sl_1", "facebook_auth_failed", minute(7)),
		FailureRedirect("sl_1", "waba_limit_reached", minute(8)),
	}
	open := applyTo(base, reports)
	if open.Tenant.Status != TenantLinkActive || open.Tenant.ActiveSetupLinkID != "sl_1" ||
		mustAttempt(t, open, "sl_1").ErrorCode != "waba_limit_reached" {
		t.Fatalf("after the reports: %+v %+v", open.Tenant, open.Attempts)
	}
	everyOrderEndsAs(t, base, reports, canonical(t, open))

	facts := append(slices.Clone(reports),
		SetupFailed("sl_1", "phone_verification_failed", minute(20)),
		successRedirect("sl_1", "pn_1", 30),
		LinkExpired("sl_1", minute(60)))
	final := applyTo(base, facts)
	if final.Tenant.Status != TenantAwaitingConfirmation || len(final.Failures()) != 4 {
		t.Fatalf("final state: %s %+v", final.Tenant.Status, final.Failures())
	}
	if orders := everyOrderEndsAs(t, base, facts, canonical(t, final)); orders != 720 {
		t.Errorf("visited %d orders, want 720", orders)
	}
}

// The first link's creation may itself arrive late (a Kapso-created link the
// reconciler finds afterwards): include it in the permutations too.
func TestEveryOrderIncludingTheFirstLinkEndsTheSame(t *testing.T) {
	all := append([]Fact{factFirstLnk}, sixFacts...)
	want := canonical(t, Derive(testTenant, all))
	orders := 0
	permute(all, func(order []Fact) {
		orders++
		if got := canonical(t, applyAll(t, order...)); got != want {
			t.Fatalf("order %v ends differently:\n got %s\nwant %s", kindsOf(order), got, want)
		}
	})
	if orders != 5040 {
		t.Errorf("visited %d orders, want 5040", orders)
	}
}

// A superseded link opened later (a failure, then a success on it), and a
// failure then a success on the newer link: every order ends with the old
// attempt superseded and the new one confirmed without an error code.
func TestEveryOrderOfLateRedirectsAndARetriedLinkEndsTheSame(t *testing.T) {
	facts := []Fact{
		factFirstLnk, factNewLink,
		FailureRedirect("sl_1", "link_expired", minute(35)),
		successRedirect("sl_1", "pn_1", 36),
		FailureRedirect("sl_2", "token_exchange_failed", minute(40)),
		successRedirect("sl_2", "pn_2", 41),
		APIConfirmed(NumberDetails{PhoneNumberID: "pn_2", BusinessAccountID: "waba_1"}, minute(42)),
	}
	final := Derive(testTenant, facts)
	want := canonical(t, final)
	old, newer := mustAttempt(t, final, "sl_1"), mustAttempt(t, final, "sl_2")
	wantAttempt(t, old, AttemptSuperseded)
	wantAttempt(t, newer, AttemptConfirmed)
	if old.SupersededBy != "sl_2" || old.ErrorCode != "" || newer.ErrorCode != "" || len(final.Failures()) != 2 ||
		final.Tenant.Status != TenantConnected {
		t.Fatalf("final state: %+v / %+v / %s", old, newer, final.Tenant.Status)
	}
	if n := mustNumber(t, final, "pn_2"); n.SetupLinkID != "sl_2" {
		t.Errorf("pn_2 attributed to %q", n.SetupLinkID)
	}
	orders := 0
	permute(facts, func(order []Fact) {
		orders++
		if got := canonical(t, applyAll(t, order...)); got != want {
			t.Fatalf("order %v ends differently:\n got %s\nwant %s", kindsOf(order), got, want)
		}
	})
	if orders != 5040 {
		t.Errorf("visited %d orders, want 5040", orders)
	}
}

func kindsOf(facts []Fact) []FactKind {
	kinds := make([]FactKind, len(facts))
	for i, f := range facts {
		kinds[i] = f.Kind
	}
	return kinds
}

// fuzzPool holds every kind of fact, with clashes the state machine must
// settle the same way whatever the order: two links, a stray redirect,
// lifecycle and account events, expiry and a flagged redirect.
var fuzzPool = append(append([]Fact{factFirstLnk}, sixFacts...),
	successRedirect("sl_2", "pn_2", 33),
	SuspiciousRedirect(RedirectDetails{SetupLinkID: "sl_2", PhoneNumberID: "pn_9"}, "not under the customer", minute(34)),
	FailureRedirect("sl_2", "waba_limit_reached", minute(35)),
	numberCreated("pn_2", "sl_2", 36),
	APIConfirmed(NumberDetails{PhoneNumberID: "pn_2", ConnectionType: ConnectionCoexistence}, minute(37)),
	NumberDisconnected("pn_1", minute(50)),
	NumberReconnected("pn_1", minute(70)),
	NumberDeleted("pn_2", minute(50)),
	NumberOffboarded("pn_2", minute(80)),
	AccountRestricted(AccountRef{BusinessAccountID: "waba_1"}, "spam", minute(45)),
	AccountDisabled(AccountRef{PhoneNumberID: "pn_1"}, "policy", minute(55)),
	AccountReinstated(AccountRef{}, minute(65)),
	WebhookRegistered("pn_1", "wh_1", minute(13)),
	LinkExpired("sl_1", minute(20)),
	LinkRevoked("sl_2", minute(90)),
	linkCreated("sl_3", 60),
	FailureRedirect("sl_3", "facebook_auth_failed", minute(61)),
	// Same instant as the disconnection: the kind order settles it.
	NumberReconnected("pn_1", minute(50)),
	// Redirects after their link closed, reasons, sources, a suspicious webhook.
	FailureRedirect("sl_1", "link_expired", minute(25)),
	successRedirect("sl_2", "pn_2", 60),
	NumberDisconnected("pn_1", minute(75)).WithReason("meta_token_expired").WithSource(SourceAPI),
	AccountRestricted(AccountRef{PhoneNumberID: "pn_1"}, "RESTRICTED_ADD_PHONE_NUMBER_ACTION", minute(50)).WithSource(SourceReconciler),
	SuspiciousWebhook("whatsapp.account.disabled", "pn_1", "Kapso shows the number CONNECTED", minute(56)),
	AccountDisabled(AccountRef{BusinessAccountID: "waba_1"}, "ACCOUNT_DISABLED", minute(45)),
	APIConfirmed(NumberDetails{PhoneNumberID: "pn_2", SetupLinkID: "sl_1"}, minute(62)),
	// Kapso's record of failures, one on a link a browser also reported on.
	SetupFailed("sl_3", "facebook_auth_failed", minute(63)),
	SetupFailed("sl_2", "", minute(38)),
)

// FuzzApplyOrder picks a sequence of facts (with repetitions) from the pool
// and checks that a shuffled copy, and the set alone, give the same state.
func FuzzApplyOrder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6}, uint64(1))
	f.Add([]byte{1, 1, 3, 3, 12, 13, 14, 2}, uint64(7))
	f.Add([]byte{7, 8, 9, 10, 11, 20, 21, 22, 23, 24, 25}, uint64(42))
	f.Add([]byte{0, 15, 16, 17, 18, 19, 26, 27, 28}, uint64(99))
	f.Add([]byte{0, 22, 23, 32, 9, 33, 7}, uint64(3))
	f.Fuzz(func(t *testing.T, picks []byte, seed uint64) {
		if len(picks) > 64 {
			picks = picks[:64]
		}
		sequence := make([]Fact, len(picks))
		for i, p := range picks {
			sequence[i] = fuzzPool[int(p)%len(fuzzPool)]
		}
		shuffled := append([]Fact(nil), sequence...)
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

		inOrder := applyAll(t, sequence...)
		got := canonical(t, applyAll(t, shuffled...))
		if want := canonical(t, inOrder); got != want {
			t.Fatalf("shuffled order differs:\n%v\n%v\n got %s\nwant %s", kindsOf(sequence), kindsOf(shuffled), got, want)
		}
		if derived := canonical(t, Derive(testTenant, shuffled)); derived != got {
			t.Fatalf("Derive differs from Apply:\n got %s\nwant %s", derived, got)
		}
		if again := canonical(t, applyTo(inOrder, shuffled)); again != got {
			t.Fatalf("re-applying the facts changed the state:\n got %s\nwant %s", again, got)
		}
	})
}
