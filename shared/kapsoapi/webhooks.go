package kapsoapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Webhook is a phone number's webhook as Kapso reports it (never its secret).
type Webhook struct {
	ID, URL, Kind string // kind: kapso or meta
	Events        []string
	Active        bool
}

// WebhookOptions registers a phone number's webhook. URL and SecretKey are
// required (Kapso never generates the secret); Events is required for kind kapso.
type WebhookOptions struct {
	URL, SecretKey, Kind string
	Events               []string
	Active               *bool // nil: Kapso's default (active)
	PayloadVersion       string
	InactivityMinutes    int // 0: Kapso's default
}

type wireWebhook struct {
	ID     flexString `json:"id"`
	URL    string     `json:"url"`
	Kind   string     `json:"kind"`
	Events []string   `json:"events"`
	Active *bool      `json:"active"`
}

func (w wireWebhook) webhook() (Webhook, error) {
	if w.ID == "" {
		return Webhook{}, errors.New("webhook without id")
	}
	kind := w.Kind
	if kind == "" {
		kind = "kapso"
	}
	// Kapso creates webhooks active, so an answer without the field means active.
	return Webhook{ID: string(w.ID), URL: w.URL, Kind: kind, Events: w.Events, Active: w.Active == nil || *w.Active}, nil
}

// ListWebhooks lists the webhooks of a phone number, following every page.
func (c *Client) ListWebhooks(ctx context.Context, phoneNumberID string) ([]Webhook, error) {
	wrap := func(err error) error { return fmt.Errorf("list webhooks of phone number %s: %w", phoneNumberID, err) }
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return nil, wrap(err)
	}
	ws, err := listPages[wireWebhook](ctx, c, call{op: "list webhooks", method: http.MethodGet,
		path: "/whatsapp/phone_numbers/" + id + "/webhooks", policy: retrySafe})
	if err != nil {
		return nil, wrap(err)
	}
	hooks, err := convertAll(ws, wireWebhook.webhook)
	if err != nil {
		return nil, wrap(err)
	}
	return hooks, nil
}

// CreateWebhook registers a webhook for the phone number. Not retried after
// the request may have reached Kapso: a repeat could register the same URL
// twice and double every delivery; callers check ListWebhooks first.
func (c *Client) CreateWebhook(ctx context.Context, phoneNumberID string, o WebhookOptions) (Webhook, error) {
	wrap := func(err error) error { return fmt.Errorf("create webhook for phone number %s: %w", phoneNumberID, err) }
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return Webhook{}, wrap(err)
	}
	if o.URL == "" || o.SecretKey == "" {
		return Webhook{}, wrap(errors.New("url and secret key are required"))
	}
	m := map[string]any{"url": o.URL, "secret_key": o.SecretKey}
	if o.Kind != "" {
		m["kind"] = o.Kind
	}
	if len(o.Events) > 0 {
		m["events"] = o.Events
	}
	if o.Active != nil {
		m["active"] = *o.Active
	}
	if o.PayloadVersion != "" {
		m["payload_version"] = o.PayloadVersion
	}
	if o.InactivityMinutes > 0 {
		m["inactivity_minutes"] = o.InactivityMinutes
	}
	var w wireWebhook
	if _, err := c.do(ctx, call{op: "create webhook", method: http.MethodPost, path: "/whatsapp/phone_numbers/" + id + "/webhooks",
		body: map[string]any{"whatsapp_webhook": m}, policy: retryUnsent}, &w); err != nil {
		return Webhook{}, wrap(err)
	}
	h, err := w.webhook()
	if err != nil {
		return Webhook{}, wrap(err)
	}
	return h, nil
}

// WebhookUpdate changes a webhook; only the fields set (non-nil, non-empty)
// are sent, the others keep their value at Kapso.
type WebhookUpdate struct {
	Active         *bool
	URL, SecretKey string
	Events         []string
}

// UpdateWebhook changes the phone number's webhook. Setting fields is
// idempotent, so it is retried like a read.
func (c *Client) UpdateWebhook(ctx context.Context, phoneNumberID, webhookID string, u WebhookUpdate) (Webhook, error) {
	wrap := func(err error) error {
		return fmt.Errorf("update webhook %s of phone number %s: %w", webhookID, phoneNumberID, err)
	}
	pid, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return Webhook{}, wrap(err)
	}
	wid, err := pathID("webhook id", webhookID)
	if err != nil {
		return Webhook{}, wrap(err)
	}
	m := map[string]any{}
	if u.Active != nil {
		m["active"] = *u.Active
	}
	if u.URL != "" {
		m["url"] = u.URL
	}
	if u.SecretKey != "" {
		m["secret_key"] = u.SecretKey
	}
	if len(u.Events) > 0 {
		m["events"] = u.Events
	}
	if len(m) == 0 {
		// An empty PATCH would change nothing; refusing it catches a caller's mistake.
		return Webhook{}, wrap(errors.New("nothing to update"))
	}
	var w wireWebhook
	if _, err := c.do(ctx, call{op: "update webhook", method: http.MethodPatch,
		path: "/whatsapp/phone_numbers/" + pid + "/webhooks/" + wid,
		body: map[string]any{"whatsapp_webhook": m}, policy: retrySafe}, &w); err != nil {
		return Webhook{}, wrap(err)
	}
	h, err := w.webhook()
	if err != nil {
		return Webhook{}, wrap(err)
	}
	if h.ID != webhookID {
		return Webhook{}, wrap(fmt.Errorf("answer is about webhook %s", h.ID))
	}
	return h, nil
}
