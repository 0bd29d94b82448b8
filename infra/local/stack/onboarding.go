package stack

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// mountOnboarding serves the /v1 API, the redirects and the app page, and
// starts the lifecycle queue's poller and the reconciler's ticker.
func (s *Stack) mountOnboarding(runCtx, ctx context.Context, mux *http.ServeMux, deps app.Deps, log *slog.Logger) error {
	tenantAPI, err := app.TenantAPI(ctx, deps)
	if err != nil {
		return err
	}
	redirects, err := app.Redirects(ctx, deps)
	if err != nil {
		return err
	}
	worker, err := app.LifecycleWorker(ctx, deps)
	if err != nil {
		return err
	}
	reconciler, err := app.Reconciler(ctx, deps)
	if err != nil {
		return err
	}
	every, err := deps.Env.Duration("RECONCILE_EVERY", time.Minute)
	if err != nil {
		return err
	}
	if s.Onboarding, err = deps.OnboardingStore(); err != nil {
		return err
	}

	mux.Handle("/v1/", tenantAPI)
	mux.Handle("/connect/", redirects)
	mux.Handle("GET /app/", appPage(s.Onboarding, log))
	mux.Handle("GET /{$}", http.RedirectHandler("/app/", http.StatusFound))

	s.poll(runCtx, schema.Lifecycle, worker.Handle, deps)
	s.every(runCtx, every, func(ctx context.Context) {
		// The deployed reconciler has 5 minutes; locally each run gets the period.
		ctx, cancel := context.WithTimeout(ctx, every)
		defer cancel()
		report, err := reconciler.Run(ctx)
		if err != nil {
			log.Error("reconcile", "err", fmt.Errorf("run: %w", err))
			return
		}
		log.Info("reconciled", "report", report)
	})
	return nil
}
