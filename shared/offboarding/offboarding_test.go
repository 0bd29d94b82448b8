package offboarding

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type jobs struct{ byTenant map[string]Job }

func (s *jobs) Start(_ context.Context, j Job) (Job, bool, error) {
	if old, ok := s.byTenant[j.TenantID]; ok && !old.Done() {
		return old, false, nil
	}
	j.Version = 1
	s.byTenant[j.TenantID] = j
	return j, true, nil
}
func (s *jobs) Job(_ context.Context, id string) (Job, bool, error) {
	j, ok := s.byTenant[id]
	return j, ok, nil
}
func (s *jobs) Save(_ context.Context, j Job) error {
	if s.byTenant[j.TenantID].Version != j.Version-1 {
		return ErrJobMoved
	}
	s.byTenant[j.TenantID] = j
	return nil
}
func (s *jobs) Unfinished(context.Context, int) ([]Job, error) { return nil, nil }

type facts struct{ got []onboarding.Fact }

func (f *facts) AppendFact(_ context.Context, _ string, fact onboarding.Fact) (onboarding.Connection, onboarding.Change, error) {
	f.got = append(f.got, fact)
	return onboarding.Connection{}, onboarding.Change{}, nil
}

// kapso records its calls and fails those named in fail once each.
type kapso struct {
	calls []string
	fail  map[string]error
}

func (k *kapso) call(name string) error {
	k.calls = append(k.calls, name)
	if err := k.fail[name]; err != nil {
		delete(k.fail, name)
		return err
	}
	return nil
}
func (k *kapso) RevokeSetupLink(_ context.Context, customer, link string) (onboarding.SetupLink, error) {
	return onboarding.SetupLink{}, k.call("revoke " + customer + "/" + link)
}
func (k *kapso) DeleteWebhook(_ context.Context, number, webhook string) error {
	return k.call("delete " + number + "/" + webhook)
}

// batches erases n batches of one item each, failing at fail once.
type batches struct {
	name    string
	n, fail int
	seen    []string
}

func (b *batches) Name() string { return b.name }
func (b *batches) Erase(_ context.Context, t Target, pos string) (Counts, string, error) {
	b.seen = append(b.seen, t.TenantID+"@"+pos)
	i := 0
	fmt.Sscan(pos, &i)
	if i == b.fail {
		b.fail = -1
		return Counts{}, "", errors.New("throttled")
	}
	if i+1 >= b.n {
		return Counts{Items: 1}, "", nil
	}
	return Counts{Items: 1, Objects: 1}, fmt.Sprint(i + 1), nil
}

func TestPlanTakesWhatTheConnectionHas(t *testing.T) {
	c := onboarding.Connection{
		Tenant: onboarding.Tenant{ID: "t1", KapsoCustomerID: "cus_1"},
		Attempts: []onboarding.Attempt{{SetupLinkID: "sl_old", Status: onboarding.AttemptSuperseded},
			{SetupLinkID: "sl_new", Status: onboarding.AttemptActive}},
		PhoneNumbers: []onboarding.PhoneNumber{{PhoneNumberID: "pn_1", WebhookID: "wh_1"}, {PhoneNumberID: "pn_2"}},
	}
	got := Plan(c, t0)
	want := Job{TenantID: "t1", Phase: PhaseKapso, RequestedAt: t0, UpdatedAt: t0, KapsoCustomerID: "cus_1",
		SetupLinks: []string{"sl_new"}, Webhooks: []Webhook{{"pn_1", "wh_1"}}, PhoneNumberIDs: []string{"pn_1", "pn_2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan\n got %+v\nwant %+v", got, want)
	}
	tomb := got.Tombstone(t0.Add(time.Hour))
	if tomb.KapsoCustomerID != "" || tomb.SetupLinks != nil || tomb.Webhooks != nil || tomb.PhoneNumberIDs != nil ||
		!tomb.Done() || tomb.TenantID != "t1" || !tomb.DeletedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("tombstone %+v", tomb)
	}
}

