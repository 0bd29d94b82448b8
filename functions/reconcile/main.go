// Command reconcile is the Lambda the EventBridge schedule runs.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

func main() {
	ctx, deps := app.Boot("reconcile")
	r, err := app.Reconciler(ctx, deps)
	if err != nil {
		app.Fail(deps, err)
	}
	lambda.Start(func(ctx context.Context) (reconcile.Report, error) { return r.Run(ctx) })
}
