package stack

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
)

// appFeed is what the app page reads of the feed of events.
type appFeed interface {
	List(ctx context.Context, q eventing.FeedQuery) (eventing.FeedPage, error)
}

// Bounds of the app page's events panel.
const (
	shownEvents = 20
	// feedPagesPerRender bounds the pages one render reads: a tenant's
	// first render after a restart reads its feed from the start, and a
	// long feed is caught up over a few renders.
	feedPagesPerRender = 10
)

// eventTail follows each tenant's feed for the app page: a render reads
// on from where the previous one stopped, and keeps the newest events.
// The feed lists oldest first and has no other order, so the tail is
// kept here rather than read whole each time.
type eventTail struct {
	feed appFeed

	mu      sync.Mutex
	tenants map[string]*tenantTail
}

type tenantTail struct {
	cursor string
	events []bridgeevents.Event // oldest first, at most shownEvents
	// erasures are the contact.erased events acted on: each made the tail
	// drop what it held and read the feed again from its start.
	erasures []string
}

func newEventTail(feed appFeed) *eventTail {
	return &eventTail{feed: feed, tenants: map[string]*tenantTail{}}
}

// eventsView is the events panel.
type eventsView struct {
	Rows  []eventRow // newest first
	Error string
	// Behind: the render stopped reading before the feed's end; the next
	// one goes on.
	Behind bool
}

type eventRow struct{ ID, Type, Time, Subject, Summary string }

// latest reads the tenant's feed on from its last cursor and answers its
// newest events, newest first.
func (t *eventTail) latest(ctx context.Context, tenantID string) eventsView {
	var v eventsView
	if t == nil || t.feed == nil {
		v.Error = "no feed of events is wired into this stack"
		return v
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.tenants[tenantID]
	if st == nil {
		st = &tenantTail{}
		t.tenants[tenantID] = st
	}
	v.Behind = true
	for range feedPagesPerRender {
		p, err := t.feed.List(ctx, eventing.FeedQuery{TenantID: tenantID, Cursor: st.cursor, Limit: eventing.MaxFeedLimit})
		if err != nil {
			v.Error = "could not read the feed of events: " + err.Error()
			break
		}
		st.cursor = p.Cursor
		erased := false
		for _, e := range p.Events {
			if e.Type == bridgeevents.ContactErased && !slices.Contains(st.erasures, e.ID) {
				// The erasure deleted the person's events from the feed: a
				// copy kept of them goes too, as a SaaS's copy should.
				st.erasures = append(st.erasures, e.ID)
				st.cursor, st.events, erased = "", nil, true
				break
			}
			// An event appended again (a retried batch) comes twice.
			if !slices.ContainsFunc(st.events, func(k bridgeevents.Event) bool { return k.ID == e.ID }) {
				st.events = append(st.events, e)
			}
		}
		if erased {
			continue
		}
		st.events = st.events[max(0, len(st.events)-shownEvents):]
		if len(p.Events) < eventing.MaxFeedLimit {
			v.Behind = false
			break
		}
	}
	for i := len(st.events) - 1; i >= 0; i-- {
		e := st.events[i]
		v.Rows = append(v.Rows, eventRow{ID: e.ID, Type: e.Type, Time: when(e.Timestamp), Subject: e.Subject, Summary: summarize(e)})
	}
	return v
}

// summarize says in one line what an event tells.
func summarize(e bridgeevents.Event) string {
	rec, err := e.Record()
	if err != nil {
		return "(data not readable: " + err.Error() + ")"
	}
	moved := func(from, to string) string { return cmp.Or(from, "none") + " → " + to }
	switch d := rec.(type) {
	case *bridgeevents.TenantStatus:
		return join(moved(d.PreviousStatus, d.Status), d.Reason)
	case *bridgeevents.MessageReceivedData:
		c := d.Message.MessageContent
		if c == nil {
			return d.Message.ID
		}
		text := c.Text
		if len([]rune(text)) > 80 {
			text = string([]rune(text)[:80]) + "…"
		}
		return join(fmt.Sprintf("%s from %s", cmp.Or(c.Type, "message"), person(c.From)), text)
	case *bridgeevents.MessageStatus:
		s := d.MessageID + ": " + moved(d.PreviousStatus, d.Status)
		if d.FailureReason != "" {
			s += " (" + d.FailureReason + ")"
		}
		if d.Error != nil {
			s = join(s, fmt.Sprintf("%d %s", d.Error.Code, d.Error.Title))
		}
		return s
	case *bridgeevents.ConversationStatus:
		return join(d.ConversationID+": "+moved(d.PreviousStatus, d.Status), person(d.Contact.Person))
	case *bridgeevents.NumberHealth:
		return join(d.PhoneNumberID+": quality "+moved(d.PreviousQualityRating, d.QualityRating), d.MessagingLimitTier,
			"name "+d.NameStatus, strings.Join(d.NeedsAttention, ", "))
	case *bridgeevents.TemplateStatus:
		return join(d.Name+" ("+d.Language+"): "+moved(d.PreviousStatus, d.Status), d.Reason)
	case *bridgeevents.ContactErasure:
		e := d.Erased
		return fmt.Sprintf("%s on %s: %d messages, %d media objects, %d conversations erased", d.ErasureID, d.PhoneNumberID,
			e.Messages, e.MediaObjects, e.Conversations)
	case *bridgeevents.ContactChange:
		s := join(d.Change, person(d.Contact.Person))
		if m := d.Contact.MarketingPreference; m != nil && d.Change == bridgeevents.ContactMarketingPreference {
			s += ": " + m.Status
		}
		return s
	}
	return ""
}

// person names a person as the page can: name, phone, BSUID.
func person(p bridgeevents.Person) string {
	phone := ""
	if p.PhoneNumber != "" {
		phone = "+" + p.PhoneNumber
	}
	return cmp.Or(strings.TrimSpace(p.Name), phone, p.BusinessScopedUserID, "someone")
}

// join puts the parts of a summary together, skipping empty ones.
func join(parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "; ")
}
