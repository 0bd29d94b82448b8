package lifecycleworker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// connectionCreated handles whatsapp.phone_number.created and its legacy
// name whatsapp.config.created: signed proof that a number is connected.
func (w *Worker) connectionCreated(ctx context.Context, ev envelope.Event, log *slog.Logger) error {
	p, err := kapso.DecodeConnectionCreated(ev.Name, ev.Payload)
	if err != nil {
		return err
	}
	if p.PhoneNumberID == "" {
		p.PhoneNumberID = ev.PhoneNumberID
	}
	if p.PhoneNumberID == "" {
		return fmt.Errorf("%w: %s without phone_number_id", errUnusable, ev.Name)
	}
	log = log.With("phone_number_id", p.PhoneNumberID)
	tenantID, customerID, err := w.tenantOfCustomer(ctx, p.Customer, p.PhoneNumberID)
	if err != nil {
		return err
	}
	if tenantID == "" {
		return w.keepOrphan(ctx, ev, customerID, log)
	}
	details := onboarding.NumberDetails{PhoneNumberID: p.PhoneNumberID, BusinessAccountID: p.BusinessAccountID,
		DisplayPhoneNumber: p.DisplayPhoneNumber}
	if p.IsCoexistence != nil {
		details.ConnectionType = onboarding.ConnectionTypeOf(*p.IsCoexistence)
	}
	if p.SetupLink != nil {
		details.SetupLinkID = p.SetupLink.ID
	}
	// A minimal payload names only the number: the Platform API fills the
	// rest, and is the only source of the review statuses anyway.
	n, err := w.Kapso.GetPhoneNumber(ctx, p.PhoneNumberID)
	switch {
	case err == nil:
		fillDetails(&details, n, p.IsCoexistence == nil)
	case details.BusinessAccountID == "" || details.DisplayPhoneNumber == "" || details.ConnectionType == "":
		return err
	default:
		log.Warn("number details not refreshed from the Platform API", "err", err.Error())
	}
	at := receivedAt(ev, w.now())
	f := onboarding.PhoneNumberCreated(details, at)
	if ev.Name == kapso.EventConfigCreated {
		f = onboarding.ConfigCreated(details, at)
	}
	conn, err := w.load(ctx, tenantID)
	if err != nil {
		return err
	}
	return w.confirm(ctx, conn, f, log)
}

func fillDetails(d *onboarding.NumberDetails, n onboarding.KapsoNumber, typeUnknown bool) {
	if d.BusinessAccountID == "" {
		d.BusinessAccountID = n.BusinessAccountID
	}
	if d.DisplayPhoneNumber == "" {
		d.DisplayPhoneNumber = n.DisplayPhoneNumber
	}
	if typeUnknown {
		d.ConnectionType = onboarding.ConnectionTypeOf(n.IsCoexistence)
	}
	d.NameStatus, d.QualityRating = n.NameStatus, n.QualityRating
}

// confirm records a confirmation, the number's tenant, and its webhook.
func (w *Worker) confirm(ctx context.Context, conn onboarding.Connection, f onboarding.Fact, log *slog.Logger) error {
	conn, err := w.appendNew(ctx, conn, f, log)
	if err != nil {
		return err
	}
	if err := w.Numbers.AddNumber(ctx, conn.Tenant.ID, f.PhoneNumberID); err != nil {
		return err
	}
	if w.Connected != nil {
		if err := w.Connected.NumberConnected(ctx, f.PhoneNumberID); err != nil {
			return fmt.Errorf("announce number %s connected: %w", f.PhoneNumberID, err)
		}
	}
	return w.registerWebhook(ctx, conn, f.PhoneNumberID)
}

// ConfirmFromAPI records, as the reconciler's finding with reason, that the
// Platform API lists the number under the tenant's customer, then
// registers its webhook. setupLinkID may be "".
func (w *Worker) ConfirmFromAPI(ctx context.Context, tenantID string, n onboarding.KapsoNumber, setupLinkID, reason string) error {
	conn, err := w.load(ctx, tenantID)
	if err != nil {
		return err
	}
	d := onboarding.NumberDetails{PhoneNumberID: n.PhoneNumberID, SetupLinkID: setupLinkID}
	fillDetails(&d, n, true)
	f := onboarding.APIConfirmed(d, w.now()).WithSource(onboarding.SourceReconciler).WithReason(reason)
	log := w.logger().With("tenant_id", conn.Tenant.ID, "phone_number_id", n.PhoneNumberID)
	return w.confirm(ctx, conn, f, log)
}

