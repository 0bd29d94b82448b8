// Command ingest is the Lambda behind POST /webhooks/kapso,
// /webhooks/kapso/{phone_number_id} and /webhooks/meta/{phone_number_id}.
package main

import (
	"context"
	"os"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx := context.Background()
	env := config.OS()
	log := env.Logger("ingest")
	cfg, err := config.AWS(ctx)
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	h, err := app.Ingest(ctx, app.NewDeps(env, cfg, log))
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	lambdahttp.Start(h)
}
