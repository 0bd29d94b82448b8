package docs_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/docs"
	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// routeGroups are the function groups of shared/routes; together they are
// every route kapso-bridge serves (TestRouteGroupsAreAllHere keeps the list
// whole).
var routeGroups = map[string][]routes.Route{
	"Ingest":    routes.Ingest,
	"TenantAPI": routes.TenantAPI,
	"Redirects": routes.Redirects,
}

func allRoutes() []routes.Route {
	var out []routes.Route
	for _, name := range slices.Sorted(maps.Keys(routeGroups)) {
		out = append(out, routeGroups[name]...)
	}
	return out
}

func load(t *testing.T) document {
	t.Helper()
	var d document
	if err := json.Unmarshal(docs.OpenAPI, &d); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return d
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations maps "METHOD /path" to each documented operation.
func (d document) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	paths, _ := d["paths"].(map[string]any)
	for path, item := range paths {
		for m, op := range d.resolve(item) {
			if slices.Contains(methods, m) {
				out[strings.ToUpper(m)+" "+path], _ = op.(map[string]any)
			}
		}
	}
	return out
}

// The document names exactly the routes of shared/routes.
func TestEveryRouteIsDocumented(t *testing.T) {
	ops := load(t).operations()
	served := map[string]bool{}
	for _, r := range allRoutes() {
		served[r.Pattern()] = true
		if ops[r.Pattern()] == nil {
			t.Errorf("%s is served but not documented in openapi.json", r.Pattern())
		}
	}
	for pattern := range ops {
		if !served[pattern] {
			t.Errorf("%s is documented but no route in shared/routes", pattern)
		}
	}
}

// Every []Route group declared in shared/routes is in routeGroups, so a new
// function's routes cannot escape the tests here.
func TestRouteGroupsAreAllHere(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "shared", "routes", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("shared/routes sources: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, v := range spec.Values {
				lit, ok := v.(*ast.CompositeLit)
				if !ok {
					continue
				}
				if arr, ok := lit.Type.(*ast.ArrayType); ok && isIdent(arr.Elt, "Route") {
					if _, known := routeGroups[spec.Names[i].Name]; !known {
						t.Errorf("routes.%s is a group of routes the test does not know: add it to routeGroups", spec.Names[i].Name)
					}
				}
			}
			return true
		})
	}
}

func isIdent(e ast.Expr, name string) bool { id, ok := e.(*ast.Ident); return ok && id.Name == name }

// request is one request to the handlers and the status it gets.
type request struct {
	name   string
	on     backend // healthy unless said
	method string
	path   string
	header http.Header
	body   []byte
	// before prepares the world for this request.
	before func(*testing.T, *world)
	want   int
	// invalid: the request breaks the document's own rules (a parameter or
	// the body fails its schema). Every other request keeps them.
	invalid bool
}

// Every status the handlers answer on a route is documented for it, and
// every documented status is answered to one of these requests. Each answer
// matches its documented schema and headers, and each request its
// documented parameters and body exactly when it is not marked invalid.
func TestStatusesAreDocumented(t *testing.T) {
	doc := load(t)
	w := newWorld(t)
	ops := doc.operations()
	produced := map[string]map[int][]string{}
	for _, c := range requests() {
		if c.before != nil {
			c.before(t, w)
		}
		req := httptest.NewRequest(c.method, c.path, bytes.NewReader(c.body))
		for k, vs := range c.header {
			req.Header[k] = vs
		}
		rec := httptest.NewRecorder()
		w.handlers[c.on].ServeHTTP(rec, req)
		route := req.Pattern // set by the ServeMux the handlers registered on
		if route == "" {
			t.Errorf("%s %s (%s): no route serves it", c.method, c.path, c.name)
			continue
		}
		if produced[route] == nil {
			produced[route] = map[int][]string{}
		}
		produced[route][rec.Code] = append(produced[route][rec.Code], c.name)
		if rec.Code != c.want {
			t.Errorf("%s: %s answered %d, want %d: %s", route, c.name, rec.Code, c.want, rec.Body)
		}
		if c.invalid && rec.Code < 300 {
			t.Errorf("%s: %s breaks the document's rules, but the handler took it (%d)", route, c.name, rec.Code)
		}
		op := ops[route]
		if op == nil {
			continue // reported by TestEveryRouteIsDocumented
		}
		if p := doc.requestProblems(op, req, c.body); c.invalid != (len(p) > 0) {
			t.Errorf("%s: %s: marked invalid=%v, but against the document: %v", route, c.name, c.invalid, p)
		}
		for _, p := range doc.responseProblems(op, rec) {
			t.Errorf("%s: %s: answer %d: %s", route, c.name, rec.Code, p)
		}
	}
	for _, r := range allRoutes() {
		documented := doc.statuses(ops[r.Pattern()])
		for _, s := range slices.Sorted(maps.Keys(produced[r.Pattern()])) {
			if !slices.Contains(documented, s) {
				t.Errorf("%s answers %d (%s) but the document does not say so", r.Pattern(), s, strings.Join(produced[r.Pattern()][s], "; "))
			}
		}
		for _, s := range documented {
			if _, ok := produced[r.Pattern()][s]; !ok {
				t.Errorf("%s documents %d but no request here gets it: add one", r.Pattern(), s)
			}
		}
	}
}

