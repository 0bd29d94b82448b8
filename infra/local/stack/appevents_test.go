package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// countingFeed counts the pages read and keeps the cursors asked for.
type countingFeed struct {
	appFeed
	cursors []string
}

func (c *countingFeed) List(ctx context.Context, q eventing.FeedQuery) (eventing.FeedPage, error) {
	c.cursors = append(c.cursors, q.Cursor)
	return c.appFeed.List(ctx, q)
}

type failingFeed struct{}

func (failingFeed) List(context.Context, eventing.FeedQuery) (eventing.FeedPage, error) {
	return eventing.FeedPage{}, errors.New("feed down")
}

func pageEvent(t *testing.T, tenant, typ string, i int, data any) bridgeevents.Event {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return bridgeevents.Event{ID: fmt.Sprintf("evt_%s_%02d", tenant, i), Type: typ, TenantID: tenant,
		Timestamp: t0.Add(time.Duration(i) * time.Minute), Source: bridgeevents.SourceWebhook,
		Subject: fmt.Sprintf("subject-%d", i), Version: int64(i), Data: b}
}

var eventRowID = regexp.MustCompile(`<tr class="event" data-id="([^"]+)">`)

func eventRowIDs(body string) []string {
	var out []string
	for _, m := range eventRowID.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// A tenant's page shows its 20 newest events, newest first, each with its
// type, time, subject and what it says; in the live inbox when there is
// one (and in its refreshes), else on the page itself.
func TestAppPageShowsTheLatestEvents(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Now())
	feed := &memstore.Feed{Now: clk.Now}
	status := func(i int) bridgeevents.Event {
		return pageEvent(t, "acme", bridgeevents.MessageStatusChanged, i, bridgeevents.MessageStatus{TenantID: "acme",
			MessageID: fmt.Sprintf("out_%d", i), PhoneNumberID: inboxNumber, Status: "delivered", PreviousStatus: "sent"})
	}
	var evs []bridgeevents.Event
	for i := range 20 {
		evs = append(evs, status(i))
	}
	ana := bridgeevents.Person{PhoneNumber: "5215512345678", Name: "Ana"}
	evs = append(evs,
		pageEvent(t, "acme", bridgeevents.TenantStatusChanged, 20, bridgeevents.TenantStatus{TenantID: "acme", Status: "connected",
			PreviousStatus: "awaiting_confirmation", NeedsAttention: []string{}, Reason: "phone number created"}),
		pageEvent(t, "acme", bridgeevents.MessageReceived, 21, bridgeevents.MessageReceivedData{TenantID: "acme",
			Message: bridgeevents.Message{MessageSummary: bridgeevents.MessageSummary{ID: "wamid.1", Direction: "inbound",
				MessageContent: &bridgeevents.MessageContent{Type: "text", Text: "Oi, tudo bem?", From: ana}}}}),
		pageEvent(t, "acme", bridgeevents.MessageStatusChanged, 22, bridgeevents.MessageStatus{TenantID: "acme", MessageID: "out_9",
			Status: "failed", PreviousStatus: "sent", Error: &bridgeevents.StatusError{Code: 131026, Title: "Message undeliverable"}}),
		pageEvent(t, "acme", bridgeevents.ConversationStatusChanged, 23, bridgeevents.ConversationStatus{TenantID: "acme",
			ConversationID: "conv-ana", Status: "ended", PreviousStatus: "active", Contact: bridgeevents.ContactIdentity{Person: ana}}),
		pageEvent(t, "acme", bridgeevents.ContactChanged, 24, bridgeevents.ContactChange{TenantID: "acme",
			Change: bridgeevents.ContactMarketingPreference, Contact: bridgeevents.Contact{ContactIdentity: bridgeevents.ContactIdentity{Person: ana},
				MarketingPreference: &bridgeevents.MarketingPreference{Status: "opted_out"}}}),
		pageEvent(t, "beta", bridgeevents.TenantStatusChanged, 25, bridgeevents.TenantStatus{TenantID: "beta", Status: "failed"}),
		pageEvent(t, "failed", bridgeevents.TenantStatusChanged, 26, bridgeevents.TenantStatus{TenantID: "failed", Status: "failed",
			PreviousStatus: "link_active", Reason: "setup failed: " + failureCode}),
	)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(feed.Append(ctx, evs))
	must(feed.Append(ctx, evs[21:22])) // appended again: shown once
	clk.Advance(eventing.Settle)
	app := appPage(newStore(), inbox(), nil, feed, "", testGuard(), slog.New(slog.DiscardHandler))

	body := get(t, app, "/app/connected?tenant_id=acme")
	want := []string{"evt_acme_24", "evt_acme_23", "evt_acme_22", "evt_acme_21", "evt_acme_20"}
	for i := 19; i >= 5; i-- {
		want = append(want, fmt.Sprintf("evt_acme_%02d", i))
	}
	if got := eventRowIDs(body); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	inbox := body[strings.Index(body, `<div id="inbox">`):]
	if !strings.Contains(inbox, `<table id="events">`) {
		t.Error("a live inbox's page shows the events outside it")
	}
	for _, row := range []string{
		`<td class="type">contact.changed</td><td class="subject">subject-24</td><td class="summary">marketing_preference; Ana: opted_out</td>`,
		`<td class="type">conversation.status_changed</td><td class="subject">subject-23</td><td class="summary">conv-ana: active → ended; Ana</td>`,
		`<td class="summary">out_9: sent → failed; 131026 Message undeliverable</td>`,
		`<td class="type">message.received</td><td class="subject">subject-21</td><td class="summary">text from Ana; Oi, tudo bem?</td>`,
		`<td class="summary">awaiting_confirmation → connected; phone number created</td>`,
		`<tr class="event" data-id="evt_acme_24"><td>` + when(t0.Add(24*time.Minute)) + `</td>`,
	} {
		if !strings.Contains(body, row) {
			t.Errorf("page lacks %s", row)
		}
	}
	// The inbox's refresh carries them, with a newer one on top.
	must(feed.Append(ctx, []bridgeevents.Event{status(27)}))
	clk.Advance(eventing.Settle)
	if got := eventRowIDs(get(t, app, "/app/connected?tenant_id=acme&part=inbox")); len(got) != shownEvents || got[0] != "evt_acme_27" ||
		got[1] != "evt_acme_24" {
		t.Errorf("refreshed events %v", got)
	}
	// A tenant without a live inbox has them on its page.
	body = get(t, app, "/app/connected?tenant_id=failed")
	if got := eventRowIDs(body); !slices.Equal(got, []string{"evt_failed_26"}) || strings.Contains(body, `id="inbox"`) ||
		!strings.Contains(body, `<td class="summary">link_active → failed; setup failed: `+failureCode+`</td>`) {
		t.Errorf("events of a tenant without an inbox: %v", got)
	}
	if body := get(t, app, "/app/connected?tenant_id=linked"); !strings.Contains(body, `id="no-events"`) {
		t.Error("a tenant without events is not said to have none")
	}
	if body := get(t, app, "/app/connected?tenant_id=nobody"); strings.Contains(body, "Latest events") {
		t.Error("an unknown tenant shows an events panel")
	}
}

