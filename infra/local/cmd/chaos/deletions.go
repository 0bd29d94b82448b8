package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
)

// Erasing people and offboarding a tenant under the traffic: two people,
// each on another ready tenant, are erased at a quarter of the deliveries
// and a third tenant is offboarded at half; the traffic goes on to them
// all. Once everything settled and the reconciler finished both, every
// kept delivery and dead letter that names them is sent again, and
// nothing erased may come back: none of the person's messages dated before
// the request (less eraseMargin), no media object, no feed event; nothing
// of the offboarded tenant at all. The person's later messages are
// expected as anyone's.

// eraseMargin is the time around an erasure request within which a
// message of the person may be kept or erased.
const eraseMargin = 5 * time.Second

// offboardSettle is how long after the offboarding request no reconciler
// pass runs: longer than a delivery received before the numbers were
// marked may take to be written (a receive on the run's queues is 15 s;
// the local stack's messages worker caches no number's tenant).
const offboardSettle = 30 * time.Second

// holdPasses keeps reconciler passes from running until t.
func (c *chaos) holdPasses(t time.Time) { c.passesHeld.Store(t.UnixNano()) }

// passesHeldUntil is when passes may run again; past when they may.
func (c *chaos) passesHeldUntil() time.Time { return time.Unix(0, c.passesHeld.Load()) }

// erasedPerson is one erasure the run asked for.
type erasedPerson struct {
	tenant  *tenant
	person  kapsosim.Person
	contact string // the path's contact: the BSUID, else the phone
	id      string
	// sent is when the request went out; until is the later of its
	// answer and the job's requested_at, which covers the person's newest
	// time stored.
	sent, until time.Time
	requestedAt time.Time // the job's
	state       string
}

// offboarding is the tenant offboarding the run asked for.
type offboarding struct {
	tenant *tenant
	sent   time.Time
	status string
}

// deletions are the run's erasures and offboarding.
type deletions struct {
	mu       sync.Mutex
	erased   []*erasedPerson
	off      *offboarding
	offAsked atomic.Pointer[string] // the tenant id, once its DELETE is sent
	// What was sent again once they were done.
	replayed int
	redriven []redriven
	// readableBefore are the deleted ids read back once the deletions
	// were done, before anything was sent again.
	readableBefore map[string]bool
	// seenBefore is what was read then of each of their messages.
	seenBefore map[string]string
}

// redriven is a dead letter moved back to its queue.
type redriven struct {
	queue, body string
}

// offboarded reports whether the tenant's offboarding was asked for.
func (d *deletions) offboarded(tenantID string) bool {
	id := d.offAsked.Load()
	return id != nil && *id == tenantID
}

// fate is what must become of a message, a send or an event.
type fate int

const (
	kept   fate = iota // expected as usual
	either             // within the margin of an erasure: kept or erased
	gone               // erased or offboarded: never readable again
)

// fateOf is the fate of something of the tenant's about person p, made
// between from and to (the same time when it is known to the instant).
// offboarded says whether the tenant is the offboarded one.
func (c *chaos) fateOf(tenantID string, p kapsosim.Person, from, to time.Time) (f fate, offboarded bool) {
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	if c.del.off != nil && c.del.off.tenant.ID == tenantID {
		return gone, true
	}
	for _, e := range c.del.erased {
		if e.tenant.ID != tenantID || !samePerson(e.person, p) {
			continue
		}
		switch {
		case to.Before(e.sent.Add(-eraseMargin)):
			return gone, false
		case !from.After(e.until.Add(eraseMargin)):
			return either, false
		}
	}
	return kept, false
}

func samePerson(a, b kapsosim.Person) bool {
	return a.BSUID != "" && a.BSUID == b.BSUID || a.Phone != "" && a.Phone == b.Phone
}

// erasureOf is the erasure of the tenant whose person the raw JSON names,
// if any.
func (c *chaos) erasureOf(tenantID string, raw []byte) *erasedPerson {
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	for _, e := range c.del.erased {
		if e.tenant.ID == tenantID && identities(e.person).NamedIn(raw) {
			return e
		}
	}
	return nil
}

func identities(p kapsosim.Person) erasure.Identities {
	ids := erasure.Identities{Phone: p.Phone}
	if p.BSUID != "" {
		ids.BSUIDs = []string{p.BSUID}
	}
	return ids
}

