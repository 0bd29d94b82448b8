package tenantapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// eventsStack is the feed routes on the in-memory feed, whose clock the
// test moves past the settle delay.
type eventsStack struct {
	t    *testing.T
	clk  *testclock.Clock
	feed *memstore.Feed
	mux  *http.ServeMux
}

func newEventsStack(t *testing.T) *eventsStack {
	t.Helper()
	clk := testclock.New(t0)
	s := &eventsStack{t: t, clk: clk, feed: &memstore.Feed{Now: clk.Now}, mux: http.NewServeMux()}
	(&tenantapi.API{Feed: s.feed, Token: apiToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(s.mux)
	return s
}

// event is the i-th event of a tenant, of a type.
func event(tenant, typ string, i int) bridgeevents.Event {
	return bridgeevents.Event{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Type: typ, TenantID: tenant,
		Timestamp: t0.Add(time.Duration(i) * time.Second), Source: bridgeevents.SourceWebhook,
		Subject: fmt.Sprintf("message:wamid.%d", i), Version: int64(i), Data: json.RawMessage(`{"tenant_id":"` + tenant + `"}`)}
}

// append appends events, then lets them settle.
func (s *eventsStack) append(events ...bridgeevents.Event) {
	s.t.Helper()
	if err := s.feed.Append(context.Background(), events); err != nil {
		s.t.Fatal(err)
	}
	s.clk.Advance(eventing.Settle + time.Second)
}

// list gets a page of the feed at path and wants a 200.
func (s *eventsStack) list(path string) tenantapi.EventList {
	s.t.Helper()
	rec := serveGet(s.mux, path, apiToken)
	if rec.Code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	var page tenantapi.EventList
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&page); err != nil {
		s.t.Fatalf("GET %s: %v %s", path, err, rec.Body)
	}
	if page.NextCursor == "" || page.Events == nil {
		s.t.Fatalf("GET %s: no next_cursor or no events list: %s", path, rec.Body)
	}
	return page
}

func eventIDs(p tenantapi.EventList) []string {
	out := []string{}
	for _, e := range p.Events {
		out = append(out, e.ID)
	}
	return out
}

// The stack's feed lists every tenant's events, a tenant's feed its own,
// oldest first, each event whole; next_cursor is always there and goes on
// from where the page ended, also after the last page.
func TestEventsFeeds(t *testing.T) {
	s := newEventsStack(t)
	s.append(event("acme", bridgeevents.MessageReceived, 1), event("beta", bridgeevents.TenantStatusChanged, 2),
		event("acme", bridgeevents.MessageStatusChanged, 3))
	if got := eventIDs(s.list("/v1/events")); !slices.Equal(got, []string{"evt_acme_1", "evt_beta_2", "evt_acme_3"}) {
		t.Errorf("the stack's feed: %v", got)
	}
	acme := s.list("/v1/tenants/acme/events")
	if got := eventIDs(acme); !slices.Equal(got, []string{"evt_acme_1", "evt_acme_3"}) {
		t.Errorf("acme's feed: %v", got)
	}
	rec := serveGet(s.mux, "/v1/tenants/acme/events?limit=1", apiToken)
	want := `{"events":[{"id":"evt_acme_1","type":"message.received","timestamp":"2026-11-29T04:00:01Z","tenant_id":"acme",` +
		`"source":"webhook","subject":"message:wamid.1","version":1,"data":{"tenant_id":"acme"}}],"next_cursor":"`
	if !strings.HasPrefix(rec.Body.String(), want) || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("answer %s", rec.Body)
	}
	// Paged one at a time, then past the end: the cursor stays usable.
	var got []string
	cursor := ""
	for range 4 {
		p := s.list("/v1/tenants/acme/events?limit=1&cursor=" + url.QueryEscape(cursor))
		got = append(got, eventIDs(p)...)
		cursor = p.NextCursor
	}
	if !slices.Equal(got, []string{"evt_acme_1", "evt_acme_3"}) {
		t.Errorf("paged: %v", got)
	}
	s.append(event("acme", bridgeevents.ContactChanged, 4))
	if got := eventIDs(s.list("/v1/tenants/acme/events?cursor=" + url.QueryEscape(cursor))); !slices.Equal(got, []string{"evt_acme_4"}) {
		t.Errorf("after the last page: %v", got)
	}
	if got := eventIDs(s.list("/v1/tenants/nobody/events")); len(got) != 0 {
		t.Errorf("a tenant with no events: %v", got)
	}
}

// An event appended less than the settle delay ago is not listed yet.
func TestEventsWaitForTheSettleDelay(t *testing.T) {
	s := newEventsStack(t)
	if err := s.feed.Append(context.Background(), []bridgeevents.Event{event("acme", bridgeevents.MessageReceived, 1)}); err != nil {
		t.Fatal(err)
	}
	p := s.list("/v1/events")
	if len(p.Events) != 0 {
		t.Fatalf("listed before settling: %v", eventIDs(p))
	}
	s.clk.Advance(eventing.Settle)
	if got := eventIDs(s.list("/v1/events?cursor=" + p.NextCursor)); !slices.Equal(got, []string{"evt_acme_1"}) {
		t.Errorf("after settling: %v", got)
	}
}

