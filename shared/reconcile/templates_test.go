package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// countingKapso counts the reconciler's template readings.
type countingKapso struct {
	templates.Kapso
	lists int
}

func (k *countingKapso) ListTemplates(ctx context.Context, waba string) ([]templates.Read, error) {
	k.lists++
	return k.Kapso.ListTemplates(ctx, waba)
}

// A connected WABA's templates are read on the first run, not again until
// TemplateSyncInterval has passed, and then a template Meta paused is
// stored PAUSED with the change on its history.
func TestReconcilerReadsTemplatesOncePerInterval(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, kapsosim.Options{APIKey: "k"})
	store, kapso := &memstore.Templates{}, &countingKapso{Kapso: r.proxy}
	r.rec.Templates, r.rec.TemplateKapso, r.rec.TemplateSyncInterval = store, kapso, time.Hour
	number := r.connected(t, "acme")
	conn, _, err := r.store.Load(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := conn.PhoneNumber(number)
	waba := n.BusinessAccountID
	if waba == "" {
		t.Fatal("the connected number has no WABA")
	}

	rep := r.run(t, ctx)
	if rep.Templates.Checked != 1 || rep.Templates.Fixed != len(r.sim.Templates(waba)) || kapso.lists != 1 {
		t.Fatalf("first run: %+v after %d readings", rep.Templates, kapso.lists)
	}
	if _, err := r.sim.SetTemplateStatus(waba, "order_update", "en_US", kapsosim.TemplateChange{Status: templates.Paused}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(30 * time.Minute)
	if rep := r.run(t, ctx); rep.Templates.Checked != 0 || kapso.lists != 1 {
		t.Fatalf("within the interval: %+v after %d readings", rep.Templates, kapso.lists)
	}
	r.clock.Advance(31 * time.Minute)
	if rep := r.run(t, ctx); rep.Templates.Checked != 1 || rep.Templates.Fixed != 1 || kapso.lists != 2 {
		t.Fatalf("after the interval: %+v after %d readings", rep.Templates, kapso.lists)
	}
	got, ok, err := store.Template(ctx, "acme", templates.Key{BusinessAccountID: waba, Name: "order_update", Language: "en_US"})
	if err != nil || !ok || got.Status != templates.Paused || len(got.History) != 2 || got.History[1].Source != templates.SourceReconciler {
		t.Fatalf("order_update %+v %v %v", got, ok, err)
	}
}
