package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// openStatuses are the statuses of tenants with an open attempt: a link
// handed out (a failure only the browser reported included), a browser back
// with success but no proof yet, a signup that failed (the person may still
// connect on the same customer, and the webhook of that may be lost), or a
// link requested whose creation's answer was lost (not_started with a
// customer).
var openStatuses = []onboarding.TenantStatus{onboarding.TenantAwaitingConfirmation, onboarding.TenantLinkActive,
	onboarding.TenantFailed, onboarding.TenantNotStarted}

// linkLifetime is how long Kapso keeps a link active: a not_started or
// failed tenant untouched for longer can have no active link at Kapso.
const linkLifetime = 30 * 24 * time.Hour

// openTenants checks each tenant with an open attempt against the Platform
// API: its setup links (adopting a link Kapso made but kapso-bridge never
// recorded, recording links Kapso revoked) and its customer's numbers
// (confirming a connection no webhook confirmed).
func (r *run) openTenants(ctx context.Context) error {
	return r.sweep(ctx, "open", openStatuses, r.lim.OpenTenants, func(ctx context.Context, t onboarding.TenantItem) int {
		conn, found, err := r.Store.Load(ctx, t.TenantID)
		if err != nil {
			r.itemFailed(ctx, "load tenant with an open attempt", err, "tenant_id", t.TenantID)
			return 1
		}
		if !found || conn.Tenant.KapsoCustomerID == "" {
			return 0
		}
		switch conn.Tenant.Status {
		case onboarding.TenantNotStarted:
			if len(conn.Attempts) > 0 || r.now.Sub(conn.Tenant.UpdatedAt) > linkLifetime {
				return 0
			}
		case onboarding.TenantFailed:
			if r.now.Sub(conn.Tenant.UpdatedAt) > linkLifetime {
				return 0
			}
		}
		r.rep.OpenTenants.Checked++
		r.rep.SetupLinks.Checked++
		if err := r.checkLinks(ctx, conn); err != nil {
			r.itemFailed(ctx, "check setup links", err, "tenant_id", t.TenantID)
			if r.rep.StoppedBy != "" {
				return 1
			}
		}
		if err := r.confirmTenant(ctx, t.TenantID); err != nil {
			r.itemFailed(ctx, "confirm tenant", err, "tenant_id", t.TenantID)
		}
		return 1
	})
}

// confirmTenant confirms the numbers Kapso lists under the tenant's
// customer that are not connected here yet.
func (r *run) confirmTenant(ctx context.Context, tenantID string) error {
	conn, found, err := r.Store.Load(ctx, tenantID)
	if err != nil || !found {
		return err
	}
	numbers, err := r.Kapso.ListPhoneNumbers(ctx, conn.Tenant.KapsoCustomerID)
	if err != nil {
		return err
	}
	for _, n := range numbers {
		if known, ok := conn.PhoneNumber(n.PhoneNumberID); ok && known.Status != onboarding.NumberStatusUnconfirmed {
			continue // connected, or lost by a lifecycle event that the API listing does not overrule
		}
		if gone(n.Status) {
			continue
		}
		r.rep.OpenTenants.Found++
		why := "found by the reconciler: the Platform API lists the number under the tenant's customer"
		if err := r.Confirmer.ConfirmFromAPI(ctx, tenantID, n, linkFor(conn, n.PhoneNumberID), why); err != nil {
			return fmt.Errorf("confirm number %s: %w", n.PhoneNumberID, err)
		}
		r.rep.OpenTenants.Fixed++
	}
	return nil
}

// gone: Kapso lists a number that is no longer usable.
func gone(status string) bool {
	return slices.Contains([]string{"deleted", "disconnected", "offboarded", "banned"}, strings.ToLower(status))
}

// linkFor is the attempt a number came through: the one whose trusted
// success redirect named it, else the newest attempt still open, awaiting
// confirmation or failed (a person may succeed on a link after a failure;
// the domain does not believe a link that had closed), else none.
func linkFor(conn onboarding.Connection, phoneNumberID string) string {
	for _, a := range slices.Backward(conn.Attempts) {
		if a.Redirect != nil && a.Redirect.PhoneNumberID == phoneNumberID && !a.Redirect.Suspicious {
			return a.SetupLinkID
		}
	}
	if a := conn.NewestAttempt(); a != nil && (a.Status == onboarding.AttemptActive ||
		a.Status == onboarding.AttemptRedirectedSuccess || a.Status == onboarding.AttemptFailed) {
		return a.SetupLinkID
	}
	return ""
}

