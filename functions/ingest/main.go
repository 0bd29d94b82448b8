// Command ingest is the Lambda behind POST /webhooks/kapso,
// /webhooks/kapso/{phone_number_id} and /webhooks/meta/{phone_number_id}.
package main

import (
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/ingestapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx, b := app.Boot(config.Ingest)
	h, err := ingestapp.Handler(ctx, b, ingestapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambdahttp.Start(h)
}
