package tenantapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// messagesStack is the tenant API's read routes on the in-memory messages
// store, seeded through the Store methods the worker calls.
type messagesStack struct {
	t     *testing.T
	store messaging.Store
	mux   *http.ServeMux
}

func newMessagesStack(t *testing.T) *messagesStack {
	t.Helper()
	store := &memstore.Messages{}
	s := &messagesStack{t: t, store: store, mux: http.NewServeMux()}
	api := &tenantapi.API{Messages: store, Token: apiToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeout: 5 * time.Second}
	api.Register(s.mux)
	return s
}

func (s *messagesStack) get(path, token string) *httptest.ResponseRecorder {
	return serveGet(s.mux, path, token)
}

// getJSON fetches path with the token and wants a 200 with a JSON object.
func (s *messagesStack) getJSON(path string) map[string]any {
	s.t.Helper()
	rec := s.get(path, apiToken)
	if rec.Code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		s.t.Fatalf("GET %s: Cache-Control %q", path, cc)
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		s.t.Fatalf("GET %s: %v %s", path, err, rec.Body)
	}
	return v
}

// all follows next_cursor from path (which may have a query) with limit=1
// and returns every item of the list key, in order, checking that a page
// never has more than one.
func (s *messagesStack) all(path, key string) []map[string]any {
	s.t.Helper()
	var items []map[string]any
	cursor := ""
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for range 100 {
		p := path + sep + "limit=1"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		v := s.getJSON(p)
		page := v[key].([]any)
		if len(page) > 1 {
			s.t.Fatalf("limit=1 gave %d items", len(page))
		}
		for _, it := range page {
			items = append(items, it.(map[string]any))
		}
		next, _ := v["next_cursor"].(string)
		if next == "" {
			return items
		}
		cursor = next
	}
	s.t.Fatalf("%s: no end after 100 pages", path)
	return nil
}

func ids(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	return out
}

func obj(t *testing.T, v map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := v[key].(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object in %v", key, v)
	}
	return o
}

var (
	t0       = time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)
	business = messaging.Person{Phone: "15550009999"}
	alice    = messaging.Person{BSUID: "US.100", Username: "alice", Phone: "15550001111", Name: "Alice"}
	bob      = messaging.Person{BSUID: "US.300", Phone: "15550003333", Name: "Bob"}
	carol    = messaging.Person{Phone: "15550004444", Name: "Carol"}
)

const (
	tenantA = "acme"
	tenantB = "beta"
	number  = "111"
)