// requests is the table: per route, a request for each situation with its
// own answer.
func requests() []request {
	return slices.Concat(webhookRequests(), redirectRequests(), tenantAPIRequests())
}

var (
	kapsoBody = []byte(`{"message":{"id":"wamid.1","type":"text","text":{"body":"hi"}},"phone_number_id":"106540352242922"}`)
	metaBody  = []byte(`{"object":"whatsapp_business_account","entry":[{"id":"222","changes":[]}]}`)
	tooLarge  = bytes.Repeat([]byte(" "), webhook.DefaultMaxBodyBytes+1)
)

func webhookRequests() []request {
	var out []request
	// The situations every webhook route answers alike; only the body and
	// the secret differ by route.
	for _, r := range routes.Ingest {
		path, secret, body := fill(r), numberSecret, kapsoBody
		if r == routes.ProjectWebhook {
			secret = projectSecret
		}
		if r == routes.MetaWebhook {
			body = metaBody
		}
		other := append(bytes.TrimSuffix(bytes.Clone(body), []byte("}")), []byte(`,"x":1}`)...)
		post := func(name string, body []byte, h http.Header, want int, invalid bool) request {
			return request{name: name, method: r.Method, path: path, header: h, body: body, want: want, invalid: invalid}
		}
		out = append(out,
			post("a new delivery", body, signed(secret, body, "X-Idempotency-Key", "key-1"), 200, false),
			post("the same delivery again", body, signed(secret, body, "X-Idempotency-Key", "key-1"), 200, false),
			post("its key with another body", other, signed(secret, other, "X-Idempotency-Key", "key-1"), 409, false),
			post("signed with another secret", body, signed("not-the-secret", body), 401, false),
			post("not JSON", []byte(`{"a":`), signed(secret, []byte(`{"a":`)), 400, true),
			post("an array, not an object", []byte(`[]`), signed(secret, []byte(`[]`)), 400, true),
			post("X-Idempotency-Key of 257 characters", body, signed(secret, body, "X-Idempotency-Key", strings.Repeat("k", 257)), 400, true),
			post("X-Webhook-Event with a space", body, signed(secret, body, "X-Webhook-Event", "whatsapp message"), 400, true),
			post("a body over 4 MiB", tooLarge, nil, 413, true),
		)
		down := post("DynamoDB failing", body, signed(secret, body), 503, false)
		down.on = storeDown
		out = append(out, down)
	}
	project, number, metaPath := routes.ProjectWebhook.Path, fill(routes.NumberWebhook), fill(routes.MetaWebhook)
	batch := []byte(`{"type":"whatsapp.message.received","batch":true}`)
	key256, event128 := strings.Repeat("k", 256), strings.Repeat("e", 128)
	return append(out,
		request{name: "unsigned", method: "POST", path: project, body: kapsoBody, want: 401, invalid: true},
		request{name: "a batch without data", method: "POST", path: project, body: batch, header: signed(projectSecret, batch), want: 400, invalid: true},
		request{name: "X-Idempotency-Key of 256 characters", method: "POST", path: project, body: kapsoBody,
			header: signed(projectSecret, kapsoBody, "X-Idempotency-Key", key256), want: 200},
		request{name: "X-Webhook-Event of 128 characters", method: "POST", path: project, body: kapsoBody,
			header: signed(projectSecret, kapsoBody, "X-Webhook-Event", event128), want: 200},
		request{name: "X-Webhook-Event of 129 characters", method: "POST", path: project, body: kapsoBody,
			header: signed(projectSecret, kapsoBody, "X-Webhook-Event", event128+"e"), want: 400, invalid: true},
		request{name: "a number without a secret", method: "POST", path: "/webhooks/kapso/999", body: kapsoBody,
			header: signed(numberSecret, kapsoBody), want: 401},
		request{name: "a malformed number id", method: "POST", path: "/webhooks/kapso/1.5", body: kapsoBody,
			header: signed(numberSecret, kapsoBody), want: 404, invalid: true},
		request{name: "unsigned", method: "POST", path: number, body: kapsoBody, want: 401, invalid: true},
		request{name: "Meta's signature", method: "POST", path: metaPath, body: metaBody,
			header: http.Header{"X-Hub-Signature-256": {meta.Sign(metaAppSecret, metaBody)}}, want: 200},
		request{name: "Meta's signature for a number without a secret", method: "POST", path: "/webhooks/meta/999", body: metaBody,
			header: http.Header{"X-Hub-Signature-256": {meta.Sign(metaAppSecret, metaBody)}}, want: 401},
		request{name: "Meta's signature with another secret", method: "POST", path: metaPath, body: metaBody,
			header: http.Header{"X-Hub-Signature-256": {meta.Sign("not-the-secret", metaBody)}}, want: 401},
		request{name: "unsigned", method: "POST", path: metaPath, body: metaBody, want: 401},
		request{name: "a malformed number id", method: "POST", path: "/webhooks/meta/1.5", body: metaBody,
			header: signed(numberSecret, metaBody), want: 404, invalid: true},
		request{name: "no object member", method: "POST", path: metaPath, body: kapsoBody, header: signed(numberSecret, kapsoBody), want: 400, invalid: true},
	)
}

