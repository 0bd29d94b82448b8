package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// templateKapso is Kapso's Meta proxy as the template routes call it: the
// WABA's templates, and the drafts it was asked to create.
type templateKapso struct {
	read    map[string][]templates.Read
	err     error
	lists   int
	created []templates.Draft
}

func (k *templateKapso) ListTemplates(_ context.Context, waba string) ([]templates.Read, error) {
	k.lists++
	return k.read[waba], k.err
}

func (k *templateKapso) CreateTemplate(_ context.Context, waba string, d templates.Draft) (templates.Created, error) {
	if k.err != nil {
		return templates.Created{}, k.err
	}
	k.created = append(k.created, d)
	return templates.Created{ID: "tpl-new", Status: templates.Pending, Category: d.Category}, nil
}

const orderUpdateComponents = `[{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["A-1"]}},
 {"type":"BODY","text":"Hi {{1}}, your order {{2}} ships today.","example":{"body_text":[["Ana","A-1"]]}},
 {"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://shop.example.com/orders/{{1}}","example":["https://shop.example.com/orders/A-1"]}]}]`

// templateAPI is the tenant API where acme's number 111 is in WABA waba-1,
// whose Kapso lists order_update (en_US, es) and hello_world.
type templateAPI struct {
	mux     *http.ServeMux
	kapso   *templateKapso
	store   *memstore.Templates
	queue   *memstore.OutboundQueue
	onboard *memstore.Onboarding
	now     time.Time
}

func newTemplateAPI(t *testing.T) *templateAPI {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	store, msgs := &memstore.Onboarding{}, &memstore.Messages{}
	if _, err := onboarding.EnsureCustomer(ctx, store, "acme", "Acme", func(context.Context) (string, error) { return "cus-1", nil }); err != nil {
		t.Fatal(err)
	}
	for _, f := range []onboarding.Fact{
		onboarding.PhoneNumberCreated(onboarding.NumberDetails{PhoneNumberID: "111", SetupLinkID: "sl-1", BusinessAccountID: "waba-1"}, now.Add(-48*time.Hour)),
		onboarding.WebhookRegistered("111", "wh", now.Add(-48*time.Hour)),
	} {
		if _, _, err := store.AppendFact(ctx, "acme", f); err != nil {
			t.Fatal(err)
		}
	}
	if err := msgs.PutContact(ctx, "acme", "111", messaging.Person{Phone: "5215512345678", Name: "Ana"},
		messaging.Sighting{At: now.Add(-time.Hour), Inbound: true, ConversationID: "conv-ana"}); err != nil {
		t.Fatal(err)
	}
	read := func(name, lang, status, components string) templates.Read {
		return templates.Read{ID: "id-" + name + "-" + lang, Name: name, Language: lang, Category: templates.Utility, Status: status,
			QualityScore: "GREEN", Components: json.RawMessage(components)}
	}
	a := &templateAPI{mux: http.NewServeMux(), store: &memstore.Templates{}, queue: &memstore.OutboundQueue{}, onboard: store, now: now,
		kapso: &templateKapso{read: map[string][]templates.Read{"waba-1": {
			read("order_update", "en_US", templates.Approved, orderUpdateComponents),
			read("order_update", "es", templates.Approved, orderUpdateComponents),
			read("hello_world", "en_US", templates.Approved, `[{"type":"BODY","text":"Hello"}]`),
		}}}}
	api := &tenantapi.API{Store: store, Messages: msgs, Outbox: msgs, Outbound: a.queue, Templates: a.store, TemplateKapso: a.kapso,
		Token: apiToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return a.now }, Timeout: 5 * time.Second}
	api.Register(a.mux)
	return a
}

func (a *templateAPI) do(method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.mux.ServeHTTP(rec, req)
	return rec
}

func (a *templateAPI) sync(t *testing.T) {
	t.Helper()
	if rec := a.do(http.MethodPost, "/v1/tenants/acme/templates/sync", ""); rec.Code != http.StatusOK {
		t.Fatalf("sync: %d %s", rec.Code, rec.Body)
	}
}

func (a *templateAPI) send(key, template string) *httptest.ResponseRecorder {
	return a.do(http.MethodPost, "/v1/tenants/acme/messages",
		`{"to":"5215512345678","type":"template","template":`+template+`}`, "Idempotency-Key", key)
}

const orderUpdateSend = `{"name":"order_update","language":{"code":"en_US"},"components":[
 {"type":"header","parameters":[{"type":"text","text":"A-1"}]},
 {"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A-1"}]},
 {"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"A-1"}]}]}`

