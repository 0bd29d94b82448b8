// Command lifecycle is the Lambda consuming the lifecycle queue, reporting
// partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/lifecycleapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	ctx, b := app.Boot(config.Lifecycle)
	w, err := lifecycleapp.Worker(ctx, b, lifecycleapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(w.Handle)
}