func redirectRequests() []request {
	success := "/connect/success?" + "setup_link_id=" + linkID +
		"&status=completed&phone_number_id=106540352242922&business_account_id=1234&display_phone_number=%2B15550783881"
	failure := "/connect/failure?setup_link_id=" + linkID + "&error_code=user_cancelled"
	return []request{
		{name: "back from a signup", method: "GET", path: success, want: 302},
		{name: "an unknown setup link", method: "GET", path: "/connect/success?setup_link_id=00000000-0000-0000-0000-000000000000", want: 302},
		{name: "no setup link", method: "GET", path: "/connect/success", want: 302},
		{name: "a malformed setup link id", method: "GET", path: "/connect/success?setup_link_id=%3Cscript%3E", want: 302, invalid: true},
		{name: "DynamoDB failing", on: storeDown, method: "GET", path: success, want: 302},
		{name: "the app page misconfigured", on: appPagesUnset, method: "GET", path: success, want: 200},
		{name: "through a superseded link", method: "GET", path: "/connect/success?setup_link_id=" + oldLinkID, want: 302},
		{name: "back from a failed signup", method: "GET", path: failure, want: 302},
		{name: "through a superseded link", method: "GET", path: "/connect/failure?setup_link_id=" + oldLinkID + "&error_code=user_cancelled", want: 302},
		{name: "a malformed error code", method: "GET", path: "/connect/failure?setup_link_id=" + linkID + "&error_code=DROP%20TABLE", want: 302, invalid: true},
		{name: "DynamoDB failing", on: storeDown, method: "GET", path: failure, want: 302},
		{name: "the app page misconfigured", on: appPagesUnset, method: "GET", path: failure, want: 200},
	}
}

