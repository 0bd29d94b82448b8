// Command sender is the Lambda consuming the outbound queue: it sends each
// message through Kapso's Meta proxy once, reporting partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/outboundapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	ctx, b := app.Boot(config.Outbound)
	w, err := outboundapp.Worker(ctx, b, outboundapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(w.Handle)
}