// seed stores, for tenant A, three conversations and five messages of the
// first, in an order unlike the answers'.
func (s *messagesStack) seed() {
	s.t.Helper()
	ctx := context.Background()
	must := func(err error) {
		s.t.Helper()
		if err != nil {
			s.t.Fatal(err)
		}
	}
	in := func(wamid string, at time.Time) messaging.Message {
		return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Inbound, Type: "text",
			Timestamp: at, From: alice, To: business, ConversationID: "conv-1"}
	}
	out := func(wamid string, at time.Time) messaging.Message {
		return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound, Type: "text",
			Timestamp: at, From: business, To: alice, ConversationID: "conv-1"}
	}

	image := in("wamid.in3", t0.Add(4*time.Minute))
	image.Type, image.Text = "image", "a cat"
	image.Media = &messaging.Media{ID: "media-1", MIMEType: "image/jpeg", Caption: "a cat"}
	image.Kapso = &messaging.KapsoContent{Content: "a cat", Origin: "cloud_api", HasMedia: true,
		MediaURL: "https://api.kapso.ai/media/1"}
	must(s.store.PutMessage(ctx, tenantA, image, nil))

	failed := out("wamid.out2", t0.Add(2*time.Minute))
	failed.Text = "will fail"
	must(s.store.PutMessage(ctx, tenantA, failed, nil))
	must(s.store.ApplyStatus(ctx, tenantA, messaging.StatusUpdate{WAMID: "wamid.out2", PhoneNumberID: number,
		Status: messaging.Failed, At: t0.Add(2*time.Minute + time.Second), Recipient: alice,
		Error: &messaging.StatusError{Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable",
			Details: "Receiver is incapable of receiving this message"}}))

	first := in("wamid.in1", t0)
	first.Text = "hello"
	must(s.store.PutMessage(ctx, tenantA, first, nil))

	reply := out("wamid.out1", t0.Add(time.Minute))
	reply.Text, reply.ReplyTo = "hi Alice", "wamid.in1"
	must(s.store.PutMessage(ctx, tenantA, reply, []messaging.StatusUpdate{{WAMID: "wamid.out1", PhoneNumberID: number,
		Status: messaging.Sent, At: t0.Add(time.Minute), Recipient: alice}}))
	must(s.store.ApplyStatus(ctx, tenantA, messaging.StatusUpdate{WAMID: "wamid.out1", PhoneNumberID: number,
		Status: messaging.Delivered, At: t0.Add(time.Minute + time.Second), Recipient: alice}))

	reaction := in("wamid.in2", t0.Add(3*time.Minute))
	reaction.Type, reaction.Text = "reaction", "👍"
	reaction.Reaction = &messaging.Reaction{MessageID: "wamid.out1", Emoji: "👍"}
	must(s.store.PutMessage(ctx, tenantA, reaction, nil))

	// Statuses of a message that itself never arrived.
	for _, st := range []messaging.Status{messaging.Read, messaging.Delivered} {
		must(s.store.ApplyStatus(ctx, tenantA, messaging.StatusUpdate{WAMID: "wamid.ghost", PhoneNumberID: number,
			Status: st, At: t0.Add(time.Hour), Recipient: bob}))
	}

	for _, c := range []messaging.Conversation{
		{ID: "conv-1", PhoneNumberID: number, Person: alice, Status: messaging.ConversationActive, LastActiveAt: t0.Add(4 * time.Minute)},
		{ID: "conv-2", PhoneNumberID: number, Person: bob, Status: messaging.ConversationActive, LastActiveAt: t0.Add(10 * time.Minute)},
		{ID: "conv-3", PhoneNumberID: number, Person: carol, Status: messaging.ConversationEnded, LastActiveAt: t0.Add(5 * time.Minute),
			InactivityMinutes: 30},
	} {
		must(s.store.PutConversation(ctx, tenantA, c))
	}
	for _, p := range []messaging.Person{alice, bob, carol} {
		must(s.store.PutContact(ctx, tenantA, number, p, messaging.Sighting{At: t0.Add(4 * time.Minute)}))
	}
	// Alice gets a new BSUID.
	aliceNow := alice
	aliceNow.BSUID = "US.200"
	must(s.store.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: alice.BSUID}, aliceNow, t0.Add(6*time.Minute)))
	must(s.store.SetMarketingPreference(ctx, tenantA, number, aliceNow,
		messaging.MarketingPreference{Status: "opted_out", Sequence: 7, OccurredAt: t0.Add(7 * time.Minute)}))
}

func TestMessagesRoutesRequireToken(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	for _, p := range []string{
		"/v1/tenants/acme/conversations",
		"/v1/tenants/acme/conversations/conv-1/messages",
		"/v1/tenants/acme/messages/wamid.in1",
		"/v1/tenants/acme/numbers/111/contacts/US.200",
	} {
		for _, token := range []string{"", "wrong"} {
			rec := s.get(p, token)
			if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "wamid") {
				t.Errorf("%s with token %q: %d %s", p, token, rec.Code, rec.Body)
			}
		}
	}
}