// Each render reads on from where the previous one stopped: a long feed is
// caught up over renders, and a failing feed is said to fail.
func TestAppPageReadsTheFeedOnFromItsCursor(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Now())
	feed := &countingFeed{appFeed: &memstore.Feed{Now: clk.Now}}
	var evs []bridgeevents.Event
	n := feedPagesPerRender*eventing.MaxFeedLimit + 5
	for i := range n {
		evs = append(evs, pageEvent(t, "failed", bridgeevents.TenantStatusChanged, i, bridgeevents.TenantStatus{TenantID: "failed", Status: "failed"}))
	}
	if err := feed.appFeed.(*memstore.Feed).Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	clk.Advance(eventing.Settle)
	app := appPage(newStore(), noMessages{}, nil, feed, "", testGuard(), slog.New(slog.DiscardHandler))
	body := get(t, app, "/app/connected?tenant_id=failed")
	if len(feed.cursors) != feedPagesPerRender || !strings.Contains(body, `id="events-behind"`) {
		t.Errorf("first render: %d pages, behind %v", len(feed.cursors), strings.Contains(body, `id="events-behind"`))
	}
	read := len(feed.cursors)
	body = get(t, app, "/app/connected?tenant_id=failed")
	last := fmt.Sprintf("evt_failed_%02d", n-1)
	if got := eventRowIDs(body); len(feed.cursors) != read+1 || feed.cursors[read] == "" || len(got) != shownEvents || got[0] != last ||
		strings.Contains(body, `id="events-behind"`) {
		t.Errorf("second render: %d more pages from %q, events %v", len(feed.cursors)-read, feed.cursors[read], got)
	}
	app = appPage(newStore(), noMessages{}, nil, failingFeed{}, "", testGuard(), slog.New(slog.DiscardHandler))
	if body := get(t, app, "/app/connected?tenant_id=failed"); !strings.Contains(body, "could not read the feed of events: feed down") {
		t.Error("a failing feed is not said to fail")
	}
}

