package app

import (
	"context"
	"os"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// Boot reads the environment and builds the AWS clients for a Lambda's
// cold start. A function that cannot start logs why and exits, so the
// failure shows in its logs and its error metric.
func Boot(function string) (context.Context, Deps) {
	ctx := context.Background()
	env := config.OS()
	log := env.Logger(function)
	cfg, err := config.AWS(ctx)
	if err != nil {
		Fail(Deps{Log: log}, err)
	}
	return ctx, NewDeps(env, cfg, log)
}

// Fail logs a start-up error and exits.
func Fail(d Deps, err error) {
	d.Log.Error("cannot start", "err", err)
	os.Exit(1)
}
