// Command eventwebhooks is the Lambda consuming the event-webhooks queue:
// it POSTs each event to the SaaS's webhook URL, signed, and holds back a
// failed one until its next attempt, reporting partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/eventwebhooksapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	ctx, b := app.Boot(config.EventWebhooks)
	w, err := eventwebhooksapp.Worker(ctx, b, eventwebhooksapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(w.Handle)
}