// sliceFeed is a feed whose events a test deletes, as an erasure does.
type sliceFeed struct{ events []bridgeevents.Event }

func (f *sliceFeed) List(_ context.Context, q eventing.FeedQuery) (eventing.FeedPage, error) {
	start := 0
	if q.Cursor != "" {
		start = slices.IndexFunc(f.events, func(e bridgeevents.Event) bool { return e.ID == q.Cursor }) + 1
	}
	end := min(len(f.events), start+q.Limit)
	page := eventing.FeedPage{Events: slices.Clone(f.events[start:end]), Cursor: q.Cursor}
	if end > start {
		page.Cursor = f.events[end-1].ID
	}
	return page, nil
}

// Once a person is erased, the events panel drops what it had shown of
// them: a contact.erased makes it read the feed, which no longer holds
// them, again from the start, once.
func TestAppPageForgetsAnErasedPersonsEvents(t *testing.T) {
	feed := &sliceFeed{}
	for i, who := range []string{"Ana", "Bob"} {
		feed.events = append(feed.events, pageEvent(t, "acme", bridgeevents.TenantStatusChanged, i,
			bridgeevents.TenantStatus{TenantID: "acme", Status: "connected", Reason: who}))
	}
	app := appPage(newStore(), noMessages{}, nil, feed, "", testGuard(), slog.New(slog.DiscardHandler))
	if body := get(t, app, "/app/connected?tenant_id=acme"); !strings.Contains(body, "Ana") {
		t.Fatalf("before: %v", eventRowIDs(body))
	}
	feed.events = append(feed.events[1:], pageEvent(t, "acme", bridgeevents.ContactErased, 2,
		bridgeevents.ContactErasure{TenantID: "acme", PhoneNumberID: "111", ErasureID: "era_1",
			Erased: bridgeevents.ErasureProgress{Messages: 4, MediaObjects: 1, Conversations: 1}}))
	body := get(t, app, "/app/connected?tenant_id=acme")
	if got := eventRowIDs(body); strings.Contains(body, "Ana") || !slices.Equal(got, []string{"evt_acme_02", "evt_acme_01"}) {
		t.Errorf("after the erasure: %v", got)
	}
	if !strings.Contains(body, "era_1 on 111: 4 messages, 1 media objects, 1 conversations erased") {
		t.Error("the erasure's event is not summarized")
	}
	feed.events = append(feed.events, pageEvent(t, "acme", bridgeevents.TenantStatusChanged, 3,
		bridgeevents.TenantStatus{TenantID: "acme", Status: "connected", Reason: "Cai"}))
	if got := eventRowIDs(get(t, app, "/app/connected?tenant_id=acme")); !slices.Equal(got, []string{"evt_acme_03", "evt_acme_02", "evt_acme_01"}) {
		t.Errorf("the erasure acted on again: %v", got)
	}
}

// A number's health and a template's status read as what moved.
func TestAppPageSummarizesHealthAndTemplateEvents(t *testing.T) {
	for _, c := range []struct {
		e    bridgeevents.Event
		want string
	}{
		{pageEvent(t, "acme", bridgeevents.NumberHealthChanged, 1, bridgeevents.NumberHealth{TenantID: "acme", PhoneNumberID: "111",
			QualityRating: "RED", PreviousQualityRating: "GREEN", MessagingLimitTier: "TIER_1K", NameStatus: "APPROVED",
			NeedsAttention: []string{"quality_low"}}), "111: quality GREEN → RED; TIER_1K; name APPROVED; quality_low"},
		{pageEvent(t, "acme", bridgeevents.TemplateStatusChanged, 2, bridgeevents.TemplateStatus{TenantID: "acme", Name: "order_update",
			Language: "en_US", Status: "REJECTED", PreviousStatus: "PENDING", Reason: "INVALID_FORMAT"}),
			"order_update (en_US): PENDING → REJECTED; INVALID_FORMAT"},
	} {
		if got := summarize(c.e); got != c.want {
			t.Errorf("%s: %q, want %q", c.e.Type, got, c.want)
		}
	}
}
