package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
)

// Sends through the tenant API, with Kapso's Meta proxy failing like the
// Platform API (5xx, 429, or a timeout after it sent the message) and
// kapso-bridge killed mid-send. At the end every send must be resolved:
// accepted with its WAMID, or failed without having been sent; and the
// simulator must have accepted exactly one message per accepted send.

// sent is one send the API accepted: to whom, its number (its text is
// "chaos send <n>"), and between when and when it was made.
type sent struct {
	tenant, id string
	n          int
	person     kapsosim.Person
	from, to   time.Time
}

// sends tracks the driver's sends and the people who wrote, whose
// customer service window is open.
type sends struct {
	mu      sync.Mutex
	n       int
	list    []sent
	wrote   map[string][]kapsosim.Person // tenant → people who wrote
	refused int                          // answers a correct request must never get
}

func newSends() *sends { return &sends{wrote: map[string][]kapsosim.Person{}} }

func (s *sends) wroteTo(tenant string, p kapsosim.Person) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrote[tenant] = append(s.wrote[tenant], p)
}

// failedUnsent reports whether id is one of the driver's sends: listed
// without a WAMID, it failed before Kapso took it.
func (s *sends) failedUnsent(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.list {
		if x.id == id {
			return true
		}
	}
	return false
}

// send asks kapso-bridge to send a text to a person of t who wrote, under
// a new idempotency key, retrying with the same key through restarts and
// injected faults as a careful client does.
func (c *chaos) send(ctx context.Context, t *tenant) {
	c.sends.mu.Lock()
	people := c.sends.wrote[t.ID]
	if len(people) == 0 {
		c.sends.mu.Unlock()
		return
	}
	p := people[c.intn(len(people))]
	c.sends.n++
	n := c.sends.n
	c.sends.mu.Unlock()
	req := map[string]any{"type": "text", "text": map[string]any{"body": fmt.Sprintf("chaos send %d", n)}}
	if p.Phone != "" {
		req["to"] = p.Phone
	} else {
		req["recipient"] = p.BSUID
	}
	body, _ := json.Marshal(req)
	key := fmt.Sprintf("chaos-%d-%d", c.cfg.Seed, n)
	from := time.Now()
	for i := range 40 {
		st, b, err := c.postSend(ctx, t.ID, key, body)
		switch {
		case err == nil && st == http.StatusAccepted:
			var out struct {
				Message struct{ ID string } `json:"message"`
			}
			if json.Unmarshal(b, &out) == nil && out.Message.ID != "" {
				c.sends.mu.Lock()
				c.sends.list = append(c.sends.list, sent{tenant: t.ID, id: out.Message.ID, n: n, person: p, from: from,
					to: time.Now()})
				c.sends.mu.Unlock()
				return
			}
		case err == nil && c.del.offboarded(t.ID):
			return // a tenant being offboarded, or gone, takes no send
		case err == nil && st == http.StatusUnprocessableEntity:
			return // the person's message is not stored yet: the window is not known open
		case err == nil && st < 500 && st != http.StatusConflict:
			c.sends.mu.Lock()
			c.sends.refused++
			c.sends.mu.Unlock()
			c.logf("send %s refused: %d %s", key, st, bytes.TrimSpace(b))
			return
		}
		if ctx.Err() != nil {
			return
		}
		time.Sleep(time.Duration(min(100*(i+1), 2000)) * time.Millisecond)
	}
}

func (c *chaos) postSend(ctx context.Context, tenantID, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.br.url+"/v1/tenants/"+tenantID+"/messages",
		bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+bridgeToken)
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sendView is a send as the read API shows it.
type sendView struct {
	ID            string `json:"id"`
	WAMID         string `json:"wamid"`
	Status        string `json:"status"`
	FailureReason string `json:"failure_reason"`
}

// open reports whether the send is still on its way (queued, sending) or
// unknown.
func (v sendView) open() bool {
	switch v.Status {
	case "queued", "sending", "unknown":
		return true
	}
	return false
}

