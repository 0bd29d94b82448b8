package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/testclock"
)

// Onboarding is an onboarding store under test, with how its test reads back
// what the store keeps but onboarding.Store does not serve.
type Onboarding struct {
	onboarding.Store
	// Orphans lists the events KeepOrphan kept for a Kapso customer, oldest
	// first.
	Orphans func(ctx context.Context, customerID string) ([][]byte, error)
}

// RunStore holds an onboarding.Store to its contract.
func RunStore(t *testing.T, newStore func(t *testing.T, now func() time.Time) Onboarding) {
	store := func(c func(*testing.T, onboarding.Store, *testclock.Clock)) func(*testing.T, Onboarding, *testclock.Clock) {
		return func(t *testing.T, s Onboarding, clk *testclock.Clock) { c(t, s.Store, clk) }
	}
	run(t, newStore, map[string]func(*testing.T, Onboarding, *testclock.Clock){
		"facts are idempotent and snapshot the status":    store(factsAreIdempotent),
		"facts need a tenant and must be valid":           store(factsNeedATenant),
		"only the newest link stays active":               store(newestLinkStaysActive),
		"expired links are listed to the second":          store(expiredLinksAreListed),
		"tenants are listed least recently updated first": store(tenantsByStatus),
		"racing requests create one customer":             store(racingRequestsCreateOneCustomer),
		"the customer lease and what a tenant records":    store(customerLease),
		"orphans are kept per customer, oldest first":     orphansAreKept,
	})
}

