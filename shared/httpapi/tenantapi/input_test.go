package tenantapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Every /v1 input has one rule and a 400 naming the field it broke; a
// refused request never reaches Kapso.
func TestSetupLinkInputRules(t *testing.T) {
	s := newOnboardingStack(t)
	for _, c := range []struct {
		name, path, body, mention string
	}{
		{"NUL in tenant_name", "/v1/tenants/acme/setup-links", `{"tenant_name":"Acme\u0000"}`, "tenant_name: must not contain control characters"},
		{"ESC in tenant_name", "/v1/tenants/acme/setup-links", `{"tenant_name":"\u001b[31mAcme"}`, "tenant_name: must not contain control characters"},
		{"CR LF in tenant_name", "/v1/tenants/acme/setup-links", `{"tenant_name":"Acme\r\nInc"}`, "tenant_name: must not contain control characters"},
		{"C1 control in tenant_name", "/v1/tenants/acme/setup-links", "{\"tenant_name\":\"Acme\u0085\"}", "tenant_name: must not contain control characters"},
		{"invalid UTF-8 in tenant_name", "/v1/tenants/acme/setup-links", "{\"tenant_name\":\"Acme \xff\xfe\"}", "tenant_name: must be valid UTF-8"},
		{"unpaired surrogate in tenant_name", "/v1/tenants/acme/setup-links", `{"tenant_name":"Acme \ud800"}`, "tenant_name: must be valid UTF-8"},
		{"reversed surrogates in tenant_name", "/v1/tenants/acme/setup-links", `{"tenant_name":"\udc00\ud800"}`, "tenant_name: must be valid UTF-8"},
		{"tenant_name too long once trimmed", "/v1/tenants/acme/setup-links", `{"tenant_name":" ` + strings.Repeat("é", 201) + ` "}`, "tenant_name: must be at most 200"},
		{"null body", "/v1/tenants/acme/setup-links", `null`, "body must be a JSON object"},
		{"array body", "/v1/tenants/acme/setup-links", `[{"tenant_name":"Acme"}]`, "body must be a JSON object"},
		{"string body", "/v1/tenants/acme/setup-links", `"Acme"`, "body must be a JSON object"},
		{"number body", "/v1/tenants/acme/setup-links", ` 42 `, "body must be a JSON object"},
		{"two objects", "/v1/tenants/acme/setup-links", `{} {}`, "body must be one JSON object"},
		{"field in another case", "/v1/tenants/acme/setup-links", `{"Tenant_Name":"Acme"}`, `unknown field "Tenant_Name"`},
		{"field given twice", "/v1/tenants/acme/setup-links", `{"tenant_name":"A","tenant_name":"B"}`, "tenant_name: given more than once"},
		{"unfinished object", "/v1/tenants/acme/setup-links", `{"tenant_name":"Acme"`, "not valid JSON"},
		{"tenant id ..", "/v1/tenants/%2e%2e/setup-links", ``, "tenant_id: must be 1 to 128"},
		{"tenant id .", "/v1/tenants/%2E/setup-links", ``, "tenant_id: must be 1 to 128"},
		{"tenant id starting with a dot", "/v1/tenants/.acme/setup-links", ``, "tenant_id: must be 1 to 128"},
		{"tenant id starting with a dash", "/v1/tenants/-acme/setup-links", ``, "tenant_id: must be 1 to 128"},
		{"query parameter on a create", "/v1/tenants/acme/setup-links?dry_run=1", ``, `unknown query parameter "dry_run"`},
	} {
		rec := s.do(http.MethodPost, c.path, apiToken, c.body)
		if rec.Code != http.StatusBadRequest || errorCode(t, rec) != "invalid" || !strings.Contains(errorMessage(t, rec), c.mention) {
			t.Errorf("%s: %d %s", c.name, rec.Code, rec.Body)
		}
	}
	if st := s.state(); len(st.Customers) != 0 || len(st.SetupLinks) != 0 {
		t.Fatalf("a refused request reached Kapso: %+v", st)
	}
}

// An absent body (or only white space) and an empty object take every
// default; tenant_name is kept without surrounding white space.
func TestSetupLinkBodyMayBeEmpty(t *testing.T) {
	s := newOnboardingStack(t)
	for tenant, body := range map[string]string{"empty": "", "blank": " \r\n\t ", "object": "{}"} {
		s.createLink(tenant, body)
		if c, ok, err := s.kapso.FindCustomerByExternalID(context.Background(), tenant); err != nil || !ok || c.Name != tenant {
			t.Errorf("%s: customer %+v %v %v", tenant, c, ok, err)
		}
	}
	s.createLink("trimmed", `{"tenant_name":"  Padaria São João 🥖\u00a0"}`)
	if c, _, _ := s.kapso.FindCustomerByExternalID(context.Background(), "trimmed"); c.Name != "Padaria São João 🥖" {
		t.Errorf("customer name %q", c.Name)
	}
	if conn, _, _ := s.store.Load(context.Background(), "trimmed"); conn.Tenant.Name != "Padaria São João 🥖" {
		t.Errorf("tenant name %q", conn.Tenant.Name)
	}
	// A blank name is an omitted one: the tenant id names the customer.
	s.createLink("blank-name", `{"tenant_name":"   "}`)
	if c, _, _ := s.kapso.FindCustomerByExternalID(context.Background(), "blank-name"); c.Name != "blank-name" {
		t.Errorf("customer name %q", c.Name)
	}
}

// Every /v1 route refuses query parameters it does not take, and a query
// string that does not parse.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	s := newOnboardingStack(t)
	s.createLink("acme", "")
	for path, mention := range map[string]string{
		"/v1/tenants/acme/connection?verbose=1":             `unknown query parameter "verbose"`,
		"/v1/tenants/acme/conversations?limit=1&order=desc": `unknown query parameter "order"`,
		"/v1/tenants/acme/messages/wamid.1?fields=all":      `unknown query parameter "fields"`,
		"/v1/tenants/acme/conversations?limit=%zz":          "query string",
		"/v1/tenants/acme/connection?a=1;b=2":               "query string",
	} {
		rec := s.do(http.MethodGet, path, apiToken, "")
		if rec.Code != http.StatusBadRequest || !strings.Contains(errorMessage(t, rec), mention) {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
	if rec := s.do(http.MethodGet, "/v1/tenants/acme/connection", apiToken, ""); rec.Code != http.StatusOK {
		t.Errorf("connection: %d %s", rec.Code, rec.Body)
	}
}
