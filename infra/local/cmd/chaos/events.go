package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

// The events of a run: every change reaches the receiver under one event
// id, and the feed holds the same ids. What is stored is what the read API
// shows at the end (verify, verifySends); the receiver's events are held
// to it.

// storedMessage is a message as verify read it from the API.
type storedMessage struct {
	tenant, direction, status string
	known                     bool
}

// eventWants are the events the stored state calls for, and those it
// allows.
type eventWants struct {
	// received are the stored inbound messages: each needs one
	// message.received.
	received map[string]bool
	// sends are the sends through the tenant API at their final status.
	sends []sendWant
	// reached lists, by the id a message.status_changed names it by (an
	// outbound id or a WAMID), the statuses the message reached.
	reached map[string]map[string]bool
}

// sendWant is a send and the statuses it passed through for certain.
type sendWant struct {
	id, wamid string
	required  []string
}

// wants derives the events to expect from what verify and verifySends read.
func (c *chaos) wants() eventWants {
	w := eventWants{received: map[string]bool{}, reached: map[string]map[string]bool{}}
	for wamid, m := range c.stored {
		switch {
		case m.direction == "inbound" && m.known:
			w.received[wamid] = true
		case m.direction == "outbound":
			st := map[string]bool{}
			if e := c.checked[wamid]; e != nil {
				for s := range e.statuses {
					st[strings.TrimPrefix(s, "?")] = true
				}
			}
			if m.status != "" {
				st[m.status] = true
			}
			w.reached[wamid] = st
		}
	}
	for id, v := range c.finalSends {
		// Every send is queued, then claimed (sending); it ends accepted
		// with its WAMID or failed, and may have been unknown on the way.
		required := []string{"queued", "sending"}
		st := map[string]bool{"queued": true, "sending": true, "unknown": true}
		switch {
		case v.WAMID != "":
			required = append(required, "accepted")
			st["accepted"] = true
		case v.Status == "failed":
			required = append(required, "failed")
			st["failed"] = true
		}
		// A delivery status it ended at, told under the outbound id, or
		// under the WAMID when Kapso's webhook came before the WAMID was
		// recorded.
		if rank[v.Status] > 0 && v.WAMID != "" {
			required = append(required, v.Status)
		}
		st[v.Status] = true
		if v.WAMID != "" {
			for s := range w.reached[v.WAMID] {
				st[s] = true
			}
			w.reached[v.WAMID] = st
		}
		w.reached[id] = st
		w.sends = append(w.sends, sendWant{id: id, wamid: v.WAMID, required: required})
	}
	return w
}

// subjectID is the message id of a message event's subject.
func subjectID(e bridgeevents.Event) string {
	id, _ := strings.CutPrefix(e.Subject, "message:")
	return id
}

// statusOf is a message.status_changed event's status.
func statusOf(e bridgeevents.Event) string {
	var d struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.Status
}

// eventFindings are what the receiver holds against what it should.
type eventFindings struct {
	receivedMissing, receivedDoubled int
	statusMissing, statusDoubled     int
	orphans                          int
}