func TestTemplateSendIsCheckedAgainstTheStoredTemplate(t *testing.T) {
	a := newTemplateAPI(t)
	// Before the WABA's first reading, Meta is the judge.
	if rec := a.send("k0", `{"name":"promo","language":{"code":"en_US"}}`); rec.Code != http.StatusAccepted {
		t.Fatalf("before any reading: %d %s", rec.Code, rec.Body)
	}
	a.queue.Take(time.Hour)
	a.sync(t)
	for name, c := range map[string]struct{ template, want string }{
		"unknown":      {`{"name":"promo","language":{"code":"en_US"}}`, "WABA waba-1 has no template promo"},
		"language":     {strings.Replace(orderUpdateSend, "en_US", "pt_BR", 1), "order_update has no pt_BR version; it has en_US, es"},
		"body short":   {strings.Replace(orderUpdateSend, `{"type":"text","text":"Ana"},`, "", 1), "the body of order_update (en_US) takes 2 parameters, the send gives 1"},
		"no button":    {strings.Replace(orderUpdateSend, `"button"`, `"footer"`, 1), "button 0 (URL) of order_update (en_US) takes 1 parameter, the send gives 0"},
		"static extra": {`{"name":"hello_world","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]}`, "takes 0 parameters, the send gives 1"},
	} {
		rec := a.send("k-"+name, c.template)
		if rec.Code != http.StatusUnprocessableEntity || errorCode(t, rec) != "template_not_sendable" || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %d %s, want %q", name, rec.Code, rec.Body, c.want)
		}
	}
	if n := len(a.queue.Take(time.Hour)); n != 0 {
		t.Fatalf("%d refused sends queued", n)
	}
	if rec := a.send("k1", orderUpdateSend); rec.Code != http.StatusAccepted {
		t.Fatalf("a good template send: %d %s", rec.Code, rec.Body)
	}
	// Meta pauses it: the next reading stores PAUSED, and a send is refused.
	a.kapso.read["waba-1"][0].Status = templates.Paused
	a.sync(t)
	rec := a.send("k2", orderUpdateSend)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "order_update (en_US) is PAUSED") {
		t.Fatalf("paused: %d %s", rec.Code, rec.Body)
	}
	if n := len(a.queue.Take(time.Hour)); n != 1 {
		t.Fatalf("queued %d, want the one good send", n)
	}
}

func TestTemplatesListedAsLastReadWithTheirHistory(t *testing.T) {
	a := newTemplateAPI(t)
	var list tenantapi.TemplateList
	rec := a.do(http.MethodGet, "/v1/tenants/acme/templates", "")
	decodeJSON(t, rec, &list)
	if rec.Code != http.StatusOK || len(list.Templates) != 0 || len(list.Accounts) != 1 || list.Accounts[0].SyncedAt != nil ||
		list.Accounts[0].BusinessAccountID != "waba-1" || a.kapso.lists != 0 {
		t.Fatalf("before any reading: %d %+v (Kapso asked %d times)", rec.Code, list, a.kapso.lists)
	}
	a.sync(t)
	a.now = a.now.Add(time.Hour)
	a.kapso.read["waba-1"][1].Status = templates.Rejected
	a.kapso.read["waba-1"][1].RejectedReason = "INVALID_FORMAT"
	a.sync(t)

	rec = a.do(http.MethodGet, "/v1/tenants/acme/templates?limit=2", "")
	decodeJSON(t, rec, &list)
	if len(list.Templates) != 2 || list.NextCursor == "" || list.Templates[0].Name != "hello_world" ||
		list.Templates[1].Name != "order_update" || list.Templates[1].Language != "en_US" {
		t.Fatalf("first page %+v", list)
	}
	rec = a.do(http.MethodGet, "/v1/tenants/acme/templates?limit=2&cursor="+list.NextCursor, "")
	list = tenantapi.TemplateList{}
	decodeJSON(t, rec, &list)
	if len(list.Templates) != 1 || list.NextCursor != "" {
		t.Fatalf("second page %+v", list)
	}
	es := list.Templates[0]
	if es.Language != "es" || es.Status != templates.Rejected || es.RejectedReason != "INVALID_FORMAT" || len(es.History) != 2 ||
		es.History[0].Status != templates.Approved || es.History[1].Status != templates.Rejected ||
		!es.History[1].At.Equal(a.now) || es.History[1].Source != "api" || es.ReadAt == nil || !es.ReadAt.Equal(a.now) ||
		!json.Valid(es.Components) || !strings.Contains(string(es.Components), "ships today") {
		t.Fatalf("es %+v", es)
	}
	rec = a.do(http.MethodGet, "/v1/tenants/acme/templates?status=REJECTED", "")
	list = tenantapi.TemplateList{}
	decodeJSON(t, rec, &list)
	if len(list.Templates) != 1 || list.Templates[0].Language != "es" {
		t.Fatalf("rejected %+v", list)
	}
	// A filtered list pages through what the filter keeps.
	var names []string
	for cursor := ""; ; {
		list = tenantapi.TemplateList{}
		decodeJSON(t, a.do(http.MethodGet, "/v1/tenants/acme/templates?status=APPROVED&limit=1&cursor="+cursor, ""), &list)
		for _, x := range list.Templates {
			names = append(names, x.Name+"/"+x.Language)
		}
		if cursor = list.NextCursor; cursor == "" || len(names) > 5 {
			break
		}
	}
	if strings.Join(names, " ") != "hello_world/en_US order_update/en_US" {
		t.Fatalf("approved, a page at a time: %v", names)
	}
	for _, bad := range []string{"?cursor=nope", "?limit=0", "?order=desc"} {
		if rec := a.do(http.MethodGet, "/v1/tenants/acme/templates"+bad, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, rec.Code)
		}
	}
	if rec := a.do(http.MethodGet, "/v1/tenants/nobody/templates", ""); rec.Code != http.StatusNotFound {
		t.Errorf("unknown tenant: %d", rec.Code)
	}
}

