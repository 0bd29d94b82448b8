package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// failedLookback is how far before a failed delivery a caught-up number is
// read again: the failed event may be a status of an older message.
const failedLookback = 24 * time.Hour

// failedDeliveries reads Kapso's record of deliveries that failed after
// their retries, newer than the last run saw, and catches up each number
// they name at once, rather than on its turn in the daily sweep. A failed
// project webhook names no number: the open-attempt check, within the
// hour, finds what it carried.
func (r *run) failedDeliveries(ctx context.Context) error {
	c := &r.rep.FailedDeliveries
	oldest := map[string]time.Time{}
	var order []string
	var counts Counts
	err := pageSince(ctx, r, "failed_deliveries", r.lim.FailedDeliveryPages, r.now.Add(-failedLookback), time.Time{}, &counts,
		func(ctx context.Context, after string) (messaging.ListedPage[messaging.WebhookDelivery], error) {
			return r.Kapso.ListWebhookDeliveries(ctx, "failed", after, 100)
		},
		func(d messaging.WebhookDelivery) time.Time { return d.CreatedAt },
		func(_ context.Context, d messaging.WebhookDelivery) (bool, error) {
			r.logger().Warn("kapso reports a failed delivery", "delivery_id", d.ID, "event", d.Event,
				"phone_number_id", d.PhoneNumberID, "attempts", d.Attempts, "response_status", d.ResponseStatus,
				"created_at", d.CreatedAt)
			if d.PhoneNumberID == "" {
				return true, nil
			}
			if t, ok := oldest[d.PhoneNumberID]; !ok || d.CreatedAt.Before(t) {
				if !ok {
					order = append(order, d.PhoneNumberID)
				}
				oldest[d.PhoneNumberID] = d.CreatedAt
			}
			return true, nil
		})
	c.Checked, c.Found = counts.Checked, counts.Found
	if err != nil {
		r.itemFailed(ctx, "read failed deliveries", err)
	}
	for _, number := range order {
		if r.stopping(ctx) {
			return nil
		}
		tenant, ok, err := r.Numbers.TenantOfPhoneNumber(ctx, number)
		if errors.Is(err, onboarding.ErrNumberOffboarded) {
			continue // its tenant is being deleted
		}
		if err != nil {
			r.itemFailed(ctx, "find the tenant of a failed delivery's number", err, "phone_number_id", number)
			continue
		}
		if !ok {
			continue // kept as pending by the messages worker, if it arrived at all
		}
		if err := r.catchUp(ctx, tenant, number, r.now, oldest[number].Add(-failedLookback)); err != nil {
			r.itemFailed(ctx, "catch up a failed delivery's number", err, "tenant_id", tenant, "phone_number_id", number)
			continue
		}
		c.Fixed++
	}
	return nil
}
