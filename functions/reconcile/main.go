// Command reconcile is the Lambda the EventBridge schedule runs.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/reconcileapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

func main() {
	ctx, b := app.Boot(config.Reconcile)
	r, err := reconcileapp.Reconciler(ctx, b, reconcileapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambda.Start(func(ctx context.Context) (reconcile.Report, error) { return r.Run(ctx) })
}
