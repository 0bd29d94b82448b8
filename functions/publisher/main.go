// Command publisher is the Lambda consuming the bridge table's stream,
// reporting partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/publisherapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	ctx, b := app.Boot(config.Publisher)
	w, err := publisherapp.Worker(ctx, b, publisherapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(w.Handle)
}
