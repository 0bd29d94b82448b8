package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RunNumbers holds an onboarding.NumberStore to its contract.
func RunNumbers(t *testing.T, newStore func(t *testing.T, now func() time.Time) onboarding.NumberStore) {
	run(t, newStore, map[string]func(*testing.T, onboarding.NumberStore, *testclock.Clock){
		"a number stays listed until its webhook is recorded": listedUntilRecorded,
		"one registration at a time, until its lease lapses":  oneRegistrationAtATime,
		"numbers missing their webhook are listed in order":   missingInOrder,
		"secrets":                               secrets,
		"numbers never added":                   numbersNeverAdded,
		"a number of a tenant being offboarded": offboardedNumbers,
	})
}

// offboardedNumbers: a number marked for its tenant's offboarding answers
// ErrNumberOffboarded and leaves the missing-webhook list; another
// tenant's number is not marked; adding the number again clears the mark.
func offboardedNumbers(t *testing.T, s onboarding.NumberStore, _ *testclock.Clock) {
	ctx := context.Background()
	for _, n := range []struct{ tenant, number string }{{"t1", "555"}, {"t2", "666"}} {
		must(t, s.AddNumber(ctx, n.tenant, n.number))
		must(t, s.PutSecret(ctx, n.number, "secret-"+n.number))
	}
	must(t, s.OffboardNumber(ctx, "555", "t1"))
	must(t, s.OffboardNumber(ctx, "666", "t1")) // t2's: left
	must(t, s.OffboardNumber(ctx, "777", "t1")) // never added: left
	if _, _, err := s.TenantOfPhoneNumber(ctx, "555"); !errors.Is(err, onboarding.ErrNumberOffboarded) {
		t.Errorf("tenant of the offboarded number: %v", err)
	}
	if _, err := s.Secret(ctx, "555"); !errors.Is(err, onboarding.ErrNumberOffboarded) {
		t.Errorf("secret of the offboarded number: %v", err)
	}
	if tenant, ok, err := s.TenantOfPhoneNumber(ctx, "666"); err != nil || !ok || tenant != "t2" {
		t.Errorf("another tenant's number: %q %v %v", tenant, ok, err)
	}
	if _, ok, err := s.TenantOfPhoneNumber(ctx, "777"); err != nil || ok {
		t.Errorf("a number never added: %v %v", ok, err)
	}
	missing, err := s.NumbersMissingWebhook(ctx, 10)
	must(t, err)
	for _, n := range missing {
		if n.PhoneNumberID == "555" {
			t.Errorf("the offboarded number is listed as missing its webhook")
		}
	}
	must(t, s.AddNumber(ctx, "t3", "555"))
	if tenant, ok, err := s.TenantOfPhoneNumber(ctx, "555"); err != nil || !ok || tenant != "t3" {
		t.Errorf("the number added again: %q %v %v", tenant, ok, err)
	}
}

func listedUntilRecorded(t *testing.T, s onboarding.NumberStore, _ *testclock.Clock) {
	ctx := context.Background()
	if err := s.AddNumber(ctx, "t1", "555"); err != nil {
		t.Fatal(err)
	}
	if tenant, ok, err := s.TenantOfPhoneNumber(ctx, "555"); err != nil || !ok || tenant != "t1" {
		t.Fatalf("number lookup: %q %v %v", tenant, ok, err)
	}
	missing, err := s.NumbersMissingWebhook(ctx, 10)
	if err != nil || len(missing) != 1 || missing[0].TenantID != "t1" || missing[0].PhoneNumberID != "555" {
		t.Fatalf("missing list: %+v %v", missing, err)
	}
	n, token, ok, err := s.ClaimWebhookRegistration(ctx, "555", time.Minute)
	if err != nil || !ok || token == "" || n.PhoneNumberID != "555" || n.TenantID != "t1" || !n.Registration.HeldBy(token) {
		t.Fatalf("claim: %+v %q %v %v", n, token, ok, err)
	}
	if err := s.PutSecret(ctx, "555", "s3cret"); err != nil {
		t.Fatal(err)
	}
	// The fact is stored; the number may leave the list.
	if err := s.WebhookRecorded(ctx, "555"); err != nil {
		t.Fatal(err)
	}
	if err := s.WebhookRecorded(ctx, "555"); err != nil {
		t.Fatalf("recording twice: %v", err)
	}
	// Confirmed again later, it stays out of the list.
	if err := s.AddNumber(ctx, "t1", "555"); err != nil {
		t.Fatal(err)
	}
	if missing, _ := s.NumbersMissingWebhook(ctx, 10); len(missing) != 0 {
		t.Fatalf("recorded number still listed: %+v", missing)
	}
	n, token, ok, err = s.ClaimWebhookRegistration(ctx, "555", time.Minute)
	if ok || err != nil || token != "" || !n.WebhookRecorded || n.WebhookSecret != "s3cret" || n.Registration != (onboarding.Lease{}) {
		t.Fatalf("claim of a recorded number: %+v %v %v", n, ok, err)
	}
	if got, err := s.Secret(ctx, "555"); err != nil || got != "s3cret" {
		t.Fatalf("the ingest reads the secret: %q %v", got, err)
	}
}

