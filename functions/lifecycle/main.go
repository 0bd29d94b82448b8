// Command lifecycle is the Lambda consuming the lifecycle queue, reporting
// partial batch failures.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
)

func main() {
	ctx, deps := app.Boot("lifecycle")
	w, err := app.LifecycleWorker(ctx, deps)
	if err != nil {
		app.Fail(deps, err)
	}
	lambda.Start(w.Handle)
}
