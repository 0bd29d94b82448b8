package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
)

// expectations are the Meta-format messages and statuses the driver made
// itself; the simulator keeps the record of everything Kapso sent.
type expectations struct {
	mu   sync.Mutex
	seq  int
	msgs map[string]*expected
	// dated are the Meta statuses of each message, with their timestamps.
	dated map[string][]string
}

type expected struct {
	wamid, tenant, direction string
	statuses                 map[string]bool
	// known: its content was delivered (not only statuses).
	known bool
	// optional: a Meta delivery never answered 200, so it may be missing.
	optional bool
	// person is who sent or got it, at when.
	person kapsosim.Person
	at     time.Time
}

func newExpectations() *expectations { return &expectations{msgs: map[string]*expected{}} }

func (e *expectations) next() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return e.seq
}

// meta records a Meta delivery: a message (status "") or a status.
func (e *expectations) meta(wamid, tenant, direction, status string, accepted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.msgs[wamid]
	if m == nil {
		m = &expected{wamid: wamid, tenant: tenant, direction: direction, statuses: map[string]bool{}}
		e.msgs[wamid] = m
	}
	if status == "" {
		m.known, m.optional = true, !accepted
		return
	}
	if accepted {
		m.statuses[status] = true
	} else {
		m.statuses["?"+status] = true // may or may not have arrived
	}
}

// statusAt records the timestamp of a Meta status.
func (e *expectations) statusAt(wamid, status string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dated == nil {
		e.dated = map[string][]string{}
	}
	e.dated[wamid] = append(e.dated[wamid], status+"@"+at.UTC().Format(time.RFC3339))
}

// stamps are the Meta statuses of a message with their timestamps.
func (e *expectations) stamps(wamid string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dated[wamid]
}

// sentBy records the person and time of a Meta message.
func (e *expectations) sentBy(wamid string, p kapsosim.Person, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.msgs[wamid]; m != nil {
		m.person, m.at = p, at
	}
}

var rank = map[string]int{"sent": 1, "delivered": 2, "failed": 3, "read": 4}

// finalStatus is the status a set of statuses ends in: the strongest
// (sent < delivered < failed < read), whatever their order.
func finalStatus(sts map[string]bool) (string, map[string]bool) {
	best, alt := "", map[string]bool{}
	for s := range sts {
		if !strings.HasPrefix(s, "?") && rank[s] > rank[best] {
			best = s
		}
	}
	alt[best] = true
	for s := range sts {
		if u, ok := strings.CutPrefix(s, "?"); ok && rank[u] > rank[best] {
			alt[u] = true // an unconfirmed stronger status may have landed
		}
	}
	return best, alt
}

// settle waits until nothing moves: the simulator's retries are done and
// both queues are empty; then runs the reconciler twice, settling after
// each.
func (c *chaos) settle(ctx context.Context) error {
	c.logf("settling")
	if err := c.quiet(ctx); err != nil {
		return err
	}
	// Two passes that ran: the second finds what the first's catch-up
	// could not hand on.
	for ran := 0; ran < max(c.cfg.FinalReconciles, 1); {
		if c.reconcile(ctx) {
			ran++
		} else {
			select {
			case <-ctx.Done():
				return fmt.Errorf("settle: reconciler never ran: %w", ctx.Err())
			case <-time.After(3 * time.Second):
			}
		}
		if err := c.quiet(ctx); err != nil {
			return err
		}
	}
	return nil
}

// quiet waits until no webhook attempt was made for longer than the
// simulator's whole retry schedule and the queues hold nothing.
func (c *chaos) quiet(ctx context.Context) error {
	calm := time.Duration(140*c.cfg.TimeScale*float64(time.Second)) + 3*time.Second
	last, since := c.wire.attempts.Load(), time.Now()
	lastLog := time.Now()
	for {
		if time.Since(lastLog) > 5*time.Second {
			n, err := c.inQueues(ctx, workQueues...)
			c.logf("settling: %d webhook attempts, last %.0f s ago; %d messages on the queues (%v)", last,
				time.Since(since).Seconds(), n, err)
			lastLog = time.Now()
		}
		if ctx.Err() != nil {
			return fmt.Errorf("settle: %w", ctx.Err())
		}
		time.Sleep(500 * time.Millisecond)
		if a := c.wire.attempts.Load(); a != last {
			last, since = a, time.Now()
			continue
		}
		if time.Since(since) < calm {
			continue
		}
		if n, err := c.inQueues(ctx, workQueues...); err != nil || n > 0 {
			since = time.Now().Add(-calm + time.Second)
			continue
		}
		return nil
	}
}

