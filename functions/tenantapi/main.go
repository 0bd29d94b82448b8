// Command setuplinks is the Lambda behind POST /v1/tenants/{tenant_id}/setup-links
// and GET /v1/tenants/{tenant_id}/connection.
package main

import (
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/tenantapiapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdahttp"
)

func main() {
	ctx, b := app.Boot(config.TenantAPI)
	h, err := tenantapiapp.Handler(ctx, b, tenantapiapp.NewClients(b.AWS))
	if err != nil {
		app.Fail(b, err)
	}
	lambdahttp.Start(h)
}
