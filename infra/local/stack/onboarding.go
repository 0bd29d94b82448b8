package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/lifecycleapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/reconcileapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/redirectapp"
	"github.com/kapso-bridge/kapso-bridge/shared/app/tenantapiapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// mountOnboarding serves the /v1 API, the redirects and the app page, and
// starts the lifecycle queue's poller and the reconciler's ticker, each
// built by its function's own wiring.
func (s *Stack) mountOnboarding(runCtx, ctx context.Context, mux *http.ServeMux, b app.Base, c clients) error {
	api, err := tenantapiapp.New(ctx, b, tenantapiapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs, S3: c.s3})
	if err != nil {
		return err
	}
	tenantAPI := http.NewServeMux()
	api.Register(tenantAPI)
	redirects, err := redirectapp.Handler(ctx, b, redirectapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs})
	if err != nil {
		return err
	}
	worker, err := lifecycleapp.Worker(ctx, b, lifecycleapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs})
	if err != nil {
		return err
	}
	reconciler, err := reconcileapp.Reconciler(ctx, b, reconcileapp.Clients{Clients: lifecycleapp.Clients{DynamoDB: c.dynamoDB, SQS: c.sqs}, S3: c.s3})
	if err != nil {
		return err
	}
	// The local stack's tests settle the queues before a pass, and its
	// messages worker caches no number's tenant (stack.go): its
	// offboardings need not wait for the workers' caches.
	reconciler.Offboard.Settle = 0
	every, err := b.Env.Duration(config.ReconcileEvery)
	if err != nil {
		return err
	}
	s.Onboarding = &dynamo.Onboarding{DB: c.dynamoDB, Table: s.Tables[schema.Bridge.ID]}

	mount(mux, tenantAPI, routes.TenantAPI)
	mount(mux, redirects, routes.Redirects)
	msgs := &dynamo.Messages{DB: c.dynamoDB, Table: s.Tables[schema.Bridge.ID]}
	feed := &dynamo.Feed{DB: c.dynamoDB, Table: s.Tables[schema.Events.ID]}
	// The app page links media as the API does, with the API's own bucket,
	// uploads and URL lifetime.
	links := tenantapi.MediaLinks{Objects: api.Objects, Uploads: api.Uploads, TTL: api.MediaURLTTL}
	mux.Handle("GET /app/", appPage(s.Onboarding, msgs, links, feed, s.SimURL, s.guard, b.Log))
	// The page's send forms call the API through the mux itself, so they
	// reach the send route whichever function's handler is mounted for it.
	// A form posted from another site is refused: the local server holds
	// the bearer token for the browser.
	mux.Handle("POST "+sendMessagePath, sendForm(mux, b.Env.Value(config.BridgeAPIToken), s.guard, b.Log))
	mux.Handle("GET /{$}", indexPage(s.Onboarding, s.SimURL, b.Log))

	s.poll(runCtx, schema.Lifecycle, worker.Handle, c, b.Log)
	// One run at a time, as the deployed function's reserved concurrency of
	// one makes it: the ticker and make reconcile share the lock.
	var running sync.Mutex
	run := func(ctx context.Context) (reconcile.Report, error) {
		running.Lock()
		defer running.Unlock()
		// The deployed reconciler has 5 minutes; locally a run gets the period,
		// but at least 30 s: the reconciler stops 2 s before its deadline, so a
		// shorter run (tests tick every 2 s) would do nothing at all.
		ctx, cancel := context.WithTimeout(ctx, max(every, 30*time.Second))
		defer cancel()
		return reconciler.Run(ctx) // it logs its own report
	}
	s.every(runCtx, every, func(ctx context.Context) {
		if _, err := run(ctx); err != nil {
			b.Log.Error("reconcile", "err", fmt.Errorf("run: %w", err))
		}
	})
	// make reconcile: one pass now, its report as the answer. Only the local
	// server has this route; it is no API Gateway route.
	mux.Handle("POST "+ReconcilePath, sameOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		report, err := run(r.Context())
		out := map[string]any{"report": report}
		status := http.StatusOK
		if err != nil {
			out["error"] = err.Error()
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	})))
	return nil
}

// ReconcilePath is the local server's route that runs one reconciler pass.
const ReconcilePath = "/_dev/reconcile"
