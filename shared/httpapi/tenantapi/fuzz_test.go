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
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// fuzzKapso is a Platform API that always succeeds and counts its calls.
type fuzzKapso struct{ calls atomic.Int32 }

func (k *fuzzKapso) FindCustomerByExternalID(context.Context, string) (onboarding.Customer, bool, error) {
	k.calls.Add(1)
	return onboarding.Customer{}, false, nil
}

func (k *fuzzKapso) CreateCustomer(_ context.Context, name, external string) (onboarding.Customer, error) {
	k.calls.Add(1)
	return onboarding.Customer{ID: "customer-" + external, Name: name, ExternalCustomerID: external}, nil
}

func (k *fuzzKapso) CreateSetupLink(_ context.Context, customerID string, o onboarding.SetupLinkOptions) (onboarding.SetupLink, error) {
	n := k.calls.Add(1)
	id := fmt.Sprintf("link-%d", n)
	now := time.Now().UTC()
	return onboarding.SetupLink{ID: id, Status: "active", URL: "https://app.kapso.ai/setup/" + id,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}, nil
}

// FuzzSetupLinkBody posts random bodies to the setup-link route: the answer
// is 201, or a 400/413 that never reached Kapso; never a panic or a 5xx.
func FuzzSetupLinkBody(f *testing.F) {
	for _, b := range []string{
		``, ` `, `{}`, `{"tenant_name":"Acme"}`, `{"tenant_name":"  Padaria São João 🥖\u00a0"}`,
		`{"tenant_name":"Acme\u0000"}`, "{\"tenant_name\":\"Acme \xff\"}", `{"tenant_name":"\ud800"}`,
		`{"tenant_name":"\ud83e\udd56"}`, `{"tenant_name":null}`, `{"tenant_name":1}`, `{"Tenant_Name":"x"}`,
		`{"tenant_name":"A","tenant_name":"B"}`, `{} {}`, `[]`, `null`, `"x"`, `{"tenant_name":"Acme"`,
		`{"tenant_name":"` + strings.Repeat("é", 201) + `"}`, `{"tenant_name":{"a":[1,2,{"b":"\\u"}]}}`,
	} {
		f.Add([]byte(b), "acme")
	}
	f.Add([]byte(`{}`), "..")
	f.Add([]byte(`{}`), strings.Repeat("a", 129))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body []byte, tenantID string) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		kapso := &fuzzKapso{}
		mux := http.NewServeMux()
		(&tenantapi.API{Store: &memstore.Onboarding{}, Kapso: kapso, Token: apiToken,
			PublicBaseURL: "https://bridge.example", Log: log, Timeout: 5 * time.Second}).Register(mux)
		req, err := http.NewRequest(http.MethodPost, "http://bridge.example/v1/tenants/"+url.PathEscape(tenantID)+"/setup-links",
			bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apiToken)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusCreated:
			trimmed := bytes.Trim(body, " \t\r\n")
			if len(trimmed) > 0 && (trimmed[0] != '{' || !json.Valid(trimmed)) {
				t.Fatalf("body %q accepted", body)
			}
			if !onboarding.ValidTenantID(tenantID) {
				t.Fatalf("tenant id %q accepted", tenantID)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusNotFound,
			http.StatusMovedPermanently, http.StatusTemporaryRedirect:
			if n := kapso.calls.Load(); n != 0 {
				t.Fatalf("a refused request (%d) called Kapso %d times", rec.Code, n)
			}
		default:
			t.Fatalf("POST %q %q: %d %s", tenantID, body, rec.Code, rec.Body)
		}
	})
}

