// Command setuplinks is the Lambda behind POST /v1/tenants/{tenant_id}/setup-links
// and GET /v1/tenants/{tenant_id}/connection.
package main

import (
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx, deps := app.Boot("setuplinks")
	h, err := app.TenantAPI(ctx, deps)
	if err != nil {
		app.Fail(deps, err)
	}
	lambdahttp.Start(h)
}