// tenantOfCustomer maps a Kapso customer to its tenant: by the stored
// lookup; else by external_customer_id when that tenant owns this very
// customer; else, when the payload names no customer, by asking the Platform
// API whose the number is. It returns "" for a customer no tenant owns.
func (w *Worker) tenantOfCustomer(ctx context.Context, c kapso.Customer, phoneNumberID string) (tenantID, customerID string, err error) {
	customerID = c.ID
	if customerID == "" {
		n, err := w.Kapso.GetPhoneNumber(ctx, phoneNumberID)
		if err != nil {
			return "", "", err
		}
		customerID = n.CustomerID
	}
	if customerID == "" {
		return "", "", nil
	}
	tenantID, found, err := w.Store.TenantOfCustomer(ctx, customerID)
	if err != nil || found {
		return tenantID, customerID, err
	}
	if ext := c.ExternalCustomerID; onboarding.ValidTenantID(ext) {
		conn, found, err := w.Store.Load(ctx, ext)
		if err != nil {
			return "", "", err
		}
		if found && conn.Tenant.KapsoCustomerID == customerID {
			return ext, customerID, nil
		}
	}
	return "", customerID, nil
}

// numberLifecycle handles the deleted, disconnected, reconnected and
// offboarded events and the account events.
func (w *Worker) numberLifecycle(ctx context.Context, ev envelope.Event, log *slog.Logger) error {
	p, err := kapso.DecodePhoneNumberLifecycle(ev.Payload)
	if err != nil {
		return err
	}
	if p.PhoneNumberID == "" {
		p.PhoneNumberID = ev.PhoneNumberID
	}
	log = log.With("phone_number_id", p.PhoneNumberID)
	tenantID, customerID := "", ""
	if p.PhoneNumberID != "" {
		t, found, err := w.Numbers.TenantOfPhoneNumber(ctx, p.PhoneNumberID)
		if err != nil {
			return err
		}
		if found {
			tenantID = t
		}
	}
	if tenantID == "" && p.Customer != nil && p.Customer.ID != "" {
		if tenantID, customerID, err = w.tenantOfCustomer(ctx, *p.Customer, p.PhoneNumberID); err != nil {
			return err
		}
	}
	if tenantID == "" {
		return w.keepOrphan(ctx, ev, customerID, log)
	}
	at := receivedAt(ev, w.now())
	ref := onboarding.AccountRef{BusinessAccountID: p.BusinessAccountID, PhoneNumberID: p.PhoneNumberID}
	var f onboarding.Fact
	switch ev.Name {
	case kapso.EventPhoneNumberDeleted:
		f = onboarding.NumberDeleted(p.PhoneNumberID, at)
	case kapso.EventPhoneNumberDisconnected:
		f = onboarding.NumberDisconnected(p.PhoneNumberID, at)
	case kapso.EventPhoneNumberReconnected:
		f = onboarding.NumberReconnected(p.PhoneNumberID, at)
	case kapso.EventPhoneNumberOffboarded:
		f = onboarding.NumberOffboarded(p.PhoneNumberID, at)
	case kapso.EventAccountDisabled:
		f = onboarding.AccountDisabled(ref, p.Reason, at)
	case kapso.EventAccountRestricted:
		f = onboarding.AccountRestricted(ref, p.Reason, at)
	case kapso.EventAccountReinstated:
		f = onboarding.AccountReinstated(ref, at)
	default:
		// whatsapp.account.violation and future account events change no
		// state the domain models: a warning for the logs only.
		log.Warn("account event recorded in logs only", "tenant_id", tenantID, "reason", p.Reason)
		return nil
	}
	conn, err := w.load(ctx, tenantID)
	if err != nil {
		return err
	}
	// Only the body is signed: the event name may be a replay's. The
	// Platform API must show what the event claims before it changes the
	// tenant; otherwise the claim is kept on the timeline and nothing moves.
	ok, why, err := w.confirmNumberEvent(ctx, conn, ev.Name, p.PhoneNumberID, p.BusinessAccountID)
	if err != nil {
		return err
	}
	if !ok {
		log.Warn("lifecycle webhook not confirmed by Kapso; recorded as suspicious", "tenant_id", tenantID, "reason", why)
		f = onboarding.SuspiciousWebhook(ev.Name, p.PhoneNumberID, why, at)
	} else if p.Reason != "" {
		f = f.WithReason(p.Reason)
	}
	_, err = w.appendNew(ctx, conn, f, log)
	return err
}

