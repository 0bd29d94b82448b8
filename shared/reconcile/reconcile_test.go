package reconcile_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/awstest"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/lifecycle"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// rig is a store, a simulated Kapso and the lifecycle worker the
// reconciler confirms through.
type rig struct {
	sim    *kapsosim.Simulator
	client *kapsoapi.Client
	store  *dynamo.Onboarding
	rec    *reconcile.Reconciler
}

func newRig(t *testing.T, opts kapsosim.Options) *rig {
	t.Helper()
	tables := awstest.Tables(t)
	db := awstest.DynamoDB(t)
	sim := kapsosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	client := kapsoapi.New(srv.URL+"/platform/v1", opts.APIKey, kapsoapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	store := &dynamo.Onboarding{DB: db, Table: awstest.Bridge(tables)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	worker := &lifecycle.Worker{Store: store, Kapso: client, Secrets: &dynamo.WebhookSecrets{DB: db, Table: store.Table},
		PublicBaseURL: "https://bridge.example", Log: log}
	return &rig{sim: sim, client: client, store: store,
		rec: &reconcile.Reconciler{Store: store, Kapso: client, Confirmer: worker, Log: log}}
}

func TestReconcilerExpiresAndConfirms(t *testing.T) {
	ctx := context.Background()
	// A project webhook URL that would receive the connection event; the
	// drop mode loses it, as an outage past Kapso's retries would.
	r := newRig(t, kapsosim.Options{APIKey: "k", ProjectWebhookURL: "http://127.0.0.1:1/webhooks/kapso"})
	r.sim.SetWebhookMode(kapsosim.ModeDrop)
	sim, client, store, rec := r.sim, r.client, r.store, r.rec

	// A stale link, created long ago and never used.
	past := time.Now().Add(-40 * 24 * time.Hour)
	_ = store.EnsureTenant(ctx, "stale", "")
	if _, err := store.RecordLink(ctx, "stale", onboarding.LinkDetails{SetupLinkID: "old-link", CreatedAt: past,
		ExpiresAt: past.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// A tenant who finished signup; the redirect was seen before Kapso listed
	// the number, and the webhook was dropped.
	customer, err := store.EnsureCustomer(ctx, "waiting", "", func(ctx context.Context) (string, error) {
		c, err := client.CreateCustomer(ctx, "Waiting", "waiting")
		return c.ID, err
	})
	if err != nil {
		t.Fatal(err)
	}
	link, err := client.CreateSetupLink(ctx, customer, kapsoapi.SetupLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RecordLink(ctx, "waiting", onboarding.LinkDetails{SetupLinkID: link.ID, CreatedAt: link.CreatedAt,
		ExpiresAt: link.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	_, number, err := sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	redirect := onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: link.ID, PhoneNumberID: number}, time.Now())
	if _, _, err := store.AppendFact(ctx, "waiting", redirect); err != nil {
		t.Fatal(err)
	}

	report, err := rec.Run(ctx)
	if err != nil || report.LinksExpired != 1 || report.NumbersConfirmed != 1 || report.Errors != 0 {
		t.Fatalf("report %+v %v", report, err)
	}
	stale, _, _ := store.Load(ctx, "stale")
	if stale.Tenant.Status != onboarding.TenantExpired || stale.Attempts[0].Status != onboarding.AttemptExpired {
		t.Fatalf("stale tenant: %s %+v", stale.Tenant.Status, stale.Attempts)
	}
	waiting, _, _ := store.Load(ctx, "waiting")
	n, _ := waiting.PhoneNumber(number)
	if waiting.Tenant.Status != onboarding.TenantConnected || !n.WebhookRegistered || len(sim.Webhooks(number)) != 1 ||
		n.ConfirmedBy[0] != onboarding.SourceAPI {
		t.Fatalf("waiting tenant: %s %+v", waiting.Tenant.Status, n)
	}

	// A second run finds nothing left to do.
	report, err = rec.Run(ctx)
	if err != nil || report.LinksExpired != 0 || report.NumbersConfirmed != 0 || report.WebhooksChecked != 0 {
		t.Fatalf("second report %+v %v", report, err)
	}
}

// A number left without a webhook (registration failed at the time) is
// registered by the next run.
func TestReconcilerRegistersMissingWebhooks(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, kapsosim.Options{APIKey: "k"})
	sim, client, store := r.sim, r.client, r.store
	customer, _ := store.EnsureCustomer(ctx, "acme", "", func(ctx context.Context) (string, error) {
		c, err := client.CreateCustomer(ctx, "Acme", "acme")
		return c.ID, err
	})
	link, _ := client.CreateSetupLink(ctx, customer, kapsoapi.SetupLinkOptions{})
	_, number, err := sim.CompleteLink(link.ID, "dedicated")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutPhoneNumber(ctx, "acme", dynamo.PhoneDetails{PhoneNumberID: number}); err != nil {
		t.Fatal(err)
	}
	report, err := r.rec.Run(ctx)
	if err != nil || report.WebhooksChecked != 1 || len(sim.Webhooks(number)) != 1 {
		t.Fatalf("report %+v %v, webhooks %d", report, err, len(sim.Webhooks(number)))
	}
	if item, _, _ := store.PhoneNumber(ctx, number); !item.WebhookRegistered || item.Secret == "" {
		t.Fatalf("item %+v", item)
	}
}