// sendViews reads every send.
func (c *chaos) sendViews(ctx context.Context) (map[string]sendView, error) {
	c.sends.mu.Lock()
	list := append([]sent(nil), c.sends.list...)
	c.sends.mu.Unlock()
	out := map[string]sendView{}
	for _, s := range list {
		var v sendView
		// The offboarded tenant's may answer anything: verifyDeletions.
		st, err := c.readAny(ctx, "/v1/tenants/"+s.tenant+"/messages/"+url.PathEscape(s.id), &v)
		if err != nil {
			return nil, err
		}
		if st != http.StatusOK {
			v = sendView{ID: s.id, Status: fmt.Sprintf("HTTP %d", st)}
		}
		out[s.id] = v
	}
	return out, nil
}

// settleSends runs reconciler passes until no send is on its way: a claim
// a killed process held becomes unknown after the sender's timeout, and
// an unknown send is adopted from Kapso's list or fails as unconfirmed.
func (c *chaos) settleSends(ctx context.Context) error {
	for {
		views, err := c.sendViews(ctx)
		if err != nil {
			return err
		}
		waiting := 0
		for _, v := range views {
			if v.open() {
				waiting++
			}
		}
		if waiting == 0 {
			return nil
		}
		c.logf("settling: %d of %d sends on their way", waiting, len(views))
		select {
		case <-ctx.Done():
			return fmt.Errorf("settle sends: %d still on their way: %w", waiting, ctx.Err())
		case <-time.After(5 * time.Second):
		}
		c.reconcile(ctx)
	}
}

// verifySends checks that every send ended sent once or failed unsent, and
// that the simulator accepted exactly the sends that ended with a WAMID.
func (c *chaos) verifySends(ctx context.Context, res *result, note func(string, ...any)) error {
	views, err := c.sendViews(ctx)
	if err != nil {
		return err
	}
	// The sends of the offboarded tenant, and those to an erased person
	// made before the erasure, are deleted; those made around it may be:
	// left out, with the simulator's messages of them. One made before
	// must be nowhere.
	excluded := map[string]bool{}
	c.sends.mu.Lock()
	for _, s := range c.sends.list {
		f, _ := c.fateOf(s.tenant, s.person, s.from, s.to)
		if f == kept {
			continue
		}
		excluded[fmt.Sprintf("chaos send %d", s.n)] = true
		if v := views[s.id]; f == gone && !c.del.offboarded(s.tenant) && v.Status != fmt.Sprintf("HTTP %d", http.StatusNotFound) {
			note("send %s to erased %s, accepted %s, is back: %q %s", s.id, personName(s.person),
				s.to.Format(time.RFC3339Nano), v.Status, v.WAMID)
			res.ErasedBack++
			c.back[s.id] = true
		}
		delete(views, s.id)
	}
	c.sends.mu.Unlock()
	c.finalSends = views
	to := map[string]sent{}
	c.sends.mu.Lock()
	for _, s := range c.sends.list {
		to[s.id] = s
	}
	c.sends.mu.Unlock()
	withWAMID := 0
	for id, v := range views {
		switch {
		case v.WAMID != "":
			withWAMID++
		case v.Status == "failed" && v.FailureReason != "":
			res.SendsFailed++
		default:
			note("send %s ended %q (%q) without a WAMID; accepted %s%s", id, v.Status, v.FailureReason,
				to[id].to.Format(time.RFC3339Nano), c.erasureNote(to[id].tenant, id, to[id].person))
			res.SendsUnresolved++
		}
	}
	res.Sends = len(views)
	res.SentByKapso = c.sim.SentByProxy()
	proxied := res.SentByKapso
	for _, t := range c.tenants {
		if t.PNID == "" {
			continue
		}
		for _, m := range c.sim.Messages(t.PNID) {
			if m.Direction == "outbound" && excluded[m.Text] {
				proxied--
			}
		}
	}
	if proxied != withWAMID {
		note("the simulator accepted %d sends (%d of them left out); %d sends have a WAMID", res.SentByKapso,
			res.SentByKapso-proxied, withWAMID)
		res.SendsMismatched = proxied - withWAMID
	}
	c.sends.mu.Lock()
	res.SendsRefused = c.sends.refused
	c.sends.mu.Unlock()
	return nil
}
