package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// traffic sends deliveries until there are enough, killing and restarting
// kapso-bridge at even steps along the way.
func (c *chaos) traffic(ctx context.Context) error {
	target := c.cfg.Deliveries
	var ready, all []*tenant
	for _, t := range c.tenants {
		if t.PNID != "" {
			all = append(all, t)
			if t.Ready {
				ready = append(ready, t)
			}
		}
	}
	if len(all) == 0 {
		return errors.New("no tenant has a number")
	}
	c.logf("traffic: %d deliveries to %d numbers (%d with Kapso webhooks)", target, len(all), len(ready))
	var wg sync.WaitGroup
	var stopped atomic.Bool
	killErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 1; k <= c.cfg.Kills; k++ {
			at := target * k / (c.cfg.Kills + 1)
			for c.deliveries() < at && !stopped.Load() && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			if stopped.Load() || ctx.Err() != nil {
				return
			}
			if err := c.restartBridge(ctx); err != nil {
				killErr <- err
				return
			}
		}
	}()
	// The event receiver goes down and comes back, between the kills.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 1; k <= c.cfg.ReceiverRestarts; k++ {
			at := target * (2*k - 1) / (4 * c.cfg.ReceiverRestarts)
			for c.deliveries() < at && !stopped.Load() && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			if stopped.Load() || ctx.Err() != nil {
				return
			}
			down := time.Duration(500+c.intn(1500)) * time.Millisecond
			c.logf("event receiver down for %s", down)
			if err := c.recv.restart(ctx, down); err != nil {
				select {
				case killErr <- err:
				default:
				}
				return
			}
		}
	}()
	// The reconciler runs during the traffic too, as its schedule would.
	// The child's own ticker is off: each pass re-reads every number's last
	// ten minutes, the whole of a run, so a ticking reconciler would never
	// let the queues settle.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stopped.Load() && ctx.Err() == nil {
			for i := 0; i < 100 && !stopped.Load(); i++ {
				time.Sleep(100 * time.Millisecond)
			}
			if !stopped.Load() && !c.killPending.Load() {
				c.reconcile(ctx)
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.mediaFaults(ctx, &stopped)
	}()
	// Two people are erased and a tenant offboarded while the traffic
	// goes on to them.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.deleteMidTraffic(ctx, target, ready, &stopped); err != nil {
			select {
			case killErr <- err:
			default:
			}
		}
	}()
	lastLog := time.Now()
	var logMu sync.Mutex
	for range c.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.deliveries() < target && ctx.Err() == nil && !stopped.Load() {
				c.op(ctx, ready, all)
				logMu.Lock()
				if time.Since(lastLog) > 5*time.Second {
					lastLog = time.Now()
					c.logf("traffic: %d deliveries", c.deliveries())
				}
				logMu.Unlock()
			}
		}()
	}
	// Workers end at the target; the killer may still wait for its step.
	for c.deliveries() < target && ctx.Err() == nil {
		select {
		case err := <-killErr:
			stopped.Store(true)
			wg.Wait()
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
	stopped.Store(true)
	wg.Wait()
	select {
	case err := <-killErr:
		return err
	default:
	}
	c.logf("traffic done: %d deliveries", c.deliveries())
	return ctx.Err()
}

func (c *chaos) person(t *tenant) kapsosim.Person { return t.persons[c.intn(len(t.persons))] }

// op sends one piece of traffic, picked at random.
func (c *chaos) op(ctx context.Context, ready, all []*tenant) {
	roll := c.intn(100)
	if len(ready) == 0 || roll >= 80 {
		t := all[c.intn(len(all))]
		if roll < 90 || !c.metaStatus(ctx, t) {
			c.metaInbound(ctx, t)
		}
		return
	}
	t := ready[c.intn(len(ready))]
	p := c.person(t)
	switch {
	case roll < 32: // one message from a person, one in four with media
		in := kapsosim.Inbound{Text: "chaos", FromPhone: p.Phone, FromBSUID: p.BSUID, Name: p.Name}
		if c.intn(4) == 0 {
			in = c.inboundMedia(in)
		}
		if _, err := c.sim.SendInbound(ctx, t.PNID, in); err == nil {
			c.sends.wroteTo(t.ID, p)
		}
	case roll < 36: // the SaaS sends through kapso-bridge to someone who wrote
		c.send(ctx, t)
	case roll < 42: // a batch, re-sent message by message if it keeps failing
		_, _ = c.sim.SendInbound(ctx, t.PNID, kapsosim.Inbound{Text: "batch", FromPhone: p.Phone, FromBSUID: p.BSUID,
			Name: p.Name, Count: 2 + c.intn(5)})
	case roll < 70: // the business writes, then its statuses come in any order
		sent, err := c.sim.SendOutbound(ctx, t.PNID, kapsosim.Outbound{Text: "reply", ToPhone: p.Phone, ToBSUID: p.BSUID})
		if err != nil {
			return
		}
		t.addOutbound(sent.WAMID)
		statuses := []string{"delivered", "read", "failed"}
		for i := len(statuses) - 1; i > 0; i-- {
			j := c.intn(i + 1)
			statuses[i], statuses[j] = statuses[j], statuses[i]
		}
		statuses = statuses[:c.intn(4)]
		if c.intn(3) == 0 { // all at once
			var wg sync.WaitGroup
			for _, st := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = c.sim.SetMessageStatus(ctx, sent.WAMID, kapsosim.StatusChange{Status: st})
				}()
			}
			wg.Wait()
		} else {
			for _, st := range statuses {
				_, _ = c.sim.SetMessageStatus(ctx, sent.WAMID, kapsosim.StatusChange{Status: st})
			}
		}
	default: // a delivery made again: the same key and body, sometimes several at once
		c.replay(ctx)
	}
}

