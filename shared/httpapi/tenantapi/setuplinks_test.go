package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

const apiToken = "tenant-api-token"

// onboardingStack is the tenant API on the in-memory onboarding store
// (dynamo.Onboarding passes the same contract suite), with the simulator
// behind the real Platform API client.
type onboardingStack struct {
	t      *testing.T
	store  *memstore.Onboarding
	sim    *kapsosim.Simulator
	simURL string
	kapso  *kapsoapi.Client
	api    *tenantapi.API
	mux    *http.ServeMux
}

func newOnboardingStack(t *testing.T) *onboardingStack {
	t.Helper()
	sim := kapsosim.New(kapsosim.Options{APIKey: "kapso-key"})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	s := &onboardingStack{t: t, sim: sim, simURL: srv.URL, mux: http.NewServeMux(),
		store: &memstore.Onboarding{},
		kapso: kapsoapi.New(srv.URL+"/platform/v1", "kapso-key", kapsoapi.WithRetry(2, time.Millisecond, 5*time.Millisecond))}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.api = &tenantapi.API{Store: s.store, Kapso: s.kapso, Token: apiToken, PublicBaseURL: "https://bridge.example",
		Log: log, Timeout: 5 * time.Second}
	s.api.Register(s.mux)
	return s
}

func (s *onboardingStack) do(method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return rec
}

type linkAnswer struct {
	SetupLink struct {
		ID, URL, Status      string
		CreatedAt, ExpiresAt time.Time `json:"-"`
	} `json:"setup_link"`
}

func (s *onboardingStack) createLink(tenantID, body string) string {
	s.t.Helper()
	rec := s.do(http.MethodPost, "/v1/tenants/"+tenantID+"/setup-links", apiToken, body)
	if rec.Code != http.StatusCreated {
		s.t.Fatalf("create link: %d %s", rec.Code, rec.Body)
	}
	var a linkAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.SetupLink.ID == "" || a.SetupLink.Status != "active" {
		s.t.Fatalf("link answer %s: %v", rec.Body, err)
	}
	return a.SetupLink.ID
}

// simState is the simulator's own view of what it holds, read from its
// control API rather than through the client under test.
type simState struct {
	Customers  []simCustomer `json:"customers"`
	SetupLinks []simLink     `json:"setup_links"`
}

type simCustomer struct {
	ExternalCustomerID string `json:"external_customer_id"`
	Name               string `json:"name"`
}

type simLink struct {
	ID                 string `json:"id"`
	CustomerID         string `json:"customer_id"`
	Status             string `json:"status"`
	SuccessRedirectURL string `json:"success_redirect_url"`
	FailureRedirectURL string `json:"failure_redirect_url"`
}

func (s *onboardingStack) state() simState {
	s.t.Helper()
	resp, err := http.Get(s.simURL + "/_sim/state")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st simState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("simulator state: %d %v", resp.StatusCode, err)
	}
	return st
}

// customersOf counts the simulator's customers with that external id.
func (s *onboardingStack) customersOf(externalID string) int {
	n := 0
	for _, c := range s.state().Customers {
		if c.ExternalCustomerID == externalID {
			n++
		}
	}
	return n
}

// activeLinks lists the simulator's active setup links of a customer.
func (s *onboardingStack) activeLinks(customerID string) []simLink {
	var out []simLink
	for _, l := range s.state().SetupLinks {
		if l.CustomerID == customerID && l.Status == "active" {
			out = append(out, l)
		}
	}
	return out
}

func errorMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return body.Error.Message
}