// type takes event types, comma-separated, repeated, or both.
func TestEventsTypeFilter(t *testing.T) {
	s := newEventsStack(t)
	s.append(event("acme", bridgeevents.MessageReceived, 1), event("acme", bridgeevents.TenantStatusChanged, 2),
		event("acme", bridgeevents.ContactChanged, 3), event("acme", bridgeevents.MessageStatusChanged, 4))
	for q, want := range map[string][]string{
		"type=message.received":                                                  {"evt_acme_1"},
		"type=message.received,contact.changed":                                  {"evt_acme_1", "evt_acme_3"},
		"type=message.received&type=contact.changed":                             {"evt_acme_1", "evt_acme_3"},
		"type=tenant.status_changed,message.status_changed&type=contact.changed": {"evt_acme_2", "evt_acme_3", "evt_acme_4"},
		"type=conversation.status_changed":                                       {},
	} {
		for _, path := range []string{"/v1/events?", "/v1/tenants/acme/events?"} {
			if got := eventIDs(s.list(path + q)); !slices.Equal(got, want) {
				t.Errorf("%s%s: %v, want %v", path, q, got, want)
			}
		}
	}
}

func TestEventsRefuseBadInput(t *testing.T) {
	s := newEventsStack(t)
	s.append(event("acme", bridgeevents.MessageReceived, 1), event("beta", bridgeevents.MessageReceived, 2))
	acme := s.list("/v1/tenants/acme/events").NextCursor
	all := s.list("/v1/events").NextCursor
	m := newMessagesStack(t)
	m.seed()
	conversations := m.getJSON("/v1/tenants/acme/conversations?limit=1")["next_cursor"].(string)
	types := strings.Join(bridgeevents.Types, ", ")
	for path, want := range map[string]string{
		"/v1/events?type=message.sent":                               `invalid type: "message.sent" is not one of ` + types,
		"/v1/events?type=message.received,":                          `invalid type: "" is not one of ` + types,
		"/v1/tenants/acme/events?type=":                              `invalid type: "" is not one of ` + types,
		"/v1/tenants/acme/events?type=Message.Received":              `invalid type: "Message.Received" is not one of ` + types,
		"/v1/events?limit=0":                                         "invalid limit: must be one integer from 1 to 200",
		"/v1/tenants/acme/events?limit=201":                          "invalid limit: must be one integer from 1 to 200",
		"/v1/events?tenant_id=acme":                                  `invalid unknown query parameter "tenant_id"`,
		"/v1/tenants/acme/events?updated_since=2026-11-29T04:00:00Z": `invalid unknown query parameter "updated_since"`,
		"/v1/tenants/ac%20me/events":                                 "invalid tenant_id: must be",
		"/v1/tenants/beta/events?cursor=" + acme:                     "invalid_cursor cursor: not a cursor of this list",
		"/v1/events?cursor=" + acme:                                  "invalid_cursor cursor: not a cursor of this list",
		"/v1/tenants/acme/events?cursor=" + all:                      "invalid_cursor cursor: not a cursor of this list",
		"/v1/tenants/acme/events?cursor=" + conversations:            "invalid_cursor cursor: not a cursor of this list",
		"/v1/tenants/acme/events?cursor=not-a-cursor":                "invalid_cursor cursor: not a cursor of this list",
		"/v1/events?cursor=" + strings.Repeat("a", 5000):             "invalid_cursor cursor: not a cursor of this list",
	} {
		rec := serveGet(s.mux, path, apiToken)
		if got := errorCode(t, rec) + " " + errorMessage(t, rec); rec.Code != http.StatusBadRequest || !strings.HasPrefix(got, want) {
			t.Errorf("GET %s: %d %s, want 400 %s", path, rec.Code, got, want)
		}
	}
	// An events cursor is no other list's either.
	if rec := serveGet(m.mux, "/v1/tenants/acme/conversations?cursor="+acme, apiToken); rec.Code != http.StatusBadRequest ||
		errorCode(t, rec) != "invalid_cursor" {
		t.Errorf("an events cursor on conversations: %d %s", rec.Code, rec.Body)
	}
	for _, token := range []string{"", "wrong"} {
		for _, path := range []string{"/v1/events", "/v1/tenants/acme/events"} {
			if rec := serveGet(s.mux, path, token); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "evt_") {
				t.Errorf("%s with token %q: %d %s", path, token, rec.Code, rec.Body)
			}
		}
	}
}

// failingFeed fails with an error that must stay in the logs.
type failingFeed struct{ memstore.Feed }

func (*failingFeed) List(context.Context, eventing.FeedQuery) (eventing.FeedPage, error) {
	return eventing.FeedPage{}, errSecret
}

func TestEventsStoreFailureIsOpaque(t *testing.T) {
	mux := http.NewServeMux()
	(&tenantapi.API{Feed: &failingFeed{}, Token: apiToken}).Register(mux)
	for _, p := range []string{"/v1/events", "/v1/tenants/acme/events"} {
		rec := serveGet(mux, p, apiToken)
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "secret") || errorCode(t, rec) != "unavailable" {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
}
