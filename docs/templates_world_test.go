package docs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// worldTemplates is Kapso's Meta proxy for the world's WABA 222: an
// approved order_update and a paused promo; a draft named refused_by_meta
// is refused as Meta refuses one.
type worldTemplates struct{ down bool }

func (k worldTemplates) ListTemplates(context.Context, string) ([]templates.Read, error) {
	if k.down {
		return nil, errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("connection refused"))
	}
	return []templates.Read{
		{ID: "1", Name: "order_update", Language: "en_US", Category: templates.Utility, Status: templates.Approved, QualityScore: "GREEN",
			Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}, your order ships today.","example":{"body_text":[["Ana"]]}}]`)},
		{ID: "2", Name: "promo", Language: "en_US", Category: templates.Marketing, Status: templates.Paused,
			Components: json.RawMessage(`[{"type":"BODY","text":"Sale"}]`)},
	}, nil
}

func (k worldTemplates) CreateTemplate(_ context.Context, _ string, d templates.Draft) (templates.Created, error) {
	switch {
	case k.down:
		return templates.Created{}, errs.E(errs.Unavailable, "Kapso is unavailable; retry", errors.New("connection refused"))
	case d.Name == "refused_by_meta":
		return templates.Created{}, errs.E(errs.Unprocessable, "Kapso or Meta refused the template: Invalid parameter", nil)
	}
	return templates.Created{ID: "3", Status: templates.Pending, Category: d.Category}, nil
}

// downTemplates fails every call, as DynamoDB does when it is down.
type downTemplates struct{}

func (downTemplates) Catalog(context.Context, string) (templates.Catalog, error) {
	return templates.Catalog{}, errors.New("dynamodb down")
}

func (downTemplates) Template(context.Context, string, templates.Key) (templates.Template, bool, error) {
	return templates.Template{}, false, errors.New("dynamodb down")
}

func (downTemplates) SaveTemplates(context.Context, string, []templates.Template, *templates.SyncMark) error {
	return errors.New("dynamodb down")
}

// templateDraft is a template Meta's rules accept.
var templateDraft = []byte(`{"name":"shipping_notice","language":"en_US","category":"UTILITY","components":[` +
	`{"type":"BODY","text":"Your parcel {{1}} is on its way.","example":{"body_text":[["P-9"]]}}]}`)

// templateRequests are the situations of a tenant's templates, and of a
// send the stored template refuses.
func templateRequests() []request {
	list := "/v1/tenants/" + tenant + "/templates"
	get := func(name, path string, want int, invalid bool) request {
		return request{name: name, method: "GET", path: path, header: auth, want: want, invalid: invalid}
	}
	post := func(name, path string, body []byte, want int, invalid bool) request {
		return request{name: name, method: "POST", path: path, header: auth, body: body, want: want, invalid: invalid}
	}
	with := func(name string) []byte {
		return []byte(strings.Replace(string(templateDraft), "shipping_notice", name, 1))
	}
	send := "/v1/tenants/" + tenant + "/messages"
	downSync := post("Kapso failing", list+"/sync", nil, 502, false)
	downSync.on = kapsoDown
	downCreate := post("Kapso failing", list, with("during_an_outage"), 502, false)
	downCreate.on = kapsoDown
	return []request{
		get("before any reading", list, 200, false),
		post("read now", list+"/sync", nil, 200, false),
		get("as last read", list, 200, false),
		get("the paused ones, a page of one", list+"?status=PAUSED&limit=1", 200, false),
		get("not a cursor", list+"?cursor=not-a-cursor", 400, false),
		get("an unknown query parameter", list+"?order=desc", 400, true),
		get("an unknown tenant", "/v1/tenants/nobody/templates", 404, false),
		post("a tenant with no connected number", "/v1/tenants/zeta/templates/sync", nil, 409, false),
		post("an unknown tenant", "/v1/tenants/nobody/templates/sync", nil, 404, false),
		downSync,
		post("a template Meta's rules accept", list, templateDraft, 201, false),
		post("the same name and language again", list, templateDraft, 409, false),
		post("a parameter without its example", list,
			[]byte(strings.Replace(string(templateDraft), `,"example":{"body_text":[["P-9"]]}`, "", 1)), 400, false),
		post("an unknown field", list, []byte(strings.Replace(string(templateDraft), `"category"`, `"kind":"x","category"`, 1)), 400, true),
		post("a template Meta refuses", list, with("refused_by_meta"), 422, false),
		post("over 64 KiB", list, []byte(`{"name":"`+strings.Repeat("a", 64<<10)+`"}`), 413, true),
		post("an unknown tenant", "/v1/tenants/nobody/templates", templateDraft, 404, false),
		post("a tenant with no connected number", "/v1/tenants/zeta/templates", templateDraft, 409, false),
		downCreate,
		{name: "a paused template", method: "POST", path: send, header: keyed(auth, "key-paused"), want: 422,
			body: []byte(`{"to":"15550004444","type":"template","template":{"name":"promo","language":{"code":"en_US"}}}`)},
		{name: "a template with a parameter too few", method: "POST", path: send, header: keyed(auth, "key-params"), want: 422,
			body: []byte(`{"to":"15550004444","type":"template","template":{"name":"order_update","language":{"code":"en_US"}}}`)},
	}
}

// templateRouteBody is the body a template route's generic requests carry,
// so that they keep the document's rules.
func templateRouteBody(r routes.Route) []byte {
	if r == routes.CreateTemplate {
		return templateDraft
	}
	return nil
}
