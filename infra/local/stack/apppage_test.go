package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// fakeStore holds connections and lists tenants two to a page, so the page
// must follow cursors.
type fakeStore struct {
	conns map[string]onboarding.Connection
	items []onboarding.TenantItem // least recently updated first, as stores list
}

func (f *fakeStore) Load(_ context.Context, id string) (onboarding.Connection, bool, error) {
	c, ok := f.conns[id]
	return c, ok, nil
}

func (f *fakeStore) ListTenants(_ context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error) {
	start := 0
	if q.Cursor != "" {
		for i, t := range f.items {
			if t.TenantID == q.Cursor {
				start = i + 1
			}
		}
	}
	end := min(start+2, len(f.items))
	next := ""
	if end < len(f.items) {
		next = f.items[end-1].TenantID
	}
	return f.items[start:end], next, nil
}

// noMessages is an empty message store.
type noMessages struct{ messaging.Reader }

func (noMessages) Conversations(context.Context, string, messaging.Page) ([]messaging.ConversationView, string, error) {
	return nil, "", nil
}

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

func conn(id string, status onboarding.TenantStatus, attempts []onboarding.Attempt, numbers ...onboarding.PhoneNumber) onboarding.Connection {
	return onboarding.Connection{Tenant: onboarding.Tenant{ID: id, Status: status, KapsoCustomerID: "cust-" + id,
		UpdatedAt: time.Now()}, Attempts: attempts, PhoneNumbers: numbers}
}

func connected(webhook bool) onboarding.PhoneNumber {
	return onboarding.PhoneNumber{PhoneNumberID: "645542809322606", Status: onboarding.NumberStatusConnected, WebhookRegistered: webhook}
}

