// Command redirect is the Lambda behind GET /connect/success and /connect/failure.
package main

import (
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx, deps := app.Boot("redirect")
	h, err := app.Redirects(ctx, deps)
	if err != nil {
		app.Fail(deps, err)
	}
	lambdahttp.Start(h)
}