func TestTemplateSyncAnswersWhatItRead(t *testing.T) {
	a := newTemplateAPI(t)
	var out tenantapi.TemplateSyncAnswer
	rec := a.do(http.MethodPost, "/v1/tenants/acme/templates/sync", "")
	decodeJSON(t, rec, &out)
	if rec.Code != http.StatusOK || len(out.Accounts) != 1 || out.Accounts[0].Read != 3 || out.Accounts[0].Changed != 3 {
		t.Fatalf("first: %d %+v", rec.Code, out)
	}
	rec = a.do(http.MethodPost, "/v1/tenants/acme/templates/sync", "")
	decodeJSON(t, rec, &out)
	if out.Accounts[0].Changed != 0 || a.kapso.lists != 2 {
		t.Fatalf("again: %+v after %d lists", out, a.kapso.lists)
	}
	a.kapso.err = errs.E(errs.Unavailable, "Kapso is unavailable; retry", nil)
	if rec := a.do(http.MethodPost, "/v1/tenants/acme/templates/sync", ""); rec.Code != http.StatusBadGateway {
		t.Errorf("Kapso down: %d %s", rec.Code, rec.Body)
	}
	if _, _, err := a.onboard.AppendFact(context.Background(), "acme", onboarding.NumberDeleted("111", a.now)); err != nil {
		t.Fatal(err)
	}
	if rec := a.do(http.MethodPost, "/v1/tenants/acme/templates/sync", ""); rec.Code != http.StatusConflict {
		t.Errorf("no connected number: %d %s", rec.Code, rec.Body)
	}
}

func TestTemplateCreatedOnlyWhenMetasRulesHold(t *testing.T) {
	a := newTemplateAPI(t)
	a.sync(t)
	draft := `{"name":"shipping_notice","language":"en_US","category":"UTILITY","components":[
	 {"type":"BODY","text":"Your parcel {{1}} is on its way.","example":{"body_text":[["P-9"]]}}]}`
	for name, body := range map[string]string{
		"bad name":        strings.Replace(draft, "shipping_notice", "Shipping Notice", 1),
		"missing example": strings.Replace(draft, `,"example":{"body_text":[["P-9"]]}`, "", 1),
		"unknown field":   strings.Replace(draft, `"category"`, `"kind":"x","category"`, 1),
		"not an object":   `[]`,
	} {
		if rec := a.do(http.MethodPost, "/v1/tenants/acme/templates", body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if rec := a.do(http.MethodPost, "/v1/tenants/acme/templates", strings.Replace(draft, "shipping_notice", "order_update", 1)); rec.Code != http.StatusConflict {
		t.Errorf("existing name and language: %d %s", rec.Code, rec.Body)
	}
	if len(a.kapso.created) != 0 {
		t.Fatalf("Kapso asked to create %+v", a.kapso.created)
	}
	rec := a.do(http.MethodPost, "/v1/tenants/acme/templates", draft)
	var out map[string]tenantapi.TemplateView
	decodeJSON(t, rec, &out)
	got := out["template"]
	if rec.Code != http.StatusCreated || got.Status != templates.Pending || got.ID != "tpl-new" || got.BusinessAccountID != "waba-1" ||
		len(got.History) != 1 || got.History[0].Source != "api" || len(a.kapso.created) != 1 || a.kapso.created[0].Name != "shipping_notice" {
		t.Fatalf("created: %d %+v (Kapso got %+v)", rec.Code, got, a.kapso.created)
	}
	stored, ok, err := a.store.Template(context.Background(), "acme", templates.Key{BusinessAccountID: "waba-1", Name: "shipping_notice", Language: "en_US"})
	if err != nil || !ok || stored.Status != templates.Pending {
		t.Fatalf("stored %+v %v %v", stored, ok, err)
	}
	// Meta's own refusal comes back as Kapso worded it.
	a.kapso.err = errs.E(errs.Unprocessable, "Invalid parameter", nil)
	if rec := a.do(http.MethodPost, "/v1/tenants/acme/templates", strings.Replace(draft, "shipping_notice", "other_notice", 1)); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("Meta refused: %d %s", rec.Code, rec.Body)
	}
}
