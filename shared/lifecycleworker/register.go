package lifecycleworker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// ErrForeignWebhook: the number already has a webhook with kapso-bridge's
// URL at Kapso, but kapso-bridge holds no secret for it (it was made by
// hand, or by a deployment whose table is gone). Kapso never reveals a
// secret, and a second webhook would double every delivery, so nothing is
// created: a person deletes that webhook at Kapso and the reconciler then
// registers a new one.
var ErrForeignWebhook = errors.New("a webhook with our URL exists whose secret we do not hold")

// webhookURL is where a number's webhook points.
func (w *Worker) webhookURL(phoneNumberID string) string {
	return routes.NumberWebhookURL(w.PublicBaseURL, phoneNumberID)
}

// RegisterWebhook makes sure the number has exactly one webhook of ours,
// with a secret the ingest can verify, and that the tenant's facts record it.
func (w *Worker) RegisterWebhook(ctx context.Context, tenantID, phoneNumberID string) error {
	conn, err := w.load(ctx, tenantID)
	if errors.Is(err, onboarding.ErrTenantDeleting) {
		return nil // its webhooks are being deleted, not registered
	}
	if err != nil {
		return fmt.Errorf("register webhook of %s: %w", phoneNumberID, err)
	}
	return w.registerWebhook(ctx, conn, phoneNumberID)
}

// registerWebhook registers the number's webhook for conn's tenant.
//
// The WebhookRegistered fact is the one record of a registration: the number
// leaves the missing-webhook list only once that fact is stored, so a failure
// at any step leaves it where the reconciler finds it again, and a number
// whose fact is stored is only taken off the list.
//
// Create-once: a lease on the number lets one worker at a time register.
// The secret is stored before Kapso learns it, and a stored secret is never
// replaced, so a webhook with our URL found at Kapso is one we made with the
// stored secret (a failure after the create left it behind) and is adopted
// rather than created again.
func (w *Worker) registerWebhook(ctx context.Context, conn onboarding.Connection, phoneNumberID string) error {
	wrap := func(err error) error { return fmt.Errorf("register webhook of %s: %w", phoneNumberID, err) }
	tenantID := conn.Tenant.ID
	if known, ok := conn.PhoneNumber(phoneNumberID); ok && known.WebhookRegistered {
		if err := w.Numbers.WebhookRecorded(ctx, phoneNumberID); err != nil {
			return wrap(err)
		}
		return nil
	}
	n, token, err := w.claim(ctx, phoneNumberID)
	if err != nil {
		return wrap(err)
	}
	if token == "" { // recorded by another worker meanwhile
		return nil
	}
	log := w.logger().With("phone_number_id", phoneNumberID, "tenant_id", tenantID)
	webhookID, err := w.registerHolding(ctx, n)
	if err == nil {
		_, err = w.appendNew(ctx, conn, onboarding.WebhookRegistered(phoneNumberID, webhookID, w.now()), log)
	}
	if err != nil {
		_ = w.Numbers.ReleaseWebhookRegistration(context.WithoutCancel(ctx), phoneNumberID, token)
		if errors.Is(err, ErrForeignWebhook) {
			// Not retried by SQS: only a person can resolve it, and the number
			// stays in the reconciler's missing-webhook list meanwhile.
			log.Error("number webhook not registered", "err", err.Error())
			return nil
		}
		return wrap(err)
	}
	log.Info("number webhook registered", "webhook_id", webhookID)
	if err := w.Numbers.WebhookRecorded(ctx, phoneNumberID); err != nil {
		return wrap(err)
	}
	return nil
}

// claim takes the registration lease, waiting a little for another
// worker's registration, and returns the number as the claim saw it; a token
// of "" means its webhook is recorded already.
func (w *Worker) claim(ctx context.Context, phoneNumberID string) (onboarding.Number, string, error) {
	wait := w.RegistrationWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		n, token, ok, err := w.Numbers.ClaimWebhookRegistration(ctx, phoneNumberID, registrationLease)
		if err == nil && !ok {
			return n, "", nil
		}
		if err == nil || !errors.Is(err, onboarding.ErrRegistrationBusy) || time.Now().After(deadline) {
			return n, token, err
		}
		select {
		case <-ctx.Done():
			return n, "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// registerHolding creates the webhook (or adopts ours) while holding the
// lease; n is the number as the lease was taken.
func (w *Worker) registerHolding(ctx context.Context, n onboarding.Number) (string, error) {
	phoneNumberID := n.PhoneNumberID
	secret, hadSecret := n.WebhookSecret, n.WebhookSecret != ""
	if !hadSecret {
		secret = w.newSecret()
		// First, so the ingest can verify the very first delivery.
		if err := w.Numbers.PutSecret(ctx, phoneNumberID, secret); err != nil {
			return "", err
		}
	}
	url := w.webhookURL(phoneNumberID)
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
	h, err := w.Kapso.CreateWebhook(ctx, phoneNumberID, numberWebhook(url, secret))
	if err != nil {
		return "", err
	}
	return h.ID, nil
}

// numberWebhook is the webhook kapso-bridge registers for a number.
func numberWebhook(url, secret string) onboarding.WebhookRegistration {
	return onboarding.WebhookRegistration{URL: url, SecretKey: secret, Kind: "kapso", Events: NumberWebhookEvents, PayloadVersion: "v2"}
}