func TestConversationsNewestFirst(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	v := s.getJSON("/v1/tenants/acme/conversations")
	if _, ok := v["next_cursor"]; ok {
		t.Fatalf("one page has a next_cursor: %v", v)
	}
	var items []map[string]any
	for _, it := range v["conversations"].([]any) {
		items = append(items, it.(map[string]any))
	}
	if got := ids(items); !slices.Equal(got, []string{"conv-2", "conv-3", "conv-1"}) {
		t.Fatalf("order %v", got)
	}
	if got := ids(s.all("/v1/tenants/acme/conversations", "conversations")); !slices.Equal(got, []string{"conv-2", "conv-3", "conv-1"}) {
		t.Fatalf("pages of one: %v", got)
	}

	bobs, carols, alices := items[0], items[1], items[2]
	if bobs["phone_number_id"] != number || bobs["status"] != "active" || bobs["last_active_at"] != "2026-11-29T04:10:00Z" {
		t.Fatalf("conversation: %v", bobs)
	}
	if _, ok := bobs["inactivity_minutes"]; ok {
		t.Fatalf("inactivity_minutes shown when unknown: %v", bobs)
	}
	if carols["status"] != "ended" || carols["inactivity_minutes"] != 30.0 {
		t.Fatalf("ended conversation: %v", carols)
	}
	contact := obj(t, bobs, "contact")
	if contact["business_scoped_user_id"] != "US.300" || contact["phone_number"] != "15550003333" || contact["name"] != "Bob" ||
		contact["parent_business_scoped_user_id"] != "" || contact["username"] != "" {
		t.Fatalf("contact: %v", contact)
	}
	if _, ok := contact["previous_business_scoped_user_ids"]; ok {
		t.Fatalf("previous ids shown when none: %v", contact)
	}
	// Alice's conversation shows her as she is now.
	contact = obj(t, alices, "contact")
	if contact["business_scoped_user_id"] != "US.200" || contact["username"] != "alice" ||
		!slices.Equal(contact["previous_business_scoped_user_ids"].([]any), []any{"US.100"}) {
		t.Fatalf("contact after identity change: %v", contact)
	}
}

func TestConversationMessagesOldestFirst(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	want := []string{"wamid.in1", "wamid.out1", "wamid.out2", "wamid.in2", "wamid.in3"}
	path := "/v1/tenants/acme/conversations/conv-1/messages"
	v := s.getJSON(path)
	var msgs []map[string]any
	for _, it := range v["messages"].([]any) {
		msgs = append(msgs, it.(map[string]any))
	}
	if got := ids(msgs); !slices.Equal(got, want) {
		t.Fatalf("order %v", got)
	}
	if got := ids(s.all(path, "messages")); !slices.Equal(got, want) {
		t.Fatalf("pages of one: %v", got)
	}
	two := s.getJSON(path + "?limit=2")
	if n := len(two["messages"].([]any)); n != 2 || two["next_cursor"] == "" {
		t.Fatalf("limit=2: %v", two)
	}

	in1, out1, out2, in2, in3 := msgs[0], msgs[1], msgs[2], msgs[3], msgs[4]
	if in1["direction"] != "inbound" || in1["type"] != "text" || in1["text"] != "hello" ||
		in1["timestamp"] != "2026-11-29T04:00:00Z" || obj(t, in1, "from")["business_scoped_user_id"] != "US.100" ||
		obj(t, in1, "to")["phone_number"] != "15550009999" {
		t.Fatalf("inbound text: %v", in1)
	}
	for _, k := range []string{"status", "reply_to", "media", "reaction", "kapso", "error"} {
		if _, ok := in1[k]; ok {
			t.Fatalf("inbound text shows %s: %v", k, in1)
		}
	}
	if out1["direction"] != "outbound" || out1["status"] != "delivered" || out1["reply_to"] != "wamid.in1" || out1["error"] != nil {
		t.Fatalf("delivered reply: %v", out1)
	}
	errView := obj(t, out2, "error")
	if out2["status"] != "failed" || errView["code"] != 131026.0 || errView["title"] != "Message undeliverable" ||
		errView["details"] != "Receiver is incapable of receiving this message" {
		t.Fatalf("failed message: %v", out2)
	}
	if r := obj(t, in2, "reaction"); r["message_id"] != "wamid.out1" || r["emoji"] != "👍" || r["removed"] != false {
		t.Fatalf("reaction: %v", in2)
	}
	m, k := obj(t, in3, "media"), obj(t, in3, "kapso")
	if m["id"] != "media-1" || m["mime_type"] != "image/jpeg" || m["caption"] != "a cat" ||
		k["has_media"] != true || k["origin"] != "cloud_api" || k["media_url"] != "https://api.kapso.ai/media/1" {
		t.Fatalf("media message: %v", in3)
	}
}

