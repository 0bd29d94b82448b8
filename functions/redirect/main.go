// Command redirect is the Lambda behind GET /connect/success and /connect/failure.
package main

import (
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/redirectapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx, b := app.Boot(config.Redirect)
	h, err := redirectapp.Handler(ctx, b, redirectapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambdahttp.Start(h)
}