// redirect checks a browser redirect against the Platform API. The
// redirect is a hint: a number is confirmed only when the API lists it
// under the tenant's customer.
func (w *Worker) redirect(ctx context.Context, ev envelope.Event, log *slog.Logger) error {
	var p onboarding.Redirect
	if err := json.Unmarshal(ev.Payload, &p); err != nil || p.TenantID == "" || p.SetupLinkID == "" {
		return fmt.Errorf("%w: redirect payload without tenant or setup link: %v", errUnusable, err)
	}
	log = log.With("tenant_id", p.TenantID, "setup_link_id", p.SetupLinkID)
	at := p.ReceivedAt
	if at.IsZero() {
		at = receivedAt(ev, w.now())
	}
	// One load serves the whole event: each append returns the connection after it.
	conn, err := w.load(ctx, p.TenantID)
	if err != nil {
		return err
	}
	if ev.Name == onboarding.EventRedirectFailure {
		// Kept as the browser's report: the link stays usable. Only what
		// Kapso shows makes the attempt failed (its setup link's failure,
		// which the reconciler reads, or the link closing); asking Kapso
		// here would let anyone who types the URL spend the API's rate limit.
		_, err := w.appendNew(ctx, conn, onboarding.FailureRedirect(p.SetupLinkID, p.ErrorCode, at), log)
		return err
	}
	details := p.Details()
	success := onboarding.SuccessRedirect(details, at)
	if p.PhoneNumberID == "" {
		_, err := w.appendNew(ctx, conn, success, log)
		return err
	}
	customerID := conn.Tenant.KapsoCustomerID
	if customerID == "" {
		return fmt.Errorf("%w: redirect for tenant %s without a Kapso customer", errUnusable, p.TenantID)
	}
	listed, err := w.Kapso.ListPhoneNumbers(ctx, customerID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(listed, func(n onboarding.KapsoNumber) bool { return n.PhoneNumberID == p.PhoneNumberID })
	if i < 0 {
		n, err := w.Kapso.GetPhoneNumber(ctx, p.PhoneNumberID)
		switch {
		case errs.Is(err, errs.NotFound):
			// Kapso may not have finished: the webhook or the reconciler confirms later.
			log.Info("redirect awaits confirmation", "phone_number_id", p.PhoneNumberID)
			_, err := w.appendNew(ctx, conn, success, log)
			return err
		case err != nil:
			return err
		case n.CustomerID != "" && n.CustomerID != customerID:
			reason := "number belongs to another Kapso customer"
			log.Warn("suspicious redirect", "phone_number_id", p.PhoneNumberID, "reason", reason)
			_, err := w.appendNew(ctx, conn, onboarding.SuspiciousRedirect(details, reason, at), log)
			return err
		case n.CustomerID == "":
			_, err := w.appendNew(ctx, conn, success, log)
			return err
		}
		listed = append(listed, n)
		i = len(listed) - 1
	}
	if conn, err = w.appendNew(ctx, conn, success, log); err != nil {
		return err
	}
	// A closed link's redirect is late: the number is confirmed, but not as
	// that link's outcome.
	link := p.SetupLinkID
	if a, ok := conn.Attempt(link); !ok || (a.Status != onboarding.AttemptActive && a.Status != onboarding.AttemptRedirectedSuccess) {
		link = ""
	}
	d := onboarding.NumberDetails{PhoneNumberID: listed[i].PhoneNumberID, SetupLinkID: link}
	fillDetails(&d, listed[i], true)
	return w.confirm(ctx, conn, onboarding.APIConfirmed(d, w.now()), log)
}