// fuzzLists is the tenant API over in-memory stores holding two tenants,
// each with its setup link and three conversations of one number.
func fuzzLists(f *testing.F) http.Handler {
	ctx := context.Background()
	store, msgs := &memstore.Onboarding{}, &memstore.Messages{}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, tenant := range []string{"acme", "beta"} {
		if _, err := onboarding.EnsureCustomer(ctx, store, tenant, "", func(context.Context) (string, error) {
			return "customer-" + tenant, nil
		}); err != nil {
			f.Fatal(err)
		}
		if _, err := store.RecordLink(ctx, tenant, onboarding.LinkDetails{SetupLinkID: "link-" + tenant,
			URL: "https://app.kapso.ai/setup/" + tenant, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}); err != nil {
			f.Fatal(err)
		}
		for j := range 3 {
			at := t0.Add(time.Duration(i*10+j) * time.Minute)
			person := messaging.Person{Phone: fmt.Sprintf("1555000%04d", j), Name: "P"}
			conv := fmt.Sprintf("conv-%d", j)
			if err := msgs.PutConversation(ctx, tenant, messaging.Conversation{ID: conv, PhoneNumberID: "111",
				Person: person, Status: messaging.ConversationActive, LastActiveAt: at}); err != nil {
				f.Fatal(err)
			}
			for k := range 3 {
				m := messaging.Message{WAMID: fmt.Sprintf("wamid.%s.%d.%d", tenant, j, k), PhoneNumberID: "111",
					Direction: messaging.Inbound, Type: "text", Text: "hi", Timestamp: at.Add(time.Duration(k) * time.Second),
					From: person, To: messaging.Person{Phone: "15550009999"}, ConversationID: conv}
				if err := msgs.PutMessage(ctx, tenant, m, nil); err != nil {
					f.Fatal(err)
				}
			}
		}
	}
	// Each tenant's events, settled.
	feed := &memstore.Feed{Now: func() time.Time { return t0.Add(time.Hour) }}
	for i, tenant := range []string{"acme", "beta", "acme"} {
		if err := feed.Append(ctx, []bridgeevents.Event{{ID: fmt.Sprintf("evt_%d", i), Type: bridgeevents.Types[i], TenantID: tenant,
			Timestamp: t0, Source: bridgeevents.SourceWebhook, Subject: "tenant:" + tenant, Version: int64(i), Data: []byte(`{}`)}}); err != nil {
			f.Fatal(err)
		}
	}
	feed.Now = func() time.Time { return t0.Add(2 * time.Hour) }
	mux := http.NewServeMux()
	(&tenantapi.API{Store: store, Kapso: &fuzzKapso{}, Messages: msgs, Feed: feed, Token: apiToken,
		PublicBaseURL: "https://bridge.example", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeout: 5 * time.Second}).Register(mux)
	return mux
}

// fuzzListPaths are the GET routes with a query (the first fuzzListRoutes
// of them lists), then the others.
const fuzzListRoutes = 5

var fuzzListPaths = []string{
	"/v1/tenants",
	"/v1/tenants/%s/conversations",
	"/v1/tenants/%s/conversations/conv-1/messages",
	"/v1/events",
	"/v1/tenants/%s/events",
	"/v1/tenants/%s/connection",
	"/v1/tenants/%s/messages/wamid.%[1]s.1.1",
	"/v1/tenants/%s/numbers/111/contacts/15550000001",
}

