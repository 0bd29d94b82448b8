package lifecycleworker

import (
	"context"
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Webhook repairs RepairWebhook makes.
const (
	RepairReactivated = "reactivated" // Kapso listed it inactive
	RepairRetargeted  = "retargeted"  // it pointed elsewhere
	RepairRecreated   = "recreated"   // Kapso no longer listed it
)

// RepairWebhook makes a number's registered webhook deliver to kapso-bridge
// again when Kapso lists it inactive (Kapso pauses a webhook whose
// deliveries mostly fail), pointing elsewhere, or not at all, and records
// the repair on the tenant's timeline as the reconciler's. It returns the
// repair made, "" when the webhook was in order. A number whose webhook was
// never registered is left to RegisterWebhook.
func (w *Worker) RepairWebhook(ctx context.Context, tenantID, phoneNumberID string) (string, error) {
	wrap := func(err error) error { return fmt.Errorf("repair webhook of %s: %w", phoneNumberID, err) }
	conn, err := w.load(ctx, tenantID)
	if err != nil {
		return "", wrap(err)
	}
	known, ok := conn.PhoneNumber(phoneNumberID)
	if !ok || !known.WebhookRegistered || known.Status != onboarding.NumberStatusConnected {
		return "", nil
	}
	hooks, err := w.Kapso.ListWebhooks(ctx, phoneNumberID)
	if err != nil {
		return "", wrap(err)
	}
	url := w.webhookURL(phoneNumberID)
	var ours *onboarding.NumberWebhook
	for i, h := range hooks {
		if h.URL == url && (ours == nil || h.Active) {
			ours = &hooks[i]
		}
	}
	if ours != nil && ours.Active {
		return "", nil
	}
	if ours == nil {
		for i, h := range hooks {
			if h.ID == known.WebhookID {
				ours = &hooks[i]
			}
		}
	}
	var repair, webhookID, why string
	switch {
	case ours == nil:
		// Deleted at Kapso: made again with the secret the ingest holds.
		secret, err := w.Numbers.Secret(ctx, phoneNumberID)
		if err != nil {
			return "", wrap(err)
		}
		if secret == "" {
			return "", wrap(fmt.Errorf("no stored secret for a registered webhook"))
		}
		h, err := w.Kapso.CreateWebhook(ctx, phoneNumberID, numberWebhook(url, secret))
		if err != nil {
			return "", wrap(err)
		}
		repair, webhookID, why = RepairRecreated, h.ID, "Kapso no longer listed the number's webhook; registered again"
	default:
		active := true
		u := onboarding.WebhookChange{Active: &active}
		repair, why = RepairReactivated, "Kapso listed the number's webhook as inactive; re-activated"
		if ours.URL != url {
			u.URL = url
			repair, why = RepairRetargeted, "the number's webhook pointed at "+ours.URL+"; pointed back"
		}
		h, err := w.Kapso.UpdateWebhook(ctx, phoneNumberID, ours.ID, u)
		if err != nil {
			return "", wrap(err)
		}
		webhookID = h.ID
	}
	f := onboarding.WebhookRegistered(phoneNumberID, webhookID, w.now()).
		WithSource(onboarding.SourceReconciler).WithReason("found by the reconciler: " + why)
	log := w.logger().With("tenant_id", tenantID, "phone_number_id", phoneNumberID)
	log.Info("number webhook repaired", "repair", repair, "webhook_id", webhookID)
	// Appended even when an earlier repair said the same: each is a change
	// at Kapso, and belongs on the timeline.
	_, change, err := w.Store.AppendFact(ctx, tenantID, f)
	if err == nil && change.Rejected != nil {
		err = change.Rejected
	}
	if err != nil {
		return repair, wrap(fmt.Errorf("record the repair: %w", err))
	}
	return repair, nil
}