// check holds the events got against w; note is told each mismatch when
// not nil.
func (w eventWants) check(got map[string]bridgeevents.Event, note func(string, ...any)) eventFindings {
	if note == nil {
		note = func(string, ...any) {}
	}
	var f eventFindings
	received := map[string][]string{}            // WAMID → ids
	statuses := map[string]map[string][]string{} // message id → "status v" → ids
	for id, e := range got {
		switch e.Type {
		case bridgeevents.MessageReceived:
			m := subjectID(e)
			received[m] = append(received[m], id)
			if !w.received[m] {
				f.orphans++
				note("event %s: message.received of %s, which is not stored as an inbound message", id, m)
			}
		case bridgeevents.MessageStatusChanged:
			m, st := subjectID(e), statusOf(e)
			if statuses[m] == nil {
				statuses[m] = map[string][]string{}
			}
			k := fmt.Sprintf("%s v%d", st, e.Version)
			statuses[m][k] = append(statuses[m][k], id)
			if reached, ok := w.reached[m]; !ok || !reached[st] {
				f.orphans++
				note("event %s: message.status_changed of %s to %q, a status it never reached (reached: %v)", id, m, st, keys(reached))
			}
		}
	}
	for m := range w.received {
		switch ids := received[m]; {
		case len(ids) == 0:
			f.receivedMissing++
			note("message %s is stored; no message.received for it", m)
		case len(ids) > 1:
			f.receivedDoubled++
			note("message %s: %d message.received ids: %v", m, len(ids), ids)
		}
	}
	for _, s := range w.sends {
		// Its events under the outbound id and under its WAMID, by status
		// and version (a send's failure and a delivery's are two).
		by := map[string][]string{}
		for _, m := range []string{s.id, s.wamid} {
			if m == "" {
				continue
			}
			for k, ids := range statuses[m] {
				by[k] = append(by[k], ids...)
			}
		}
		for k, ids := range by {
			if len(ids) > 1 {
				f.statusDoubled++
				note("send %s (%s): %d message.status_changed ids for %s: %v", s.id, s.wamid, len(ids), k, ids)
			}
		}
		for _, st := range s.required {
			found := false
			for k := range by {
				if strings.HasPrefix(k, st+" v") {
					found = true
				}
			}
			if !found {
				f.statusMissing++
				note("send %s (%s): no message.status_changed to %q", s.id, s.wamid, st)
			}
		}
	}
	return f
}

// eventsCalm is how long the receiver must have taken nothing new before
// the feed is compared with it: past the feed's settle delay.
const eventsCalm = 7 * time.Second

// verifyEvents waits until the receiver holds every event the stored state
// calls for and the feed's ids, then counts what is missing, doubled or
// unfounded.
func (c *chaos) verifyEvents(ctx context.Context, res *result, note func(string, ...any)) error {
	w := c.wants()
	owners := c.owners()
	deadline := time.Now().Add(c.cfg.EventsWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	var feed map[string]int
	lastLog := time.Time{}
	for {
		all, _, last := c.recv.snapshot()
		got, _ := c.withoutDeleted(owners, all)
		f := w.check(got, nil)
		waiting := f.receivedMissing + f.statusMissing + max(c.expectedTenantDeleted()-c.tenantDeletedEvents(all), 0)
		queued, qerr := c.inQueues(ctx, "event-webhooks")
		done := false
		if waiting == 0 && qerr == nil && queued == 0 && time.Since(last) > eventsCalm {
			var err error
			if feed, err = c.readFeed(ctx); err != nil {
				return err
			}
			feed = without(feed, got, all)
			done = len(onlyIn(feed, got)) == 0 && len(onlyIn(got, feed)) == 0
		}
		if done || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if time.Since(lastLog) > 5*time.Second {
			c.logf("settling events: %d distinct at the receiver, %d awaited, %d on the event-webhooks queue (%v)",
				len(got), waiting, queued, qerr)
			lastLog = time.Now()
		}
		time.Sleep(time.Second)
	}
	fullFeed, err := c.readFeed(ctx)
	if err != nil {
		return err
	}
	all, counts, _ := c.recv.snapshot()
	got, deleted := c.withoutDeleted(owners, all)
	feed = without(fullFeed, got, all)
	// What was deleted must be out of the feed.
	for _, id := range keys(deleted) {
		if fullFeed[id] == 0 || deleted[id] != gone {
			continue
		}
		e := all[id]
		note("event %s (%s of %s, %s) was deleted, and is in the feed", id, e.Type, e.TenantID, e.Subject)
		if c.del.offboarded(e.TenantID) {
			res.OffboardedBack++
		} else {
			res.ErasedBack++
		}
	}
	res.TenantDeletedEvents = c.tenantDeletedEvents(all)
	if want := c.expectedTenantDeleted(); res.TenantDeletedEvents != want {
		note("the receiver took %d tenant.deleted ids for the offboarded tenant, want %d", res.TenantDeletedEvents, want)
	}
	f := w.check(got, note)
	res.EventsReceived, res.EventsInFeed = len(all), len(fullFeed)
	res.EventAttempts, res.EventsFailedOnPurpose, res.EventDuplicates = counts.Attempts, counts.Failed, counts.Duplicates
	res.EventsBadSignature, res.EventsNotEvent, res.EventsChangedBody = counts.BadSignature, counts.NotEvent, counts.Changed
	res.ReceiverRestarts = counts.Restarts
	res.ReceivedMissing, res.ReceivedDoubled = f.receivedMissing, f.receivedDoubled
	res.StatusEventsMissing, res.StatusEventsDoubled, res.EventsUnfounded = f.statusMissing, f.statusDoubled, f.orphans
	for _, id := range onlyIn(feed, got) {
		res.FeedOnly++
		note("event %s is in the feed, never taken by the receiver", id)
	}
	for _, id := range onlyIn(got, feed) {
		res.ReceiverOnly++
		e := got[id]
		note("event %s (%s of %s, %s, %s) was taken by the receiver, not in the feed", id, e.Type, e.TenantID, e.Subject,
			e.Timestamp.Format(time.RFC3339))
	}
	res.EventsDLQ, _ = c.inQueues(ctx, "event-webhooks-dlq")
	return nil
}

// onlyIn lists the keys of a that b lacks, sorted.
func onlyIn[A, B any](a map[string]A, b map[string]B) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// feedPage is the size of the pages the feed is read in: its most.
const feedPage = 200

// readFeed reads GET /v1/events from its start to its end, and counts
// each id's listings.
func (c *chaos) readFeed(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	cursor := ""
	for {
		var page struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
			NextCursor string `json:"next_cursor"`
		}
		path := fmt.Sprintf("/v1/events?limit=%d", feedPage)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if st, err := c.getJSON(ctx, path, &page); err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("read the feed: HTTP %d %v", st, err)
		}
		for _, e := range page.Events {
			out[e.ID]++
		}
		if len(page.Events) < feedPage {
			return out, nil
		}
		if page.NextCursor == "" || page.NextCursor == cursor {
			return nil, fmt.Errorf("read the feed: a full page without a cursor that moves on")
		}
		cursor = page.NextCursor
	}
}