func tenantAPIRequests() []request {
	var out []request
	// Every /v1 route: the token, then an outage.
	for _, r := range routes.TenantAPI {
		// A send needs its key and a body to keep the document's rules.
		var body []byte
		with := func(h http.Header) http.Header { return h }
		if r == routes.SendMessage {
			body = sendText
			with = func(h http.Header) http.Header { return keyed(h, "key-generic") }
		}
		if r == routes.UploadMedia {
			body = uploadPNG
			with = func(h http.Header) http.Header { return typed(h, "image/png") }
		}
		if b := templateRouteBody(r); b != nil {
			body = b
		}
		out = append(out,
			request{name: "no token", method: r.Method, path: fill(r), header: with(http.Header{}), body: body, want: 401},
			request{name: "another token", method: r.Method, path: fill(r), header: with(bearer("not-the-token")), body: body, want: 401},
			request{name: "two Authorization headers", method: r.Method, path: fill(r),
				header: with(http.Header{"Authorization": {"Bearer " + apiToken, "Bearer " + apiToken}}), body: body, want: 400},
			request{name: "DynamoDB failing", on: storeDown, method: r.Method, path: fill(r), header: with(auth), body: body, want: 503},
			request{name: "a token without the scope", method: r.Method, path: fill(r), header: with(bearer(tokenWithout(r))), body: body, want: 403},
		)
		if strings.Contains(r.Path, "{"+routes.TenantID+"}") {
			out = append(out, request{name: "a malformed tenant id", method: r.Method,
				path: strings.TrimSuffix(strings.Replace(fill(r)+"/", "/"+tenant+"/", "/ac%20me/", 1), "/"), header: with(auth), body: body, want: 400, invalid: true})
		}
	}
	links := "/v1/tenants/beta/setup-links"
	out = append(out, sendRequests()...)
	out = append(out, mediaRequests()...)
	out = append(out, templateRequests()...)
	out = append(out, offboardRequests()...)
	out = append(out, exportRequests()...)
	out = append(out, erasureRequests()...)
	return append(out,
		request{name: "every tenant", method: "GET", path: "/v1/tenants", header: auth, want: 200},
		request{name: "a page of one", method: "GET", path: "/v1/tenants?limit=1", header: auth, want: 200},
		request{name: "the connected ones", method: "GET", path: "/v1/tenants?status=connected", header: auth, want: 200},
		request{name: "those needing a human", method: "GET", path: "/v1/tenants?needs_attention=true&limit=10", header: auth, want: 200},
		request{name: "an unknown status", method: "GET", path: "/v1/tenants?status=happy", header: auth, want: 400, invalid: true},
		request{name: "needs_attention not a boolean", method: "GET", path: "/v1/tenants?needs_attention=yes", header: auth, want: 400, invalid: true},
		request{name: "not a cursor", method: "GET", path: "/v1/tenants?cursor=not-a-cursor", header: auth, want: 400},
		request{name: "an unknown query parameter", method: "GET", path: "/v1/tenants?state=connected", header: auth, want: 400, invalid: true},

		request{name: "a new link", method: "POST", path: links, header: auth,
			body: []byte(`{"tenant_name":"Beta","allowed_connection_types":["dedicated"],"language":"pt","theme_config":{"primary_color":"#112233"}}`), want: 201},
		request{name: "a new link, no body", method: "POST", path: links, header: auth, want: 201},
		request{name: "a new link, null fields as omitted", method: "POST", path: links, header: auth,
			body: []byte(`{"tenant_name":null,"language":null,"allowed_connection_types":null}`), want: 201},
		request{name: "an unknown field", method: "POST", path: links, header: auth, body: []byte(`{"tenant_nam":"x"}`), want: 400, invalid: true},
		request{name: "an unknown connection type", method: "POST", path: links, header: auth, body: []byte(`{"allowed_connection_types":["bogus"]}`), want: 400, invalid: true},
		request{name: "a tenant name of 201 characters", method: "POST", path: links, header: auth,
			body: []byte(`{"tenant_name":"` + strings.Repeat("é", 201) + `"}`), want: 400, invalid: true},
		request{name: "a tenant name with a line break", method: "POST", path: links, header: auth,
			body: []byte(`{"tenant_name":"Beta\nInc"}`), want: 400, invalid: true},
		request{name: "an area code outside the US", method: "POST", path: links, header: auth,
			body: []byte(`{"phone_number_area_code":"415","phone_number_country_isos":["MX"]}`), want: 400, invalid: true},
		request{name: "a reconnect that also provisions", method: "POST", path: links, header: auth,
			body: []byte(`{"reconnect_phone_number":"+15550001111","provision_phone_number":true}`), want: 400, invalid: true},
		request{name: "a body over 64 KiB", method: "POST", path: links, header: auth,
			body: []byte(`{"tenant_name":"` + strings.Repeat("a", tenantapi.MaxSetupLinkBodyBytes) + `"}`), want: 413, invalid: true},
		request{name: "Kapso refuses the reconnect", method: "POST", path: links, header: auth,
			body: []byte(`{"reconnect_phone_number":"+15550001111"}`), want: 422},
		request{name: "Kapso unreachable", on: kapsoDown, method: "POST", path: "/v1/tenants/gamma/setup-links", header: auth, want: 502},
		request{name: "another request creating the Kapso customer", method: "POST", path: "/v1/tenants/racer/setup-links", header: auth,
			before: holdCustomerLease("racer"), want: 409},

		request{name: "a connected tenant", method: "GET", path: "/v1/tenants/acme/connection", header: auth, want: 200},
		request{name: "a failed signup", method: "GET", path: "/v1/tenants/zeta/connection", header: auth, want: 200},
		request{name: "a failure only the browser reported", method: "GET", path: "/v1/tenants/eta/connection", header: auth, want: 200},
		request{name: "a superseded link", method: "GET", path: "/v1/tenants/omega/connection", header: auth, want: 200},
		request{name: "an unknown tenant", method: "GET", path: "/v1/tenants/nobody/connection", header: auth, want: 404},
		request{name: "an unknown query parameter", method: "GET", path: "/v1/tenants/acme/connection?verbose=1", header: auth, want: 400, invalid: true},

		request{name: "updated since a time", method: "GET", path: "/v1/tenants?updated_since=2026-11-29T04:00:00Z&limit=2", header: auth, want: 200},
		request{name: "updated_since not a time", method: "GET", path: "/v1/tenants?updated_since=today", header: auth, want: 400, invalid: true},

		request{name: "all of them", method: "GET", path: "/v1/tenants/acme/conversations", header: auth, want: 200},
		request{name: "last active since a time", method: "GET", path: "/v1/tenants/acme/conversations?updated_since=2026-11-29T04:30:00%2B00:00",
			header: auth, want: 200},
		request{name: "updated_since without its offset", method: "GET", path: "/v1/tenants/acme/conversations?updated_since=2026-11-29T04:30:00",
			header: auth, want: 400, invalid: true},
		request{name: "a page of one", method: "GET", path: "/v1/tenants/acme/conversations?limit=1", header: auth, want: 200},
		request{name: "a tenant with none", method: "GET", path: "/v1/tenants/nobody/conversations", header: auth, want: 200},
		request{name: "limit 0", method: "GET", path: "/v1/tenants/acme/conversations?limit=0", header: auth, want: 400, invalid: true},
		request{name: "limit 201", method: "GET", path: "/v1/tenants/acme/conversations?limit=201", header: auth, want: 400, invalid: true},
		request{name: "not a cursor", method: "GET", path: "/v1/tenants/acme/conversations?cursor=not-a-cursor", header: auth, want: 400},

		request{name: "all of them", method: "GET", path: "/v1/tenants/acme/conversations/conv-1/messages", header: auth, want: 200},
		request{name: "a page of one", method: "GET", path: "/v1/tenants/acme/conversations/conv-1/messages?limit=1", header: auth, want: 200},
		request{name: "a conversation id not ASCII", method: "GET", path: "/v1/tenants/acme/conversations/conv%C3%A9/messages", header: auth, want: 400, invalid: true},
		request{name: "not a cursor", method: "GET", path: "/v1/tenants/acme/conversations/conv-1/messages?cursor=x", header: auth, want: 400},
		request{name: "newest first", method: "GET", path: "/v1/tenants/acme/conversations/conv-1/messages?order=desc&limit=2", header: auth, want: 200},
		request{name: "oldest first, said", method: "GET", path: "/v1/tenants/acme/conversations/conv-1/messages?order=asc", header: auth, want: 200},
		request{name: "an unknown order", method: "GET", path: "/v1/tenants/acme/conversations/conv-1/messages?order=newest", header: auth,
			want: 400, invalid: true},

		request{name: "the writes, newest first", method: "GET", path: "/v1/audit", header: auth, want: 200},
		request{name: "since a time, a page of one", method: "GET", path: "/v1/audit?since=2026-11-29T04:00:00Z&limit=1", header: auth, want: 200},
		request{name: "since not a time", method: "GET", path: "/v1/audit?since=yesterday", header: auth, want: 400, invalid: true},
		request{name: "not a cursor", method: "GET", path: "/v1/audit?cursor=not-a-cursor", header: auth, want: 400},

		request{name: "every tenant's events", method: "GET", path: "/v1/events", header: auth, want: 200},
		request{name: "a page of one", method: "GET", path: "/v1/events?limit=1", header: auth, want: 200},
		request{name: "of three types, comma-separated and repeated", method: "GET",
			path: "/v1/events?type=message.received,contact.changed&type=message.status_changed", header: auth, want: 200},
		request{name: "an unknown type", method: "GET", path: "/v1/events?type=message.sent", header: auth, want: 400, invalid: true},
		request{name: "an empty type", method: "GET", path: "/v1/events?type=message.received,", header: auth, want: 400, invalid: true},
		request{name: "not a cursor", method: "GET", path: "/v1/events?cursor=not-a-cursor", header: auth, want: 400},
		request{name: "an unknown query parameter", method: "GET", path: "/v1/events?tenant_id=acme", header: auth, want: 400, invalid: true},
		request{name: "the tenant's events", method: "GET", path: "/v1/tenants/acme/events", header: auth, want: 200},
		request{name: "of one type", method: "GET", path: "/v1/tenants/acme/events?type=tenant.status_changed", header: auth, want: 200},
		request{name: "a tenant with none", method: "GET", path: "/v1/tenants/nobody/events", header: auth, want: 200},
		request{name: "limit 201", method: "GET", path: "/v1/tenants/acme/events?limit=201", header: auth, want: 400, invalid: true},
		request{name: "the whole stack's cursor", method: "GET", path: "/v1/tenants/acme/events?cursor=" + stackCursor, header: auth, want: 400},

		request{name: "a message with its statuses", method: "GET", path: "/v1/tenants/acme/messages/wamid.out1", header: auth, want: 200},
		request{name: "a message with media", method: "GET", path: "/v1/tenants/acme/messages/wamid.in1", header: auth, want: 200},
		request{name: "a message known only by its statuses", method: "GET", path: "/v1/tenants/acme/messages/wamid.ghost", header: auth, want: 200},
		request{name: "an unknown message", method: "GET", path: "/v1/tenants/acme/messages/wamid.nothing", header: auth, want: 404},
		request{name: "a WAMID of 257 characters", method: "GET", path: "/v1/tenants/acme/messages/" + strings.Repeat("w", 257), header: auth, want: 400, invalid: true},

		request{name: "by current BSUID", method: "GET", path: "/v1/tenants/acme/numbers/111/contacts/US.200", header: auth, want: 200},
		request{name: "by previous BSUID", method: "GET", path: "/v1/tenants/acme/numbers/111/contacts/US.100", header: auth, want: 200},
		request{name: "by phone", method: "GET", path: "/v1/tenants/acme/numbers/111/contacts/15550001111", header: auth, want: 200},
		request{name: "an unknown contact", method: "GET", path: "/v1/tenants/acme/numbers/111/contacts/US.999", header: auth, want: 404},
		request{name: "a contact with spaces", method: "GET", path: "/v1/tenants/acme/numbers/111/contacts/%2B1%20555", header: auth, want: 400, invalid: true},
	)
}

