package lifecycleworker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// kapsoState is what the Platform API says of a number now.
type kapsoState struct {
	// Gone: Kapso no longer has the number (404), or has it under another
	// customer.
	Gone bool
	// Status is the number's status in Meta's vocabulary, upper case:
	// CONNECTED, DISCONNECTED, DELETED, MIGRATED, RESTRICTED, RATE_LIMITED,
	// FLAGGED, BANNED, PENDING, …
	Status string
	// Health is the number's health as the same answer gave it.
	Health onboarding.NumberHealth
}

// numberState asks the Platform API for the number's state; customerID,
// when set, is the customer the number is expected under.
func (w *Worker) numberState(ctx context.Context, phoneNumberID, customerID string) (kapsoState, error) {
	n, err := w.Kapso.GetPhoneNumber(ctx, phoneNumberID)
	switch {
	case errs.Is(err, errs.NotFound):
		return kapsoState{Gone: true}, nil
	case err != nil:
		return kapsoState{}, fmt.Errorf("check number %s at Kapso: %w", phoneNumberID, err)
	}
	if customerID != "" && n.CustomerID != "" && n.CustomerID != customerID {
		return kapsoState{Gone: true}, nil
	}
	return kapsoState{Status: strings.ToUpper(n.Status), Health: n.Health(w.now())}, nil
}

// confirms reports whether Kapso's state of a number bears out a webhook
// event about it. A signed body can be replayed under any X-Webhook-Event
// name (only the body is signed), so an event that takes something away or
// gives it back changes a tenant only once the Platform API agrees.
func (s kapsoState) confirms(event string) bool {
	in := func(statuses ...string) bool { return slices.Contains(statuses, s.Status) }
	switch event {
	case kapso.EventPhoneNumberDisconnected:
		return s.Gone || in("DISCONNECTED", "DELETED")
	case kapso.EventPhoneNumberDeleted:
		return s.Gone || in("DELETED")
	case kapso.EventPhoneNumberOffboarded:
		return s.Gone || in("DELETED", "MIGRATED")
	case kapso.EventPhoneNumberReconnected, kapso.EventAccountReinstated:
		return !s.Gone && in("CONNECTED")
	case kapso.EventAccountRestricted:
		return !s.Gone && in("RESTRICTED", "RATE_LIMITED", "FLAGGED")
	case kapso.EventAccountDisabled:
		return s.Gone || in("BANNED")
	}
	return false
}

// String is the state as a support person reads it.
func (s kapsoState) String() string {
	if s.Gone {
		return "Kapso no longer lists the number for this customer"
	}
	if s.Status == "" {
		return "Kapso gives the number no status"
	}
	return "Kapso shows the number " + s.Status
}

// confirmNumberEvent checks a lifecycle event against the Platform API: the
// numbers it concerns (the one it names, else the tenant's numbers of the
// business account it names). ok is true when any of them bears it out; why
// says what Kapso showed otherwise.
func (w *Worker) confirmNumberEvent(ctx context.Context, conn onboarding.Connection, event, phoneNumberID, wabaID string) (ok bool, why string, err error) {
	var ids []string
	if phoneNumberID != "" {
		ids = []string{phoneNumberID}
	} else {
		for _, n := range conn.PhoneNumbers {
			if wabaID != "" && n.BusinessAccountID == wabaID {
				ids = append(ids, n.PhoneNumberID)
			}
		}
	}
	if len(ids) == 0 {
		return false, "the event names no number of this tenant", nil
	}
	var seen []string
	for _, id := range ids {
		st, err := w.numberState(ctx, id, conn.Tenant.KapsoCustomerID)
		if err != nil {
			return false, "", err
		}
		if st.confirms(event) {
			return true, "", nil
		}
		seen = append(seen, id+": "+st.String())
	}
	return false, "not confirmed by the Platform API (" + strings.Join(seen, "; ") + ")", nil
}