// withoutDeleted leaves out of got the events of what was rightly
// deleted (an erased person's before the erasure, or around it; the
// offboarded tenant's but its tenant.deleted), and says which, with their
// fate.
func (c *chaos) withoutDeleted(owners map[string]owner, got map[string]bridgeevents.Event) (map[string]bridgeevents.Event,
	map[string]fate) {
	out := make(map[string]bridgeevents.Event, len(got))
	deleted := map[string]fate{}
	for id, e := range got {
		if f := c.eventFate(owners, e); f != kept {
			deleted[id] = f
			continue
		}
		out[id] = e
	}
	return out, deleted
}

// without is the feed's ids less those the receiver took that got (the
// events kept) lacks.
func without(feed map[string]int, got, all map[string]bridgeevents.Event) map[string]int {
	out := make(map[string]int, len(feed))
	for id, n := range feed {
		if _, took := all[id]; took {
			if _, ok := got[id]; !ok {
				continue
			}
		}
		out[id] = n
	}
	return out
}

// tenantDeletedEvents counts the tenant.deleted ids the receiver took for
// the offboarded tenant.
func (c *chaos) tenantDeletedEvents(all map[string]bridgeevents.Event) int {
	n := 0
	for _, e := range all {
		if e.Type == bridgeevents.TenantDeleted && c.del.offboarded(e.TenantID) {
			n++
		}
	}
	return n
}

// expectedTenantDeleted is how many tenant.deleted the receiver must take:
// one once the offboarding answered deleted.
func (c *chaos) expectedTenantDeleted() int {
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	if c.del.off != nil && c.del.off.status == "deleted" {
		return 1
	}
	return 0
}