func (c *chaos) queueURL(ctx context.Context, name string) (string, error) {
	out, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(queuePrefix + name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// workQueues are the queues of the delivery pipeline, the media copies
// included.
var workQueues = []string{"lifecycle", "messages", "outbound", "media"}

// inQueues counts the messages on the queues named, in flight and delayed
// included.
func (c *chaos) inQueues(ctx context.Context, names ...string) (int, error) {
	total := 0
	for _, q := range names {
		u, err := c.queueURL(ctx, q)
		if err != nil {
			return 0, err
		}
		out, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		if err != nil {
			return 0, err
		}
		for _, v := range out.Attributes {
			var n int
			fmt.Sscan(v, &n)
			total += n
		}
	}
	return total, nil
}

// getJSON reads the API, retrying through injected faults; 404 is an answer.
func (c *chaos) getJSON(ctx context.Context, path string, v any) (int, error) {
	st, b, err := c.apiRetry(ctx, http.MethodGet, path, nil, http.StatusOK, http.StatusNotFound)
	if err != nil || st != http.StatusOK {
		return st, err
	}
	return st, json.Unmarshal(b, v)
}

// verify checks, from the read API alone, every tenant and every message
// against what the simulator and the driver sent, then explains the DLQs.
func (c *chaos) verify(ctx context.Context, res *result) error {
	report, err := os.Create(filepath.Join(c.dir, "mismatches.txt"))
	if err != nil {
		return err
	}
	defer report.Close()
	var mu sync.Mutex
	note := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(report, format+"\n", args...)
		mu.Unlock()
	}
	// Everything expected, by tenant: the simulator's messages of each
	// number, with the Meta statuses the driver added, and the driver's
	// Meta messages.
	byTenant := map[string]map[string]*expected{}
	owner := map[string]string{}
	for _, t := range c.tenants {
		byTenant[t.ID] = map[string]*expected{}
		if t.PNID != "" {
			owner[t.PNID] = t.ID
			for _, m := range c.sim.Messages(t.PNID) {
				e := &expected{wamid: m.WAMID, tenant: t.ID, direction: m.Direction, statuses: map[string]bool{}, known: true,
					person: m.Person, at: m.At}
				for _, st := range m.Statuses {
					e.statuses[st.Status] = true
				}
				byTenant[t.ID][m.WAMID] = e
			}
		}
	}
	c.expect.mu.Lock()
	for w, m := range c.expect.msgs {
		e := byTenant[m.tenant][w]
		if e == nil {
			byTenant[m.tenant][w] = m
			continue
		}
		for s := range m.statuses {
			e.statuses[s] = true
		}
	}
	c.expect.mu.Unlock()
	c.checked = map[string]*expected{}
	for _, exp := range byTenant {
		for w, e := range exp {
			c.checked[w] = e
		}
	}
	c.stored = map[string]storedMessage{}

	verified := map[string]bool{} // WAMIDs found whole and right
	c.back = map[string]bool{}    // ids erased or offboarded, found again
	var vmu sync.Mutex
	err = c.each(ctx, c.tenants, 8, func(t *tenant) error {
		if c.del.offboarded(t.ID) {
			return nil // nothing of it may be read: verifyDeletions
		}
		var conn struct {
			Status string `json:"status"`
		}
		st, err := c.getJSON(ctx, "/v1/tenants/"+t.ID+"/connection", &conn)
		if err != nil {
			return err
		}
		if want := expectedStatus[t.Kind]; st != http.StatusOK || conn.Status != want {
			note("tenant %s (%s): status %q (HTTP %d), want %q", t.ID, t.Kind, conn.Status, st, want)
			mu.Lock()
			res.TenantsWrong++
			mu.Unlock()
		}
		listed, err := c.listed(ctx, t.ID)
		if err != nil {
			return err
		}
		exp := byTenant[t.ID]
		for w, n := range listed {
			if exp[w] == nil && c.sends.failedUnsent(w) {
				continue // a send that failed before Kapso took it: checked by verifySends
			}
			if exp[w] == nil {
				note("tenant %s: message %s listed but never sent", t.ID, w)
				mu.Lock()
				res.Unexpected++
				mu.Unlock()
			} else if n > 1 {
				note("tenant %s: message %s listed %d times", t.ID, w, n)
				mu.Lock()
				res.Doubled++
				mu.Unlock()
			}
		}
		for w, e := range exp {
			var view struct {
				ID        string `json:"id"`
				Direction string `json:"direction"`
				Type      string `json:"type"`
				Status    string `json:"status"`
			}
			st, err := c.getJSON(ctx, "/v1/tenants/"+t.ID+"/messages/"+url.PathEscape(w), &view)
			if err != nil {
				return err
			}
			// An erased person's message: dated before the erasure, it
			// must be nowhere; around it, either.
			if f, _ := c.fateOf(t.ID, e.person, e.at, e.at); f != kept {
				mu.Lock()
				res.Messages++
				if f == gone && (st == http.StatusOK || listed[w] > 0) {
					note("tenant %s: %s message %s of erased %s at %s is back (HTTP %d, type %q, status %q, listed %d times): %s",
						t.ID, e.direction, w, personName(e.person), e.at.Format(time.RFC3339Nano), st, view.Type, view.Status,
						listed[w], c.howBack(w))
					res.ErasedBack++
					c.back[w] = true
				}
				mu.Unlock()
				continue
			}
			mu.Lock()
			res.Messages++
			if st == http.StatusOK {
				c.stored[w] = storedMessage{tenant: t.ID, direction: view.Direction, status: view.Status, known: view.Type != ""}
			}
			mu.Unlock()
			ok := true
			switch {
			case e.optional && st == http.StatusNotFound:
				continue
			case st == http.StatusNotFound, e.known && view.Type == "":
				if e.optional {
					continue
				}
				note("tenant %s: %s message %s lost (HTTP %d, type %q), made %s%s", t.ID, e.direction, w, st, view.Type,
					e.at.Format(time.RFC3339Nano), c.erasureNote(t.ID, w, e.person))
				mu.Lock()
				res.Lost++
				mu.Unlock()
				ok = false
			case e.known && listed[w] == 0:
				note("tenant %s: %s message %s stored but in no conversation", t.ID, e.direction, w)
				mu.Lock()
				res.Lost++
				mu.Unlock()
				ok = false
			}
			if e.direction == "outbound" && st == http.StatusOK {
				want, accept := finalStatus(e.statuses)
				if !accept[view.Status] {
					note("tenant %s: message %s status %q, want %q (statuses sent: %v; made %s, Meta's statuses dated %v)%s", t.ID,
						w, view.Status, want, keys(e.statuses), e.at.Format(time.RFC3339Nano), c.expect.stamps(w),
						c.erasureNote(t.ID, w, e.person))
					mu.Lock()
					res.WrongStatus++
					mu.Unlock()
					ok = false
				}
			}
			if ok && listed[w] <= 1 {
				vmu.Lock()
				verified[w] = true
				vmu.Unlock()
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.verifySends(ctx, res, note); err != nil {
		return err
	}
	if err := c.verifyMedia(ctx, res, note); err != nil {
		return err
	}
	if err := c.verifyDeletions(ctx, res, byTenant, note); err != nil {
		return err
	}
	if err := c.explainDLQs(ctx, res, verified, note); err != nil {
		return err
	}
	return c.verifyEvents(ctx, res, note)
}

// personName names a person in a mismatch.
func personName(p kapsosim.Person) string {
	if p.BSUID != "" {
		return p.BSUID
	}
	return p.Phone
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listed counts how often each message appears across the tenant's
// conversations.
func (c *chaos) listed(ctx context.Context, tenantID string) (map[string]int, error) {
	out := map[string]int{}
	var convs []string
	cursor := ""
	for {
		var page struct {
			Conversations []struct {
				ID string `json:"id"`
			} `json:"conversations"`
			NextCursor string `json:"next_cursor"`
		}
		path := "/v1/tenants/" + tenantID + "/conversations?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if st, err := c.getJSON(ctx, path, &page); err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("conversations of %s: HTTP %d %v", tenantID, st, err)
		}
		for _, cv := range page.Conversations {
			convs = append(convs, cv.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	for _, id := range convs {
		cursor := ""
		for {
			var page struct {
				Messages []struct {
					ID    string `json:"id"`
					WAMID string `json:"wamid"`
				} `json:"messages"`
				NextCursor string `json:"next_cursor"`
			}
			path := "/v1/tenants/" + tenantID + "/conversations/" + url.PathEscape(id) + "/messages?limit=200"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			if st, err := c.getJSON(ctx, path, &page); err != nil || st != http.StatusOK {
				return nil, fmt.Errorf("messages of %s/%s: HTTP %d %v", tenantID, id, st, err)
			}
			for _, m := range page.Messages {
				// A message sent through the API is listed under its
				// outbound id, with its WAMID once Kapso answered it.
				out[cmp.Or(m.WAMID, m.ID)]++
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
	}
	return out, nil
}

var wamidPattern = regexp.MustCompile(`wamid\.[A-Za-z0-9+/=_-]+`)

// explainDLQs reads every dead letter. One is explained when everything it
// carried reached the read API anyway, whole and with its final status
// (through SQS's own retries of a copy, Kapso's retries or the
// reconciler), and faults were injected or the process killed while it
// was being received: its receives ran out on injected failures, and
// nothing was lost by it. Anything else is unexplained.
func (c *chaos) explainDLQs(ctx context.Context, res *result, verified map[string]bool, note func(string, ...any)) error {
	out, err := os.Create(filepath.Join(c.dir, "dlq.txt"))
	if err != nil {
		return err
	}
	defer out.Close()
	disturbed := res.FaultsInjected > 0 || res.Restarts > 0
	owners := c.owners()
	again := map[string]bool{} // the bodies left in the DLQs
	for _, q := range []string{"lifecycle", "messages", "outbound", "media"} {
		u, err := c.queueURL(ctx, q+"-dlq")
		if err != nil {
			return fmt.Errorf("dead-letter queue of %s: %w", q, err)
		}
		seen := map[string]bool{}
		for empty := 0; empty < 2; {
			r, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), MaxNumberOfMessages: 10,
				WaitTimeSeconds: 1, VisibilityTimeout: 600})
			if err != nil {
				return fmt.Errorf("read %s dead letters: %w", q, err)
			}
			if len(r.Messages) == 0 {
				empty++
				continue
			}
			for _, m := range r.Messages {
				id := aws.ToString(m.MessageId)
				if seen[id] {
					continue
				}
				seen[id] = true
				res.DLQ++
				body := aws.ToString(m.Body)
				again[body] = true
				header, _, _ := strings.Cut(body, "\n")
				why := ""
				wamids := wamidPattern.FindAllString(body, -1)
				switch {
				case !disturbed:
					why = "no fault was injected and no process killed"
				case q == "lifecycle" && res.TenantsWrong > 0:
					why = "a tenant is not in its expected state"
				default:
					for _, w := range wamids {
						if !verified[w] {
							why = "message " + w + " is not in the read API whole with its final status"
							break
						}
						if q == "media" && !c.media.checked(w) {
							why = "the media of message " + w + " is not stored right"
							break
						}
					}
				}
				if why == "" {
					fmt.Fprintf(out, "%s explained: receives ran out on injected faults; its %d messages are stored right\n  %s\n",
						q, len(wamids), truncate(header, 400))
				} else {
					res.DLQUnexplained++
					fmt.Fprintf(out, "%s UNEXPLAINED: %s\n  %s\n", q, why, truncate(header, 400))
					note("dead letter in %s unexplained: %s: %s", q, why, truncate(header, 200))
				}
			}
		}
	}
	c.explainRedriven(res, verified, c.back, again, owners, func(format string, args ...any) {
		fmt.Fprintf(out, format, args...)
	}, note)
	return nil
}