// stackCursor is a cursor of the whole stack's feed (the in-memory feed's).
var stackCursor = base64.RawURLEncoding.EncodeToString([]byte(`{"f":"*","s":1}`))

var sendText = []byte(`{"phone_number_id":"111","to":"+` + brunoPhone + `","type":"text","text":{"body":"Your order is on its way","preview_url":false}}`)

// keyed is h, copied, with an Idempotency-Key.
func keyed(h http.Header, key string) http.Header { return withHeader(h, "Idempotency-Key", key) }

// withHeader is h, copied, with the header name set to value.
func withHeader(h http.Header, name, value string) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(name, value)
	return h
}

// uploadPNG is a small PNG file to upload.
var uploadPNG = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{9}, 100)...)

// typed is h, copied, with a Content-Type.
func typed(h http.Header, contentType string) http.Header {
	return withHeader(h, "Content-Type", contentType)
}

// mediaRequests are the situations of a message's media and of uploads.
func mediaRequests() []request {
	upload := "/v1/tenants/" + tenant + "/media?phone_number_id=111"
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreatePart(map[string][]string{"Content-Disposition": {`form-data; name="file"; filename="doc.pdf"`},
		"Content-Type": {"application/pdf"}})
	_, _ = part.Write([]byte("%PDF-1.4 a receipt"))
	_ = mw.Close()
	return []request{
		{name: "stored media", method: "GET", path: "/v1/tenants/acme/messages/wamid.in1/media", header: auth, want: 302},
		{name: "a message without media", method: "GET", path: "/v1/tenants/acme/messages/wamid.out1/media", header: auth, want: 404},
		{name: "another tenant's message", method: "GET", path: "/v1/tenants/beta/messages/wamid.in1/media", header: auth, want: 404},
		{name: "a PNG", method: "POST", path: upload, header: typed(auth, "image/png"), body: uploadPNG, want: 201},
		{name: "the same PNG again", method: "POST", path: upload, header: typed(auth, "image/png"), body: uploadPNG, want: 200},
		{name: "a PDF as a form", method: "POST", path: upload, header: typed(auth, mw.FormDataContentType()), body: form.Bytes(), want: 201},
		{name: "an empty file", method: "POST", path: upload, header: typed(auth, "image/png"), want: 400, invalid: true},
		{name: "over the limit", method: "POST", path: upload, header: typed(auth, "image/png"),
			body: bytes.Repeat([]byte{1}, worldMaxUpload+1), want: 413},
		{name: "not a media type", method: "POST", path: upload, header: typed(auth, "text/html"), body: []byte("<p>"), want: 415, invalid: true},
		{name: "a number of another tenant", method: "POST", path: "/v1/tenants/acme/media?phone_number_id=999",
			header: typed(auth, "image/png"), body: uploadPNG, want: 404},
	}
}