// FuzzTenantAPIQuery sends random query strings, cursors and Authorization
// headers to every /v1 GET route. Without the exact bearer token the answer
// is 401; otherwise 200 or a clean 400, never a panic or a 5xx; and a next
// cursor one list handed out is refused by another tenant's list and by
// another list of the same tenant.
func FuzzTenantAPIQuery(f *testing.F) {
	for i := range fuzzListPaths {
		for _, q := range []string{"", "limit=1", "limit=0", "limit=101", "limit=1&limit=2", "limit=-1", "limit=1e3",
			"status=connected", "status=nope", "needs_attention=true&limit=1", "needs_attention=1", "x=1", "a=%zz", "a=1;b=2",
			"cursor=", "cursor=e30", "cursor=%00", "cursor=" + strings.Repeat("A", 5000), "type=message.received,contact.changed&limit=1",
			"type=x", "type=", "order=desc&limit=1", "order=up", "updated_since=2026-03-01T12:05:00Z&limit=1", "updated_since=x"} {
			f.Add(uint8(i), "acme", q, "", "Bearer "+apiToken)
		}
		f.Add(uint8(i), "acme", "limit=1", "eyJsIjoiY29udmVyc2F0aW9ucyIsInQiOiJhY21lIiwiayI6IngifQ", "Bearer "+apiToken)
		f.Add(uint8(i), "beta", "", "", "bearer "+apiToken)
		f.Add(uint8(i), "acme", "", "", "Bearer "+apiToken+" ")
		f.Add(uint8(i), "acme", "", "", "Basic "+apiToken)
		f.Add(uint8(i), "acme", "", "", "Bearer x,Bearer "+apiToken)
		f.Add(uint8(i), "acme", "", "", "")
		f.Add(uint8(i), "-x", "", "", "Bearer "+apiToken)
	}
	mux := fuzzLists(f)
	get := func(t *testing.T, target, auth string) *httptest.ResponseRecorder {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			return nil
		}
		if auth != "" {
			req.Header["Authorization"] = []string{auth}
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, route uint8, tenant, rawQuery, cursor, auth string) {
		if len(rawQuery)+len(cursor)+len(auth)+len(tenant) > 1<<20 {
			t.Skip()
		}
		path := fuzzListPaths[int(route)%len(fuzzListPaths)]
		if strings.Contains(path, "%s") {
			path = fmt.Sprintf(path, url.PathEscape(tenant))
		}
		q := rawQuery
		if cursor != "" {
			if q != "" {
				q += "&"
			}
			q += "cursor=" + url.QueryEscape(cursor)
		}
		rec := get(t, "http://bridge.example"+path+"?"+q, auth)
		if rec == nil {
			return
		}
		scheme, token, _ := strings.Cut(auth, " ")
		authorised := strings.EqualFold(scheme, "Bearer") && token == apiToken
		switch {
		case rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect:
			return // ServeMux cleaning the path
		case !authorised && rec.Code == http.StatusBadRequest && strings.Contains(auth, ","):
			return // several credentials, joined as API Gateway joins repeated headers
		case !authorised && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusNotFound:
			t.Fatalf("GET %s?%s with Authorization %q: %d", path, q, auth, rec.Code)
		case authorised && rec.Code == http.StatusUnauthorized:
			t.Fatalf("the token was refused: %q", auth)
		case rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized &&
			rec.Code != http.StatusNotFound:
			t.Fatalf("GET %s?%s: %d %s", path, q, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK || !authorised {
			return
		}
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatalf("answer %s: %v", rec.Body, err)
		}
		if page.NextCursor == "" {
			return
		}
		// The cursor belongs to this list of this tenant only.
		for i, other := range fuzzListPaths[:fuzzListRoutes] {
			for _, tn := range []string{"acme", "beta"} {
				op := other
				if strings.Contains(op, "%s") {
					op = fmt.Sprintf(op, tn)
				}
				if op == path {
					continue
				}
				rec := get(t, "http://bridge.example"+op+"?cursor="+url.QueryEscape(page.NextCursor), "Bearer "+apiToken)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_cursor") {
					t.Fatalf("the cursor of %s was taken by list %d %s: %d %s", path, i, op, rec.Code, rec.Body)
				}
			}
		}
		if route%uint8(len(fuzzListPaths)) == 0 {
			for _, filter := range []string{"status=connected", "needs_attention=true"} {
				if strings.Contains(q, filter) {
					continue
				}
				rec := get(t, "http://bridge.example/v1/tenants?"+filter+"&cursor="+url.QueryEscape(page.NextCursor), "Bearer "+apiToken)
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("the cursor of %s?%s was taken with %s: %d %s", path, q, filter, rec.Code, rec.Body)
				}
			}
		}
	})
}