// replay sends a kept number webhook again, 1 to 3 copies at once.
func (c *chaos) replay(ctx context.Context) {
	r, ok := c.wire.pick()
	if !ok {
		return
	}
	copies := 1 + c.intn(3)
	var wg sync.WaitGroup
	for range copies {
		wg.Add(1)
		c.replays.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(r.body))
			if err != nil {
				return
			}
			req.Header = r.header.Clone()
			if resp, err := c.wire.base.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// --- Meta-format deliveries, signed with the app secret as Meta signs them ---

type metaMessage struct {
	From       string            `json:"from,omitempty"`
	FromUserID string            `json:"from_user_id,omitempty"`
	ID         string            `json:"id"`
	Timestamp  string            `json:"timestamp"`
	Type       string            `json:"type"`
	Text       map[string]string `json:"text"`
}

type metaStatusItem struct {
	ID              string           `json:"id"`
	Status          string           `json:"status"`
	Timestamp       string           `json:"timestamp"`
	RecipientID     string           `json:"recipient_id,omitempty"`
	RecipientUserID string           `json:"recipient_user_id,omitempty"`
	Errors          []map[string]any `json:"errors,omitempty"`
}

func metaPayload(pnid string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": "15550000000", "phone_number_id": pnid}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "waba-" + pnid, "changes": []any{map[string]any{"field": "messages", "value": value}}}}})
	return b
}

// metaInbound sends a person's message to the number in Meta's format and
// records it as expected once kapso-bridge took it.
func (c *chaos) metaInbound(ctx context.Context, t *tenant) {
	p := c.person(t)
	wamid := fmt.Sprintf("wamid.META%s%08d", t.PNID, c.expect.next())
	at := time.Now()
	contact := map[string]any{"profile": map[string]string{"name": p.Name}, "wa_id": p.Phone}
	if p.BSUID != "" {
		contact["user_id"] = p.BSUID
	}
	body := metaPayload(t.PNID, map[string]any{
		"contacts": []any{contact},
		"messages": []metaMessage{{From: p.Phone, FromUserID: p.BSUID, ID: wamid,
			Timestamp: strconv.FormatInt(at.Unix(), 10), Type: "text", Text: map[string]string{"body": "meta"}}},
	})
	c.expect.meta(wamid, t.ID, "inbound", "", c.postMeta(ctx, t.PNID, body))
	// Its time is Meta's timestamp, in whole seconds.
	c.expect.sentBy(wamid, p, at.Truncate(time.Second))
}

// metaStatus sends, in Meta's format, a status of a message the business
// sent through Kapso: the two formats meet on one message.
func (c *chaos) metaStatus(ctx context.Context, t *tenant) bool {
	wamid, ok := t.randomOutbound(c)
	if !ok {
		return false
	}
	st := []string{"delivered", "read", "failed", "sent"}[c.intn(4)]
	now := time.Now()
	item := metaStatusItem{ID: wamid, Status: st, Timestamp: strconv.FormatInt(now.Unix(), 10)}
	if st == "failed" {
		item.Errors = []map[string]any{{"code": 131026, "title": "Message undeliverable"}}
	}
	body := metaPayload(t.PNID, map[string]any{"statuses": []metaStatusItem{item}})
	c.expect.meta(wamid, t.ID, "outbound", st, c.postMeta(ctx, t.PNID, body))
	c.expect.statusAt(wamid, st, now)
	return true
}

// postMeta delivers body as Meta does, retrying until a 200 for about a
// minute, and says whether it got one.
func (c *chaos) postMeta(ctx context.Context, pnid string, body []byte) bool {
	c.metaSent.Add(1)
	sig := meta.Sign(metaSecret, body)
	client := &http.Client{Timeout: 10 * time.Second}
	wait := 250 * time.Millisecond
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.br.url+"/webhooks/meta/"+pnid, bytes.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
			if resp.StatusCode < 500 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusTooManyRequests {
				c.logf("meta delivery to %s refused: %d", pnid, resp.StatusCode)
				return false
			}
		}
		time.Sleep(wait)
		wait = min(wait*2, 4*time.Second)
	}
	return false
}
