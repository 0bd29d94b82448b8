package dynamo_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/awstest"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

func newOnboarding(t *testing.T) (*dynamo.Onboarding, *clock) {
	names := awstest.Tables(t)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return &dynamo.Onboarding{DB: awstest.DynamoDB(t), Table: awstest.Bridge(names), Now: clk.Now}, clk
}

func TestAppendFactIsIdempotentAndSnapshots(t *testing.T) {
	ctx := context.Background()
	s, clk := newOnboarding(t)
	if _, _, err := s.AppendFact(ctx, "acme", onboarding.LinkExpired("l0", clk.Now())); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("fact for an unknown tenant: %v", err)
	}
	if err := s.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	link := onboarding.LinkDetails{SetupLinkID: "l1", URL: "https://x/setup/1", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
	conn, err := s.RecordLink(ctx, "acme", link)
	if err != nil || conn.Tenant.Status != onboarding.TenantLinkActive {
		t.Fatalf("record link: %v %v", conn.Tenant.Status, err)
	}
	redirect := onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: "l1", PhoneNumberID: "111"}, clk.Now().Add(time.Minute))
	_, first, err := s.AppendFact(ctx, "acme", redirect)
	if err != nil || first.Duplicate || first.TenantStatusTo != onboarding.TenantAwaitingConfirmation {
		t.Fatalf("first redirect: %+v %v", first, err)
	}
	conn, again, err := s.AppendFact(ctx, "acme", redirect)
	if err != nil || !again.Duplicate || conn.Tenant.Version != 2 {
		t.Fatalf("same fact again must be a duplicate at version 2: %+v v%d %v", again, conn.Tenant.Version, err)
	}
	loaded, found, err := s.Load(ctx, "acme")
	if err != nil || !found || loaded.Tenant.Status != onboarding.TenantAwaitingConfirmation || loaded.Tenant.Name != "Acme" {
		t.Fatalf("load: %+v %v %v", loaded.Tenant, found, err)
	}
	awaiting, err := s.TenantsWithStatus(ctx, onboarding.TenantAwaitingConfirmation, 10)
	if err != nil || len(awaiting) != 1 || awaiting[0].TenantID != "acme" {
		t.Fatalf("status index: %+v %v", awaiting, err)
	}
	// The redirect moved the attempt out of active: the link leaves the index.
	clk.Advance(2 * time.Hour)
	if links, err := s.ActiveLinksExpiredAt(ctx, clk.Now(), 10); err != nil || len(links) != 0 {
		t.Fatalf("a link with an outcome is not active: %+v %v", links, err)
	}
	if _, found, _ := s.Load(ctx, "nobody"); found {
		t.Fatal("unknown tenant loaded")
	}
}

func TestActiveLinkIndexAndSupersession(t *testing.T) {
	ctx := context.Background()
	s, clk := newOnboarding(t)
	_ = s.EnsureTenant(ctx, "t1", "")
	now := clk.Now()
	for i, id := range []string{"old", "new"} {
		at := now.Add(time.Duration(i) * time.Minute)
		if _, err := s.RecordLink(ctx, "t1", onboarding.LinkDetails{SetupLinkID: id, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	links, err := s.ActiveLinksExpiredAt(ctx, now.Add(3*time.Hour), 10)
	if err != nil || len(links) != 1 || links[0].SetupLinkID != "new" || links[0].TenantID != "t1" {
		t.Fatalf("only the newest link stays active: %+v %v", links, err)
	}
	if links, _ := s.ActiveLinksExpiredAt(ctx, now, 10); len(links) != 0 {
		t.Fatalf("no link has expired yet: %+v", links)
	}
	if tenant, ok, err := s.TenantOfLink(ctx, "old"); err != nil || !ok || tenant != "t1" {
		t.Fatalf("superseded link keeps its lookup: %q %v %v", tenant, ok, err)
	}
	if _, err := s.RecordLink(ctx, "t2", onboarding.LinkDetails{SetupLinkID: "new", CreatedAt: now}); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("a link of another tenant: %v", err)
	}
}

// Racing requests for one tenant call findOrCreate once: the lease holds
// the others off until the customer id is stored.
func TestEnsureCustomerRunsFindOrCreateOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newOnboarding(t)
	var calls atomic.Int32
	findOrCreate := func(context.Context) (string, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // a Kapso round trip, so the racers overlap
		return "cust-1", nil
	}
	var wg sync.WaitGroup
	results := make([]string, 6)
	errors_ := make([]error, 6)
	for i := range results {
		wg.Go(func() { results[i], errors_[i] = s.EnsureCustomer(ctx, "racer", "Racer", findOrCreate) })
	}
	wg.Wait()
	for i := range results {
		if errors_[i] != nil || results[i] != "cust-1" {
			t.Fatalf("request %d: %q %v", i, results[i], errors_[i])
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("findOrCreate ran %d times", calls.Load())
	}
	if tenant, ok, _ := s.TenantOfCustomer(ctx, "cust-1"); !ok || tenant != "racer" {
		t.Fatalf("customer lookup: %q %v", tenant, ok)
	}
	// A failure releases the lease at once.
	boom := errors.New("kapso down")
	if _, err := s.EnsureCustomer(ctx, "other", "", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("failure: %v", err)
	}
	if id, err := s.EnsureCustomer(ctx, "other", "", func(context.Context) (string, error) { return "cust-2", nil }); err != nil || id != "cust-2" {
		t.Fatalf("retry after failure: %q %v", id, err)
	}
}

func TestPhoneNumberWebhookState(t *testing.T) {
	ctx := context.Background()
	s, _ := newOnboarding(t)
	secrets := &dynamo.WebhookSecrets{DB: s.DB, Table: s.Table}
	d := dynamo.PhoneDetails{PhoneNumberID: "555", BusinessAccountID: "waba", DisplayPhoneNumber: "+15550001111"}
	if err := s.PutPhoneNumber(ctx, "t1", d); err != nil {
		t.Fatal(err)
	}
	missing, err := s.NumbersMissingWebhook(ctx, 10)
	if err != nil || len(missing) != 1 || missing[0].TenantID != "t1" {
		t.Fatalf("missing index: %+v %v", missing, err)
	}
	_, token, ok, err := s.ClaimWebhookRegistration(ctx, "555", time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, _, _, err := s.ClaimWebhookRegistration(ctx, "555", time.Minute); !errors.Is(err, dynamo.ErrRegistrationBusy) {
		t.Fatalf("second claim while held: %v", err)
	}
	if err := secrets.PutSecret(ctx, "555", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkWebhookRegistered(ctx, "555", "wh-1", token); err != nil {
		t.Fatal(err)
	}
	// Details written again later keep the webhook state and stay out of the index.
	if err := s.PutPhoneNumber(ctx, "t1", d); err != nil {
		t.Fatal(err)
	}
	item, found, err := s.PhoneNumber(ctx, "555")
	if err != nil || !found || !item.WebhookRegistered || item.WebhookID != "wh-1" || item.Secret != "s3cret" {
		t.Fatalf("item: %+v %v %v", item, found, err)
	}
	if missing, _ := s.NumbersMissingWebhook(ctx, 10); len(missing) != 0 {
		t.Fatalf("registered number still indexed: %+v", missing)
	}
	if _, _, ok, err := s.ClaimWebhookRegistration(ctx, "555", time.Minute); ok || err != nil {
		t.Fatalf("claim of a registered number: %v %v", ok, err)
	}
	if got, err := secrets.Secret(ctx, "555"); err != nil || got != "s3cret" {
		t.Fatalf("ingest reads the secret from the same item: %q %v", got, err)
	}
}
