package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// ErrForeignWebhook: the number already has a webhook with kapso-bridge's
// URL at Kapso, but kapso-bridge holds no secret for it (it was made by
// hand, or by a deployment whose table is gone). Kapso never reveals a
// secret, and a second webhook would double every delivery, so nothing is
// created: a person deletes that webhook at Kapso and the reconciler then
// registers a new one.
var ErrForeignWebhook = errors.New("a webhook with our URL exists whose secret we do not hold")

// WebhookURL is where a number's webhook points.
func (w *Worker) WebhookURL(phoneNumberID string) string {
	return strings.TrimRight(w.PublicBaseURL, "/") + "/webhooks/kapso/" + phoneNumberID
}

// RegisterWebhook makes sure the number has exactly one webhook of ours,
// with a secret the ingest can verify, and records WebhookRegistered.
//
// Create-once: a lease on the phone item lets one worker at a time register.
// The secret is stored before Kapso learns it, and an existing stored secret
// is never replaced, so a webhook with our URL found at Kapso is one we made
// with the stored secret (a crash after the create left it behind) and is
// adopted rather than created again.
func (w *Worker) RegisterWebhook(ctx context.Context, tenantID, phoneNumberID string) error {
	wrap := func(err error) error { return fmt.Errorf("register webhook of %s: %w", phoneNumberID, err) }
	item, found, err := w.Store.PhoneNumber(ctx, phoneNumberID)
	if err != nil {
		return wrap(err)
	}
	if found && item.WebhookRegistered {
		return w.recordRegistered(ctx, tenantID, item)
	}
	item, token, err := w.claim(ctx, phoneNumberID)
	if err != nil {
		return wrap(err)
	}
	// The item may hold only the secret, without the number's id.
	item.PhoneNumberID = phoneNumberID
	if token == "" { // registered by another worker meanwhile
		return w.recordRegistered(ctx, tenantID, item)
	}
	webhookID, err := w.registerHolding(ctx, item)
	if err != nil {
		_ = w.Store.ReleaseWebhookRegistration(context.WithoutCancel(ctx), phoneNumberID, token)
		if errors.Is(err, ErrForeignWebhook) {
			// Not retried by SQS: only a person can resolve it, and the number
			// stays in the reconciler's missing-webhook index meanwhile.
			w.logger().Error("number webhook not registered", "phone_number_id", phoneNumberID, "tenant_id", tenantID,
				"err", err.Error())
			return nil
		}
		return wrap(err)
	}
	at, err := w.Store.MarkWebhookRegistered(ctx, phoneNumberID, webhookID, token)
	if err != nil {
		return wrap(err)
	}
	w.logger().Info("number webhook registered", "phone_number_id", phoneNumberID, "tenant_id", tenantID, "webhook_id", webhookID)
	item.WebhookID, item.RegisteredAt = webhookID, at
	return w.recordRegistered(ctx, tenantID, item)
}

// claim takes the registration lease, waiting a little for another
// worker's registration, and returns the number's item as the claim saw
// it; a token of "" means the number is registered already.
func (w *Worker) claim(ctx context.Context, phoneNumberID string) (dynamo.PhoneItem, string, error) {
	wait := w.RegistrationWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		item, token, ok, err := w.Store.ClaimWebhookRegistration(ctx, phoneNumberID, registrationLease)
		if err == nil && !ok {
			return item, "", nil
		}
		if err == nil || !errors.Is(err, dynamo.ErrRegistrationBusy) || time.Now().After(deadline) {
			return item, token, err
		}
		select {
		case <-ctx.Done():
			return item, "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// registerHolding creates the webhook (or adopts ours) while holding the
// lease; item is the number's item as the lease was taken.
func (w *Worker) registerHolding(ctx context.Context, item dynamo.PhoneItem) (string, error) {
	phoneNumberID := item.PhoneNumberID
	secret, hadSecret := item.Secret, item.Secret != ""
	if !hadSecret {
		secret = w.newSecret()
		// First, so the ingest can verify the very first delivery.
		if err := w.Secrets.PutSecret(ctx, phoneNumberID, secret); err != nil {
			return "", err
		}
	}
	url := w.WebhookURL(phoneNumberID)
	hooks, err := w.Kapso.ListWebhooks(ctx, phoneNumberID)
	if err != nil {
		return "", err
	}
	for _, h := range hooks {
		if h.URL == url {
			if !hadSecret {
				return "", fmt.Errorf("%w (webhook %s)", ErrForeignWebhook, h.ID)
			}
			return h.ID, nil
		}
	}
	h, err := w.Kapso.CreateWebhook(ctx, phoneNumberID, kapsoapi.WebhookOptions{
		URL: url, SecretKey: secret, Kind: "kapso", Events: NumberWebhookEvents, PayloadVersion: "v2",
	})
	if err != nil {
		return "", err
	}
	return h.ID, nil
}

// recordRegistered appends WebhookRegistered with the stored registration
// time, so repeating it is a no-op.
func (w *Worker) recordRegistered(ctx context.Context, tenantID string, item dynamo.PhoneItem) error {
	at := item.RegisteredAt
	if at.IsZero() {
		at = w.now()
	}
	f := onboarding.WebhookRegistered(item.PhoneNumberID, item.WebhookID, at)
	if _, _, err := w.Store.AppendFact(ctx, tenantID, f); err != nil {
		return fmt.Errorf("record webhook of %s: %w", item.PhoneNumberID, err)
	}
	return nil
}
