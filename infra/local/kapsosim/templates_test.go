package kapsosim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// templatesPath is the Meta proxy's template list of a WABA, with query.
func templatesPath(waba, query string) string {
	p := "/meta/whatsapp/v24.0/" + waba + "/message_templates"
	if query != "" {
		p += "?" + query
	}
	return p
}

// templatePage lists one page of the WABA's templates: the names in it,
// its items and its paging.
func (h *harness) templatePage(waba, query string) ([]string, []map[string]any, map[string]any) {
	h.t.Helper()
	items, paging := h.list(templatesPath(waba, query))
	var names []string
	for _, it := range items {
		names = append(names, fmt.Sprintf("%v/%v", it["name"], it["language"]))
	}
	return names, items, paging
}

// createTemplate posts a template to the WABA through the Meta proxy.
func (h *harness) createTemplate(waba, name, language, status string) map[string]any {
	h.t.Helper()
	st, out := h.call("POST", templatesPath(waba, ""), map[string]any{"name": name, "language": language, "category": "MARKETING",
		"components": []map[string]any{{"type": "BODY", "text": "Sale on " + name}}})
	if st != http.StatusOK || out["status"] != TemplatePending || out["category"] != "MARKETING" || out["id"] == "" {
		h.t.Fatalf("create %s: %d %v", name, st, out)
	}
	if status != "" {
		if _, err := h.sim.SetTemplateStatus(waba, name, language, TemplateChange{Status: status}); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

func connectedWABA(t *testing.T, h *harness) (pnid, waba string) {
	t.Helper()
	pnid = connected(t, h, newReceiver(t, 200))
	waba, err := h.sim.BusinessAccountID(pnid)
	if err != nil || waba == "" {
		t.Fatalf("business account of %s: %q %v", pnid, waba, err)
	}
	return pnid, waba
}

// A new number's WABA holds the two seeded templates, APPROVED, in Meta's
// shape, each keeping Meta's rules as kapso-bridge checks them.
func TestSeededTemplates(t *testing.T) {
	h := newHarness(t, Options{})
	_, waba := connectedWABA(t, h)
	names, items, _ := h.templatePage(waba, "fields=id,name,language,status,category,components,quality_score,rejected_reason,parameter_format")
	if strings.Join(names, " ") != "order_update/en_US hello_world/en_US" {
		t.Fatalf("templates %v", names)
	}
	for _, it := range items {
		q, _ := it["quality_score"].(map[string]any)
		if it["status"] != "APPROVED" || it["category"] != "UTILITY" || q["score"] != "GREEN" || it["rejected_reason"] != "NONE" ||
			it["parameter_format"] != "POSITIONAL" || it["id"] == "" {
			t.Errorf("template %v", it)
		}
		raw, _ := json.Marshal(it["components"])
		d := templates.Draft{Name: it["name"].(string), Language: it["language"].(string), Category: "UTILITY", Components: raw}
		if ferr := d.Check(); ferr != nil {
			t.Errorf("%s breaks a rule: %v", d.Name, ferr)
		}
	}
	order := mustJSON(t, items[0]["components"])
	for _, want := range []string{`"text":"Order {{1}}"`, `"header_text":["#4417"]`, `"text":"Hi {{1}}, your order {{2}} ships today."`,
		`"url":"https://shop.example.com/orders/{{1}}"`} {
		if !strings.Contains(order, want) {
			t.Errorf("order_update components %s lack %s", order, want)
		}
	}
	if hello := mustJSON(t, items[1]["components"]); strings.Contains(hello, "{{") || !strings.Contains(hello, `"type":"BODY"`) {
		t.Errorf("hello_world components %s", hello)
	}
	if got := h.sim.Templates(waba); len(got) != 2 {
		t.Errorf("Templates = %+v", got)
	}
	if ts := h.sim.Templates("nope"); ts != nil {
		t.Errorf("an unknown WABA has %v", ts)
	}
}

// The list pages by Graph cursors, newest first, 20 by default; each
// template has Meta's default fields unless fields names others.
func TestTemplateListPages(t *testing.T) {
	h := newHarness(t, Options{})
	_, waba := connectedWABA(t, h)
	for i := range 20 {
		h.createTemplate(waba, fmt.Sprintf("promo_%02d", i), "es", "")
	}
	names, items, paging := h.templatePage(waba, "")
	if len(names) != 20 || names[0] != "promo_19/es" || names[19] != "promo_00/es" {
		t.Fatalf("first page %v", names)
	}
	if _, ok := items[0]["quality_score"]; ok || items[0]["components"] == nil || items[0]["status"] != "PENDING" {
		t.Errorf("default fields %v", items[0])
	}
	next, _ := paging["next"].(string)
	u, err := url.Parse(next)
	if err != nil || !strings.HasPrefix(next, h.srv.URL+templatesPath(waba, "")) || u.Query().Get("after") == "" {
		t.Fatalf("next %q", next)
	}
	names, _, paging = h.templatePage(waba, u.RawQuery)
	if strings.Join(names, " ") != "order_update/en_US hello_world/en_US" || paging["next"] != "" {
		t.Errorf("last page %v %v", names, paging)
	}
	// Back from the last page: the 20 before it.
	before := paging["cursors"].(map[string]any)["before"].(string)
	if names, _, _ := h.templatePage(waba, "limit=2&before="+url.QueryEscape(before)); strings.Join(names, " ") != "promo_01/es promo_00/es" {
		t.Errorf("before %v", names)
	}
	// Only id and the fields asked, those Meta has.
	_, items, _ = h.templatePage(waba, "limit=1&fields=name,quality_score,nothing")
	q, _ := items[0]["quality_score"].(map[string]any)
	if len(items) != 1 || len(items[0]) != 3 || items[0]["name"] != "promo_19" || q["score"] != "UNKNOWN" || q["date"] == nil {
		t.Errorf("fields %v", items)
	}
	if st, out := h.call("GET", templatesPath(waba, "limit=0"), nil); st != http.StatusUnprocessableEntity {
		t.Errorf("limit 0: %d %v", st, out)
	}
	if st, out := h.call("GET", templatesPath(waba, "after=%21"), nil); st != http.StatusUnprocessableEntity {
		t.Errorf("bad cursor: %d %v", st, out)
	}
}

func TestTemplateListFilters(t *testing.T) {
	h := newHarness(t, Options{})
	_, waba := connectedWABA(t, h)
	h.createTemplate(waba, "order_update", "pt_BR", "")
	h.createTemplate(waba, "promo", "en_US", "REJECTED")
	for query, want := range map[string]string{
		"name=order_update":          "order_update/pt_BR order_update/en_US",
		"name=order":                 "",
		"language=en_US":             "promo/en_US order_update/en_US hello_world/en_US",
		"status=PENDING":             "order_update/pt_BR",
		"status=approved":            "order_update/en_US hello_world/en_US",
		"category=MARKETING":         "promo/en_US order_update/pt_BR",
		"status=REJECTED&name=promo": "promo/en_US",
	} {
		if names, _, _ := h.templatePage(waba, query); strings.Join(names, " ") != want {
			t.Errorf("%s: %v, want %s", query, names, want)
		}
	}
}

// A new template waits PENDING; Meta refuses a duplicate, a template
// without a name, language, category or components, and an unknown WABA,
// each with its error object, and nothing is made.
func TestTemplateCreation(t *testing.T) {
	h := newHarness(t, Options{})
	_, waba := connectedWABA(t, h)
	out := h.createTemplate(waba, "welcome", "es", "")
	ts := h.sim.Templates(waba)
	if len(ts) != 3 || ts[2].ID != out["id"] || ts[2].Name != "welcome" || ts[2].Status != TemplatePending ||
		ts[2].QualityScore != "UNKNOWN" || ts[2].ParameterFormat != "POSITIONAL" || string(ts[2].Components) != `[{"text":"Sale on welcome","type":"BODY"}]` {
		t.Fatalf("templates %+v", ts)
	}
	valid := func() map[string]any {
		return map[string]any{"name": "ok_name", "language": "en_US", "category": "UTILITY",
			"components": []map[string]any{{"type": "BODY", "text": "hi"}}}
	}
	without := func(field string, v any) map[string]any { b := valid(); b[field] = v; return b }
	for name, tc := range map[string]struct {
		body    any
		status  int
		subcode float64
	}{
		"duplicate":          {map[string]any{"name": "welcome", "language": "es", "category": "MARKETING", "components": []any{map[string]any{"type": "BODY", "text": "x"}}}, 400, 2388024},
		"hello_world again":  {map[string]any{"name": "hello_world", "language": "en_US", "category": "UTILITY", "components": []any{map[string]any{"type": "BODY", "text": "x"}}}, 400, 2388024},
		"no name":            {without("name", ""), 400, 0},
		"no language":        {without("language", nil), 400, 0},
		"no category":        {without("category", ""), 400, 0},
		"unknown category":   {without("category", "PROMO"), 400, 0},
		"no components":      {without("components", nil), 400, 0},
		"empty components":   {without("components", []any{}), 400, 0},
		"components object":  {without("components", map[string]any{"type": "BODY"}), 400, 0},
		"component untyped":  {without("components", []any{map[string]any{"text": "x"}}), 400, 0},
		"bad parameter form": {without("parameter_format", "MIXED"), 400, 0},
		"not json":           {jsonRaw(`[1`), 400, 0},
	} {
		st, out := h.call("POST", templatesPath(waba, ""), tc.body)
		e, _ := out["error"].(map[string]any)
		sub, _ := e["error_subcode"].(float64)
		if st != tc.status || e["code"] != float64(100) || sub != tc.subcode || e["fbtrace_id"] == nil {
			t.Errorf("%s: %d %v", name, st, out)
		}
		if tc.subcode != 0 && (e["error_user_title"] != "Content in this language already exists" || e["error_user_msg"] == nil) {
			t.Errorf("%s: %v", name, e)
		}
	}
	st, out2 := h.call("POST", templatesPath("999", ""), valid())
	if e, _ := out2["error"].(map[string]any); st != 400 || e["code"] != float64(100) || e["error_subcode"] != float64(33) {
		t.Errorf("unknown WABA: %d %v", st, out2)
	}
	if st, out := h.call("GET", templatesPath("999", ""), nil); st != 400 {
		t.Errorf("list of an unknown WABA: %d %v", st, out)
	}
	if n := len(h.sim.Templates(waba)); n != 3 {
		t.Errorf("%d templates after the refusals", n)
	}
}

// The control sets what Meta decided of a template, which the list shows.
func TestTemplateStatusControl(t *testing.T) {
	h := newHarness(t, Options{})
	_, waba := connectedWABA(t, h)
	h.createTemplate(waba, "welcome", "es", "")
	st, out := h.call("POST", "/_sim/templates/"+waba+"/welcome/es", map[string]any{"status": "REJECTED", "reason": "PROMOTIONAL"})
	if st != 200 || out["status"] != "REJECTED" || out["rejected_reason"] != "PROMOTIONAL" {
		t.Fatalf("reject: %d %v", st, out)
	}
	st, out = h.call("POST", "/_sim/templates/"+waba+"/order_update/en_US", map[string]any{"status": "PAUSED", "quality_score": "RED"})
	if q, _ := out["quality_score"].(map[string]any); st != 200 || out["status"] != "PAUSED" || out["rejected_reason"] != "NONE" || q["score"] != "RED" {
		t.Fatalf("pause: %d %v", st, out)
	}
	_, items, _ := h.templatePage(waba, "fields=name,status,rejected_reason,quality_score&name=welcome")
	if len(items) != 1 || items[0]["status"] != "REJECTED" || items[0]["rejected_reason"] != "PROMOTIONAL" {
		t.Errorf("listed %v", items)
	}
	// Any of Meta's statuses, quality alone.
	if tm, err := h.sim.SetTemplateStatus(waba, "welcome", "es", TemplateChange{Status: "IN_APPEAL"}); err != nil || tm.Status != "IN_APPEAL" || tm.RejectedReason != "NONE" {
		t.Errorf("in appeal: %+v %v", tm, err)
	}
	if tm, err := h.sim.SetTemplateStatus(waba, "hello_world", "en_US", TemplateChange{QualityScore: "YELLOW"}); err != nil || tm.Status != "APPROVED" || tm.QualityScore != "YELLOW" {
		t.Errorf("quality: %+v %v", tm, err)
	}
	for name, tc := range map[string]struct {
		path string
		body any
		want int
	}{
		"unknown template": {"/_sim/templates/" + waba + "/nope/en_US", map[string]any{"status": "APPROVED"}, 404},
		"unknown language": {"/_sim/templates/" + waba + "/welcome/en_US", map[string]any{"status": "APPROVED"}, 404},
		"unknown WABA":     {"/_sim/templates/999/welcome/es", map[string]any{"status": "APPROVED"}, 404},
		"nothing to set":   {"/_sim/templates/" + waba + "/welcome/es", map[string]any{}, 422},
		"not a status":     {"/_sim/templates/" + waba + "/welcome/es", map[string]any{"status": "approved!"}, 422},
		"not a score":      {"/_sim/templates/" + waba + "/welcome/es", map[string]any{"quality_score": "green"}, 422},
		"a long reason":    {"/_sim/templates/" + waba + "/welcome/es", map[string]any{"reason": strings.Repeat("x", 300)}, 422},
	} {
		if st, out := h.call("POST", tc.path, tc.body); st != tc.want {
			t.Errorf("%s: %d %v", name, st, out)
		}
	}
	if _, err := h.sim.SetTemplateStatus(waba, "nope", "es", TemplateChange{Status: "APPROVED"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown template: %v", err)
	}
	st, all := h.call("GET", "/_sim/templates/"+waba, nil)
	if data, _ := all["data"].([]any); st != 200 || len(data) != 3 {
		t.Errorf("templates control: %d %v", st, all)
	}
	if st, _ := h.call("GET", "/_sim/templates/999", nil); st != 404 {
		t.Errorf("templates of an unknown WABA: %d", st)
	}
}

// A template send goes only when the template is APPROVED in the number's
// WABA, in that language; every other is refused with Meta's code, sends
// nothing, and is counted as a send received.
func TestTemplateSendsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	pnid, waba := connectedWABA(t, h)
	h.createTemplate(waba, "in_review", "en_US", "")
	h.createTemplate(waba, "paused", "en_US", "PAUSED")
	h.createTemplate(waba, "disabled", "en_US", "DISABLED")
	h.createTemplate(waba, "rejected", "en_US", "REJECTED")
	send := func(name, lang string) (int, map[string]any) {
		tpl := `"template":{"name":"` + name + `"`
		if lang != "" {
			tpl += `,"language":{"code":"` + lang + `"}`
		}
		return h.call("POST", "/meta/whatsapp/v24.0/"+pnid+"/messages",
			jsonRaw(`{"messaging_product":"whatsapp","to":"5215512345678","type":"template",`+tpl+`}}`))
	}
	for _, tc := range []struct {
		name, lang string
		status     int
		code       float64
	}{
		{"nope", "en_US", 404, 132001},
		{"hello_world", "pt_BR", 404, 132001},
		{"in_review", "en_US", 404, 132001},
		{"rejected", "en_US", 404, 132001},
		{"paused", "en_US", 400, 132015},
		{"disabled", "en_US", 400, 132016},
		{"hello_world", "", 400, 100},
		{"", "en_US", 400, 100},
	} {
		st, out := send(tc.name, tc.lang)
		e, _ := out["error"].(map[string]any)
		if st != tc.status || e["code"] != tc.code || e["message"] == nil {
			t.Errorf("%s (%s): %d %v", tc.name, tc.lang, st, out)
		}
		if tc.code != 100 && (e["error_user_title"] == nil || e["error_data"] == nil) {
			t.Errorf("%s (%s): %v", tc.name, tc.lang, e)
		}
	}
	if n := h.sim.SentByProxy(); n != 0 || len(outbound(h, pnid)) != 0 {
		t.Fatalf("refused sends were sent: %d", n)
	}
	if h.sim.ProxyCalls(RouteSend) != 8 || h.sim.ProxyCalls(RouteTemplateSend) != 8 {
		t.Errorf("sends received %d, template sends %d", h.sim.ProxyCalls(RouteSend), h.sim.ProxyCalls(RouteTemplateSend))
	}
	// Approved, the same template goes.
	if _, err := h.sim.SetTemplateStatus(waba, "paused", "en_US", TemplateChange{Status: "APPROVED"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"paused", "hello_world", "order_update"} {
		if st, out := send(name, "en_US"); st != 200 {
			t.Errorf("%s: %d %v", name, st, out)
		}
	}
	if n := h.sim.SentByProxy(); n != 3 {
		t.Errorf("sent %d", n)
	}
	// A fault answers first, whatever the template.
	if err := h.sim.SetSendFaults(SendFaults{Calls: 1, Fault: SendFault5xx}); err != nil {
		t.Fatal(err)
	}
	if st, _ := send("nope", "en_US"); st != 500 {
		t.Errorf("fault: %d", st)
	}
	st, state := h.call("GET", "/_sim/send", nil)
	if st != 200 || state["sends_received"] != float64(12) || state["template_sends_received"] != float64(12) {
		t.Errorf("send state %v", state)
	}
}

// Every Meta proxy request is counted by its route, those refused
// included, and shown in the state.
func TestProxyCallsCounted(t *testing.T) {
	h := newHarness(t, Options{})
	pnid, waba := connectedWABA(t, h)
	h.call("GET", templatesPath(waba, ""), nil)
	h.createTemplate(waba, "welcome", "es", "")
	h.call("POST", "/meta/whatsapp/v24.0/"+pnid+"/messages", jsonRaw(proxyText))
	h.call("GET", "/meta/whatsapp/v24.0/"+pnid+"/messages", nil)
	// A wrong key is refused, and counted.
	req, _ := http.NewRequestWithContext(context.Background(), "GET", h.srv.URL+templatesPath(waba, ""), nil)
	req.Header.Set("X-API-Key", "wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	want := map[string]int{RouteListTemplates: 2, RouteCreateTemplate: 1, RouteSend: 1, RouteTemplateSend: 0,
		RouteMessageHistory: 1, RouteConversationHistory: 0}
	for route, n := range want {
		if got := h.sim.ProxyCalls(route); got != n {
			t.Errorf("%s: %d calls, want %d", route, got, n)
		}
	}
	_, state := h.call("GET", "/_sim/state", nil)
	calls, _ := state["proxy_calls"].(map[string]any)
	tpls, _ := state["templates"].(map[string]any)
	if calls[RouteListTemplates] != float64(2) || len(tpls[waba].([]any)) != 3 {
		t.Errorf("state %v %v", calls, tpls)
	}
	// The home page shows the number's templates.
	page := getPage(t, h.srv.URL+"/")
	if !strings.Contains(page, "order_update") || !strings.Contains(page, "/_sim/templates/") {
		t.Errorf("home page lacks the templates")
	}
}
