package stack_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
)

// TestBadInputErasureRoutes feeds a person's routes (erase, an erasure's
// progress, export) what they must refuse: malformed and unknown tenant,
// number, contact and erasure ids, queries they do not take, and tokens
// without the route's scope. Nobody is erased and nothing changes in the
// tables or the queues.
func TestBadInputErasureRoutes(t *testing.T) {
	e := badInputEnv(t)
	notEraser := e.token(t, "bi-not-eraser", access.Read, access.Send, access.Onboard)
	notReader := e.token(t, "bi-not-reader", access.Send, access.Erase, access.Onboard)
	call := func(method, path string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult { return e.v1(t, method, path, "", nil) }
	}
	as := func(secret, method, path string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult {
			return e.v1(t, method, path, "", map[string]string{"Authorization": "Bearer " + secret})
		}
	}
	scope := func(s string) func(t *testing.T, r biResult) {
		return func(t *testing.T, r biResult) {
			want := `Bearer realm="kapso-bridge", error="insufficient_scope", scope="` + s + `"`
			if got := r.header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		}
	}
	const ana = "5215512345678" // a person who wrote to the number
	contact := func(tenant, number, who string) string {
		return "/v1/tenants/" + tenant + "/numbers/" + number + "/contacts/" + who
	}
	ours := func(who string) string { return contact(e.tenant, e.number, who) }
	erasure := func(tenant, id string) string { return "/v1/tenants/" + tenant + "/erasures/" + id }
	long := strings.Repeat("9", 300)
	var cases []biCase
	for _, r := range []struct {
		method, suffix string
	}{{http.MethodDelete, ""}, {http.MethodGet, "/export"}} {
		do := func(path string) func(t *testing.T) biResult { return call(r.method, path+r.suffix) }
		name := r.method + " contact" + r.suffix + ": "
		cases = append(cases,
			biCase{kind: name + "a tenant id with a space", send: do(contact("bi%20acme", e.number, ana)), status: 400, code: "invalid"},
			biCase{kind: name + "a tenant id with traversal", send: do(contact("..%2F"+e.tenant, e.number, ana)), status: 400, code: "invalid"},
			biCase{kind: name + "a tenant id too long", send: do(contact(strings.Repeat("a", 200), e.number, ana)), status: 400, code: "invalid"},
			biCase{kind: name + "a number id with a space", send: do(contact(e.tenant, "1%20"+e.number, ana)), status: 400, code: "invalid"},
			biCase{kind: name + "a number id not ASCII", send: do(contact(e.tenant, e.number+"%C3%A9", ana)), status: 400, code: "invalid"},
			biCase{kind: name + "a number id too long", send: do(contact(e.tenant, long, ana)), status: 400, code: "invalid"},
			biCase{kind: name + "a contact with a space", send: do(ours("%2B52%20155")), status: 400, code: "invalid"},
			biCase{kind: name + "a contact too long", send: do(ours(long)), status: 400, code: "invalid"},
			biCase{kind: name + "a query parameter", send: do(ours(ana) + "?force=1"), status: 400, code: "invalid"},
			biCase{kind: name + "an unknown tenant", send: do(contact("bi-nobody", e.number, ana)), status: 404, code: "not_found"},
			biCase{kind: name + "another tenant's number", send: do(contact(e.other, e.number, ana)), status: 404, code: "not_found"},
			biCase{kind: name + "an unknown number", send: do(contact(e.tenant, "999999999999999", ana)), status: 404, code: "not_found"},
			biCase{kind: name + "an unknown phone", send: do(ours("5215500000000")), status: 404, code: "not_found"},
			biCase{kind: name + "an unknown BSUID", send: do(ours("US.13491208655302741918")), status: 404, code: "not_found"},
		)
	}
	cases = append(cases,
		biCase{kind: "DELETE contact: neither a BSUID nor a phone", send: call(http.MethodDelete, ours("not-a-person")), status: 400, code: "invalid"},
		biCase{kind: "DELETE contact: a token without erase", send: as(notEraser, http.MethodDelete, ours(ana)),
			status: 403, code: "insufficient_scope", check: scope("erase")},
		biCase{kind: "GET export: a token without read", send: as(notReader, http.MethodGet, ours(ana)+"/export"),
			status: 403, code: "insufficient_scope", check: scope("read")},

		biCase{kind: "GET erasure: a tenant id with a space", send: call(http.MethodGet, erasure("bi%20acme", "era_1")), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: an id in capitals", send: call(http.MethodGet, erasure(e.tenant, "ERA_1")), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: an id without its prefix", send: call(http.MethodGet, erasure(e.tenant, "1234")), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: an id with a dash", send: call(http.MethodGet, erasure(e.tenant, "era_1-2")), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: an id too long", send: call(http.MethodGet, erasure(e.tenant, "era_"+strings.Repeat("a", 61))), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: an id with traversal", send: call(http.MethodGet, erasure(e.tenant, "..%2Fera_1")), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: a query parameter", send: call(http.MethodGet, erasure(e.tenant, "era_1")+"?verbose=1"), status: 400, code: "invalid"},
		biCase{kind: "GET erasure: an unknown erasure", send: call(http.MethodGet, erasure(e.tenant, "era_nothing")), status: 404, code: "not_found"},
		biCase{kind: "GET erasure: an unknown tenant", send: call(http.MethodGet, erasure("bi-nobody", "era_1")), status: 404, code: "not_found"},
		biCase{kind: "GET erasure: a token without erase", send: as(notEraser, http.MethodGet, erasure(e.tenant, "era_1")),
			status: 403, code: "insufficient_scope", check: scope("erase")},
	)
	e.run(t, cases)
}
