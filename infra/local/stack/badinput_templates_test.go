package stack_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
)

// TestBadInputTemplateRoutes feeds the template routes what they must
// refuse (malformed bodies, drafts that break Meta's rules, ids and
// queries that are not theirs) and sends templates the stored templates
// say Meta would refuse: nothing changes in the tables or the queues, and
// neither a refused draft nor a refused send reaches Kapso.
func TestBadInputTemplateRoutes(t *testing.T) {
	e := badInputEnv(t)
	waba, err := e.s.Sim.BusinessAccountID(e.number)
	if err != nil {
		t.Fatal(err)
	}
	// The WABA's templates read, hello_world paused since: the stored
	// templates the send check judges by.
	if _, err := e.s.Sim.SetTemplateStatus(waba, "hello_world", "en_US", kapsosim.TemplateChange{Status: "PAUSED"}); err != nil {
		t.Fatal(err)
	}
	if r := e.v1(t, http.MethodPost, "/v1/tenants/"+e.tenant+"/templates/sync", "", nil); r.status != http.StatusOK {
		t.Fatalf("sync: %d %s", r.status, r.body)
	}
	creates, sends := e.s.Sim.ProxyCalls(kapsosim.RouteCreateTemplate), e.s.Sim.ProxyCalls(kapsosim.RouteSend)
	t.Cleanup(func() {
		if got := e.s.Sim.ProxyCalls(kapsosim.RouteCreateTemplate) - creates; got != 0 {
			t.Errorf("refused drafts reached Kapso %d times", got)
		}
		if got := e.s.Sim.ProxyCalls(kapsosim.RouteSend) - sends; got != 0 {
			t.Errorf("refused template sends reached Kapso %d times", got)
		}
	})
	list := "/v1/tenants/" + e.tenant + "/templates"
	get := func(path string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult { return e.v1(t, http.MethodGet, path, "", nil) }
	}
	post := func(path, body string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult { return e.v1(t, http.MethodPost, path, body, nil) }
	}
	draft := func(components string) string {
		return `{"name":"bi_notice","language":"en_US","category":"UTILITY","components":` + components + `}`
	}
	body := `[{"type":"BODY","text":"Your parcel {{1}} is on its way.","example":{"body_text":[["P-9"]]}}]`
	send := func(template string) func(t *testing.T) biResult {
		return func(t *testing.T) biResult {
			return e.v1(t, http.MethodPost, "/v1/tenants/"+e.tenant+"/messages",
				`{"to":"+5215512345678","type":"template","template":`+template+`}`, map[string]string{"Idempotency-Key": "bi-template"})
		}
	}
	names := func(want string) func(t *testing.T, r biResult) {
		return func(t *testing.T, r biResult) {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("the error does not say %q: %s", want, biClip(string(r.body)))
			}
		}
	}
	e.run(t, []biCase{
		{kind: "list: limit 0", send: get(list + "?limit=0"), status: 400, code: "invalid"},
		{kind: "list: a foreign cursor", send: get(list + "?cursor=" + e.convCursor), status: 400, code: "invalid_cursor"},
		{kind: "list: an unknown query parameter", send: get(list + "?state=APPROVED"), status: 400, code: "invalid"},
		{kind: "list: an unknown tenant", send: get("/v1/tenants/bi-nobody/templates"), status: 404, code: "not_found"},
		{kind: "list: a tenant id with traversal", send: get("/v1/tenants/..%2Fbi-acme/templates"), status: 400, code: "invalid"},
		{kind: "sync: an unknown tenant", send: post("/v1/tenants/bi-nobody/templates/sync", ""), status: 404, code: "not_found"},
		{kind: "sync: a tenant without a connected number", send: post("/v1/tenants/"+e.other+"/templates/sync", ""),
			status: 409, code: "conflict"},
		{kind: "create: body over the limit", send: post(list, draft(`[{"type":"BODY","text":"`+strings.Repeat("a", 64<<10)+`"}]`)),
			status: 413, code: "too_large"},
		{kind: "create: truncated JSON", send: post(list, `{"name":"bi_notice","langu`), status: 400, code: "invalid"},
		{kind: "create: null body", send: post(list, "null"), status: 400, code: "invalid"},
		{kind: "create: unknown field", send: post(list, strings.Replace(draft(body), `"category"`, `"status":"APPROVED","category"`, 1)),
			status: 400, code: "invalid"},
		{kind: "create: a name Meta refuses", send: post(list, strings.Replace(draft(body), "bi_notice", "BI Notice", 1)),
			status: 400, code: "invalid", check: names(`"message":"name: `)},
		{kind: "create: an unknown category", send: post(list, strings.Replace(draft(body), "UTILITY", "PROMOTION", 1)),
			status: 400, code: "invalid", check: names(`"message":"category: `)},
		{kind: "create: a parameter without its example", send: post(list, draft(`[{"type":"BODY","text":"Your parcel {{1}} is here."}]`)),
			status: 400, code: "invalid", check: names("components[0].example")},
		{kind: "create: a gap in the parameters", send: post(list,
			draft(`[{"type":"BODY","text":"Hi {{1}}, {{3}} today.","example":{"body_text":[["a","b"]]}}]`)),
			status: 400, code: "invalid", check: names("components[0].text")},
		{kind: "create: eleven buttons", send: post(list, draft(`[{"type":"BODY","text":"Pick"},{"type":"BUTTONS","buttons":[`+
			strings.TrimSuffix(strings.Repeat(`{"type":"QUICK_REPLY","text":"x"},`, 11), ",")+`]}]`)),
			status: 400, code: "invalid", check: names("components[1].buttons")},
		{kind: "create: a URL button to another scheme", send: post(list, draft(`[{"type":"BODY","text":"Go"},`+
			`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Open","url":"javascript:alert(1)"}]}]`)),
			status: 400, code: "invalid", check: names("components[1].buttons[0].url")},
		{kind: "create: a carousel", send: post(list, draft(`[{"type":"BODY","text":"Look"},{"type":"CAROUSEL","cards":[]}]`)),
			status: 400, code: "invalid"},
		{kind: "create: control characters in a text", send: post(list, draft(`[{"type":"BODY","text":"Hi\u0007 there"}]`)),
			status: 400, code: "invalid"},
		{kind: "create: a name and language the WABA has", send: post(list, strings.Replace(draft(body), "bi_notice", "order_update", 1)),
			status: 409, code: "conflict"},
		{kind: "create: a tenant without a connected number", send: post("/v1/tenants/"+e.other+"/templates", draft(body)),
			status: 409, code: "conflict"},
		{kind: "send: a paused template", send: send(`{"name":"hello_world","language":{"code":"en_US"}}`),
			status: 422, code: "template_not_sendable", check: names("is PAUSED")},
		{kind: "send: a template the WABA does not have", send: send(`{"name":"bi_unknown","language":{"code":"en_US"}}`),
			status: 422, code: "template_not_sendable", check: names("has no template bi_unknown")},
		{kind: "send: a language the template is not in", send: send(`{"name":"order_update","language":{"code":"pt_BR"}}`),
			status: 422, code: "template_not_sendable", check: names("has no pt_BR version")},
		{kind: "send: a parameter too few", send: send(`{"name":"order_update","language":{"code":"en_US"},"components":[` +
			`{"type":"header","parameters":[{"type":"text","text":"A-1"}]},{"type":"body","parameters":[{"type":"text","text":"Ana"}]},` +
			`{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1"}]}]}`),
			status: 422, code: "template_not_sendable", check: names("takes 2 parameters, the send gives 1")},
	})
}
