package reconcile

import (
	"context"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// numberStatuses are the tenant statuses whose numbers Kapso may have
// changed without kapso-bridge hearing of it (a lost or forged webhook).
var numberStatuses = []onboarding.TenantStatus{onboarding.TenantConnected, onboarding.TenantRestricted,
	onboarding.TenantDisabled, onboarding.TenantReconnectRequired, onboarding.TenantDisconnected}

// connectedNumbers checks each tenant that has (or had) a connected
// number against the Platform API, in a sweep that reaches every such
// tenant within Limits.Numbers per run: its numbers' state, numbers Kapso
// lists under its customer that kapso-bridge never heard of, its numbers'
// webhooks, and the messages and conversations Kapso has that were missed.
// The budget is counted in numbers and may be overrun by the numbers of
// the tenant in hand, so that no tenant is checked by halves.
func (r *run) connectedNumbers(ctx context.Context) error {
	return r.sweep(ctx, "numbers", numberStatuses, r.lim.Numbers, func(ctx context.Context, t onboarding.TenantItem) int {
		return r.checkTenantNumbers(ctx, t.TenantID)
	})
}

func (r *run) checkTenantNumbers(ctx context.Context, tenantID string) int {
	conn, found, err := r.Store.Load(ctx, tenantID)
	if err != nil {
		r.itemFailed(ctx, "load tenant to check its numbers", err, "tenant_id", tenantID)
		return 1
	}
	if !found {
		return 0
	}
	checked := 0
	for _, n := range conn.PhoneNumbers {
		if n.Status == onboarding.NumberStatusUnconfirmed {
			continue
		}
		checked++
		r.rep.Numbers.Checked++
		changed, err := r.Confirmer.CorrectNumber(ctx, tenantID, n.PhoneNumberID)
		if err != nil {
			r.itemFailed(ctx, "check number", err, "tenant_id", tenantID, "phone_number_id", n.PhoneNumberID)
			if r.rep.StoppedBy != "" {
				return checked
			}
			continue
		}
		if changed {
			r.rep.Numbers.Found++
			r.rep.Numbers.Fixed++
		}
	}
	if err := r.findUnknownNumbers(ctx, conn); err != nil {
		r.itemFailed(ctx, "find unknown numbers", err, "tenant_id", tenantID)
		if r.rep.StoppedBy != "" {
			return checked
		}
	}
	// Reloaded: the checks above may have changed the numbers' state.
	if conn, found, err = r.Store.Load(ctx, tenantID); err != nil || !found {
		if err != nil {
			r.itemFailed(ctx, "reload tenant to check its webhooks", err, "tenant_id", tenantID)
		}
		return checked
	}
	for _, n := range conn.PhoneNumbers {
		if n.Status != onboarding.NumberStatusConnected {
			continue
		}
		if n.WebhookRegistered {
			r.rep.Webhooks.Checked++
			repair, err := r.Confirmer.RepairWebhook(ctx, tenantID, n.PhoneNumberID)
			if err != nil {
				r.itemFailed(ctx, "check webhook", err, "tenant_id", tenantID, "phone_number_id", n.PhoneNumberID)
				if r.rep.StoppedBy != "" {
					return checked
				}
			} else if repair != "" {
				r.rep.Webhooks.Found++
				r.rep.Webhooks.Fixed++
			}
		}
		if err := r.catchUp(ctx, tenantID, n.PhoneNumberID, n.ConnectedAt, time.Time{}); err != nil {
			r.itemFailed(ctx, "catch up messages", err, "tenant_id", tenantID, "phone_number_id", n.PhoneNumberID)
			if r.rep.StoppedBy != "" {
				return checked
			}
		}
	}
	return max(checked, 1)
}

// findUnknownNumbers records the numbers Kapso lists under the tenant's
// customer that kapso-bridge never heard of (a phone_number.created
// webhook that never arrived, for a second number or a reconnection).
func (r *run) findUnknownNumbers(ctx context.Context, conn onboarding.Connection) error {
	if conn.Tenant.KapsoCustomerID == "" {
		return nil
	}
	r.rep.UnknownNumbers.Checked++
	numbers, err := r.Kapso.ListPhoneNumbers(ctx, conn.Tenant.KapsoCustomerID)
	if err != nil {
		return err
	}
	for _, n := range numbers {
		if _, known := conn.PhoneNumber(n.PhoneNumberID); known || gone(n.Status) {
			continue
		}
		r.rep.UnknownNumbers.Found++
		why := "found by the reconciler: Kapso lists a number under the tenant's customer that no webhook announced"
		if err := r.Confirmer.ConfirmFromAPI(ctx, conn.Tenant.ID, n, "", why); err != nil {
			return err
		}
		r.rep.UnknownNumbers.Fixed++
		r.logger().Info("unknown number recorded", "tenant_id", conn.Tenant.ID, "phone_number_id", n.PhoneNumberID)
	}
	return nil
}