func newStore() *fakeStore {
	active := []onboarding.Attempt{{SetupLinkID: "link-1", Status: onboarding.AttemptActive, CreatedAt: t0}}
	failed := []onboarding.Attempt{{SetupLinkID: "link-2", Status: onboarding.AttemptFailed, CreatedAt: t0, ErrorCode: failureCode,
		History: []onboarding.AttemptEvent{{At: t0, Event: onboarding.AttemptEventFailure, ErrorCode: "waba_limit_reached"},
			{At: t0, Event: onboarding.AttemptEventFailure, ErrorCode: failureCode}}}}
	f := &fakeStore{conns: map[string]onboarding.Connection{
		"acme":     conn("acme", onboarding.TenantConnected, nil, connected(true)),
		"awaiting": conn("awaiting", onboarding.TenantAwaitingConfirmation, active),
		"hooking":  conn("hooking", onboarding.TenantConnected, nil, connected(false)),
		"linked":   conn("linked", onboarding.TenantLinkActive, active),
		"failed":   conn("failed", onboarding.TenantFailed, failed),
		"gone": conn("gone", onboarding.TenantReconnectRequired, nil, onboarding.PhoneNumber{PhoneNumberID: "1",
			Status: onboarding.NumberStatusDisconnected, StatusReason: "meta_token_expired"}),
		"limited": conn("limited", onboarding.TenantRestricted, nil, onboarding.PhoneNumber{PhoneNumberID: "2",
			Status: onboarding.NumberStatusConnected, WebhookRegistered: true, Restricted: true,
			RestrictedReason: "RESTRICTED_BIZ_INITIATED_MESSAGING"}),
	}}
	// A signup may take long: the link was created an hour ago.
	linked := f.conns["linked"]
	linked.Tenant.UpdatedAt = time.Now().Add(-time.Hour)
	f.conns["linked"] = linked
	stuck := conn("stuck", onboarding.TenantAwaitingConfirmation, active)
	stuck.Tenant.UpdatedAt = time.Now().Add(-time.Hour)
	f.conns["stuck"] = stuck
	for i, id := range []string{"stuck", "linked", "failed", "gone", "limited", "awaiting", "hooking", "acme"} {
		c := f.conns[id]
		f.items = append(f.items, onboarding.TenantItem{TenantID: id, Name: "Name " + id, Status: c.Tenant.Status,
			KapsoCustomerID: c.Tenant.KapsoCustomerID, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	return f
}

// failureCode is a code Kapso puts on a failure redirect.
const failureCode = "facebook_auth_failed"

func get(t *testing.T, h http.Handler, target string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", target, rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func pages(store appStore) (app, index http.Handler) {
	log := slog.New(slog.DiscardHandler)
	return appPage(store, noMessages{}, nil, &memstore.Feed{}, "http://127.0.0.1:8090", testGuard(), log), indexPage(store, "http://127.0.0.1:8090", log)
}

// testGuard is a guard with a secret of its own, as each stack has.
func testGuard() *localGuard {
	g, err := newLocalGuard("", "")
	if err != nil {
		panic(err)
	}
	return g
}

// The app page and the index list every tenant, newest change first, each
// linking to its app page.
func TestPagesListTenants(t *testing.T) {
	app, index := pages(newStore())
	for name, body := range map[string]string{
		"app page": get(t, app, "/app/connected"),
		"index":    get(t, index, "/"),
	} {
		want := []string{"acme", "hooking", "awaiting", "limited", "gone", "failed", "linked", "stuck"}
		last := -1
		for _, id := range want {
			i := strings.Index(body, `<a href="/app/connected?tenant_id=`+id+`">`+id+`</a>`)
			if i < 0 {
				t.Errorf("%s: tenant %s not listed", name, id)
				continue
			}
			if i < last {
				t.Errorf("%s: tenant %s out of order (newest first)", name, id)
			}
			last = i
		}
		if !strings.Contains(body, "Name acme") || !strings.Contains(body, "reconnect_required") {
			t.Errorf("%s: names or statuses missing", name)
		}
	}
	if body := get(t, app, "/app/connected?tenant_id=acme"); !strings.Contains(body, `class="tenant selected" data-id="acme"`) {
		t.Error("the open tenant is not marked in the list")
	}
}

// Error codes show with their meaning and next step: the one the browser
// came back with, each attempt's, and why a number does not work.
func TestAppPageExplainsErrorCodes(t *testing.T) {
	app, _ := pages(newStore())
	check := func(body, code string) {
		t.Helper()
		e := onboarding.DescribeError(code)
		if e.Meaning == "" || e.NextStep == "" {
			t.Fatalf("DescribeError(%q) has no meaning or next step: %+v", code, e)
		}
		for _, want := range []string{e.Meaning, e.NextStep} {
			if !strings.Contains(body, html.EscapeString(want)) {
				t.Errorf("%s: page lacks %q", code, want)
			}
		}
	}
	body := get(t, app, "/app/failed?tenant_id=failed&status=failed&error_code="+failureCode)
	if !strings.Contains(body, `<code id="error-code">`+failureCode+`</code>`) {
		t.Error("landing error code not shown")
	}
	check(body, failureCode)
	if strings.Count(body, `data-code="`+failureCode+`"`) != 2 {
		t.Error("want the code explained for the landing and for the attempt")
	}
	check(body, "waba_limit_reached") // an earlier failure of the same link
	check(get(t, app, "/app/connected?tenant_id=gone"), "meta_token_expired")
	check(get(t, app, "/app/connected?tenant_id=limited"), "RESTRICTED_BIZ_INITIATED_MESSAGING")
}

// A failure only the browser reported is shown as such, beside a link that
// still works; a failure Kapso bears out is not marked so.
func TestAppPageMarksAFailureOnlyTheBrowserReported(t *testing.T) {
	f := newStore()
	f.conns["reported"] = conn("reported", onboarding.TenantLinkActive, []onboarding.Attempt{{SetupLinkID: "link-3",
		Status: onboarding.AttemptActive, CreatedAt: t0, ErrorCode: failureCode, ErrorReportedBy: onboarding.ReportedByBrowser,
		History: []onboarding.AttemptEvent{{At: t0, Event: onboarding.AttemptEventFailure, ErrorCode: failureCode,
			ReportedBy: onboarding.ReportedByBrowser}}}})
	app, _ := pages(f)
	const note = "Reported by the browser only"
	if body := get(t, app, "/app/connected?tenant_id=reported"); !strings.Contains(body, note) || !strings.Contains(body, failureCode) {
		t.Error("a failure only the browser reported is not marked as such")
	}
	if body := get(t, app, "/app/connected?tenant_id=failed"); strings.Contains(body, note) {
		t.Error("a failed attempt is marked as reported by the browser only")
	}
}

// The page reloads itself only while something is on its way; a settled
// page, an unknown tenant and the index stay still.
func TestAppPageReloadsOnlyWhilePending(t *testing.T) {
	app, index := pages(newStore())
	for _, tc := range []struct {
		target string
		reload bool
	}{
		{"/app/connected", false},
		{"/app/connected?tenant_id=nobody", false},
		{"/app/connected?tenant_id=acme", false},
		{"/app/connected?tenant_id=acme&status=completed", false},
		{"/app/connected?tenant_id=linked", false},
		{"/app/connected?tenant_id=failed", false},
		{"/app/failed?tenant_id=failed&status=failed&error_code=" + failureCode, false},
		{"/app/connected?tenant_id=gone", false},
		{"/app/connected?tenant_id=limited", false},
		{"/app/connected?tenant_id=awaiting", true},
		{"/app/connected?tenant_id=hooking", true},
		// Waiting for an hour is stuck: the page says so and stays still.
		{"/app/connected?tenant_id=stuck", false},
		// Back from the signup before the redirect reached the connection.
		{"/app/connected?tenant_id=linked&status=completed&phone_number_id=1", true},
	} {
		body := get(t, app, tc.target)
		if got := strings.Contains(body, "http-equiv"); got != tc.reload {
			t.Errorf("%s: reloads %v, want %v", tc.target, got, tc.reload)
		}
		if got := strings.Contains(body, `id="waiting"`); got != tc.reload {
			t.Errorf("%s: says it waits %v, want %v", tc.target, got, tc.reload)
		}
	}
	if body := get(t, app, "/app/connected?tenant_id=stuck"); !strings.Contains(body, `id="stuck"`) {
		t.Error("a stuck wait is not said to be stuck")
	}
	if body := get(t, app, "/app/connected?tenant_id=acme"); !strings.Contains(body, `id="inbox"`) {
		t.Error("a settled connected tenant shows no live inbox")
	}
	if body := get(t, app, "/app/connected?tenant_id=nobody"); !strings.Contains(body, `id="no-tenant"`) {
		t.Error("an unknown tenant is not said to be unknown")
	}
	if body := get(t, index, "/"); strings.Contains(body, "http-equiv") {
		t.Error("the index reloads")
	}
}

// fakeInbox is a message store with one conversation per person given.
type fakeInbox struct {
	messaging.Reader
	convs []messaging.ConversationView
	msgs  []messaging.StoredMessage
}

func (f fakeInbox) Conversations(context.Context, string, messaging.Page) ([]messaging.ConversationView, string, error) {
	return f.convs, "", nil
}

func (f fakeInbox) ConversationMessages(_ context.Context, _, id string, _ messaging.Page) ([]messaging.StoredMessage, string, error) {
	var out []messaging.StoredMessage
	for _, m := range f.msgs {
		if m.ConversationID == id {
			out = append(out, m)
		}
	}
	return out, "", nil
}

const inboxNumber = "645542809322606"

func inbox() fakeInbox {
	ana := messaging.Person{Phone: "5215512345678", Name: "Ana"}
	bsuid := messaging.Person{BSUID: "US.13491208655302741918"}
	out := func(id, text string, o *messaging.OutboundInfo, d messaging.Delivery) messaging.StoredMessage {
		return messaging.StoredMessage{Known: true, Outbound: o, Delivery: d, Message: messaging.Message{
			WAMID: d.WAMID, PhoneNumberID: inboxNumber, Direction: messaging.Outbound, Type: "text", Text: text,
			Timestamp: t0, To: ana, ConversationID: "conv-ana"}}
	}
	return fakeInbox{
		convs: []messaging.ConversationView{
			{Conversation: messaging.Conversation{ID: "conv-ana", PhoneNumberID: inboxNumber, Person: ana,
				Status: messaging.ConversationStatus("active"), LastActiveAt: t0}},
			{Conversation: messaging.Conversation{ID: "conv-bsuid", PhoneNumberID: inboxNumber, Person: bsuid,
				Status: messaging.ConversationStatus("active"), LastActiveAt: t0}},
		},
		msgs: []messaging.StoredMessage{
			{Known: true, Message: messaging.Message{WAMID: "wamid.in", PhoneNumberID: inboxNumber, Direction: messaging.Inbound,
				Type: "text", Text: "Oi", Timestamp: t0, From: ana, ConversationID: "conv-ana"}},
			out("out_queued", "na fila", &messaging.OutboundInfo{ID: "out_queued", State: messaging.OutQueued}, messaging.Delivery{}),
			out("out_unknown", "sem resposta", &messaging.OutboundInfo{ID: "out_unknown", State: messaging.OutUnknown}, messaging.Delivery{}),
			out("out_failed", "recusada", &messaging.OutboundInfo{ID: "out_failed", State: messaging.OutFailed,
				Reason: messaging.ReasonRejected, Error: &messaging.StatusError{Code: 131047, Title: "Re-engagement message"}},
				messaging.Delivery{}),
			out("out_read", "lida", &messaging.OutboundInfo{ID: "out_read", State: messaging.OutAccepted},
				messaging.Delivery{WAMID: "wamid.read", Status: messaging.Status("read")}),
		},
	}
}

// Each thread has a form replying to its person from its number, with a
// new idempotency key at each render; each outbound message shows where
// its send is until a delivery status arrives.
func TestAppPageSendFormAndSendStatuses(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	g := testGuard()
	app := appPage(newStore(), inbox(), nil, &memstore.Feed{}, "", g, log)
	body := get(t, app, "/app/connected?tenant_id=acme")
	for _, want := range []string{
		`<form class="send" method="post" action="/app/send" data-conversation="conv-ana">`,
		`<input type="hidden" name="tenant_id" value="acme"><input type="hidden" name="phone_number_id" value="645542809322606">`,
		`<input type="hidden" name="to" value="&#43;5215512345678">`,
		`<input type="hidden" name="recipient" value="US.13491208655302741918">`,
		`data-id="out_queued" data-wamid=""><td>`,
		`<td class="status">queued</td>`,
		`<td class="status">unknown</td>`,
		`<td class="status">failed: rejected <span class="error">(131047 Re-engagement message)</span></td>`,
		`data-id="out_read" data-wamid="wamid.read"><td>`,
		`<td class="status">read</td>`,
		`<td class="status">received</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	keys := func(body string) []string {
		var out []string
		for _, part := range strings.Split(body, `<input type="hidden" name="idempotency_key" value="`)[1:] {
			out = append(out, part[:strings.IndexByte(part, '"')])
		}
		return out
	}
	// Each form carries the page token of its key, made by this process.
	for _, part := range strings.Split(body, `name="idempotency_key" value="`)[1:] {
		key := part[:strings.IndexByte(part, '"')]
		if want := `<input type="hidden" name="page_token" value="` + g.pageToken("acme", key) + `">`; !strings.HasPrefix(
			part[len(key)+2:], want) {
			t.Errorf("form of key %s lacks %s", key, want)
		}
	}
	first, again := keys(body), keys(get(t, app, "/app/connected?tenant_id=acme&part=inbox"))
	if len(first) != 2 || len(again) != 2 || first[0] == "" || first[0] == first[1] || first[0] == again[0] {
		t.Errorf("idempotency keys %v then %v: want one per form, new at each render", first, again)
	}
	if body := get(t, app, "/app/connected?tenant_id=acme&notice=Not+sent&notice_failed=1"); !strings.Contains(body,
		`<p id="notice" class="error">Not sent</p>`) {
		t.Error("the send's notice is not shown")
	}
}

// apiStub answers the send route as given and keeps the request it got.
type apiStub struct {
	status int
	header http.Header
	answer string
	got    *http.Request
	body   string
}

func (a *apiStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.got, a.body = r, string(b)
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.answer)
}

func postForm(t *testing.T, h http.Handler, form url.Values) (int, url.Values) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, sendMessagePath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Code == http.StatusSeeOther && loc.Path != appConnectedPath {
		t.Errorf("redirected to %s", loc)
	}
	return rec.Code, loc.Query()
}