// deleteMidTraffic erases two people at a quarter of the target and
// offboards a tenant at half, unless the traffic stopped first.
func (c *chaos) deleteMidTraffic(ctx context.Context, target int, ready []*tenant, stopped *atomic.Bool) error {
	if len(ready) < 3 {
		c.logf("deletions: %d ready tenants, too few to erase two people and offboard a third", len(ready))
		return nil
	}
	wait := func(at int) bool {
		for c.deliveries() < at && !stopped.Load() && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		return !stopped.Load() && ctx.Err() == nil
	}
	if !wait(target / 4) {
		return nil
	}
	used := map[string]bool{}
	// One person with a BSUID, erased by it; one by phone alone.
	for _, byBSUID := range []bool{true, false} {
		if err := c.eraseSomeone(ctx, ready, used, byBSUID); err != nil {
			return err
		}
	}
	// A pass now runs the erasures' first round under the traffic; their
	// final sweep comes two minutes later.
	c.reconcile(ctx)
	if !wait(target / 2) {
		return nil
	}
	var t *tenant
	for i, start := 0, c.intn(len(ready)); t == nil; i++ {
		if x := ready[(start+i)%len(ready)]; !used[x.ID] {
			t = x
		}
	}
	c.del.offAsked.Store(&t.ID)
	sent := time.Now()
	// The deployed offboarding deletes the data no sooner than three
	// minutes after the request (offboardapp.DefaultSettle), once what the
	// workers read before the numbers were marked (their caches, the
	// deliveries on the queues) is written. The local stack deletes on
	// the next pass, its tests settling the queues first; under this
	// traffic, no pass runs until the run's own settle is over.
	c.holdPasses(sent.Add(offboardSettle))
	st, b, err := c.apiRetry(ctx, http.MethodDelete, "/v1/tenants/"+t.ID, nil, http.StatusAccepted, http.StatusOK)
	if err != nil {
		return fmt.Errorf("offboard %s: %w", t.ID, err)
	}
	var v struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(b, &v)
	c.del.mu.Lock()
	c.del.off = &offboarding{tenant: t, sent: sent, status: v.Status}
	c.del.mu.Unlock()
	c.logf("offboarding %s: HTTP %d, %s", t.ID, st, v.Status)
	return nil
}