// checkLinks makes the tenant's links agree with Kapso's, so that the
// tenant has exactly the one active link Kapso has:
//   - an active link Kapso made that kapso-bridge never recorded (the
//     creation's answer was lost after Kapso acted) is adopted when Kapso
//     lists its URL, and revoked when it does not, since nobody could hand
//     it out;
//   - a link recorded active that Kapso lists as revoked (a lost creation
//     revokes the previous link) is recorded revoked, unless the adopted
//     link already supersedes it;
//   - a link recorded active whose signup Kapso reports failed
//     (whatsapp_setup_status failed) is recorded failed, with Kapso's
//     whatsapp_setup_error: the failure redirect alone is the browser's
//     word, this is Kapso's.
func (r *run) checkLinks(ctx context.Context, conn onboarding.Connection) error {
	tenantID, customerID := conn.Tenant.ID, conn.Tenant.KapsoCustomerID
	links, err := r.Kapso.ListSetupLinks(ctx, customerID, "")
	if err != nil {
		return err
	}
	// Oldest first, so an adopted link supersedes the ones before it.
	slices.SortFunc(links, func(a, b onboarding.SetupLink) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, l := range links {
		if _, known := conn.Attempt(l.ID); known || l.Status != "active" {
			continue
		}
		r.rep.SetupLinks.Found++
		if l.URL == "" {
			if _, err := r.Kapso.RevokeSetupLink(ctx, customerID, l.ID); err != nil {
				return fmt.Errorf("revoke unrecorded link %s: %w", l.ID, err)
			}
			f := onboarding.LinkRevoked(l.ID, r.now).WithSource(onboarding.SourceReconciler).
				WithReason("found by the reconciler: Kapso made the link but its creation's answer was lost " +
					"and Kapso does not list its URL; revoked, so a new link must be created")
			if _, err := r.append(ctx, tenantID, f); err != nil {
				return err
			}
			r.rep.SetupLinks.Fixed++
			r.logger().Info("unrecorded setup link revoked", "tenant_id", tenantID, "setup_link_id", l.ID)
			continue
		}
		created := l.CreatedAt
		if created.IsZero() {
			created = r.now
		}
		d := onboarding.LinkDetails{SetupLinkID: l.ID, URL: l.URL, CreatedAt: created, ExpiresAt: l.ExpiresAt,
			AllowedConnectionTypes: onboarding.ConnectionTypes(l.AllowedConnectionTypes),
			Adopted:                "found by the reconciler: Kapso made the link but its creation's answer was lost; adopted"}
		if _, err := r.Store.RecordLink(ctx, tenantID, d); err != nil {
			return fmt.Errorf("adopt link %s: %w", l.ID, err)
		}
		r.rep.SetupLinks.Fixed++
		r.logger().Info("unrecorded setup link adopted", "tenant_id", tenantID, "setup_link_id", l.ID)
	}
	conn, found, err := r.Store.Load(ctx, tenantID)
	if err != nil || !found {
		return err
	}
	for _, l := range links {
		a, ok := conn.Attempt(l.ID)
		if !ok || a.Status != onboarding.AttemptActive {
			continue
		}
		switch {
		case setupFailed(l):
			r.rep.SetupLinks.Found++
			f := onboarding.SetupFailed(l.ID, l.WhatsAppSetupError, r.now).WithSource(onboarding.SourceReconciler).
				WithReason("found by the reconciler: Kapso's setup link reports the signup failed")
			if _, err := r.append(ctx, tenantID, f); err != nil {
				return err
			}
			r.rep.SetupLinks.Fixed++
			r.logger().Info("setup link failed at Kapso", "tenant_id", tenantID, "setup_link_id", l.ID,
				"error_code", f.ErrorCode)
		case l.Status == "revoked":
			r.rep.SetupLinks.Found++
			f := onboarding.LinkRevoked(l.ID, r.now).WithSource(onboarding.SourceReconciler).
				WithReason("found by the reconciler: Kapso lists the link as revoked")
			if _, err := r.append(ctx, tenantID, f); err != nil {
				return err
			}
			if err := r.Store.CloseLink(ctx, l.ID, onboarding.AttemptRevoked); err != nil {
				return err
			}
			r.rep.SetupLinks.Fixed++
		}
	}
	return nil
}

// setupFailed: Kapso reports the link's signup failed, by its
// whatsapp_setup_status or, without one, by a whatsapp_setup_error.
func setupFailed(l onboarding.SetupLink) bool {
	status := strings.ToLower(strings.TrimSpace(l.WhatsAppSetupStatus))
	return status == "failed" || (status == "" && strings.TrimSpace(l.WhatsAppSetupError) != "")
}

// append records f for the tenant; a fact the connection refuses is an error.
func (r *run) append(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, error) {
	conn, change, err := r.Store.AppendFact(ctx, tenantID, f)
	if err == nil && change.Rejected != nil {
		err = change.Rejected
	}
	if err != nil {
		return conn, fmt.Errorf("record %s for tenant %s: %w", f.Kind, tenantID, err)
	}
	return conn, nil
}