// A send form is a POST /v1/tenants/{tenant_id}/messages with the bearer
// token and the form's idempotency key, then a 303 back to the tenant's
// page with the outcome.
func TestSendFormCallsTheAPI(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	api := &apiStub{status: http.StatusAccepted, answer: `{"message":{"id":"out_1","status":"queued"}}`}
	g := testGuard()
	h := sendForm(api, "tok", g, log)
	form := url.Values{"tenant_id": {"acme"}, "phone_number_id": {inboxNumber}, "to": {"+5215512345678"},
		"idempotency_key": {"app-KEY1"}, "page_token": {g.pageToken("acme", "app-KEY1")}, "text": {"Olá, tudo bem?"},
		"selected": {"conv-ana"}}
	st, back := postForm(t, h, form)
	if st != http.StatusSeeOther || back.Get("tenant_id") != "acme" || back.Get("conversation") != "conv-ana" ||
		back.Get("notice") != "Sent: out_1 is queued." || back.Get("notice_failed") != "" {
		t.Errorf("answer %d %v", st, back)
	}
	r := api.got
	if r == nil {
		t.Fatal("the API was not called")
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/tenants/acme/messages" ||
		r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Idempotency-Key") != "app-KEY1" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(api.body), &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"phone_number_id": inboxNumber, "to": "+5215512345678", "type": "text",
		"text": map[string]any{"body": "Olá, tudo bem?"}}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("body %s", api.body)
	}

	// A BSUID-only person is sent to by recipient.
	form.Del("to")
	form.Set("recipient", "US.13491208655302741918")
	form.Del("selected")
	api.header = http.Header{"Idempotent-Replayed": {"true"}}
	_, back = postForm(t, h, form)
	if !strings.Contains(api.body, `"recipient":"US.13491208655302741918"`) || strings.Contains(api.body, `"to"`) {
		t.Errorf("body %s", api.body)
	}
	if back.Get("notice") != "Already sent (the form was submitted twice): out_1 is queued." || back.Has("conversation") {
		t.Errorf("replayed: %v", back)
	}

	// A refusal shows the API's own message.
	api.status, api.header = http.StatusUnprocessableEntity, nil
	api.answer = `{"error":{"code":"outside_customer_service_window","message":"the person last wrote more than 24 hours ago: send a template"}}`
	_, back = postForm(t, h, form)
	if back.Get("notice_failed") == "" || !strings.Contains(back.Get("notice"),
		"422 outside_customer_service_window): the person last wrote more than 24 hours ago: send a template") {
		t.Errorf("refused: %v", back)
	}
	// A route not there yet (the mux's plain 404) is said so.
	api.status, api.answer = http.StatusNotFound, "404 page not found\n"
	if _, back = postForm(t, h, form); back.Get("notice") != "Not sent: the API answered 404 404 page not found" {
		t.Errorf("no route: %v", back)
	}

	if st, _ := postForm(t, h, url.Values{"tenant_id": {"../x"}}); st != http.StatusBadRequest {
		t.Errorf("bad tenant: %d", st)
	}
}

