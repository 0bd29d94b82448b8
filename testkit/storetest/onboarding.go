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
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
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
		"facts are idempotent and snapshot the status":        store(factsAreIdempotent),
		"facts need a tenant and must be valid":               store(factsNeedATenant),
		"only the newest link stays active":                   store(newestLinkStaysActive),
		"a link stays active until Kapso bears out a failure": store(reportedFailureKeepsTheLink),
		"expired links are listed to the second":              store(expiredLinksAreListed),
		"tenants are listed least recently updated first":     store(tenantsByStatus),
		"tenant lists: whole, by status, by attention":        store(tenantLists),
		"a tenant list resumes after its cursor":              store(tenantListCursors),
		"racing requests create one customer":                 store(racingRequestsCreateOneCustomer),
		"the customer lease and what a tenant records":        store(customerLease),
		"orphans are kept per customer, oldest first":         orphansAreKept,
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

// reportedFailureKeepsTheLink: a failure only the browser reported leaves
// the link among the active links (so the reconciler still expires it) and
// the tenant out of the attention list; Kapso's report of the failure
// closes the link and makes the tenant need a human.
func reportedFailureKeepsTheLink(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	mustEnsure(t, s, "t1")
	now := clk.Now()
	if _, err := s.RecordLink(ctx, "t1", onboarding.LinkDetails{SetupLinkID: "l1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	state := func() (onboarding.TenantStatus, int, int) {
		t.Helper()
		links, err := s.ActiveLinksExpiredAt(ctx, now.Add(2*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		attention, _, err := s.ListTenants(ctx, onboarding.TenantQuery{Now: now, NeedsAttention: true})
		if err != nil {
			t.Fatal(err)
		}
		conn, _, err := s.Load(ctx, "t1")
		if err != nil {
			t.Fatal(err)
		}
		return conn.Tenant.Status, len(links), len(attention)
	}
	if _, _, err := s.AppendFact(ctx, "t1", onboarding.FailureRedirect("l1", "waba_limit_reached", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if status, links, attention := state(); status != onboarding.TenantLinkActive || links != 1 || attention != 0 {
		t.Fatalf("after the browser's report: %s, %d active links, %d needing a human", status, links, attention)
	}
	if _, _, err := s.AppendFact(ctx, "t1", onboarding.SetupFailed("l1", "waba_limit_reached", now.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if status, links, attention := state(); status != onboarding.TenantFailed || links != 0 || attention != 1 {
		t.Fatalf("after Kapso's report: %s, %d active links, %d needing a human", status, links, attention)
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

// seedTenants makes one tenant of each kind ListTenants tells apart, each
// last updated at a different time (minutes after the clock's start):
//
//	t-new            not_started                      0   created with a name
//	t-active         link_active                      1
//	t-failed         failed                           3   attention: failed
//	t-waiting-old    awaiting_confirmation            5   attention once an hour has passed
//	t-hooked         connected, webhook registered    9   with a name and a Kapso customer
//	t-nohook         connected, no webhook           11   attention: webhook_not_registered
//	t-lost           reconnect_required              15   attention: reconnect_required
//	t-restricted     restricted, no webhook          18   attention: restricted, webhook_not_registered
//	t-disabled       disabled                        22   attention: disabled
//	t-waiting-new    awaiting_confirmation           90
func seedTenants(t *testing.T, s onboarding.Store, clk *testclock.Clock) time.Time {
	t.Helper()
	ctx := context.Background()
	e := clk.Now()
	at := func(minutes int) time.Time { return e.Add(time.Duration(minutes) * time.Minute) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	link := func(tenantID string, minutes int) {
		t.Helper()
		_, err := s.RecordLink(ctx, tenantID, onboarding.LinkDetails{SetupLinkID: "link-" + tenantID, CreatedAt: at(minutes)})
		must(err)
	}
	fact := func(tenantID string, f onboarding.Fact) {
		t.Helper()
		_, _, err := s.AppendFact(ctx, tenantID, f)
		must(err)
	}
	number := func(tenantID, phoneNumberID string, minutes int) {
		t.Helper()
		fact(tenantID, onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: phoneNumberID,
			SetupLinkID: "link-" + tenantID, BusinessAccountID: "waba-" + phoneNumberID}, at(minutes)))
	}
	must(s.EnsureTenant(ctx, "t-new", "New Co"))
	mustEnsure(t, s, "t-active", "t-failed", "t-waiting-old", "t-nohook", "t-lost", "t-restricted", "t-disabled", "t-waiting-new")
	_, err := onboarding.EnsureCustomer(ctx, s, "t-hooked", "Hooked Inc", func(context.Context) (string, error) { return "cust-h", nil })
	must(err)

	link("t-active", 1)
	link("t-failed", 2)
	fact("t-failed", onboarding.SetupFailed("link-t-failed", "signup_cancelled", at(3)))
	link("t-waiting-old", 4)
	fact("t-waiting-old", onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: "link-t-waiting-old", PhoneNumberID: "401"}, at(5)))
	link("t-hooked", 7)
	number("t-hooked", "701", 8)
	fact("t-hooked", onboarding.WebhookRegistered("701", "wh-701", at(9)))
	link("t-nohook", 10)
	number("t-nohook", "1001", 11)
	link("t-lost", 12)
	number("t-lost", "1201", 13)
	fact("t-lost", onboarding.WebhookRegistered("1201", "wh-1201", at(14)))
	fact("t-lost", onboarding.NumberDisconnected("1201", at(15)))
	link("t-restricted", 16)
	number("t-restricted", "1601", 17)
	fact("t-restricted", onboarding.AccountRestricted(onboarding.AccountRef{PhoneNumberID: "1601"}, "policy", at(18)))
	link("t-disabled", 19)
	number("t-disabled", "1901", 20)
	fact("t-disabled", onboarding.WebhookRegistered("1901", "wh-1901", at(21)))
	fact("t-disabled", onboarding.AccountDisabled(onboarding.AccountRef{PhoneNumberID: "1901"}, "policy", at(22)))
	link("t-waiting-new", 6)
	fact("t-waiting-new", onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: "link-t-waiting-new", PhoneNumberID: "601"}, at(90)))
	return e
}

// mustList is one page of q.
func mustList(t *testing.T, s onboarding.Store, q onboarding.TenantQuery) []onboarding.TenantItem {
	t.Helper()
	items, _, err := s.ListTenants(context.Background(), q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return items
}

// listAll follows a list's cursors from the first page, checking each page's
// size, and returns every tenant in order.
func listAll(t *testing.T, s onboarding.Store, q onboarding.TenantQuery) ([]onboarding.TenantItem, int) {
	t.Helper()
	var all []onboarding.TenantItem
	for pages := 1; pages <= 50; pages++ {
		items, next, err := s.ListTenants(context.Background(), q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if len(items) > q.Size() || (next != "" && len(items) != q.Size()) {
			t.Fatalf("%+v: page of %d with cursor %q", q, len(items), next)
		}
		all = append(all, items...)
		if next == "" {
			return all, pages
		}
		q.Cursor = next
	}
	t.Fatalf("%+v: no last page", q)
	return nil, 0
}

func tenantIDs(items []onboarding.TenantItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.TenantID)
	}
	return out
}

func tenantLists(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	e := seedTenants(t, s, clk)
	later := e.Add(2 * time.Hour)
	awaiting, connected := onboarding.TenantAwaitingConfirmation, onboarding.TenantConnected
	for _, c := range []struct {
		q    onboarding.TenantQuery
		want []string
	}{
		{onboarding.TenantQuery{Now: later},
			[]string{"t-new", "t-active", "t-failed", "t-waiting-old", "t-hooked", "t-nohook", "t-lost", "t-restricted", "t-disabled", "t-waiting-new"}},
		{onboarding.TenantQuery{Now: later, NeedsAttention: true},
			[]string{"t-failed", "t-waiting-old", "t-nohook", "t-lost", "t-restricted", "t-disabled"}},
		// Within the hour, awaiting confirmation is no reason yet.
		{onboarding.TenantQuery{Now: e.Add(30 * time.Minute), NeedsAttention: true},
			[]string{"t-failed", "t-nohook", "t-lost", "t-restricted", "t-disabled"}},
		{onboarding.TenantQuery{Now: later, Status: awaiting}, []string{"t-waiting-old", "t-waiting-new"}},
		{onboarding.TenantQuery{Now: later, Status: awaiting, NeedsAttention: true}, []string{"t-waiting-old"}},
		{onboarding.TenantQuery{Now: later, Status: connected}, []string{"t-hooked", "t-nohook"}},
		{onboarding.TenantQuery{Now: later, Status: connected, NeedsAttention: true}, []string{"t-nohook"}},
		{onboarding.TenantQuery{Now: later, Status: onboarding.TenantFailed, NeedsAttention: true}, []string{"t-failed"}},
		{onboarding.TenantQuery{Now: later, Status: onboarding.TenantRestricted}, []string{"t-restricted"}},
		{onboarding.TenantQuery{Now: later, Status: onboarding.TenantDisabled, NeedsAttention: true}, []string{"t-disabled"}},
		{onboarding.TenantQuery{Now: later, Status: onboarding.TenantLinkActive, NeedsAttention: true}, []string{}},
		{onboarding.TenantQuery{Now: later, Status: onboarding.TenantExpired}, []string{}},
		// Updated at or after a time, with each filter.
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(15 * time.Minute)},
			[]string{"t-lost", "t-restricted", "t-disabled", "t-waiting-new"}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(15*time.Minute + time.Nanosecond)},
			[]string{"t-restricted", "t-disabled", "t-waiting-new"}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(11 * time.Minute), NeedsAttention: true},
			[]string{"t-nohook", "t-lost", "t-restricted", "t-disabled"}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(5 * time.Minute), Status: awaiting}, []string{"t-waiting-old", "t-waiting-new"}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(5 * time.Minute), Status: awaiting, NeedsAttention: true},
			[]string{"t-waiting-old"}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(6 * time.Minute), Status: awaiting, NeedsAttention: true}, []string{}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: e.Add(3 * time.Minute), Status: connected}, []string{"t-hooked", "t-nohook"}},
		{onboarding.TenantQuery{Now: later, UpdatedSince: later}, []string{}},
	} {
		// Every page size gives the same list, with no tenant twice or missing.
		for _, limit := range []int{1, 2, 3, 0} {
			q := c.q
			q.Limit = limit
			items, pages := listAll(t, s, q)
			if got := tenantIDs(items); !slices.Equal(got, c.want) {
				t.Errorf("%+v: %v, want %v", q, got, c.want)
			}
			if limit == 1 && pages != max(1, len(c.want)) {
				t.Errorf("%+v: %d pages for %d tenants", q, pages, len(c.want))
			}
		}
	}

	all, _ := listAll(t, s, onboarding.TenantQuery{Now: later})
	byID := map[string]onboarding.TenantItem{}
	for _, it := range all {
		byID[it.TenantID] = it
	}
	reasons := map[string][]onboarding.AttentionReason{
		"t-failed":      {onboarding.AttentionFailed},
		"t-waiting-old": {onboarding.AttentionConfirmationOverdue},
		"t-nohook":      {onboarding.AttentionWebhookNotRegistered},
		"t-lost":        {onboarding.AttentionReconnectRequired},
		"t-restricted":  {onboarding.AttentionRestricted, onboarding.AttentionWebhookNotRegistered},
		"t-disabled":    {onboarding.AttentionDisabled},
	}
	for id, it := range byID {
		if !slices.Equal(it.Attention, reasons[id]) {
			t.Errorf("%s: attention %v, want %v", id, it.Attention, reasons[id])
		}
	}
	hooked := byID["t-hooked"]
	if hooked.Name != "Hooked Inc" || hooked.KapsoCustomerID != "cust-h" || hooked.Status != connected ||
		!hooked.UpdatedAt.Equal(e.Add(9*time.Minute)) || hooked.WebhookMissing {
		t.Errorf("t-hooked: %+v", hooked)
	}
	if n := byID["t-new"]; n.Name != "New Co" || n.Status != onboarding.TenantNotStarted || !n.UpdatedAt.Equal(e) {
		t.Errorf("t-new: %+v", n)
	}
	if n := byID["t-nohook"]; !n.WebhookMissing || n.Name != "" || n.KapsoCustomerID != "" {
		t.Errorf("t-nohook: %+v", n)
	}
	// Registering the webhook takes the reason away.
	if _, _, err := s.AppendFact(ctx, "t-nohook", onboarding.WebhookRegistered("1001", "wh-1001", e.Add(100*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if items, _ := listAll(t, s, onboarding.TenantQuery{Now: later, Status: connected, NeedsAttention: true}); len(items) != 0 {
		t.Errorf("a registered webhook still needs attention: %+v", items)
	}
	tenantHealthAttention(t, s, e, later)
}

// tenantHealthAttention: a connected number's low quality or refused
// display name puts its tenant among those needing attention, with the
// number's health on the listed item, until a reading says otherwise.
func tenantHealthAttention(t *testing.T, s onboarding.Store, e, later time.Time) {
	ctx := context.Background()
	read := func(quality, name string, minutes int) onboarding.NumberHealth {
		t.Helper()
		h := onboarding.NumberHealth{PhoneNumberID: "701", QualityRating: quality, MessagingLimitTier: "TIER_1K",
			VerifiedName: "Hooked", NameStatus: name, Throughput: "STANDARD", ReadAt: e.Add(time.Duration(minutes) * time.Minute)}
		if _, _, err := s.AppendFact(ctx, "t-hooked", onboarding.HealthRead(h)); err != nil {
			t.Fatal(err)
		}
		return h
	}
	connected := onboarding.TenantConnected
	red := read("RED", "DECLINED", 101)
	items, _ := listAll(t, s, onboarding.TenantQuery{Now: later, Status: connected, NeedsAttention: true})
	want := []onboarding.AttentionReason{onboarding.AttentionQualityLow, onboarding.AttentionDisplayNameRejected}
	if len(items) != 1 || items[0].TenantID != "t-hooked" || !slices.Equal(items[0].Attention, want) ||
		len(items[0].Health) != 1 || !items[0].Health[0].Same(red) || !items[0].Health[0].ReadAt.Equal(red.ReadAt) {
		t.Fatalf("after a RED reading: %+v", items)
	}
	if items, _ := listAll(t, s, onboarding.TenantQuery{Now: later, NeedsAttention: true}); !slices.Contains(tenantIDs(items), "t-hooked") {
		t.Errorf("t-hooked missing from every tenant needing attention: %v", tenantIDs(items))
	}
	read("GREEN", "APPROVED", 102)
	if items, _ := listAll(t, s, onboarding.TenantQuery{Now: later, Status: connected, NeedsAttention: true}); len(items) != 0 {
		t.Errorf("a GREEN reading still needs attention: %+v", items)
	}
	items, _ = listAll(t, s, onboarding.TenantQuery{Now: later, Status: connected})
	for _, it := range items {
		if it.TenantID == "t-hooked" && (len(it.Health) != 1 || it.Health[0].QualityRating != "GREEN") {
			t.Errorf("t-hooked health = %+v", it.Health)
		}
	}
}

func tenantListCursors(t *testing.T, s onboarding.Store, clk *testclock.Clock) {
	ctx := context.Background()
	e := seedTenants(t, s, clk)
	later := e.Add(2 * time.Hour)
	q := onboarding.TenantQuery{Now: later, Limit: 3}
	first, next, err := s.ListTenants(ctx, q)
	if err != nil || next == "" || !slices.Equal(tenantIDs(first), []string{"t-new", "t-active", "t-failed"}) {
		t.Fatalf("first page: %v %q %v", tenantIDs(first), next, err)
	}
	// A cursor belongs to its filters: any other list refuses it.
	for _, other := range []onboarding.TenantQuery{
		{Now: later, NeedsAttention: true, Cursor: next},
		{Now: later, Status: onboarding.TenantFailed, Cursor: next},
		{Now: later, Cursor: "not-a-cursor"},
		{Now: later, Cursor: next[:len(next)-2]},
		{Now: later, Cursor: next + next},
	} {
		if _, _, err := s.ListTenants(ctx, other); !errors.Is(err, onboarding.ErrBadCursor) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("cursor %q on %+v: %v", other.Cursor, other, err)
		}
	}
	// A tenant updated after it was listed moves to the end and is listed
	// again; one updated before it was reached is listed once, at its new
	// place. None is skipped.
	if _, err := s.RecordLink(ctx, "t-new", onboarding.LinkDetails{SetupLinkID: "link-t-new", CreatedAt: e.Add(100 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordLink(ctx, "t-hooked", onboarding.LinkDetails{SetupLinkID: "link-t-hooked-2", CreatedAt: e.Add(101 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	q.Cursor = next
	rest, _ := listAll(t, s, q)
	if got, want := tenantIDs(rest), []string{"t-waiting-old", "t-nohook", "t-lost", "t-restricted", "t-disabled", "t-waiting-new",
		"t-new", "t-hooked"}; !slices.Equal(got, want) {
		t.Errorf("after the first page: %v, want %v", got, want)
	}
	// A cursor goes on under a bound, which it does not belong to.
	since := onboarding.TenantQuery{Now: later, Limit: 3, Cursor: next, UpdatedSince: e.Add(14 * time.Minute)}
	if got, want := tenantIDs(mustList(t, s, since)), []string{"t-lost", "t-restricted", "t-disabled"}; !slices.Equal(got, want) {
		t.Errorf("after the first page, since 14: %v, want %v", got, want)
	}
	// The last page has no cursor; an empty store lists nothing.
	if items, next, err := s.ListTenants(ctx, onboarding.TenantQuery{Now: later, Status: onboarding.TenantDisconnected}); err != nil || len(items) != 0 || next != "" {
		t.Errorf("empty list: %v %q %v", items, next, err)
	}
}