// eraseSomeone erases a person who wrote to one of the ready tenants not
// used yet: one with a BSUID (erased by it) or one with a phone alone.
// A person whose contact is not stored yet answers 404: another is tried.
func (c *chaos) eraseSomeone(ctx context.Context, ready []*tenant, used map[string]bool, byBSUID bool) error {
	for try := 0; ctx.Err() == nil; try++ {
		t := ready[c.intn(len(ready))]
		if used[t.ID] {
			continue
		}
		c.sends.mu.Lock()
		var who []kapsosim.Person
		for _, p := range c.sends.wrote[t.ID] {
			if (p.BSUID != "") == byBSUID || try > 50 {
				who = append(who, p)
			}
		}
		c.sends.mu.Unlock()
		if len(who) == 0 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		p := who[c.intn(len(who))]
		contact := p.BSUID
		if contact == "" {
			contact = p.Phone
		}
		sent := time.Now()
		st, b, err := c.apiRetry(ctx, http.MethodDelete, "/v1/tenants/"+t.ID+"/numbers/"+t.PNID+"/contacts/"+
			url.PathEscape(contact), nil, http.StatusAccepted, http.StatusNotFound)
		if err != nil {
			return fmt.Errorf("erase a person of %s: %w", t.ID, err)
		}
		if st == http.StatusNotFound {
			time.Sleep(200 * time.Millisecond)
			continue // not stored yet
		}
		answered := time.Now()
		var out struct {
			Erasure bridgeevents.Erasure `json:"erasure"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Erasure.ID == "" {
			return fmt.Errorf("erase a person of %s: answer %q", t.ID, b)
		}
		until := answered
		if out.Erasure.RequestedAt.After(until) {
			until = out.Erasure.RequestedAt
		}
		used[t.ID] = true
		c.del.mu.Lock()
		c.del.erased = append(c.del.erased, &erasedPerson{tenant: t, person: p, contact: contact, id: out.Erasure.ID,
			sent: sent, until: until, requestedAt: out.Erasure.RequestedAt, state: out.Erasure.State})
		c.del.mu.Unlock()
		c.logf("erasing %s of %s (%s): %s, %s", contact, t.ID, p.Name, out.Erasure.ID, out.Erasure.State)
		return nil
	}
	return ctx.Err()
}

// finishDeletions runs reconciler passes until every erasure is done and
// the offboarding deleted.
func (c *chaos) finishDeletions(ctx context.Context) error {
	c.del.mu.Lock()
	erased, off := append([]*erasedPerson(nil), c.del.erased...), c.del.off
	c.del.mu.Unlock()
	for {
		waiting := []string{}
		for _, e := range erased {
			var out struct {
				Erasure bridgeevents.Erasure `json:"erasure"`
			}
			st, err := c.getJSON(ctx, "/v1/tenants/"+e.tenant.ID+"/erasures/"+e.id, &out)
			if err != nil {
				return fmt.Errorf("read erasure %s: %w", e.id, err)
			}
			c.del.mu.Lock()
			e.state = out.Erasure.State
			if st != http.StatusOK {
				e.state = fmt.Sprintf("HTTP %d", st)
			}
			c.del.mu.Unlock()
			if e.state != string(erasure.Done) {
				waiting = append(waiting, fmt.Sprintf("erasure %s of %s: %s", e.id, e.tenant.ID, e.state))
			}
		}
		if off != nil {
			// Asked again, the DELETE answers where the offboarding stands.
			_, b, err := c.apiRetry(ctx, http.MethodDelete, "/v1/tenants/"+off.tenant.ID, nil, http.StatusAccepted, http.StatusOK)
			if err != nil {
				return fmt.Errorf("offboarding of %s: %w", off.tenant.ID, err)
			}
			var v struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(b, &v)
			c.del.mu.Lock()
			off.status = v.Status
			c.del.mu.Unlock()
			if v.Status != "deleted" {
				waiting = append(waiting, fmt.Sprintf("offboarding of %s: %s", off.tenant.ID, v.Status))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		c.logf("deletions: waiting for %s", strings.Join(waiting, "; "))
		select {
		case <-ctx.Done():
			return fmt.Errorf("deletions not finished (%s): %w", strings.Join(waiting, "; "), ctx.Err())
		case <-time.After(3 * time.Second):
		}
		c.reconcile(ctx)
	}
}

// namesDeleted reports whether a delivery or a dead letter names an
// erased person or the offboarded number, or a message of theirs.
func (c *chaos) namesDeleted(s string, owners map[string]owner) bool {
	for _, w := range wamidPattern.FindAllString(s, -1) {
		if o, ok := owners[w]; ok && c.ofDeleted(o.tenant, o.person) {
			return true
		}
	}
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	if c.del.off != nil && strings.Contains(s, c.del.off.tenant.PNID) {
		return true
	}
	for _, e := range c.del.erased {
		if strings.Contains(s, e.tenant.PNID) && identities(e.person).NamedIn([]byte(s)) {
			return true
		}
	}
	return false
}

// ofDeleted reports whether the tenant is the offboarded one or p one of
// its erased people.
func (c *chaos) ofDeleted(tenantID string, p kapsosim.Person) bool {
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	if c.del.off != nil && c.del.off.tenant.ID == tenantID {
		return true
	}
	for _, e := range c.del.erased {
		if e.tenant.ID == tenantID && samePerson(e.person, p) {
			return true
		}
	}
	return false
}

// readAny reads path until it answers anything but a 5xx or 429: what is
// read of a tenant that should be gone.
func (c *chaos) readAny(ctx context.Context, path string, v any) (int, error) {
	var wants []int
	for st := 200; st < 500; st++ {
		if st != http.StatusTooManyRequests {
			wants = append(wants, st)
		}
	}
	st, b, err := c.apiRetry(ctx, http.MethodGet, path, nil, wants...)
	if err != nil || st != http.StatusOK || v == nil {
		return st, err
	}
	return st, json.Unmarshal(b, v)
}

// bringBack tries to bring back what was deleted: it sends again every
// kept delivery that names an erased person or the offboarded number,
// moves every dead letter that does back to its queue, then runs the
// reconciler and settles.
func (c *chaos) bringBack(ctx context.Context) error {
	owners := c.owners()
	var again []recorded
	for _, r := range c.wire.all() {
		if c.namesDeleted(r.url+"\n"+string(r.body), owners) {
			again = append(again, r)
		}
	}
	for _, r := range again {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(string(r.body)))
		if err != nil {
			return err
		}
		req.Header = r.header.Clone()
		if resp, err := c.wire.base.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	c.del.mu.Lock()
	c.del.replayed = len(again)
	c.del.mu.Unlock()
	moved, err := c.redriveDeleted(ctx, owners)
	if err != nil {
		return err
	}
	c.logf("deletions: %d deliveries sent again and %d dead letters redriven", len(again), moved)
	return c.settle(ctx)
}

// redriveDeleted moves every dead letter naming an erased person or the
// offboarded number back to its queue: the same body and attributes sent
// to the queue, then deleted from the DLQ. The others are left.
func (c *chaos) redriveDeleted(ctx context.Context, owners map[string]owner) (int, error) {
	moved := 0
	for _, q := range []string{"lifecycle", "messages", "outbound", "media"} {
		dlq, err := c.queueURL(ctx, q+"-dlq")
		if err != nil {
			return moved, fmt.Errorf("dead-letter queue of %s: %w", q, err)
		}
		src, err := c.queueURL(ctx, q)
		if err != nil {
			return moved, err
		}
		var left []*string
		seen := map[string]bool{}
		for empty := 0; empty < 2; {
			r, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10,
				WaitTimeSeconds: 1, VisibilityTimeout: 120, MessageAttributeNames: []string{"All"}})
			if err != nil {
				return moved, fmt.Errorf("read %s dead letters: %w", q, err)
			}
			if len(r.Messages) == 0 {
				empty++
				continue
			}
			for _, m := range r.Messages {
				if seen[aws.ToString(m.MessageId)] {
					continue
				}
				seen[aws.ToString(m.MessageId)] = true
				if !c.namesDeleted(aws.ToString(m.Body), owners) {
					left = append(left, m.ReceiptHandle)
					continue
				}
				if _, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: m.Body,
					MessageAttributes: m.MessageAttributes}); err != nil {
					return moved, fmt.Errorf("redrive to %s: %w", q, err)
				}
				if _, err := c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq),
					ReceiptHandle: m.ReceiptHandle}); err != nil {
					return moved, fmt.Errorf("delete a redriven %s dead letter: %w", q, err)
				}
				moved++
				c.del.mu.Lock()
				c.del.redriven = append(c.del.redriven, redriven{queue: q, body: aws.ToString(m.Body)})
				c.del.mu.Unlock()
			}
		}
		// The others are read again by explainDLQs.
		for _, h := range left {
			_, _ = c.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(dlq),
				ReceiptHandle: h, VisibilityTimeout: 0})
		}
	}
	return moved, nil
}

// owner is whose a message is and when it was made: its person, and the
// earliest and latest time it can have been made at.
type owner struct {
	tenant   string
	person   kapsosim.Person
	from, to time.Time
}

// owners maps every message id the run knows (WAMIDs, the sends' ids) to
// its owner.
func (c *chaos) owners() map[string]owner {
	out := map[string]owner{}
	for _, t := range c.tenants {
		if t.PNID == "" {
			continue
		}
		for _, m := range c.sim.Messages(t.PNID) {
			out[m.WAMID] = owner{tenant: t.ID, person: m.Person, from: m.At, to: m.At}
		}
	}
	c.expect.mu.Lock()
	for w, m := range c.expect.msgs {
		if _, ok := out[w]; !ok && m.known {
			out[w] = owner{tenant: m.tenant, person: m.person, from: m.at, to: m.at}
		}
	}
	c.expect.mu.Unlock()
	c.sends.mu.Lock()
	for _, s := range c.sends.list {
		out[s.id] = owner{tenant: s.tenant, person: s.person, from: s.from, to: s.to}
	}
	c.sends.mu.Unlock()
	return out
}

// fateOfID is the fate of a message the run knows by id; unknown ids are
// kept.
func (c *chaos) fateOfID(owners map[string]owner, id string) (fate, bool) {
	o, ok := owners[id]
	if !ok {
		return kept, false
	}
	return c.fateOf(o.tenant, o.person, o.from, o.to)
}

// verifyDeletions checks what the read API shows of the erased people's
// contacts and of the offboarded tenant, and counts the deletions.
func (c *chaos) verifyDeletions(ctx context.Context, res *result, byTenant map[string]map[string]*expected,
	note func(string, ...any)) error {
	c.del.mu.Lock()
	erased, off := append([]*erasedPerson(nil), c.del.erased...), c.del.off
	c.del.mu.Unlock()
	res.Erasures = len(erased)
	for _, e := range erased {
		if e.state == string(erasure.Done) {
			res.ErasuresDone++
		}
		var contact struct {
			LastSeenAt *time.Time `json:"last_seen_at"`
		}
		st, err := c.getJSON(ctx, "/v1/tenants/"+e.tenant.ID+"/numbers/"+e.tenant.PNID+"/contacts/"+url.PathEscape(e.contact), &contact)
		if err != nil {
			return err
		}
		if st == http.StatusOK && contact.LastSeenAt != nil && contact.LastSeenAt.Before(e.sent.Add(-eraseMargin)) {
			note("erased %s of %s: the contact is back, last seen %v (erasure requested %s)", e.contact, e.tenant.ID,
				contact.LastSeenAt, e.sent.Format(time.RFC3339Nano))
			res.ErasedBack++
		}
	}
	if off == nil {
		return nil
	}
	t := off.tenant
	if off.status == "deleted" {
		res.Offboarded = 1
	}
	back := func(format string, args ...any) {
		note("offboarded %s: "+format, append([]any{t.ID}, args...)...)
		res.OffboardedBack++
	}
	var conn struct {
		Status string `json:"status"`
	}
	if st, err := c.readAny(ctx, "/v1/tenants/"+t.ID+"/connection", &conn); err != nil {
		return err
	} else if st != http.StatusNotFound {
		back("connection HTTP %d, status %q", st, conn.Status)
	}
	for cursor := ""; ; {
		var page struct {
			Tenants []struct {
				TenantID string `json:"tenant_id"`
				Status   string `json:"status"`
			} `json:"tenants"`
			NextCursor string `json:"next_cursor"`
		}
		path := "/v1/tenants?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if st, err := c.getJSON(ctx, path, &page); err != nil || st != http.StatusOK {
			return fmt.Errorf("list tenants: HTTP %d %v", st, err)
		}
		for _, x := range page.Tenants {
			if x.TenantID == t.ID {
				back("listed by GET /v1/tenants as %q", x.Status)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	var convs struct {
		Conversations []json.RawMessage `json:"conversations"`
	}
	if st, err := c.readAny(ctx, "/v1/tenants/"+t.ID+"/conversations?limit=200", &convs); err != nil {
		return err
	} else if st == http.StatusOK && len(convs.Conversations) > 0 {
		back("%d conversations listed", len(convs.Conversations))
	}
	owners := c.owners()
	ids := []string{}
	for w := range byTenant[t.ID] {
		ids = append(ids, w)
	}
	c.sends.mu.Lock()
	for _, s := range c.sends.list {
		if s.tenant == t.ID {
			ids = append(ids, s.id)
		}
	}
	c.sends.mu.Unlock()
	for _, id := range ids {
		st, err := c.readAny(ctx, "/v1/tenants/"+t.ID+"/messages/"+url.PathEscape(id), nil)
		if err != nil {
			return err
		}
		if st != http.StatusNotFound {
			o := owners[id]
			back("message %s of %s, made %s (%s the offboarding request at %s): HTTP %d, %s", id, personName(o.person),
				o.from.Format(time.RFC3339Nano), beforeAfter(o.from, off.sent), off.sent.Format(time.RFC3339Nano), st,
				c.howBack(id))
			c.back[id] = true
		}
	}
	return nil
}

// explainRedriven explains the dead letters moved back: each one's
// messages are stored right, or (an erased person's before the erasure,
// the offboarded tenant's) nowhere to be read; it must not have come back
// to its DLQ.
func (c *chaos) explainRedriven(res *result, verified, back map[string]bool, again map[string]bool, owners map[string]owner,
	out func(string, ...any), note func(string, ...any)) {
	c.del.mu.Lock()
	list := append([]redriven(nil), c.del.redriven...)
	c.del.mu.Unlock()
	for _, r := range list {
		res.DLQ++
		header, _, _ := strings.Cut(r.body, "\n")
		why := ""
		if again[r.body] {
			why = "it came back to its DLQ"
		}
		for _, w := range wamidPattern.FindAllString(r.body, -1) {
			if why != "" {
				break
			}
			switch f, off := c.fateOfID(owners, w); {
			case f == gone && back[w]:
				why = "message " + w + " is back in the read API"
			case f == kept && !off && !verified[w]:
				why = "message " + w + " is not in the read API whole with its final status"
			}
		}
		if why == "" && res.OffboardedBack > 0 && len(wamidPattern.FindAllString(r.body, -1)) == 0 {
			why = "something of the offboarded tenant is back"
		}
		if why == "" {
			out("%s explained: redriven and dropped, or stored right\n  %s\n", r.queue, truncate(header, 400))
			continue
		}
		res.DLQUnexplained++
		out("%s UNEXPLAINED (redriven): %s\n  %s\n", r.queue, why, truncate(header, 400))
		note("redriven dead letter in %s unexplained: %s: %s", r.queue, why, truncate(header, 200))
	}
}

// eventFate is the fate of an event the receiver took: of a message by
// the message's, of the offboarded tenant gone (its tenant.deleted kept),
// naming an erased person by its time.
func (c *chaos) eventFate(owners map[string]owner, e bridgeevents.Event) fate {
	if c.del.offboarded(e.TenantID) && e.Type != bridgeevents.TenantDeleted {
		c.del.mu.Lock()
		done := c.del.off != nil
		c.del.mu.Unlock()
		if done {
			return gone
		}
	}
	if id, ok := strings.CutPrefix(e.Subject, "message:"); ok {
		if _, known := owners[id]; known {
			f, _ := c.fateOfID(owners, id)
			return f
		}
	}
	// Another event naming an erased person (its conversation, its
	// contact) is dated by its timestamp, the stream record's, which
	// DynamoDB Local rounds down to the minute.
	if er := c.erasureOf(e.TenantID, e.Data); er != nil {
		f, _ := c.fateOf(e.TenantID, er.person, e.Timestamp, e.Timestamp.Add(time.Minute))
		return f
	}
	return kept
}

// goneIDs are the ids of everything that must be deleted: every message
// and send of the offboarded tenant, and those of the erased people made
// before their erasure, with their tenants.
func (c *chaos) goneIDs() map[string]string {
	out := map[string]string{}
	for id, o := range c.owners() {
		if f, _ := c.fateOf(o.tenant, o.person, o.from, o.to); f == gone {
			out[id] = o.tenant
		}
	}
	return out
}

// readableAfterDeletion reads every message of the erased people and of
// the offboarded tenant once the deletions are done, before anything is
// sent again: a deleted one read then was never deleted, or came back on
// its own; one read only at the end came back through what was sent
// again. A mismatch about one tells what was read then.
func (c *chaos) readableAfterDeletion(ctx context.Context) error {
	ids := c.goneIDs()
	found := map[string]bool{}
	seen := map[string]string{}
	for id, o := range c.owners() {
		if !c.ofDeleted(o.tenant, o.person) {
			continue
		}
		var v struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		}
		st, err := c.readAny(ctx, "/v1/tenants/"+o.tenant+"/messages/"+url.PathEscape(id), &v)
		if err != nil {
			return err
		}
		seen[id] = fmt.Sprintf("HTTP %d type %q status %q", st, v.Type, v.Status)
		if _, must := ids[id]; must && st == http.StatusOK {
			found[id] = true
		}
	}
	c.del.mu.Lock()
	c.del.readableBefore, c.del.seenBefore = found, seen
	c.del.mu.Unlock()
	c.logf("deletions: %d of %d deleted messages readable before anything was sent again", len(found), len(ids))
	return nil
}

// howBack says, for a mismatch, when something deleted was found: already
// before the replay and the redrive, or only after them.
func (c *chaos) howBack(id string) string {
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	if c.del.readableBefore[id] {
		return "readable once the deletions were done, before anything was sent again"
	}
	return "not readable once the deletions were done, before anything was sent again"
}

func beforeAfter(t, ref time.Time) string {
	if t.Before(ref) {
		return "before"
	}
	return "after"
}

// erasureNote tells, for a mismatch about p's message, that p was erased
// and when; "" for anyone else.
func (c *chaos) erasureNote(tenantID, id string, p kapsosim.Person) string {
	c.del.mu.Lock()
	defer c.del.mu.Unlock()
	for _, e := range c.del.erased {
		if e.tenant.ID == tenantID && samePerson(e.person, p) {
			return fmt.Sprintf(" (of %s, erased: request sent %s, the job's requested_at %s; read once the deletions "+
				"were done, before anything was sent again: %s)", personName(p), e.sent.Format(time.RFC3339Nano),
				e.requestedAt.Format(time.RFC3339Nano), c.del.seenBefore[id])
		}
	}
	return ""
}