func mustEnsure(t *testing.T, s onboarding.Store, tenantIDs ...string) {
	t.Helper()
	for _, id := range tenantIDs {
		if err := s.EnsureTenant(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func factsAreIdempotent(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
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
	if err != nil || len(awaiting) != 1 || awaiting[0].TenantID != "acme" || awaiting[0].Status != onboarding.TenantAwaitingConfirmation ||
		!awaiting[0].UpdatedAt.Equal(redirect.At) {
		t.Fatalf("status list: %+v %v", awaiting, err)
	}
	if linkActive, _ := s.TenantsWithStatus(ctx, onboarding.TenantLinkActive, 10); len(linkActive) != 0 {
		t.Fatalf("the older status still lists the tenant: %+v", linkActive)
	}
	// The redirect closed the attempt (Change.ClosedLinks): the link is no
	// longer active, so it never expires.
	clk.Advance(2 * time.Hour)
	if links, err := s.ActiveLinksExpiredAt(ctx, clk.Now(), 10); err != nil || len(links) != 0 {
		t.Fatalf("a link with an outcome is not active: %+v %v", links, err)
	}
	if _, found, err := s.Load(ctx, "nobody"); found || err != nil {
		t.Fatalf("unknown tenant loaded: %v %v", found, err)
	}
}

func factsNeedATenant(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	if _, _, err := s.AppendFact(ctx, "acme", onboarding.LinkExpired("l0", clk.Now())); !errors.Is(err, onboarding.ErrTenantNotFound) {
		t.Fatalf("fact for an unknown tenant: %v", err)
	}
	mustEnsure(t, s, "acme")
	if _, _, err := s.AppendFact(ctx, "acme", onboarding.LinkExpired("", clk.Now())); errs.CodeOf(err) != errs.Invalid {
		t.Fatalf("invalid fact: %v", err)
	}
	if conn, _, _ := s.Load(ctx, "acme"); conn.Tenant.Version != 0 || conn.Tenant.Status != onboarding.TenantNotStarted {
		t.Fatalf("a refused fact was stored: %+v", conn.Tenant)
	}
	if _, err := s.Customer(ctx, "nobody"); !errors.Is(err, onboarding.ErrTenantNotFound) {
		t.Fatalf("customer of an unknown tenant: %v", err)
	}
}

func newestLinkStaysActive(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	mustEnsure(t, s, "t1")
	now := clk.Now()
	for i, id := range []string{"old", "new"} {
		at := now.Add(time.Duration(i) * time.Minute)
		if _, err := s.RecordLink(ctx, "t1", onboarding.LinkDetails{SetupLinkID: id, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	links, err := s.ActiveLinksExpiredAt(ctx, now.Add(3*time.Hour), 10)
	if err != nil || len(links) != 1 || links[0].SetupLinkID != "new" || links[0].TenantID != "t1" ||
		!links[0].ExpiresAt.Equal(now.Add(time.Hour+time.Minute)) {
		t.Fatalf("only the newest link stays active: %+v %v", links, err)
	}
	if links, _ := s.ActiveLinksExpiredAt(ctx, now, 10); len(links) != 0 {
		t.Fatalf("no link has expired yet: %+v", links)
	}
	if tenant, ok, err := s.TenantOfLink(ctx, "old"); err != nil || !ok || tenant != "t1" {
		t.Fatalf("superseded link keeps its lookup: %q %v %v", tenant, ok, err)
	}
	if _, ok, err := s.TenantOfLink(ctx, "never"); ok || err != nil {
		t.Fatalf("unknown link: %v %v", ok, err)
	}
	if _, err := s.RecordLink(ctx, "t2", onboarding.LinkDetails{SetupLinkID: "new", CreatedAt: now}); errs.CodeOf(err) != errs.Conflict ||
		!errors.Is(err, onboarding.ErrLinkOfAnotherTenant) {
		t.Fatalf("a link of another tenant: %v", err)
	}
	if err := s.CloseLink(ctx, "new", onboarding.AttemptRevoked); err != nil {
		t.Fatal(err)
	}
	if links, _ := s.ActiveLinksExpiredAt(ctx, now.Add(3*time.Hour), 10); len(links) != 0 {
		t.Fatalf("a closed link is still active: %+v", links)
	}
	if err := s.CloseLink(ctx, "never", onboarding.AttemptRevoked); err != nil {
		t.Fatalf("closing an unknown link: %v", err)
	}
	if _, ok, _ := s.TenantOfLink(ctx, "never"); ok {
		t.Fatal("closing an unknown link recorded it")
	}
}

func expiredLinksAreListed(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	now := clk.Now()
	// One link per tenant, so none supersedes another.
	expiries := map[string]time.Time{
		"a": now.Add(-time.Hour), "b": now.Add(-2 * time.Hour), "c": now.Add(300 * time.Millisecond),
		"d": now.Add(time.Second), "e": time.Time{},
	}
	for id, exp := range expiries {
		mustEnsure(t, s, "tenant-"+id)
		if _, err := s.RecordLink(ctx, "tenant-"+id, onboarding.LinkDetails{SetupLinkID: id, CreatedAt: now.Add(-3 * time.Hour),
			ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	links, err := s.ActiveLinksExpiredAt(ctx, now, 10)
	var ids []string
	for _, l := range links {
		ids = append(ids, l.SetupLinkID)
	}
	// c expires within now's second; a link without expiry never does.
	if err != nil || !slices.Equal(ids, []string{"b", "a", "c"}) {
		t.Fatalf("expired links %v, want b, a, c: %v", ids, err)
	}
	if links, _ := s.ActiveLinksExpiredAt(ctx, now, 2); len(links) != 2 || links[1].SetupLinkID != "a" {
		t.Fatalf("limit 2: %+v", links)
	}
}

func tenantsByStatus(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	// Created in this order; the link of "first" is recorded last, so it is
	// the most recently updated link_active tenant.
	for i, id := range []string{"first", "second", "third"} {
		mustEnsure(t, s, id)
		clk.Advance(time.Duration(i+1) * 1500 * time.Millisecond)
	}
	for i, id := range []string{"second", "third", "first"} {
		at := clk.Now().Add(time.Duration(i) * 1100 * time.Millisecond)
		if _, err := s.RecordLink(ctx, id, onboarding.LinkDetails{SetupLinkID: "link-" + id, CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := s.TenantsWithStatus(ctx, onboarding.TenantLinkActive, 10)
	var ids []string
	for _, r := range refs {
		ids = append(ids, r.TenantID)
	}
	if err != nil || !slices.Equal(ids, []string{"second", "third", "first"}) {
		t.Fatalf("link_active tenants %v: %v", ids, err)
	}
	if refs, _ := s.TenantsWithStatus(ctx, onboarding.TenantLinkActive, 1); len(refs) != 1 || refs[0].TenantID != "second" {
		t.Fatalf("limit 1: %+v", refs)
	}
	mustEnsure(t, s, "fresh")
	if refs, _ := s.TenantsWithStatus(ctx, onboarding.TenantNotStarted, 10); len(refs) != 1 || refs[0].TenantID != "fresh" {
		t.Fatalf("a new tenant is listed as not started: %+v", refs)
	}
}

// Racing requests for one tenant call findOrCreate once: the lease holds
// the others off until the customer id is stored.
func racingRequestsCreateOneCustomer(t *testing.T, s onboarding.Store, _ *testclock.Clock) {
	ctx := context.Background()
	var calls atomic.Int32
	findOrCreate := func(context.Context) (string, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // a Kapso round trip, so the racers overlap
		return "cust-1", nil
	}
	var wg sync.WaitGroup
	results := make([]string, 6)
	failures := make([]error, 6)
	for i := range results {
		wg.Go(func() { results[i], failures[i] = onboarding.EnsureCustomer(ctx, s, "racer", "Racer", findOrCreate) })
	}
	wg.Wait()
	for i := range results {
		if failures[i] != nil || results[i] != "cust-1" {
			t.Fatalf("request %d: %q %v", i, results[i], failures[i])
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("findOrCreate ran %d times", calls.Load())
	}
	if tenant, ok, _ := s.TenantOfCustomer(ctx, "cust-1"); !ok || tenant != "racer" {
		t.Fatalf("customer lookup: %q %v", tenant, ok)
	}
	if conn, _, _ := s.Load(ctx, "racer"); conn.Tenant.KapsoCustomerID != "cust-1" || conn.Tenant.Name != "Racer" {
		t.Fatalf("tenant: %+v", conn.Tenant)
	}
	// A failure releases the lease at once.
	boom := errors.New("kapso down")
	if _, err := onboarding.EnsureCustomer(ctx, s, "other", "", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("failure: %v", err)
	}
	if id, err := onboarding.EnsureCustomer(ctx, s, "other", "", func(context.Context) (string, error) { return "cust-2", nil }); err != nil || id != "cust-2" {
		t.Fatalf("retry after failure: %q %v", id, err)
	}
}

func customerLease(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	if _, ok, err := s.TakeCustomerLease(ctx, "nobody", time.Minute); ok || err != nil {
		t.Fatalf("lease of an unknown tenant: %v %v", ok, err)
	}
	mustEnsure(t, s, "t1", "t2")
	first, ok, err := s.TakeCustomerLease(ctx, "t1", 10*time.Second)
	if err != nil || !ok || first == "" {
		t.Fatalf("first lease: %q %v %v", first, ok, err)
	}
	if c, _ := s.Customer(ctx, "t1"); c.Next(clk.Now()) != onboarding.LeaseWait || !c.Lease.HeldBy(first) {
		t.Fatalf("held lease reads %+v", c)
	}
	if _, ok, _ := s.TakeCustomerLease(ctx, "t1", 10*time.Second); ok {
		t.Fatal("a live lease was taken again")
	}
	// A holder that crashed blocks others only until its lease ends.
	clk.Advance(11 * time.Second)
	second, ok, err := s.TakeCustomerLease(ctx, "t1", 10*time.Second)
	if err != nil || !ok || second == first {
		t.Fatalf("lease after the first lapsed: %v %v", ok, err)
	}
	if err := s.ReleaseCustomerLease(ctx, "t1", first); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.TakeCustomerLease(ctx, "t1", 10*time.Second); ok {
		t.Fatal("a lapsed holder's release freed its successor's lease")
	}
	if err := s.RecordCustomer(ctx, "t1", "c1"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Customer(ctx, "t1")
	if err != nil || c.CustomerID != "c1" || c.Next(clk.Now()) != onboarding.LeaseDone || c.Lease != (onboarding.Lease{}) {
		t.Fatalf("recorded customer reads %+v %v", c, err)
	}
	if _, ok, _ := s.TakeCustomerLease(ctx, "t1", time.Second); ok {
		t.Fatal("a lease was taken for a tenant whose customer is recorded")
	}
	if err := s.RecordCustomer(ctx, "t1", "c1"); err != nil {
		t.Fatalf("recording the same customer again: %v", err)
	}
	if err := s.RecordCustomer(ctx, "t2", "c1"); errs.CodeOf(err) != errs.Conflict || !errors.Is(err, onboarding.ErrCustomerOfAnotherTenant) {
		t.Fatalf("another tenant's customer: %v", err)
	}
	if err := s.RecordCustomer(ctx, "t1", "c9"); !errors.Is(err, onboarding.ErrCustomerChanged) {
		t.Fatalf("a second customer for t1: %v", err)
	}
	if c, _ := s.Customer(ctx, "t1"); c.CustomerID != "c1" {
		t.Fatalf("the first customer was replaced: %+v", c)
	}
	// Released by its holder, a lease is free at once.
	third, _, _ := s.TakeCustomerLease(ctx, "t2", time.Minute)
	if err := s.ReleaseCustomerLease(ctx, "t2", third); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.TakeCustomerLease(ctx, "t2", time.Minute); !ok {
		t.Fatal("a released lease was not free")
	}
}

func orphansAreKept(t *testing.T, s Onboarding, clk *testclock.Clock) {
	if s.Orphans == nil {
		t.Fatal("the adapter's test supplies no Orphans reader")
	}
	ctx := context.Background()
	now := clk.Now()
	keep := func(customer, event string, at time.Time) {
		t.Helper()
		if err := s.KeepOrphan(ctx, customer, event, at, []byte(`{"id":"`+event+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	keep("c1", "late", now.Add(time.Second))
	keep("c1", "early", now.Add(500*time.Millisecond))
	keep("c1", "early", now.Add(500*time.Millisecond)) // a redelivery
	keep("c2", "other", now)
	kept, err := s.Orphans(ctx, "c1")
	if err != nil || len(kept) != 2 || string(kept[0]) != `{"id":"early"}` || string(kept[1]) != `{"id":"late"}` {
		t.Fatalf("orphans of c1: %q %v", kept, err)
	}
	if kept, _ := s.Orphans(ctx, "nobody"); len(kept) != 0 {
		t.Fatalf("orphans of nobody: %q", kept)
	}
}
