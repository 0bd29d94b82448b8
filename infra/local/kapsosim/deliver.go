package kapsosim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// Delivery is one webhook POST the simulator made.
type Delivery struct {
	Event   string    `json:"event"`
	URL     string    `json:"url"`
	Key     string    `json:"key"`
	Attempt int       `json:"attempt"` // 1 for the first try of a delivery
	Status  int       `json:"status"`  // 0 when no HTTP answer came
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"at"`
	// Body and Header are the request as sent, signature included: what
	// a test replays.
	Body   []byte      `json:"-"`
	Header http.Header `json:"-"`
}

// Deliveries returns every delivery made so far, oldest first.
func (s *Simulator) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// SetWebhookMode sets how project webhooks are sent: ModeNormal, ModeDrop or
// ModeDuplicate. An unknown mode leaves the current one.
func (s *Simulator) SetWebhookMode(mode string) {
	if _, ok := modeCopies[mode]; !ok {
		s.log.Warn("kapsosim: unknown webhook mode ignored", "mode", mode)
		return
	}
	s.mu.Lock()
	s.mode = mode
	s.mu.Unlock()
}

// Webhooks returns the webhooks registered for a phone number.
func (s *Simulator) Webhooks(phoneNumberID string) []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Webhook
	for _, h := range filter(s.webhooks, func(h *Webhook) bool { return h.PhoneNumberID == phoneNumberID }) {
		c := *h
		c.Events = slices.Clone(h.Events)
		out = append(out, c)
	}
	return out
}

// post makes one signed delivery and records it.
func (s *Simulator) post(ctx context.Context, target, secret, event, version, key string, attempt int, body []byte, extra http.Header) int {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	d := Delivery{Event: event, URL: target, Key: key, Attempt: attempt}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Webhook-Event", event)
		req.Header.Set("X-Webhook-Signature", kapso.Sign(secret, body))
		req.Header.Set("X-Idempotency-Key", key)
		req.Header.Set("X-Webhook-Payload-Version", version)
		for k, vs := range extra {
			req.Header[k] = vs
		}
		d.Body, d.Header = body, req.Header.Clone()
		var resp *http.Response
		if resp, err = s.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
			resp.Body.Close()
			d.Status = resp.StatusCode
		}
	}
	if err != nil {
		d.Error = err.Error()
	}
	s.mu.Lock()
	d.At = s.now()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	s.log.Debug("kapsosim: webhook delivered", "event", event, "url", target, "key", key, "attempt", attempt,
		"status", d.Status, "error", d.Error)
	return d.Status
}

// Replay posts a delivery made before again, byte for byte: its body and
// headers, signature included, under its own idempotency key, or under
// newKey when it is not empty (a replay the ingest's claims do not catch).
// It answers kapso-bridge's status, 0 when none came.
func (s *Simulator) Replay(ctx context.Context, key, newKey string) (int, error) {
	s.mu.Lock()
	i := slices.IndexFunc(s.deliveries, func(d Delivery) bool { return d.Key == key && d.Body != nil })
	var d Delivery
	if i >= 0 {
		d = s.deliveries[i]
	}
	s.mu.Unlock()
	if i < 0 {
		return 0, fmt.Errorf("no delivery with key %q", key)
	}
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	req.Header = d.Header.Clone()
	if newKey != "" {
		req.Header.Set("X-Idempotency-Key", newKey)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
	resp.Body.Close()
	s.log.Info("kapsosim: delivery replayed", "key", key, "new_key", newKey, "status", resp.StatusCode)
	return resp.StatusCode, nil
}

// SendProjectEvent sends a signed project webhook in the background, retried
// per the schedule until it gets a 200, and returns its idempotency key. The
// webhook mode applies: drop sends nothing, duplicate sends two copies with
// the same key.
func (s *Simulator) SendProjectEvent(event string, payload []byte) (string, error) {
	if s.opts.ProjectWebhookURL == "" {
		return "", fmt.Errorf("send %s: %w: no project webhook URL", event, ErrNoWebhook)
	}
	if !json.Valid(payload) {
		return "", fmt.Errorf("send %s: %w: payload is not JSON", event, ErrInvalid)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", fmt.Errorf("send %s: %w", event, ErrClosed)
	}
	key := s.uuid()
	copies := modeCopies[s.mode]
	for range copies {
		s.startLocked()
	}
	s.mu.Unlock()
	for range copies {
		go s.deliverWithRetries(event, key, payload)
	}
	return key, nil
}

func (s *Simulator) deliverWithRetries(event, key string, body []byte) {
	defer s.finish()
	var tried attempts
	for i, wait := range s.schedule {
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		st := s.post(s.ctx, s.opts.ProjectWebhookURL, s.opts.ProjectWebhookSecret, event, s.opts.PayloadVersion,
			key, i+1, body, nil)
		if st == http.StatusOK {
			return
		}
		tried.add(st, s.now())
	}
	s.log.Info("kapsosim: project webhook gave up", "event", event, "key", key, "attempts", len(s.schedule))
	s.recordFailed(Webhook{}, event, key, tried)
}

// SendNumberEvent sends payload, signed with each webhook's secret, to every
// active kapso-kind webhook of the number subscribed to event, once each, and
// returns the statuses received (0: no answer). A payload with "batch": true
// goes out with the batch headers. key "" makes a new idempotency key.
func (s *Simulator) SendNumberEvent(ctx context.Context, phoneNumberID, event string, payload []byte, key string) ([]int, error) {
	return s.sendNumberEvent(ctx, phoneNumberID, event, payload, key, false)
}

func (s *Simulator) sendNumberEvent(ctx context.Context, phoneNumberID, event string, payload []byte, key string, batch bool) ([]int, error) {
	var shape struct {
		Batch bool              `json:"batch"`
		Data  []json.RawMessage `json:"data"`
	}
	if !json.Valid(payload) {
		return nil, fmt.Errorf("send %s to %s: %w: payload is not JSON", event, phoneNumberID, ErrInvalid)
	}
	_ = json.Unmarshal(payload, &shape) // a payload that is not an object is simply not a batch
	var extra http.Header
	if batch || shape.Batch {
		extra = http.Header{"X-Webhook-Batch": {"true"}, "X-Batch-Size": {strconv.Itoa(max(len(shape.Data), 1))}}
	}
	s.mu.Lock()
	if key == "" {
		key = s.uuid()
	}
	var targets []Webhook
	for _, h := range filter(s.webhooks, func(h *Webhook) bool {
		return h.PhoneNumberID == phoneNumberID && h.Active && h.Kind == "kapso" && slices.Contains(h.Events, event)
	}) {
		targets = append(targets, *h) // a copy: sent from outside the lock
	}
	dropped := s.numberModes[phoneNumberID] == ModeDrop
	s.mu.Unlock()
	if len(targets) == 0 {
		return nil, fmt.Errorf("send %s to %s: %w", event, phoneNumberID, ErrNoWebhook)
	}
	if dropped {
		return []int{}, nil // Kapso lost them: nothing sent, nothing recorded
	}
	statuses := make([]int, 0, len(targets))
	for _, h := range targets {
		statuses = append(statuses, s.post(ctx, h.URL, h.SecretKey, event, h.PayloadVersion, key, 1, payload, extra))
	}
	return statuses, nil
}