func TestRunResumesWhereAFailureLeftIt(t *testing.T) {
	ctx := context.Background()
	store := &jobs{byTenant: map[string]Job{}}
	k := &kapso{fail: map[string]error{"delete pn_1/wh_1": errs.E(errs.Unavailable, "kapso down", nil)}}
	first, last := &batches{name: "table", n: 3, fail: 1}, &batches{name: "tenant", n: 1, fail: -1}
	tenants := &facts{}
	r := &Runner{Store: store, Tenants: tenants, Kapso: k, Erasers: []Eraser{first, last}, Now: func() time.Time { return t0 }}
	j, _, _ := store.Start(ctx, Job{TenantID: "t1", Phase: PhaseKapso, RequestedAt: t0, KapsoCustomerID: "cus_1",
		SetupLinks: []string{"sl_1"}, Webhooks: []Webhook{{"pn_1", "wh_1"}, {"pn_2", "wh_2"}}, PhoneNumberIDs: []string{"pn_1"}})

	// Kapso fails: the job stays in its phase, the link it revoked is done.
	j, err := r.Run(ctx, j)
	if err == nil || j.Phase != PhaseKapso || len(j.SetupLinks) != 0 || j.Counts.LinksRevoked != 1 {
		t.Fatalf("after Kapso failed: %v, %+v", err, j)
	}
	// A 404 at Kapso is done; the eraser's failure stops at its position.
	k.fail["revoke cus_1/sl_1"] = nil
	k.fail["delete pn_2/wh_2"] = errs.E(errs.NotFound, "no such webhook", nil)
	j, err = r.Run(ctx, j)
	if err == nil || j.Phase != PhaseData || j.Eraser != 0 || j.Position != "1" {
		t.Fatalf("after the eraser failed: %v, %+v", err, j)
	}
	j, err = r.Run(ctx, j)
	if err != nil || !j.Done() {
		t.Fatalf("third run: %v, %+v", err, j)
	}
	wantCalls := []string{"revoke cus_1/sl_1", "delete pn_1/wh_1", "delete pn_1/wh_1", "delete pn_2/wh_2"}
	if !reflect.DeepEqual(k.calls, wantCalls) {
		t.Errorf("kapso calls %q, want %q", k.calls, wantCalls)
	}
	if want := []string{"t1@", "t1@1", "t1@1", "t1@2"}; !reflect.DeepEqual(first.seen, want) {
		t.Errorf("first eraser saw %q, want %q", first.seen, want)
	}
	if want := (Counts{LinksRevoked: 1, WebhooksDeleted: 2, Items: 4, Objects: 2}); j.Counts != want {
		t.Errorf("counts %+v, want %+v", j.Counts, want)
	}
	if j.PhoneNumberIDs != nil || j.KapsoCustomerID != "" || !j.DeletedAt.Equal(t0) {
		t.Errorf("tombstone %+v", j)
	}
	if stored := store.byTenant["t1"]; !reflect.DeepEqual(stored, j) {
		t.Errorf("stored %+v, returned %+v", stored, j)
	}
	// Every run in the Kapso phase marks the tenant deleting, at the same time.
	for _, f := range tenants.got {
		if f.Key() != onboarding.OffboardRequested(t0).Key() {
			t.Errorf("fact %+v", f)
		}
	}
	if len(tenants.got) != 2 {
		t.Errorf("%d facts, want one for each run that began in the Kapso phase", len(tenants.got))
	}
	// Done stays done.
	if again, err := r.Run(ctx, j); err != nil || !reflect.DeepEqual(again, j) || len(k.calls) != 4 {
		t.Errorf("a finished job ran again: %v, %+v", err, again)
	}
}

func TestARunnerWithoutErasersStopsAtTheData(t *testing.T) {
	ctx := context.Background()
	store := &jobs{byTenant: map[string]Job{}}
	r := &Runner{Store: store, Tenants: &facts{}, Kapso: &kapso{}, Now: func() time.Time { return t0 }}
	j, _, _ := store.Start(ctx, Job{TenantID: "t1", Phase: PhaseKapso, RequestedAt: t0, SetupLinks: []string{"sl_1"}})
	j, err := r.Run(ctx, j)
	if err != nil || j.Phase != PhaseData || j.Counts.LinksRevoked != 1 {
		t.Fatalf("run: %v, %+v", err, j)
	}
	if again, err := r.Run(ctx, j); err != nil || !reflect.DeepEqual(again, j) {
		t.Errorf("run again: %v, %+v", err, again)
	}
}

type marks struct{ got []string }

func (m *marks) OffboardNumber(_ context.Context, number, tenant string) error {
	m.got = append(m.got, tenant+"/"+number)
	return nil
}

// The numbers are marked at the start; the data waits for Settle.
func TestRunMarksTheNumbersAndLetsTheWorkersSettle(t *testing.T) {
	ctx := context.Background()
	store := &jobs{byTenant: map[string]Job{}}
	now := t0
	m := &marks{}
	erased := &batches{name: "table", n: 1, fail: -1}
	r := &Runner{Store: store, Tenants: &facts{}, Kapso: &kapso{}, Numbers: m, Settle: time.Minute,
		Erasers: []Eraser{erased}, Now: func() time.Time { return now }}
	j, _, _ := store.Start(ctx, Job{TenantID: "t1", Phase: PhaseKapso, RequestedAt: t0, PhoneNumberIDs: []string{"pn_1", "pn_2"}})
	j, err := r.Run(ctx, j)
	if err != nil || j.Phase != PhaseData || len(erased.seen) != 0 {
		t.Fatalf("within Settle: %v, %+v, erased %q", err, j, erased.seen)
	}
	if want := []string{"t1/pn_1", "t1/pn_2"}; !reflect.DeepEqual(m.got, want) {
		t.Errorf("marked %q, want %q", m.got, want)
	}
	now = t0.Add(time.Minute)
	if j, err = r.Run(ctx, j); err != nil || !j.Done() || len(erased.seen) != 1 {
		t.Fatalf("after Settle: %v, %+v", err, j)
	}
}