func oneRegistrationAtATime(t *testing.T, s onboarding.NumberStore, clk *testclock.Clock) {
	ctx := context.Background()
	if err := s.AddNumber(ctx, "t1", "555"); err != nil {
		t.Fatal(err)
	}
	_, crashed, ok, err := s.ClaimWebhookRegistration(ctx, "555", 20*time.Second)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	n, _, ok, err := s.ClaimWebhookRegistration(ctx, "555", 20*time.Second)
	if ok || !errors.Is(err, onboarding.ErrRegistrationBusy) || errs.CodeOf(err) != errs.InFlight || n.PhoneNumberID != "555" {
		t.Fatalf("second claim while held: %+v %v %v", n, ok, err)
	}
	clk.Advance(21 * time.Second)
	_, next, ok, err := s.ClaimWebhookRegistration(ctx, "555", 20*time.Second)
	if err != nil || !ok || next == crashed {
		t.Fatalf("claim after the lease lapsed: %v %v", ok, err)
	}
	if err := s.ReleaseWebhookRegistration(ctx, "555", crashed); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.ClaimWebhookRegistration(ctx, "555", 20*time.Second); !errors.Is(err, onboarding.ErrRegistrationBusy) {
		t.Fatalf("a lapsed holder's release freed its successor's lease: %v", err)
	}
	if err := s.ReleaseWebhookRegistration(ctx, "555", next); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := s.ClaimWebhookRegistration(ctx, "555", 20*time.Second); !ok || err != nil {
		t.Fatalf("claim after a release: %v %v", ok, err)
	}
	// A released or lapsed registration keeps the number listed.
	if missing, _ := s.NumbersMissingWebhook(ctx, 10); len(missing) != 1 {
		t.Fatalf("missing list: %+v", missing)
	}
}

func missingInOrder(t *testing.T, s onboarding.NumberStore, clk *testclock.Clock) {
	ctx := context.Background()
	for _, id := range []string{"3", "1", "2"} {
		if err := s.AddNumber(ctx, "t-"+id, id); err != nil {
			t.Fatal(err)
		}
		clk.Advance(700 * time.Millisecond)
	}
	// Added again, a number still missing its webhook goes to the back.
	if err := s.AddNumber(ctx, "t-3", "3"); err != nil {
		t.Fatal(err)
	}
	missing, err := s.NumbersMissingWebhook(ctx, 10)
	var ids []string
	for _, n := range missing {
		ids = append(ids, n.PhoneNumberID)
	}
	if err != nil || !slices.Equal(ids, []string{"1", "2", "3"}) {
		t.Fatalf("missing %v: %v", ids, err)
	}
	if missing, _ := s.NumbersMissingWebhook(ctx, 2); len(missing) != 2 || missing[1].PhoneNumberID != "2" {
		t.Fatalf("limit 2: %+v", missing)
	}
}

func secrets(t *testing.T, s onboarding.NumberStore, _ *testclock.Clock) {
	ctx := context.Background()
	if _, err := s.Secret(ctx, "111"); !errors.Is(err, onboarding.ErrNoSecret) || errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown number: %v", err)
	}
	// The secret may be stored before anything else about the number.
	if err := s.PutSecret(ctx, "111", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Secret(ctx, "111"); err != nil || got != "s3cret" {
		t.Fatalf("secret = %q, %v", got, err)
	}
	if _, ok, _ := s.TenantOfPhoneNumber(ctx, "111"); ok {
		t.Fatal("a secret alone maps the number to a tenant")
	}
	n, token, ok, err := s.ClaimWebhookRegistration(ctx, "111", time.Minute)
	if err != nil || !ok || n.PhoneNumberID != "111" || n.WebhookSecret != "s3cret" {
		t.Fatalf("claim of a number holding only its secret: %+v %q %v %v", n, token, ok, err)
	}
	if err := s.AddNumber(ctx, "t1", "111"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Secret(ctx, "111"); got != "s3cret" {
		t.Fatalf("adding the number lost its secret: %q", got)
	}
	if err := s.PutSecret(ctx, "111", "rotated"); err != nil {
		t.Fatal(err)
	}
	if tenant, _, _ := s.TenantOfPhoneNumber(ctx, "111"); tenant != "t1" {
		t.Fatalf("storing a secret lost the tenant: %q", tenant)
	}
}

func numbersNeverAdded(t *testing.T, s onboarding.NumberStore, _ *testclock.Clock) {
	ctx := context.Background()
	if _, _, ok, err := s.ClaimWebhookRegistration(ctx, "404", time.Minute); ok || !errors.Is(err, onboarding.ErrUnknownNumber) ||
		errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("claim of an unknown number: %v %v", ok, err)
	}
	if err := s.WebhookRecorded(ctx, "404"); err != nil {
		t.Fatalf("recording an unknown number: %v", err)
	}
	if err := s.ReleaseWebhookRegistration(ctx, "404", "token"); err != nil {
		t.Fatalf("releasing an unknown number: %v", err)
	}
	if _, _, _, err := s.ClaimWebhookRegistration(ctx, "404", time.Minute); !errors.Is(err, onboarding.ErrUnknownNumber) {
		t.Fatalf("recording or releasing created the number: %v", err)
	}
	if _, ok, err := s.TenantOfPhoneNumber(ctx, "404"); ok || err != nil {
		t.Fatalf("lookup: %v %v", ok, err)
	}
}
