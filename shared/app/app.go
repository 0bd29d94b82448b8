// Package app is what every function's wiring starts from: the settings,
// the logger and the AWS SDK configuration, read once at cold start. Each
// function's own wiring is in the package next to it (ingestapp,
// setuplinksapp, redirectapp, lifecycleapp, reconcileapp), which its Lambda
// main and the local stack both call, so a function links only what it uses
// and the local stack runs the very wiring that is deployed.
package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// Base is what every function's wiring starts from.
type Base struct {
	Env config.Env
	Log *slog.Logger
	// AWS is the SDK configuration the function's clients are built from.
	AWS aws.Config
}

// Boot reads the environment and the AWS SDK configuration for a Lambda's
// cold start. A function that cannot start logs why and exits, so the
// failure shows in its logs and its error metric.
func Boot(fn config.Function) (context.Context, Base) {
	ctx := context.Background()
	env := config.OS()
	b := Base{Env: env, Log: env.Logger(string(fn))}
	cfg, err := config.AWS(ctx)
	if err != nil {
		Fail(b, err)
	}
	b.AWS = cfg
	return ctx, b
}

// Fail logs a start-up error and exits.
func Fail(b Base, err error) {
	b.Log.Error("cannot start", "err", err)
	os.Exit(1)
}
