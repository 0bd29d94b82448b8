package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
)

// Kinds of tenant and the status each must end in.
const (
	kindNormal = "normal" // link completed, webhooks as usual
	kindEarly  = "early"  // number's Meta messages arrive before its connection
	kindFailed = "failed" // signup failed
	kindIdle   = "idle"   // link created, never used
)

var expectedStatus = map[string]string{kindNormal: "connected", kindEarly: "connected", kindFailed: "failed",
	kindIdle: "link_active"}

type tenant struct {
	ID      string
	Kind    string
	LinkID  string
	PNID    string
	Ready   bool // its number has a webhook at Kapso: Kapso traffic can flow
	persons []kapsosim.Person

	mu       sync.Mutex
	outbound []string // WAMIDs of messages the business sent
}

func (t *tenant) addOutbound(w string) {
	t.mu.Lock()
	t.outbound = append(t.outbound, w)
	t.mu.Unlock()
}

func (t *tenant) randomOutbound(c *chaos) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.outbound) == 0 {
		return "", false
	}
	return t.outbound[c.intn(len(t.outbound))], true
}

// api calls kapso-bridge's /v1 API, with the bearer token.
func (c *chaos) api(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.br.url+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+bridgeToken)
	client := c.http
	if path == "/_dev/reconcile" {
		// A pass over every number can take a while; cutting it short
		// would cancel it.
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// apiRetry repeats a call until it answers one of want, as a careful client
// does through a restart and injected faults.
func (c *chaos) apiRetry(ctx context.Context, method, path string, body any, want ...int) (int, []byte, error) {
	var last string
	for i := range 40 {
		st, b, err := c.api(ctx, method, path, body)
		for _, w := range want {
			if err == nil && st == w {
				return st, b, nil
			}
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", st, strings.TrimSpace(string(b)))
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		time.Sleep(time.Duration(min(100*(i+1), 2000)) * time.Millisecond)
	}
	return 0, nil, fmt.Errorf("%s %s: %w: %s", method, path, errGaveUp, last)
}

// get follows a browser redirect's first hop until kapso-bridge answers it.
func (c *chaos) browse(ctx context.Context, url string) {
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 20 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// setupTenants creates every tenant's link and takes each tenant to its
// kind's end: the early ones first, with project webhooks dropped and Meta
// messages sent to their numbers before kapso-bridge can know them.
func (c *chaos) setupTenants(ctx context.Context) error {
	n := c.cfg.Tenants
	kinds := make([]string, n)
	for i := range kinds {
		kinds[i] = kindNormal
	}
	// At least one of each special kind once there are a few tenants.
	quota := func(share float64, atLeast int) int { return max(int(float64(n)*share), min(atLeast, n/5)) }
	at := 0
	for _, k := range []struct {
		kind  string
		count int
	}{{kindEarly, quota(0.15, 1)}, {kindFailed, quota(0.06, 1)}, {kindIdle, quota(0.04, 1)}} {
		for range k.count {
			if at < n {
				kinds[at] = k.kind
				at++
			}
		}
	}
	c.tenants = make([]*tenant, n)
	for i := range n {
		t := &tenant{ID: fmt.Sprintf("chaos-%03d", i), Kind: kinds[i]}
		for j := range 6 {
			p := kapsosim.Person{Name: fmt.Sprintf("Person %d-%d", i, j)}
			switch j % 3 {
			case 0:
				p.Phone = fmt.Sprintf("1555%03d%04d", i%1000, j)
			case 1:
				p.BSUID = c.sim.NewBSUID() // BSUID only: no phone at all
			default:
				p.Phone, p.BSUID = fmt.Sprintf("1666%03d%04d", i%1000, j), c.sim.NewBSUID()
			}
			t.persons = append(t.persons, p)
		}
		c.tenants[i] = t
	}
	c.logf("creating %d setup links", n)
	if err := c.each(ctx, c.tenants, 8, func(t *tenant) error {
		_, b, err := c.apiRetry(ctx, http.MethodPost, "/v1/tenants/"+t.ID+"/setup-links",
			map[string]string{"tenant_name": "Chaos " + t.ID}, http.StatusCreated)
		if err != nil {
			return err
		}
		var out struct {
			SetupLink struct {
				ID string `json:"id"`
			} `json:"setup_link"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.SetupLink.ID == "" {
			return fmt.Errorf("setup link of %s: %q", t.ID, b)
		}
		t.LinkID = out.SetupLink.ID
		return nil
	}); err != nil {
		return err
	}

	// Early tenants: Kapso's project webhook is lost, and the number's Meta
	// messages come before anything tells kapso-bridge about the number.
	// Half of them come back through the browser, the others only the
	// reconciler finds.
	c.sim.SetWebhookMode(kapsosim.ModeDrop)
	for i, t := range c.byKind(kindEarly) {
		redirect, pnid, err := c.sim.CompleteLink(t.LinkID, "dedicated")
		if err != nil {
			c.sim.SetWebhookMode(kapsosim.ModeNormal)
			return fmt.Errorf("complete the link of %s: %w", t.ID, err)
		}
		t.PNID = pnid
		for range 1 + c.intn(3) {
			c.metaInbound(ctx, t)
		}
		if i%2 == 0 {
			c.browse(ctx, redirect)
		}
	}
	c.sim.SetWebhookMode(kapsosim.ModeNormal)
	c.logf("early tenants' numbers got messages before their connection")

	var normal []*tenant
	normal = append(normal, c.byKind(kindNormal)...)
	if err := c.each(ctx, normal, 8, func(t *tenant) error {
		redirect, pnid, err := c.sim.CompleteLink(t.LinkID, []string{"dedicated", "coexistence"}[c.intn(2)])
		if err != nil {
			return fmt.Errorf("complete the link of %s: %w", t.ID, err)
		}
		t.PNID = pnid
		if c.intn(2) == 0 {
			c.browse(ctx, redirect)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, t := range c.byKind(kindFailed) {
		redirect, err := c.sim.FailLink(t.LinkID, "phone_verification_failed")
		if err != nil {
			return fmt.Errorf("fail the link of %s: %w", t.ID, err)
		}
		c.browse(ctx, redirect)
	}
	return c.waitReady(ctx, 90*time.Second)
}

func (c *chaos) byKind(kind string) []*tenant {
	var out []*tenant
	for _, t := range c.tenants {
		if t.Kind == kind {
			out = append(out, t)
		}
	}
	return out
}

// waitReady waits until each connected tenant's number has its webhook at
// Kapso, running the reconciler now and then for those whose registration
// an injected fault held up.
func (c *chaos) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	lastReconcile := time.Now()
	for {
		waiting := 0
		for _, t := range c.tenants {
			if t.PNID == "" || t.Ready {
				continue
			}
			for _, h := range c.sim.Webhooks(t.PNID) {
				if h.Active && strings.HasPrefix(h.URL, c.br.url) {
					t.Ready = true
				}
			}
			if !t.Ready {
				waiting++
			}
		}
		if waiting == 0 {
			c.logf("every connected number has its webhook")
			return nil
		}
		if time.Now().After(deadline) {
			c.logf("%d numbers still without a webhook after %s: they get Meta traffic only", waiting, limit)
			return nil
		}
		if time.Since(lastReconcile) > 10*time.Second {
			c.reconcile(ctx)
			lastReconcile = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// reconcile runs one reconciler pass in the child and says whether it ran
// (a pass finds the lease held while another runs, or until the deadline
// of one a SIGKILL cut short).
func (c *chaos) reconcile(ctx context.Context) bool {
	if until := c.passesHeldUntil(); time.Now().Before(until) {
		c.logf("reconcile: held until %s, an offboarding's settle", until.Format("15:04:05"))
		return false
	}
	c.passMu.Lock()
	defer c.passMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	c.passCancelMu.Lock()
	c.passCancel = cancel
	c.passCancelMu.Unlock()
	defer func() {
		c.passCancelMu.Lock()
		c.passCancel = nil
		c.passCancelMu.Unlock()
		cancel()
	}()
	_, b, err := c.apiRetry(ctx, http.MethodPost, "/_dev/reconcile", nil, http.StatusOK, http.StatusInternalServerError)
	if err != nil {
		c.logf("reconcile: %v", err)
		return false
	}
	var out struct {
		Report struct {
			Skipped bool `json:"skipped"`
		} `json:"report"`
	}
	_ = json.Unmarshal(b, &out)
	c.logf("reconcile: %s", truncate(string(b), 2000))
	return !out.Report.Skipped
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// each runs f on every item, n at a time, and returns the first error.
func (c *chaos) each(ctx context.Context, items []*tenant, n int, f func(*tenant) error) error {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, t := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(t); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