// sendRequests are the situations of POST …/messages.
func sendRequests() []request {
	path := "/v1/tenants/" + tenant + "/messages"
	post := func(name, key string, body []byte, want int, invalid bool) request {
		h := auth
		if key != "" {
			h = keyed(auth, key)
		}
		return request{name: name, method: "POST", path: path, header: h, body: body, want: want, invalid: invalid}
	}
	template := []byte(`{"to":"15550004444","type":"template","template":{"name":"order_update","language":{"code":"pt_BR"}}}`)
	return []request{
		post("a text to a person who wrote an hour ago", "key-1", sendText, 202, false),
		post("the same key and body again", "key-1", sendText, 202, false),
		post("the same key with another body", "key-1", template, 409, false),
		post("a template to a person who never wrote, from the only number", "key-2", template, 202, false),
		post("a text to a person who never wrote", "key-3", []byte(`{"to":"15550004444","type":"text","text":{"body":"hi"}}`), 422, false),
		post("by BSUID, outside the window", "key-4", []byte(`{"recipient":"US.200","type":"text","text":{"body":"hi"}}`), 422, false),
		post("from a number not the tenant's", "key-5", []byte(`{"phone_number_id":"999","to":"15550002222","type":"text","text":{"body":"hi"}}`), 404, false),
		{name: "an unknown tenant", method: "POST", path: "/v1/tenants/nobody/messages", header: keyed(auth, "key-6"), body: sendText, want: 404},
		{name: "a tenant with no connected number", method: "POST", path: "/v1/tenants/zeta/messages", header: keyed(auth, "key-7"),
			body: []byte(`{"to":"15550002222","type":"text","text":{"body":"hi"}}`), want: 409},
		post("no Idempotency-Key", "", sendText, 400, true),
		post("an Idempotency-Key of 256 characters", strings.Repeat("k", 256), sendText, 400, true),
		post("no recipient", "key-8", []byte(`{"type":"text","text":{"body":"hi"}}`), 400, true),
		post("a phone number of 5 digits", "key-9", []byte(`{"to":"12345","type":"text","text":{"body":"hi"}}`), 400, true),
		post("a type without its object", "key-10", []byte(`{"to":"15550002222","type":"image"}`), 400, true),
		post("an unknown field", "key-11", []byte(`{"to":"15550002222","type":"text","text":{"body":"hi"},"priority":1}`), 400, true),
		post("a text of 4097 characters", "key-12", []byte(`{"to":"15550002222","type":"text","text":{"body":"`+strings.Repeat("a", 4097)+`"}}`), 400, true),
		post("no body", "key-13", nil, 400, true),
		post("a body over 64 KiB", "key-14", []byte(`{"to":"15550002222","type":"text","text":{"body":"`+strings.Repeat(" ", tenantapi.MaxSendBodyBytes)+`"}}`), 413, true),
	}
}

// holdCustomerLease makes another request hold the tenant's customer lease:
// the setup link waits for it, then answers 409 with Retry-After.
func holdCustomerLease(tenantID string) func(*testing.T, *world) {
	return func(t *testing.T, w *world) {
		ctx := t.Context()
		must(t, w.onboarding.EnsureTenant(ctx, tenantID, ""))
		if _, ok, err := w.onboarding.TakeCustomerLease(ctx, tenantID, time.Minute); err != nil || !ok {
			t.Fatalf("take lease: %v %v", ok, err)
		}
	}
}

// pathSamples fill a route's path parameters with what the world holds.
var pathSamples = map[string]string{
	routes.PhoneNumberID:  numberID,
	routes.TenantID:       tenant,
	routes.ConversationID: "conv-1",
	routes.WAMID:          "wamid.out1",
	routes.Contact:        "US.200",
	routes.ErasureID:      worldErasureID,
}

// fill is r's path with its parameters filled in; the tenant API's
// phone_number_id is the tenant's number, the webhooks' the one with a secret.
func fill(r routes.Route) string {
	return regexp.MustCompile(`\{([^}]+)\}`).ReplaceAllStringFunc(r.Path, func(m string) string {
		name := m[1 : len(m)-1]
		if name == routes.PhoneNumberID && strings.HasPrefix(r.Path, "/v1/") {
			return "111"
		}
		v, ok := pathSamples[name]
		if !ok {
			panic("no sample value for path parameter " + m + " of " + r.Pattern() + ": add one to pathSamples")
		}
		return v
	})
}

var auth = bearer(apiToken)