// CorrectNumber makes the stored state of a tenant's number agree with
// Kapso's: what the Platform API shows (the number gone, disconnected,
// restricted, banned, or connected again) and the stored state lacks is
// recorded as a fact found by the reconciler. changed says whether such a
// correction was recorded; the number's health from the same answer is
// recorded apart (recordHealth). A number never confirmed is left to the
// confirmation pass.
func (w *Worker) CorrectNumber(ctx context.Context, tenantID, phoneNumberID string) (changed bool, err error) {
	conn, err := w.load(ctx, tenantID)
	if err != nil {
		return false, err
	}
	n, ok := conn.PhoneNumber(phoneNumberID)
	if !ok || n.Status == onboarding.NumberStatusUnconfirmed {
		return false, nil
	}
	st, err := w.numberState(ctx, phoneNumberID, conn.Tenant.KapsoCustomerID)
	if err != nil {
		return false, err
	}
	log := w.logger().With("tenant_id", tenantID, "phone_number_id", phoneNumberID)
	if f, ok := correction(n, st, w.now()); ok {
		f = f.WithSource(onboarding.SourceReconciler).WithReason("found by the reconciler: " + st.String())
		log.Info("number corrected from the Platform API", "kind", string(f.Kind), "kapso", st.String())
		if conn, err = w.appendNew(ctx, conn, f, log); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, w.recordHealth(ctx, conn, phoneNumberID, st, log)
}

// recordHealth records the health the same Platform API answer gave of a
// number that is connected, when it differs from the health stored: a
// refresh that finds nothing new writes nothing.
func (w *Worker) recordHealth(ctx context.Context, conn onboarding.Connection, phoneNumberID string, st kapsoState, log *slog.Logger) error {
	n, ok := conn.PhoneNumber(phoneNumberID)
	if st.Gone || !ok || n.Status != onboarding.NumberStatusConnected {
		return nil
	}
	if was, read := n.Health(); read && was.Same(st.Health) {
		return nil
	}
	_, change, err := w.Store.AppendFact(ctx, conn.Tenant.ID, onboarding.HealthRead(st.Health))
	if err != nil {
		return fmt.Errorf("record health of number %s: %w", phoneNumberID, err)
	}
	if change.Rejected != nil {
		return fmt.Errorf("%w: health of number %s refused: %w", errUnusable, phoneNumberID, change.Rejected)
	}
	log.Info("number health read", "quality_rating", st.Health.QualityRating, "messaging_limit_tier",
		st.Health.MessagingLimitTier, "name_status", st.Health.NameStatus, "throughput", st.Health.Throughput)
	return nil
}

// correction is the fact that brings n in line with Kapso's state st, if
// they disagree; the caller gives it its source and reason.
func correction(n onboarding.PhoneNumber, st kapsoState, at time.Time) (onboarding.Fact, bool) {
	ref := onboarding.AccountRef{BusinessAccountID: n.BusinessAccountID, PhoneNumberID: n.PhoneNumberID}
	lost := n.Status == onboarding.NumberStatusDeleted || n.Status == onboarding.NumberStatusOffboarded
	switch {
	case st.Gone || st.Status == "DELETED":
		if !lost {
			return onboarding.NumberDeleted(n.PhoneNumberID, at), true
		}
	case lost:
		// Kapso lists a number this tenant lost: a new connection, which only
		// its own proof (a webhook or the confirmation pass) may record.
	case st.Status == "DISCONNECTED":
		if n.Status == onboarding.NumberStatusConnected {
			return onboarding.NumberDisconnected(n.PhoneNumberID, at), true
		}
	case st.Status == "BANNED":
		if n.Status != onboarding.NumberStatusAccountDisabled {
			return onboarding.AccountDisabled(ref, "", at), true
		}
	case slices.Contains([]string{"RESTRICTED", "RATE_LIMITED", "FLAGGED"}, st.Status):
		if n.Status == onboarding.NumberStatusConnected && !n.Restricted {
			return onboarding.AccountRestricted(ref, "", at), true
		}
	case st.Status == "CONNECTED":
		switch {
		case n.Status == onboarding.NumberStatusAccountDisabled || n.Restricted:
			return onboarding.AccountReinstated(ref, at), true
		case n.Status == onboarding.NumberStatusDisconnected:
			return onboarding.NumberReconnected(n.PhoneNumberID, at), true
		}
	}
	return onboarding.Fact{}, false
}
