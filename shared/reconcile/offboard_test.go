package reconcile_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// offboardKapso takes links and webhooks away, or fails while down.
type offboardKapso struct{ down bool }

func (k *offboardKapso) RevokeSetupLink(context.Context, string, string) (onboarding.SetupLink, error) {
	if k.down {
		return onboarding.SetupLink{}, errs.E(errs.Unavailable, "kapso down", errors.New("refused"))
	}
	return onboarding.SetupLink{}, nil
}

func (k *offboardKapso) DeleteWebhook(context.Context, string, string) error {
	if k.down {
		return errs.E(errs.Unavailable, "kapso down", errors.New("refused"))
	}
	return nil
}

// The reconciler finishes the offboardings the tenant API started, counts
// them, and leaves a failed one for its next run.
func TestReconcilerFinishesOffboardings(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	store, numbers := &memstore.Onboarding{}, &memstore.Numbers{}
	for _, id := range []string{"acme", "beta"} {
		if err := store.EnsureTenant(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		if err := numbers.AddNumber(ctx, id, "pn-"+id); err != nil {
			t.Fatal(err)
		}
		if err := numbers.WebhookRecorded(ctx, "pn-"+id); err != nil {
			t.Fatal(err)
		}
	}
	jobs := &memstore.Offboardings{}
	kapso := &offboardKapso{down: true}
	runner := &offboarding.Runner{Store: jobs, Tenants: store, Kapso: kapso,
		Erasers: memstore.Erasers(store, numbers, nil, nil, nil, nil, nil, nil), Now: func() time.Time { return now }}
	// The tenant API's part: acme's job started, Kapso's webhook still to delete.
	job := offboarding.Job{TenantID: "acme", Phase: offboarding.PhaseKapso, RequestedAt: now, UpdatedAt: now,
		Webhooks: []offboarding.Webhook{{PhoneNumberID: "pn-acme", WebhookID: "wh"}}, PhoneNumberIDs: []string{"pn-acme"}}
	if _, _, err := jobs.Start(ctx, job); err != nil {
		t.Fatal(err)
	}
	rec := &reconcile.Reconciler{Store: store, Numbers: numbers, Kapso: &listingKapso{}, Checkpoints: &memstore.Checkpoints{},
		Offboard: runner, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		Limits: reconcile.Limits{KapsoPerMinute: 1 << 30}}

	rep, _ := rec.Run(ctx)
	if rep.Offboardings != (reconcile.Counts{Checked: 1, Found: 1}) || rep.Errors == 0 {
		t.Fatalf("with Kapso down: %+v, %d errors", rep.Offboardings, rep.Errors)
	}
	if c, _, _ := store.Load(ctx, "acme"); c.Tenant.Status != onboarding.TenantDeleting {
		t.Errorf("acme is %s while its offboarding waits", c.Tenant.Status)
	}
	kapso.down = false
	rep, err := rec.Run(ctx)
	if err != nil || rep.Offboardings != (reconcile.Counts{Checked: 1, Found: 1, Fixed: 1}) {
		t.Fatalf("once Kapso is back: %v, %+v", err, rep.Offboardings)
	}
	if _, found, _ := store.Load(ctx, "acme"); found {
		t.Error("acme is still there")
	}
	if _, found, _ := numbers.TenantOfPhoneNumber(ctx, "pn-acme"); found {
		t.Error("acme's number is still there")
	}
	if c, found, _ := store.Load(ctx, "beta"); !found || c.Tenant.Status == onboarding.TenantDeleting {
		t.Error("beta was touched")
	}
	if tomb, ok, _ := jobs.Job(ctx, "acme"); !ok || !tomb.Done() {
		t.Errorf("tombstone %+v", tomb)
	}
	rep, _ = rec.Run(ctx)
	if rep.Offboardings != (reconcile.Counts{}) {
		t.Errorf("a finished offboarding worked on again: %+v", rep.Offboardings)
	}
}