func TestSetupLinkCreatedAndConnectionShown(t *testing.T) {
	s := newOnboardingStack(t)
	rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", apiToken, `{"tenant_name":"Acme Inc","allowed_connection_types":["dedicated"]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	var raw map[string]map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &raw)
	for _, k := range []string{"id", "url", "status", "created_at", "expires_at"} {
		if _, ok := raw["setup_link"][k]; !ok {
			t.Fatalf("setup_link lacks %s: %s", k, rec.Body)
		}
	}
	linkID := raw["setup_link"]["id"].(string)
	if n := s.customersOf("acme"); n != 1 {
		t.Fatalf("customers for acme: %d", n)
	}
	links := s.activeLinks(mustCustomer(t, s, "acme"))
	if len(links) != 1 || links[0].SuccessRedirectURL != "https://bridge.example/connect/success" ||
		links[0].FailureRedirectURL != "https://bridge.example/connect/failure" {
		t.Fatalf("kapso link: %+v", links)
	}

	rec = s.do(http.MethodGet, "/v1/tenants/acme/connection", apiToken, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("connection: %d %s", rec.Code, rec.Body)
	}
	var view tenantapi.ConnectionView
	_ = json.Unmarshal(rec.Body.Bytes(), &view)
	if view.Status != onboarding.TenantLinkActive || view.ActiveSetupLink == nil || view.ActiveSetupLink.SetupLinkID != linkID ||
		view.KapsoCustomerID == "" || len(view.Attempts) != 1 || len(view.Timeline) != 1 {
		t.Fatalf("connection view: %s", rec.Body)
	}
	if rec := s.do(http.MethodGet, "/v1/tenants/nobody/connection", apiToken, ""); rec.Code != http.StatusNotFound ||
		errorMessage(t, rec) != "unknown tenant" {
		t.Fatalf("unknown tenant: %d %s", rec.Code, rec.Body)
	}
}

func mustCustomer(t *testing.T, s *onboardingStack, tenantID string) string {
	t.Helper()
	c, ok, err := s.kapso.FindCustomerByExternalID(context.Background(), tenantID)
	if err != nil || !ok {
		t.Fatalf("customer of %s: %v %v", tenantID, ok, err)
	}
	return c.ID
}