// A message's media shows as the API shows it: a stored image inline from
// a presigned URL made at render time (whose bytes a browser can fetch), a
// stored document linked by its name with its size, and a copy not stored
// yet with where it stands.
func TestAppPageShowsMedia(t *testing.T) {
	objects := &memstore.Objects{Bucket: "kb-local-media"}
	srv := httptest.NewServer(objects)
	defer srv.Close()
	objects.BaseURL = srv.URL
	ctx := context.Background()
	photo := []byte("\x89PNG\r\n\x1a\n the photo")
	put, err := objects.Put(ctx, "acme/"+inboxNumber+"/m-photo", "image/png", bytes.NewReader(photo), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	pdf := bytes.Repeat([]byte("%PDF-"), 600)
	if _, err := objects.Put(ctx, "acme/"+inboxNumber+"/m-pdf", "application/pdf", bytes.NewReader(pdf), 1<<20); err != nil {
		t.Fatal(err)
	}
	ana := messaging.Person{Phone: "5215512345678", Name: "Ana"}
	in := func(wamid, typ string, md messaging.Media, c media.Info) messaging.StoredMessage {
		return messaging.StoredMessage{Known: true, MediaCopy: c, Message: messaging.Message{WAMID: wamid,
			PhoneNumberID: inboxNumber, Direction: messaging.Inbound, Type: typ, Text: md.Caption, Timestamp: t0, From: ana,
			ConversationID: "conv-ana", Media: &md}}
	}
	box := fakeInbox{
		convs: []messaging.ConversationView{{Conversation: messaging.Conversation{ID: "conv-ana", PhoneNumberID: inboxNumber,
			Person: ana, Status: messaging.ConversationStatus("active"), LastActiveAt: t0}}},
		msgs: []messaging.StoredMessage{
			in("wamid.photo", "image", messaging.Media{ID: "m-photo", MIMEType: "image/png", Caption: "o bolo"},
				media.Info{State: media.Stored, MIMEType: "image/png", Size: put.Size, SHA256: put.SHA256,
					Key: "acme/" + inboxNumber + "/m-photo"}),
			in("wamid.pdf", "document", messaging.Media{ID: "m-pdf", MIMEType: "application/pdf", Filename: "nota.pdf"},
				media.Info{State: media.Stored, MIMEType: "application/pdf", Size: int64(len(pdf)),
					Key: "acme/" + inboxNumber + "/m-pdf"}),
			in("wamid.pending", "image", messaging.Media{ID: "m-pending", MIMEType: "image/jpeg"}, media.Info{}),
			in("wamid.big", "document", messaging.Media{ID: "m-big", MIMEType: "application/pdf", Filename: "big.pdf"},
				media.Info{State: media.Failed, Error: "too_large: 120 MB is over the document limit"}),
		},
	}
	links := tenantapi.MediaLinks{Objects: objects, TTL: time.Minute}
	app := appPage(newStore(), box, links, &memstore.Feed{}, "", testGuard(), slog.New(slog.DiscardHandler))
	for _, target := range []string{"/app/connected?tenant_id=acme", "/app/connected?tenant_id=acme&part=inbox"} {
		body := get(t, app, target)
		row := func(wamid string) string {
			_, after, ok := strings.Cut(body, `data-wamid="`+wamid+`"`)
			if !ok {
				t.Fatalf("%s: no row of %s", target, wamid)
			}
			r, _, _ := strings.Cut(after, "</tr>")
			return r
		}
		photoRow := row("wamid.photo")
		_, after, ok := strings.Cut(photoRow, `<img src="`)
		if !ok {
			t.Fatalf("%s: the photo is not inline: %s", target, photoRow)
		}
		src := html.UnescapeString(after[:strings.IndexByte(after, '"')])
		if !strings.HasPrefix(src, srv.URL+"/kb-local-media/") {
			t.Errorf("%s: img src %s", target, src)
		}
		res, err := http.Get(src)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, photo) {
			t.Errorf("%s: GET the img src: %d %q", target, res.StatusCode, got)
		}
		for wamid, want := range map[string][]string{
			"wamid.photo":   {"o bolo", `alt="image"`, "image/png, 18 B"},
			"wamid.pdf":     {`<a class="file" href="` + srv.URL + `/kb-local-media/acme/`, `">nota.pdf</a>`, "application/pdf, 2.9 KB"},
			"wamid.pending": {`data-state="pending"`, `<span class="file">image</span>`, `<span class="media-state">pending</span>`},
			"wamid.big": {`data-state="failed"`, `<span class="file">big.pdf</span>`, `<span class="media-state">failed</span>`,
				`<span class="error">(too_large)</span>`},
		} {
			r := row(wamid)
			for _, w := range want {
				if !strings.Contains(r, w) {
					t.Errorf("%s: the row of %s lacks %s: %s", target, wamid, w, r)
				}
			}
			if wamid != "wamid.photo" && strings.Contains(r, "<img") {
				t.Errorf("%s: %s is shown inline: %s", target, wamid, r)
			}
			if (wamid == "wamid.pending" || wamid == "wamid.big") && strings.Contains(r, "href=") {
				t.Errorf("%s: %s is linked before it is stored: %s", target, wamid, r)
			}
		}
	}
	// A message without media shows none.
	if body := get(t, appPage(newStore(), inbox(), links, &memstore.Feed{}, "", testGuard(), slog.New(slog.DiscardHandler)),
		"/app/connected?tenant_id=acme"); strings.Contains(body, `class="media"`) {
		t.Error("a text message shows media")
	}
}
