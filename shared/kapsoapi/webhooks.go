package kapsoapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

type wireWebhook struct {
	ID     flexString `json:"id"`
	URL    string     `json:"url"`
	Kind   string     `json:"kind"`
	Events []string   `json:"events"`
	Active *bool      `json:"active"`
}

func (w wireWebhook) webhook() (onboarding.NumberWebhook, error) {
	if w.ID == "" {
		return onboarding.NumberWebhook{}, errors.New("webhook without id")
	}
	kind := w.Kind
	if kind == "" {
		kind = "kapso"
	}
	// Kapso creates webhooks active, so an answer without the field means active.
	return onboarding.NumberWebhook{ID: string(w.ID), URL: w.URL, Kind: kind, Events: w.Events, Active: w.Active == nil || *w.Active}, nil
}

// ListWebhooks lists the webhooks of a phone number, following every page.
func (c *Client) ListWebhooks(ctx context.Context, phoneNumberID string) ([]onboarding.NumberWebhook, error) {
	wrap := func(err error) error { return failed("list webhooks of phone number "+phoneNumberID, err) }
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
func (c *Client) CreateWebhook(ctx context.Context, phoneNumberID string, o onboarding.WebhookRegistration) (onboarding.NumberWebhook, error) {
	wrap := func(err error) error { return failed("create webhook for phone number "+phoneNumberID, err) }
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return onboarding.NumberWebhook{}, wrap(err)
	}
	if o.URL == "" || o.SecretKey == "" {
		return onboarding.NumberWebhook{}, wrap(argumentError("url and secret key are required"))
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
		return onboarding.NumberWebhook{}, wrap(err)
	}
	h, err := w.webhook()
	if err != nil {
		return onboarding.NumberWebhook{}, wrap(err)
	}
	return h, nil
}

// UpdateWebhook changes the phone number's webhook: only the fields u sets
// are sent. Setting fields is idempotent, so it is retried like a read.
func (c *Client) UpdateWebhook(ctx context.Context, phoneNumberID, webhookID string, u onboarding.WebhookChange) (onboarding.NumberWebhook, error) {
	wrap := func(err error) error {
		return failed(fmt.Sprintf("update webhook %s of phone number %s", webhookID, phoneNumberID), err)
	}
	pid, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return onboarding.NumberWebhook{}, wrap(err)
	}
	wid, err := pathID("webhook id", webhookID)
	if err != nil {
		return onboarding.NumberWebhook{}, wrap(err)
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
		return onboarding.NumberWebhook{}, wrap(argumentError("nothing to update"))
	}
	var w wireWebhook
	if _, err := c.do(ctx, call{op: "update webhook", method: http.MethodPatch,
		path: "/whatsapp/phone_numbers/" + pid + "/webhooks/" + wid,
		body: map[string]any{"whatsapp_webhook": m}, policy: retrySafe}, &w); err != nil {
		return onboarding.NumberWebhook{}, wrap(err)
	}
	h, err := w.webhook()
	if err != nil {
		return onboarding.NumberWebhook{}, wrap(err)
	}
	if h.ID != webhookID {
		return onboarding.NumberWebhook{}, wrap(fmt.Errorf("answer is about webhook %s", h.ID))
	}
	return h, nil
}

// DeleteWebhook deletes the phone number's webhook: Kapso delivers nothing
// more to it. A webhook Kapso does not have is errs.NotFound. Deleting is
// idempotent, so it is retried like a read; the answer's body is not read.
func (c *Client) DeleteWebhook(ctx context.Context, phoneNumberID, webhookID string) error {
	wrap := func(err error) error {
		return failed(fmt.Sprintf("delete webhook %s of phone number %s", webhookID, phoneNumberID), err)
	}
	pid, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return wrap(err)
	}
	wid, err := pathID("webhook id", webhookID)
	if err != nil {
		return wrap(err)
	}
	if _, err := c.do(ctx, call{op: "delete webhook", method: http.MethodDelete,
		path:   "/whatsapp/phone_numbers/" + pid + "/webhooks/" + wid,
		decode: func([]byte) error { return nil }, policy: retrySafe}, nil); err != nil {
		return wrap(err)
	}
	return nil
}