func TestSetupLinkRequestValidation(t *testing.T) {
	s := newOnboardingStack(t)
	cases := []struct {
		name, path, body string
		status           int
		mention          string
	}{
		{"bad connection type", "/v1/tenants/acme/setup-links", `{"allowed_connection_types":["bogus"]}`, 400, "allowed_connection_types"},
		{"bad theme", "/v1/tenants/acme/setup-links", `{"theme_config":{"primary_color":"red"}}`, 400, "theme_config.primary_color"},
		{"unknown field", "/v1/tenants/acme/setup-links", `{"tenant_nam":"x"}`, 400, `"tenant_nam"`},
		{"wrong type", "/v1/tenants/acme/setup-links", `{"tenant_name":5}`, 400, "tenant_name"},
		{"broken json", "/v1/tenants/acme/setup-links", `{"tenant_name":`, 400, "JSON"},
		{"bad tenant id", "/v1/tenants/ac%20me/setup-links", ``, 400, "tenant_id"},
		{"too large", "/v1/tenants/acme/setup-links", `{"tenant_name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger"},
	}
	for _, c := range cases {
		rec := s.do(http.MethodPost, c.path, apiToken, c.body)
		if rec.Code != c.status || !strings.Contains(errorMessage(t, rec), c.mention) {
			t.Errorf("%s: %d %s", c.name, rec.Code, rec.Body)
		}
	}
	if n := s.customersOf("acme"); n != 0 {
		t.Fatalf("a refused request reached Kapso: %d customers", n)
	}
}

func TestTenantAPIRequiresToken(t *testing.T) {
	s := newOnboardingStack(t)
	for _, token := range []string{"", "wrong", apiToken + "x"} {
		rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", token, "")
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("token %q: %d %v", token, rec.Code, rec.Header())
		}
	}
	if rec := s.do(http.MethodGet, "/v1/tenants/acme/connection", "", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("connection without token: %d", rec.Code)
	}
	// An API configured without a token refuses everyone, even an empty bearer.
	open := &tenantapi.API{Store: s.store, Kapso: s.kapso}
	mux := http.NewServeMux()
	open.Register(mux)
	req := httptest.NewRequest(http.MethodGet, "/v1/tenants/acme/connection", nil)
	req.Header.Set("Authorization", "Bearer ")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("empty configured token: %d", rec.Code)
	}
}

// A 401 says how to authenticate (RFC 6750): the realm, and
// error="invalid_token" when a bearer token was given but is wrong. Two
// Authorization headers, or two credentials in one as API Gateway joins
// repeated headers, are a malformed request: 400, whichever is right.
func TestTenantAPIAuthorizationHeader(t *testing.T) {
	s := newOnboardingStack(t)
	for _, c := range []struct {
		name      string
		headers   []string
		status    int
		challenge string
	}{
		{"no header", nil, 401, `Bearer realm="kapso-bridge"`},
		{"another scheme", []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, 401, `Bearer realm="kapso-bridge"`},
		{"an empty bearer token", []string{"Bearer "}, 401, `Bearer realm="kapso-bridge"`},
		{"a wrong bearer token", []string{"Bearer wrong"}, 401, `Bearer realm="kapso-bridge", error="invalid_token"`},
		{"two headers, the first right", []string{"Bearer " + apiToken, "Bearer wrong"}, 400, ""},
		{"two headers, both right", []string{"Bearer " + apiToken, "Bearer " + apiToken}, 400, ""},
		{"two headers joined by a comma", []string{"Bearer wrong,Bearer " + apiToken}, 400, ""},
		{"the right token", []string{"Bearer " + apiToken}, 200, ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/tenants", nil)
		for _, h := range c.headers {
			req.Header.Add("Authorization", h)
		}
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, req)
		if rec.Code != c.status || rec.Header().Get("WWW-Authenticate") != c.challenge {
			t.Errorf("%s: %d, WWW-Authenticate %q; want %d, %q", c.name, rec.Code, rec.Header().Get("WWW-Authenticate"), c.status, c.challenge)
		}
		if c.status == 400 && (errorCode(t, rec) != "invalid" || !strings.Contains(errorMessage(t, rec), "Authorization")) {
			t.Errorf("%s: %s", c.name, rec.Body)
		}
	}
}

func TestKapsoRefusalsAndOutages(t *testing.T) {
	s := newOnboardingStack(t)
	// Kapso refuses a reconnect of a number the customer does not have: its
	// validation text is passed on.
	rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", apiToken, `{"reconnect_phone_number":"+15550001111"}`)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(errorMessage(t, rec), "Reconnect phone number") {
		t.Fatalf("kapso 422: %d %s", rec.Code, rec.Body)
	}
	// Kapso unreachable: 502, nothing internal in the message.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	s.api.Kapso = kapsoapi.New(dead.URL, "k", kapsoapi.WithRetry(1, time.Millisecond, time.Millisecond))
	rec = s.do(http.MethodPost, "/v1/tenants/beta/setup-links", apiToken, "")
	if rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "127.0.0.1") {
		t.Fatalf("kapso down: %d %s", rec.Code, rec.Body)
	}
	// Wrong API key: 502 with a generic message.
	s.api.Kapso = kapsoapi.New(s.simURL+"/platform/v1", "wrong-key")
	rec = s.do(http.MethodPost, "/v1/tenants/gamma/setup-links", apiToken, "")
	if rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "Invalid API key") {
		t.Fatalf("kapso 401: %d %s", rec.Code, rec.Body)
	}
}

// Each failure of Kapso's is answered in the API's terms: Kapso's
// validation text is passed on, a rate limit's Retry-After too; the rest is
// a generic 502 that never carries Kapso's words.
func TestKapsoFailuresAnsweredInTheAPIsTerms(t *testing.T) {
	const (
		refused     = "Kapso refused the request; see the service logs"
		limited     = "Kapso is rate limiting; retry later"
		unavailable = "Kapso is unavailable; retry"
		unusable    = "Kapso answered with something kapso-bridge cannot use; retry"
	)
	for name, tc := range map[string]struct {
		status     int
		body       string
		want       int
		message    string
		retryAfter string
	}{
		"422":             {422, `{"error":"Name is too long"}`, 422, "Name is too long", ""},
		"401":             {401, `{"error":"Invalid API key"}`, 502, refused, ""},
		"402":             {402, `{"error":"Upgrade your plan"}`, 502, refused, ""},
		"403":             {403, `{"error":"Forbidden here"}`, 502, refused, ""},
		"429":             {429, `{"error":"Rate limit exceeded"}`, 502, limited, "60"},
		"404":             {404, `{"error":"Customer route gone"}`, 502, unavailable, ""},
		"409":             {409, `{"error":"Customer conflict"}`, 502, unavailable, ""},
		"400":             {400, `{"error":"Malformed filter"}`, 502, unavailable, ""},
		"410":             {410, `{"error":"Gone away"}`, 502, unavailable, ""},
		"500":             {500, `{"error":"Database exploded"}`, 502, unavailable, ""},
		"unusable answer": {200, `{"data":[{"id":"","external_customer_id":"acme"}]}`, 502, unusable, ""},
	} {
		t.Run(name, func(t *testing.T) {
			s := newOnboardingStack(t)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			s.api.Kapso = kapsoapi.New(srv.URL, "k", kapsoapi.WithRetry(1, time.Millisecond, time.Millisecond))
			rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", apiToken, "")
			wantCode := map[int]string{422: "unprocessable", 502: "bad_gateway"}[tc.want]
			if rec.Code != tc.want || errorCode(t, rec) != wantCode || errorMessage(t, rec) != tc.message ||
				rec.Header().Get("Retry-After") != tc.retryAfter {
				t.Fatalf("%d %s, Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
			}
			var kapsoSaid struct{ Error string }
			_ = json.Unmarshal([]byte(tc.body), &kapsoSaid)
			if tc.want != 422 && kapsoSaid.Error != "" && strings.Contains(rec.Body.String(), kapsoSaid.Error) {
				t.Errorf("Kapso's words reached the caller: %s", rec.Body)
			}
		})
	}
}

// Racing requests for one tenant make exactly one Kapso customer; every
// request gets a link or a retryable answer, and only the newest link stays active.
func TestRacingSetupLinksMakeOneCustomer(t *testing.T) {
	s := newOnboardingStack(t)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range codes {
		wg.Go(func() { codes[i] = s.do(http.MethodPost, "/v1/tenants/racer/setup-links", apiToken, "").Code })
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict: // in flight, with Retry-After
		default:
			t.Fatalf("codes %v", codes)
		}
	}
	if created == 0 {
		t.Fatalf("no request succeeded: %v", codes)
	}
	if n := s.customersOf("racer"); n != 1 {
		t.Fatalf("kapso customers for racer: %d", n)
	}
	conn, _, err := s.store.Load(context.Background(), "racer")
	if err != nil || len(conn.Attempts) != created {
		t.Fatalf("attempts %d for %d links: %v", len(conn.Attempts), created, err)
	}
	active := s.activeLinks(conn.Tenant.KapsoCustomerID)
	newest := conn.NewestAttempt()
	if len(active) != 1 || newest.SetupLinkID != active[0].ID || newest.Status != onboarding.AttemptActive ||
		conn.Tenant.ActiveSetupLinkID != active[0].ID {
		t.Fatalf("active at kapso %+v, newest here %+v", active, newest)
	}
	for _, a := range conn.Attempts[:len(conn.Attempts)-1] {
		if a.Status != onboarding.AttemptSuperseded {
			t.Fatalf("older attempt %s is %s", a.SetupLinkID, a.Status)
		}
	}
}

// connectThrough stores what a redirect, the phone_number.created webhook
// and the webhook registration record for number 111 through linkID.
func (s *onboardingStack) connectThrough(tenantID, linkID string) {
	s.t.Helper()
	at := time.Now().UTC()
	number := onboarding.NumberDetails{PhoneNumberID: "111", SetupLinkID: linkID, BusinessAccountID: "222",
		DisplayPhoneNumber: "+15550001111", ConnectionType: onboarding.ConnectionCoexistence}
	for _, f := range []onboarding.Fact{
		onboarding.SuccessRedirect(onboarding.RedirectDetails{SetupLinkID: linkID, PhoneNumberID: "111"}, at.Add(time.Second)),
		onboarding.PhoneNumberCreated(number, at.Add(2*time.Second)),
		onboarding.WebhookRegistered("111", "wh", at.Add(3*time.Second)),
	} {
		if _, _, err := s.store.AppendFact(context.Background(), tenantID, f); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *onboardingStack) connectionJSON(tenantID string) map[string]any {
	s.t.Helper()
	rec := s.do(http.MethodGet, "/v1/tenants/"+tenantID+"/connection", apiToken, "")
	var v map[string]any
	if rec.Code != http.StatusOK {
		s.t.Fatalf("connection: %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		s.t.Fatal(err)
	}
	return v
}

// A connected tenant that opens a new link (to add or reconnect a number)
// stays connected and shows that link as active until it expires.
func TestActiveSetupLinkBesideConnectedNumber(t *testing.T) {
	s := newOnboardingStack(t)
	s.connectThrough("acme", s.createLink("acme", ""))
	second := s.createLink("acme", "")
	v := s.connectionJSON("acme")
	active, _ := v["active_setup_link"].(map[string]any)
	if v["status"] != "connected" || active == nil || active["setup_link_id"] != second || active["status"] != "active" {
		t.Fatalf("connected with a new link: %v", v)
	}
	expires, err := time.Parse(time.RFC3339Nano, active["expires_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	s.api.Now = func() time.Time { return expires }
	if v := s.connectionJSON("acme"); v["status"] != "connected" || v["active_setup_link"] != nil {
		t.Fatalf("after the link expired: %v", v)
	}
}

func TestConnectionViewShape(t *testing.T) {
	s := newOnboardingStack(t)
	linkID := s.createLink("acme", "")
	s.connectThrough("acme", linkID)
	rec := s.do(http.MethodGet, "/v1/tenants/acme/connection", apiToken, "")
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v["status"] != "connected" || v["tenant_id"] != "acme" || v["active_setup_link"] != nil {
		t.Fatalf("top level: %s", rec.Body)
	}
	attempt := v["attempts"].([]any)[0].(map[string]any)
	redirect := attempt["redirect"].(map[string]any)
	if attempt["status"] != "confirmed" || redirect["kind"] != "success" || redirect["phone_number_id"] != "111" ||
		attempt["confirmed_by"].([]any)[0] != onboarding.SourcePhoneNumberCreated {
		t.Fatalf("attempt: %v", attempt)
	}
	phone := v["phone_numbers"].([]any)[0].(map[string]any)
	if phone["connection_type"] != "coexistence" || phone["webhook_registered"] != true || phone["connected_at"] == nil {
		t.Fatalf("phone: %v", phone)
	}
	support := v["support"].(map[string]any)
	if support["signup"] != "completed" || support["phone_number_id"] != "111" {
		t.Fatalf("support: %v", support)
	}
	timeline := v["timeline"].([]any)
	var kinds []string
	for _, e := range timeline {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if strings.Join(kinds, ",") != "link_created,success_redirect,phone_number_created,webhook_registered" {
		t.Fatalf("timeline: %v", kinds)
	}
	if !bytes.Contains(rec.Body.Bytes(), []byte(`"business_account_id":"222"`)) {
		t.Fatalf("snake_case body: %s", rec.Body)
	}
}

// timingOutStore times out on every tenant write, as DynamoDB does when it
// is slow: the context's deadline passes inside the call.
type timingOutStore struct{ *memstore.Onboarding }

func (timingOutStore) EnsureTenant(context.Context, string, string) error {
	return fmt.Errorf("ensure tenant: %w", context.DeadlineExceeded)
}

// A storage failure, a timeout included, is ours: 503, retry. Only Kapso's
// failures are 502.
func TestSetupLinkStorageTimeoutIs503(t *testing.T) {
	s := newOnboardingStack(t)
	s.api.Store = timingOutStore{s.store}
	rec := s.do(http.MethodPost, "/v1/tenants/acme/setup-links", apiToken, "")
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "deadline") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// A blank tenant_name keeps no name for the tenant: Kapso's customer, which
// needs one, is named after the tenant id, and the connection view shows no
// tenant_name.
func TestBlankTenantNameNamesOnlyKapsosCustomer(t *testing.T) {
	s := newOnboardingStack(t)
	s.createLink("blank-co", `{"tenant_name":"   "}`)
	var name string
	for _, c := range s.state().Customers {
		if c.ExternalCustomerID == "blank-co" {
			name = c.Name
		}
	}
	if name != "blank-co" {
		t.Errorf("Kapso customer named %q, want the tenant id", name)
	}
	if got := s.connectionJSON("blank-co")["tenant_name"]; got != "" {
		t.Errorf("tenant_name %q, want none", got)
	}
}