// order=desc lists a conversation's messages newest first, with cursors of
// its own; asc is the default.
func TestConversationMessagesNewestFirst(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	path := "/v1/tenants/acme/conversations/conv-1/messages"
	newest := []string{"wamid.in3", "wamid.in2", "wamid.out2", "wamid.out1", "wamid.in1"}
	if got := ids(s.all(path+"?order=desc", "messages")); !slices.Equal(got, newest) {
		t.Fatalf("newest first: %v", got)
	}
	oldest := slices.Clone(newest)
	slices.Reverse(oldest)
	if got := ids(s.all(path+"?order=asc", "messages")); !slices.Equal(got, oldest) {
		t.Fatalf("oldest first: %v", got)
	}
	desc := s.getJSON(path + "?order=desc&limit=1")["next_cursor"].(string)
	asc := s.getJSON(path + "?limit=1")["next_cursor"].(string)
	for _, p := range []string{path + "?cursor=" + url.QueryEscape(desc), path + "?order=asc&cursor=" + url.QueryEscape(desc),
		path + "?order=desc&cursor=" + url.QueryEscape(asc)} {
		if rec := s.get(p, apiToken); rec.Code != http.StatusBadRequest || errorCode(t, rec) != "invalid_cursor" {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// updated_since keeps the conversations last active at or after it, newest
// first as always.
func TestConversationsUpdatedSince(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	path := "/v1/tenants/acme/conversations?updated_since="
	for since, want := range map[string][]string{
		"2026-11-29T04:05:00Z":           {"conv-2", "conv-3"},
		"2026-11-29T04:05:00.000000001Z": {"conv-2"},
		"2026-11-29T05:10:00%2B01:00":    {"conv-2"},
		"2026-11-29T04:11:00Z":           nil,
		"1970-01-01T00:00:00Z":           {"conv-2", "conv-3", "conv-1"},
	} {
		if got := ids(s.all(path+since, "conversations")); !slices.Equal(got, want) {
			t.Errorf("since %s: %v, want %v", since, got, want)
		}
	}
}

func TestMessageByWAMID(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	v := s.getJSON("/v1/tenants/acme/messages/wamid.out1")
	statuses := v["statuses"].([]any)
	if v["known"] != true || v["text"] != "hi Alice" || v["status"] != "delivered" || len(statuses) != 2 {
		t.Fatalf("message: %v", v)
	}
	if st := statuses[0].(map[string]any); st["status"] != "sent" || st["at"] != "2026-11-29T04:01:00Z" {
		t.Fatalf("first status: %v", st)
	}
	v = s.getJSON("/v1/tenants/acme/messages/wamid.out2")
	failure := obj(t, v["statuses"].([]any)[0].(map[string]any), "error")
	if v["status"] != "failed" || obj(t, v, "error")["code"] != 131026.0 || failure["code"] != 131026.0 {
		t.Fatalf("failed message: %v", v)
	}

	// Only statuses arrived: the delivery state, no content.
	v = s.getJSON("/v1/tenants/acme/messages/wamid.ghost")
	if v["known"] != false || v["id"] != "wamid.ghost" || v["status"] != "read" || v["direction"] != "outbound" ||
		len(v["statuses"].([]any)) != 2 {
		t.Fatalf("status-only message: %v", v)
	}
	for _, k := range []string{"type", "text", "timestamp", "from", "to"} {
		if _, ok := v[k]; ok {
			t.Fatalf("status-only message shows %s: %v", k, v)
		}
	}

	rec := s.get("/v1/tenants/acme/messages/wamid.nothing", apiToken)
	if rec.Code != http.StatusNotFound || errorMessage(t, rec) != "unknown message" {
		t.Fatalf("unknown wamid: %d %s", rec.Code, rec.Body)
	}
}

func TestContactLookup(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	for _, key := range []string{"US.200", "US.100", "15550001111", "+15550001111"} {
		v := s.getJSON("/v1/tenants/acme/numbers/111/contacts/" + url.PathEscape(key))
		pref := obj(t, v, "marketing_preference")
		if v["business_scoped_user_id"] != "US.200" || v["phone_number"] != "15550001111" || v["name"] != "Alice" ||
			v["phone_number_id"] != number || !slices.Equal(v["previous_business_scoped_user_ids"].([]any), []any{"US.100"}) ||
			v["last_seen_at"] == nil {
			t.Fatalf("contact by %s: %v", key, v)
		}
		if pref["status"] != "opted_out" || pref["sequence"] != 7.0 || pref["occurred_at"] != "2026-11-29T04:07:00Z" {
			t.Fatalf("marketing preference by %s: %v", key, pref)
		}
	}
	v := s.getJSON("/v1/tenants/acme/numbers/111/contacts/15550004444")
	if v["name"] != "Carol" || v["business_scoped_user_id"] != "" || v["marketing_preference"] != nil {
		t.Fatalf("phone-only contact: %v", v)
	}
	for _, p := range []string{"/v1/tenants/acme/numbers/111/contacts/US.999", "/v1/tenants/acme/numbers/222/contacts/US.200"} {
		if rec := s.get(p, apiToken); rec.Code != http.StatusNotFound || errorMessage(t, rec) != "unknown contact" {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// Tenant B reaches none of tenant A's items, by id, by key or by cursor.
func TestMessagesTenantIsolation(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	if v := s.getJSON("/v1/tenants/beta/conversations"); len(v["conversations"].([]any)) != 0 || v["next_cursor"] != nil {
		t.Fatalf("tenant without data: %v", v)
	}
	if rec := s.get("/v1/tenants/beta/conversations", apiToken); !strings.Contains(rec.Body.String(), `"conversations":[]`) {
		t.Fatalf("empty list is not []: %s", rec.Body)
	}
	if v := s.getJSON("/v1/tenants/beta/conversations/conv-1/messages"); len(v["messages"].([]any)) != 0 {
		t.Fatalf("A's conversation seen by B: %v", v)
	}
	for _, p := range []string{"/v1/tenants/beta/messages/wamid.in1", "/v1/tenants/beta/messages/wamid.ghost",
		"/v1/tenants/beta/numbers/111/contacts/US.200"} {
		if rec := s.get(p, apiToken); rec.Code != http.StatusNotFound {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
	for _, list := range []string{"conversations", "conversations/conv-1/messages"} {
		page := s.getJSON("/v1/tenants/acme/" + list + "?limit=1")
		cursor := page["next_cursor"].(string)
		rec := s.get("/v1/tenants/beta/"+list+"?cursor="+url.QueryEscape(cursor), apiToken)
		if rec.Code != http.StatusBadRequest || errorCode(t, rec) != "invalid_cursor" {
			t.Fatalf("A's %s cursor used by B: %d %s", list, rec.Code, rec.Body)
		}
	}
	// A conversations cursor is no cursor of a conversation's messages.
	cursor := s.getJSON("/v1/tenants/acme/conversations?limit=1")["next_cursor"].(string)
	rec := s.get("/v1/tenants/acme/conversations/conv-1/messages?cursor="+url.QueryEscape(cursor), apiToken)
	if rec.Code != http.StatusBadRequest || errorCode(t, rec) != "invalid_cursor" {
		t.Fatalf("conversations cursor on messages: %d %s", rec.Code, rec.Body)
	}
}

func TestMessagesRequestValidation(t *testing.T) {
	s := newMessagesStack(t)
	s.seed()
	cases := []struct {
		name, path, code, mention string
	}{
		{"limit 0", "/v1/tenants/acme/conversations?limit=0", "invalid", "limit"},
		{"limit above max", "/v1/tenants/acme/conversations?limit=201", "invalid", "limit"},
		{"limit negative", "/v1/tenants/acme/conversations/conv-1/messages?limit=-1", "invalid", "limit"},
		{"limit not a number", "/v1/tenants/acme/conversations?limit=ten", "invalid", "limit"},
		{"limit empty", "/v1/tenants/acme/conversations?limit=", "invalid", "limit"},
		{"limit twice", "/v1/tenants/acme/conversations?limit=1&limit=2", "invalid", "limit"},
		{"garbage cursor", "/v1/tenants/acme/conversations?cursor=not-a-cursor", "invalid_cursor", "cursor"},
		{"cursor twice", "/v1/tenants/acme/conversations/conv-1/messages?cursor=a&cursor=b", "invalid_cursor", "cursor"},
		{"huge cursor", "/v1/tenants/acme/conversations?cursor=" + strings.Repeat("a", 5000), "invalid_cursor", "cursor"},
		{"long wamid", "/v1/tenants/acme/messages/" + strings.Repeat("w", 257), "invalid", "wamid"},
		{"wamid with space", "/v1/tenants/acme/messages/wamid%20x", "invalid", "wamid"},
		{"conversation id not ascii", "/v1/tenants/acme/conversations/conv%C3%A9/messages", "invalid", "conversation_id"},
		{"long contact", "/v1/tenants/acme/numbers/111/contacts/" + strings.Repeat("1", 257), "invalid", "contact"},
		{"bad tenant id", "/v1/tenants/ac%20me/conversations", "invalid", "tenant_id"},
		{"updated_since not a time", "/v1/tenants/acme/conversations?updated_since=now", "invalid", "updated_since"},
		{"updated_since without a zone", "/v1/tenants/acme/conversations?updated_since=2026-11-29T04:00:00", "invalid", "updated_since"},
		{"updated_since twice", "/v1/tenants/acme/conversations?updated_since=2026-11-29T04:00:00Z&updated_since=2026-11-29T04:00:00Z",
			"invalid", "updated_since"},
		{"updated_since too long", "/v1/tenants/acme/conversations?updated_since=2026-11-29T04:00:00." + strings.Repeat("0", 60) + "Z",
			"invalid", "updated_since"},
		{"updated_since on messages", "/v1/tenants/acme/conversations/conv-1/messages?updated_since=2026-11-29T04:00:00Z", "invalid",
			"updated_since"},
		{"order unknown", "/v1/tenants/acme/conversations/conv-1/messages?order=newest", "invalid", "order: must be asc or desc"},
		{"order in capitals", "/v1/tenants/acme/conversations/conv-1/messages?order=DESC", "invalid", "order"},
		{"order twice", "/v1/tenants/acme/conversations/conv-1/messages?order=desc&order=desc", "invalid", "order"},
		{"order empty", "/v1/tenants/acme/conversations/conv-1/messages?order=", "invalid", "order"},
		{"order on conversations", "/v1/tenants/acme/conversations?order=desc", "invalid", "order"},
	}
	for _, c := range cases {
		rec := s.get(c.path, apiToken)
		if rec.Code != http.StatusBadRequest || errorCode(t, rec) != c.code || !strings.Contains(errorMessage(t, rec), c.mention) {
			t.Errorf("%s: %d %s", c.name, rec.Code, rec.Body)
		}
	}
	// The bounds themselves pass; an empty cursor is the first page.
	for p, want := range map[string]int{
		"/v1/tenants/acme/conversations?limit=200":                                     http.StatusOK,
		"/v1/tenants/acme/conversations?limit=1":                                       http.StatusOK,
		"/v1/tenants/acme/conversations?cursor=":                                       http.StatusOK,
		"/v1/tenants/acme/messages/" + strings.Repeat("w", 256):                        http.StatusNotFound,
		"/v1/tenants/acme/numbers/111/contacts/" + url.PathEscape("+1 (555) 000-1111"): http.StatusBadRequest,
	} {
		if rec := s.get(p, apiToken); rec.Code != want {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// failingReader fails every read with an error that must stay in the logs.
type failingReader struct{}

var errSecret = errors.New("dynamodb: table arn:aws:dynamodb:eu-west-1:123456789012:table/secret unreachable")

func (failingReader) Conversations(context.Context, string, messaging.Page) ([]messaging.ConversationView, string, error) {
	return nil, "", errSecret
}

func (failingReader) ConversationMessages(context.Context, string, string, messaging.Page) ([]messaging.StoredMessage, string, error) {
	return nil, "", errSecret
}

func (failingReader) Message(context.Context, string, string) (messaging.StoredMessage, bool, error) {
	return messaging.StoredMessage{}, false, errSecret
}

func (failingReader) Contact(context.Context, string, string, string) (messaging.Contact, bool, error) {
	return messaging.Contact{}, false, errSecret
}

func TestMessagesStoreFailureIsOpaque(t *testing.T) {
	mux := http.NewServeMux()
	(&tenantapi.API{Messages: failingReader{}, Token: apiToken}).Register(mux)
	for _, p := range []string{
		"/v1/tenants/acme/conversations",
		"/v1/tenants/acme/conversations/conv-1/messages",
		"/v1/tenants/acme/messages/wamid.in1",
		"/v1/tenants/acme/numbers/111/contacts/US.200",
	} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "secret") ||
			strings.Contains(rec.Body.String(), "dynamodb") {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return body.Error.Code
}

// serveGet is a GET of path through h, with the bearer token when given.
func serveGet(h http.Handler, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
