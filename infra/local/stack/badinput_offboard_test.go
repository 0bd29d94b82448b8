package stack_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInputOffboardRoute feeds DELETE /v1/tenants/{tenant_id} what it
// must refuse (malformed and unknown tenant ids, queries it does not take,
// no token): nothing changes in the tables or the queues, and no tenant
// starts deleting.
func TestBadInputOffboardRoute(t *testing.T) {
	e := badInputEnv(t)
	del := func(path string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult { return e.v1(t, http.MethodDelete, path, "", nil) }
	}
	e.run(t, []biCase{
		{kind: "an unknown tenant", send: del("/v1/tenants/bi-nobody"), status: 404, code: "not_found"},
		{kind: "a tenant id with traversal", send: del("/v1/tenants/..%2F" + e.tenant), status: 400, code: "invalid"},
		{kind: "a tenant id with a space", send: del("/v1/tenants/bi%20acme"), status: 400, code: "invalid"},
		{kind: "a tenant id with '#'", send: del("/v1/tenants/bi%23acme"), status: 400, code: "invalid"},
		{kind: "a tenant id too long", send: del("/v1/tenants/" + strings.Repeat("a", 200)), status: 400, code: "invalid"},
		{kind: "a query parameter", send: del("/v1/tenants/" + e.tenant + "?force=true"), status: 400, code: "invalid"},
		{kind: "another tenant's id as a query", send: del("/v1/tenants/" + e.tenant + "?tenant_id=" + e.other), status: 400, code: "invalid"},
	})
}
