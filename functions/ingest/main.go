// Command ingest is the Lambda behind POST /webhooks/kapso,
// /webhooks/kapso/{phone_number_id} and /webhooks/meta/{phone_number_id}.
package main

import (
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx, deps := app.Boot("ingest")
	h, err := app.Ingest(ctx, deps)
	if err != nil {
		app.Fail(deps, err)
	}
	lambdahttp.Start(h)
}