// tokenWithout is a named token of the world that lacks the scope r needs.
func tokenWithout(r routes.Route) string {
	if scope, _ := tenantapi.ScopeOf(r); scope == access.Read {
		return sendToken
	}
	return readToken
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// signed is the header of a Kapso delivery of body signed with secret, with
// more headers as name, value pairs.
func signed(secret string, body []byte, more ...string) http.Header {
	h := http.Header{"X-Webhook-Signature": {kapso.Sign(secret, body)}}
	for i := 0; i+1 < len(more); i += 2 {
		h.Set(more[i], more[i+1])
	}
	return h
}

// statuses are the documented statuses of op.
func (d document) statuses(op map[string]any) []int {
	var out []int
	res, _ := op["responses"].(map[string]any)
	for k := range res {
		if s, err := strconv.Atoi(k); err == nil {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// requestProblems lists where req breaks op's documented parameters and body.
func (d document) requestProblems(op map[string]any, req *http.Request, body []byte) []string {
	var out []string
	v := validator{doc: d}
	query := req.URL.Query()
	for _, p := range list(op["parameters"]) {
		p := d.resolve(p)
		name, in := p["name"].(string), p["in"].(string)
		var values []string
		switch in {
		case "path":
			values = []string{req.PathValue(name)}
		case "query":
			values = req.URL.Query()[name]
			query.Del(name)
		case "header":
			values = req.Header.Values(name)
		}
		schema := d.resolve(p["schema"])
		// A query array is the parameter repeated (style form, exploded).
		array := in == "query" && schema["type"] == "array"
		switch {
		case len(values) == 0:
			if p["required"] == true {
				out = append(out, fmt.Sprintf("%s %s is required", in, name))
			}
			continue
		case len(values) > 1 && !array:
			out = append(out, fmt.Sprintf("%s %s is given %d times", in, name, len(values)))
			continue
		}
		var value any = values[0]
		switch schema["type"] {
		case "array":
			value = anys(values)
		case "integer":
			n, err := strconv.Atoi(values[0])
			if err != nil {
				out = append(out, fmt.Sprintf("%s %s is not an integer", in, name))
				continue
			}
			value = float64(n)
		case "boolean":
			if values[0] != "true" && values[0] != "false" {
				out = append(out, fmt.Sprintf("%s %s is not true or false", in, name))
				continue
			}
			value = values[0] == "true"
		}
		for _, problem := range v.problems(schema, value) {
			out = append(out, in+" "+name+": "+strings.TrimPrefix(problem, "body: "))
		}
	}
	for name := range query {
		out = append(out, "query "+name+" is not documented")
	}
	rb := d.resolve(op["requestBody"])
	switch {
	case rb == nil:
		if len(body) > 0 {
			out = append(out, "a body where none is documented")
		}
	case len(body) == 0:
		if rb["required"] == true {
			out = append(out, "the body is required")
		}
	default:
		if limit, ok := rb["x-max-body-bytes"].(float64); ok && len(body) > int(limit) {
			out = append(out, fmt.Sprintf("the body is larger than %v bytes", limit))
			break
		}
		if content, _ := rb["content"].(map[string]any); content["application/json"] == nil {
			// A file: its media type must be one documented.
			if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); content[mt] == nil {
				out = append(out, "Content-Type "+mt+" is not documented")
			}
			break
		}
		var value any
		if err := json.Unmarshal(body, &value); err != nil {
			out = append(out, "the body is not JSON")
			break
		}
		out = append(out, v.problems(d.mediaSchema(rb, "application/json"), value)...)
	}
	return out
}

// contractHeaders are the response headers a client acts on: each one a
// handler sends must be documented for its answer.
var contractHeaders = []string{"Location", "Retry-After", "WWW-Authenticate"}

// responseProblems lists where rec differs from op's documented answer for
// its status: its media type, its body's schema (strictly: no undocumented
// field) and its headers.
func (d document) responseProblems(op map[string]any, rec *httptest.ResponseRecorder) []string {
	res, _ := op["responses"].(map[string]any)
	documented := d.resolve(res[strconv.Itoa(rec.Code)])
	if documented == nil {
		return nil // reported with the statuses
	}
	var out []string
	headers, _ := documented["headers"].(map[string]any)
	for name, h := range headers {
		if d.resolve(h)["required"] == true && rec.Header().Get(name) == "" {
			out = append(out, "header "+name+" is documented as always sent, but missing")
		}
	}
	for _, name := range contractHeaders {
		if _, ok := headers[name]; !ok && rec.Header().Get(name) != "" {
			out = append(out, "header "+name+" is sent but not documented")
		}
	}
	content, _ := documented["content"].(map[string]any)
	if len(content) == 0 {
		if rec.Body.Len() > 0 {
			out = append(out, "a body where none is documented")
		}
		return out
	}
	media, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil || content[media] == nil {
		return append(out, fmt.Sprintf("Content-Type %q is not documented (%v)", rec.Header().Get("Content-Type"), slices.Sorted(maps.Keys(content))))
	}
	if media != "application/json" {
		return out
	}
	var value any
	if err := json.Unmarshal(rec.Body.Bytes(), &value); err != nil {
		return append(out, "the body is not JSON: "+err.Error())
	}
	return append(out, validator{doc: d, strict: true}.problems(d.mediaSchema(documented, media), value)...)
}

func (d document) mediaSchema(holder map[string]any, media string) any {
	content, _ := holder["content"].(map[string]any)
	m, _ := content[media].(map[string]any)
	return m["schema"]
}

// The document's limits are the code's.
func TestLimitsMatchTheCode(t *testing.T) {
	doc := load(t)
	pathID := fmt.Sprintf("^[!-~]{1,%d}$", tenantapi.MaxPathIDBytes)
	for pointer, want := range map[string]any{
		"/paths/~1webhooks~1kapso/post/requestBody/x-max-body-bytes":                         webhook.DefaultMaxBodyBytes,
		"/paths/~1webhooks~1kapso~1{phone_number_id}/post/requestBody/x-max-body-bytes":      webhook.DefaultMaxBodyBytes,
		"/paths/~1webhooks~1meta~1{phone_number_id}/post/requestBody/x-max-body-bytes":       webhook.DefaultMaxBodyBytes,
		"/paths/~1v1~1tenants~1{tenant_id}~1setup-links/post/requestBody/x-max-body-bytes":   tenantapi.MaxSetupLinkBodyBytes,
		"/paths/~1v1~1tenants~1{tenant_id}~1messages/post/requestBody/x-max-body-bytes":      tenantapi.MaxSendBodyBytes,
		"/components/parameters/SendIdempotencyKey/schema/maxLength":                         messaging.MaxIdempotencyKeyBytes,
		"/components/schemas/OutText/properties/body/maxLength":                              messaging.MaxTextBodyChars,
		"/components/schemas/SendMessageRequest/properties/contacts/maxItems":                messaging.MaxContacts,
		"/components/parameters/Limit/schema/maximum":                                        messaging.MaxPageLimit,
		"/components/parameters/Limit/schema/default":                                        messaging.DefaultPageLimit,
		"/components/parameters/Cursor/schema/maxLength":                                     tenantapi.MaxCursorBytes,
		"/components/parameters/TenantID/schema/pattern":                                     onboarding.TenantIDPattern,
		"/components/parameters/ConversationID/schema/pattern":                               pathID,
		"/components/parameters/WAMID/schema/pattern":                                        pathID,
		"/components/parameters/PhoneNumberID/schema/pattern":                                pathID,
		"/components/parameters/Contact/schema/pattern":                                      pathID,
		"/components/schemas/SetupLinkRequest/properties/tenant_name/maxLength":              onboarding.MaxTenantNameChars,
		"/components/schemas/SetupLinkRequest/properties/phone_number_country_isos/maxItems": onboarding.MaxCountryISOs,
		"/components/schemas/TenantStatus/enum":                                              fmt.Sprint(anys(onboarding.TenantStatuses)...),
		"/components/schemas/EventType/enum":                                                 fmt.Sprint(anys(bridgeevents.Types)...),
		"/components/parameters/EventTypes/schema/items/pattern":                             eventTypesPattern(),
		"/components/parameters/UpdatedSince/schema/maxLength":                               tenantapi.MaxTimeBytes,
	} {
		got, ok := doc.at(pointer)
		if l, isList := got.([]any); isList {
			got = fmt.Sprint(l...)
		}
		if n, isNum := got.(float64); isNum {
			got = int(n)
		}
		if !ok || got != want {
			t.Errorf("%s = %v, want %v", pointer, got, want)
		}
	}
}

// eventTypesPattern is one or more of bridgeevents.Types, comma-separated.
func eventTypesPattern() string {
	quoted := make([]string, len(bridgeevents.Types))
	for i, t := range bridgeevents.Types {
		quoted[i] = regexp.QuoteMeta(t)
	}
	one := "(" + strings.Join(quoted, "|") + ")"
	return "^" + one + "(," + one + ")*$"
}

// The document is one OpenAPI 3.1 whole: references resolve, operation ids
// are unique, path parameters match the path, /v1 needs the bearer token
// and nothing else does, and every error answer is the one envelope.
func TestDocumentIsWellFormed(t *testing.T) {
	doc := load(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, found := doc.at(strings.TrimPrefix(ref, "#")); !strings.HasPrefix(ref, "#/") || !found {
					t.Errorf("%s: $ref %s does not resolve", at, ref)
				}
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(map[string]any(doc), "")

	ids := map[string]string{}
	for pattern, op := range doc.operations() {
		id, _ := op["operationId"].(string)
		if prev, dup := ids[id]; id == "" || dup {
			t.Errorf("%s: operationId %q missing or also %s's", pattern, id, prev)
		}
		ids[id] = pattern
		_, path, _ := strings.Cut(pattern, " ")
		var inPath, declared []string
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}
		for _, p := range list(op["parameters"]) {
			if p := doc.resolve(p); p["in"] == "path" {
				declared = append(declared, p["name"].(string))
				if p["required"] != true {
					t.Errorf("%s: path parameter %s is not required", pattern, p["name"])
				}
			}
		}
		if !slices.Equal(inPath, declared) {
			t.Errorf("%s: path parameters %v, declared %v", pattern, inPath, declared)
		}
		_, secured := op["security"]
		if v1 := strings.HasPrefix(path, "/v1/"); v1 != secured {
			t.Errorf("%s: security %v", pattern, op["security"])
		}
		for _, s := range doc.statuses(op) {
			res, _ := op["responses"].(map[string]any)
			if s >= 400 && !isRef(doc.mediaSchema(doc.resolve(res[strconv.Itoa(s)]), "application/json"), "#/components/schemas/Error") {
				t.Errorf("%s: %d is not the error envelope", pattern, s)
			}
		}
	}
}

func isRef(schema any, ref string) bool {
	m, _ := schema.(map[string]any)
	return m["$ref"] == ref
}

// make dev serves the document as it is in the repository.
func TestOpenAPIHandlerServesTheFile(t *testing.T) {
	rec := httptest.NewRecorder()
	docs.OpenAPIHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, docs.OpenAPIPath, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), docs.OpenAPI) {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

func anys[T any](l []T) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}
