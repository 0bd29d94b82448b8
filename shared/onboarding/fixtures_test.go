package onboarding

import (
	"encoding/json"
	"testing"
	"time"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// minute is a point in the test's timeline, minutes after epoch.
func minute(m int) time.Time { return epoch.Add(time.Duration(m) * time.Minute) }

var testTenant = Tenant{ID: "tenant-1", KapsoCustomerID: "cus_1", Name: "Acme", CreatedAt: epoch}

func linkCreated(id string, m int) Fact {
	return LinkCreated(LinkDetails{
		SetupLinkID: id, URL: "https://app.kapso.ai/setup/" + id, CreatedAt: minute(m),
		ExpiresAt:              minute(m).Add(30 * 24 * time.Hour),
		AllowedConnectionTypes: []ConnectionType{ConnectionDedicated, ConnectionCoexistence},
	})
}

func successRedirect(link, number string, m int) Fact {
	return SuccessRedirect(RedirectDetails{SetupLinkID: link, PhoneNumberID: number,
		BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111"}, minute(m))
}

func numberCreated(number, link string, m int) Fact {
	return PhoneNumberCreated(NumberDetails{PhoneNumberID: number, SetupLinkID: link}, minute(m))
}

// The six facts whose every order must end in the same state: one signup on
// sl_1 told through every channel, a stale failure, and a newer link.
var (
	factSuccess  = successRedirect("sl_1", "pn_1", 10)
	factFailure  = FailureRedirect("sl_1", "phone_verification_failed", minute(9))
	factCreated  = numberCreated("pn_1", "sl_1", 11)
	factConfig   = ConfigCreated(NumberDetails{PhoneNumberID: "pn_1", SetupLinkID: "sl_1", BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111", ConnectionType: ConnectionDedicated}, minute(12))
	factAPI      = APIConfirmed(NumberDetails{PhoneNumberID: "pn_1", BusinessAccountID: "waba_1", DisplayPhoneNumber: "+15550001111", ConnectionType: ConnectionDedicated, NameStatus: "PENDING_REVIEW", QualityRating: "GREEN"}, minute(40))
	factNewLink  = linkCreated("sl_2", 30)
	sixFacts     = []Fact{factSuccess, factFailure, factCreated, factConfig, factAPI, factNewLink}
	factFirstLnk = linkCreated("sl_1", 0)
)

// applyAll applies facts in order to a fresh connection, failing on a rejected fact.
func applyAll(t testing.TB, facts ...Fact) Connection {
	t.Helper()
	c := Derive(testTenant, nil)
	for _, f := range facts {
		var change Change
		c, change = Apply(c, f)
		if change.Rejected != nil {
			t.Fatalf("fact %s rejected: %v", f.Kind, change.Rejected)
		}
	}
	return c
}

// canonical is the connection's comparable form; JSON sorts map keys, and
// every slice in a Connection is in a derived order.
func canonical(t testing.TB, c Connection) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal connection: %v", err)
	}
	return string(b)
}

func reversed(facts []Fact) []Fact {
	out := make([]Fact, len(facts))
	for i, f := range facts {
		out[len(facts)-1-i] = f
	}
	return out
}
