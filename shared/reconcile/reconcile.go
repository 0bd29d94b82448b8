// Package reconcile catches up with what deliveries can miss: browser
// redirects kept in the store while the lifecycle queue was down, setup
// links that expired without an outcome, connections the browser reported but no
// webhook confirmed, and numbers whose webhook is not recorded. It finds its
// work only in the stores' bounded lists (index queries on the bridge table,
// never scans), and bounds its work per run.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Store is what the reconciler needs of the onboarding store (onboarding.Store).
type Store interface {
	ActiveLinksExpiredAt(ctx context.Context, now time.Time, limit int) ([]onboarding.LinkRef, error)
	TenantsWithStatus(ctx context.Context, status onboarding.TenantStatus, limit int) ([]onboarding.TenantRef, error)
	ListTenants(ctx context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error)
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
	AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error)
	CloseLink(ctx context.Context, setupLinkID string, status onboarding.AttemptStatus) error
}

// Checkpoints keep a sweep's position between runs (dynamo.Checkpoints).
type Checkpoints interface {
	Checkpoint(ctx context.Context, name string) (string, error)
	SaveCheckpoint(ctx context.Context, name, position string) error
}

// NumberList lists the numbers whose webhook is not recorded (onboarding.NumberStore).
type NumberList interface {
	NumbersMissingWebhook(ctx context.Context, limit int) ([]onboarding.Number, error)
}

// KapsoClient is the part of the Platform API the reconciler calls (*kapsoapi.Client).
type KapsoClient interface {
	ListPhoneNumbers(ctx context.Context, customerID string) ([]kapsoapi.PhoneNumber, error)
}

// Confirmer records API confirmations and registers webhooks the way the
// lifecycle worker does (*lifecycle.Worker).
type Confirmer interface {
	ConfirmFromAPI(ctx context.Context, tenantID string, n kapsoapi.PhoneNumber, setupLinkID string) error
	RegisterWebhook(ctx context.Context, tenantID, phoneNumberID string) error
	// CorrectNumber records what the Platform API shows of a number when the
	// stored state disagrees; changed says whether it did.
	CorrectNumber(ctx context.Context, tenantID, phoneNumberID string) (changed bool, err error)
	// ApplyEvent applies an event as the lifecycle queue's worker does; one
	// that can never be applied is kept aside and is not an error.
	ApplyEvent(ctx context.Context, ev envelope.Event) error
}

// Reconciler runs one reconciliation pass per Run.
type Reconciler struct {
	Store     Store
	Numbers   NumberList
	Kapso     KapsoClient
	Confirmer Confirmer
	// Hints, when set, are the redirects the lifecycle queue could not
	// take, replayed first.
	Hints onboarding.RedirectHints
	// Checkpoints, when set, keep where the number check stopped, so the
	// next run goes on from there.
	Checkpoints Checkpoints
	Log         *slog.Logger
	Now         func() time.Time
	// Limit bounds the items of each kind handled per run (default 100).
	Limit int
}

// Report counts what a run did.
type Report struct {
	RedirectsReplayed int  `json:"redirects_replayed"`
	LinksExpired      int  `json:"links_expired"`
	LinksClosed       int  `json:"links_closed"`
	TenantsChecked    int  `json:"tenants_checked"`
	NumbersConfirmed  int  `json:"numbers_confirmed"`
	WebhooksChecked   int  `json:"webhooks_checked"`
	NumbersChecked    int  `json:"numbers_checked"`
	NumbersCorrected  int  `json:"numbers_corrected"`
	Errors            int  `json:"errors"`
	StoppedByDeadline bool `json:"stopped_by_deadline"`
}

// Run does one pass. Failures of single items are logged and counted, and
// the pass goes on; the error reports only a pass that could not read its
// work lists. It stops early, with what it did so far, when ctx is about to end.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	var rep Report
	var errList []error
	steps := []func(context.Context, *Report) error{r.replayRedirects, r.expireLinks, r.confirmTenants, r.registerWebhooks, r.correctNumbers}
	for _, step := range steps {
		if r.outOfTime(ctx) {
			rep.StoppedByDeadline = true
			break
		}
		if err := step(ctx, &rep); err != nil {
			errList = append(errList, err)
		}
	}
	r.logger().Info("reconciliation done", "redirects_replayed", rep.RedirectsReplayed, "links_expired", rep.LinksExpired, "links_closed", rep.LinksClosed,
		"tenants_checked", rep.TenantsChecked, "numbers_confirmed", rep.NumbersConfirmed,
		"webhooks_checked", rep.WebhooksChecked, "numbers_checked", rep.NumbersChecked,
		"numbers_corrected", rep.NumbersCorrected, "errors", rep.Errors, "stopped_by_deadline", rep.StoppedByDeadline)
	return rep, errors.Join(errList...)
}

// outOfTime leaves a margin so a started item can finish before the deadline.
func (r *Reconciler) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 2*time.Second
}

func (r *Reconciler) itemFailed(rep *Report, msg string, err error, attrs ...any) {
	rep.Errors++
	r.logger().Error(msg, append(attrs, "err", err.Error())...)
}

// replayRedirects applies the redirects kept while the lifecycle queue was
// down, oldest first, as the lifecycle worker would have, and drops each
// once applied. A hint that fails is kept for the next run. One that cannot
// be decoded is kept too, and counted as an error on every run, so an
// operator sees it: the redirect handler only keeps messages it encoded,
// so it is a fault to look at, never something to drop silently.
func (r *Reconciler) replayRedirects(ctx context.Context, rep *Report) error {
	if r.Hints == nil {
		return nil
	}
	hints, err := r.Hints.Redirects(ctx, r.limit())
	if err != nil {
		return err
	}
	for _, h := range hints {
		if r.outOfTime(ctx) {
			rep.StoppedByDeadline = true
			return nil
		}
		d, body, err := envelope.Decode(string(h.Raw))
		if err == nil && (d.Source != envelope.SourceRedirect || d.BodyRef != "") {
			err = fmt.Errorf("%w: a %s delivery kept as a redirect", envelope.ErrMalformed, d.Source)
		}
		if err != nil {
			r.itemFailed(rep, "kept redirect cannot be read; left in place", err, "id", h.ID,
				"received_at", h.ReceivedAt, "raw", string(h.Raw))
			continue
		}
		// The event the lifecycle worker makes of a redirect delivery.
		ev := envelope.Event{ID: d.EventID(0), Source: d.Source, Name: d.Event, ReceivedAt: d.ReceivedAt, Payload: body}
		if err := r.Confirmer.ApplyEvent(ctx, ev); err != nil {
			r.itemFailed(rep, "replay kept redirect", err, "id", h.ID)
			continue
		}
		if err := r.Hints.DropRedirect(ctx, h.ID, h.ReceivedAt); err != nil {
			// Applied: the next run applies it again, which changes nothing.
			r.itemFailed(rep, "drop replayed redirect", err, "id", h.ID)
			continue
		}
		rep.RedirectsReplayed++
	}
	return nil
}

// expireLinks records LinkExpired for active links past their expiry. The
// expiry time is the evidence (Kapso expires links at expires_at itself),
// so no Platform API call is needed.
func (r *Reconciler) expireLinks(ctx context.Context, rep *Report) error {
	now := r.now()
	links, err := r.Store.ActiveLinksExpiredAt(ctx, now, r.limit())
	if err != nil {
		return err
	}
	for _, l := range links {
		if r.outOfTime(ctx) {
			rep.StoppedByDeadline = true
			return nil
		}
		conn, found, err := r.Store.Load(ctx, l.TenantID)
		if err != nil {
			r.itemFailed(rep, "load tenant of expired link", err, "setup_link_id", l.SetupLinkID)
			continue
		}
		a, ok := conn.Attempt(l.SetupLinkID)
		if !found || !ok || a.Status != onboarding.AttemptActive {
			// The index is behind the facts (an outcome was recorded): tidy it.
			status := onboarding.AttemptStatus("closed")
			if ok {
				status = a.Status
			}
			if err := r.Store.CloseLink(ctx, l.SetupLinkID, status); err != nil {
				r.itemFailed(rep, "close link", err, "setup_link_id", l.SetupLinkID)
				continue
			}
			rep.LinksClosed++
			continue
		}
		at := a.ExpiresAt
		if at.IsZero() {
			at = l.ExpiresAt
		}
		if _, _, err := r.Store.AppendFact(ctx, l.TenantID, onboarding.LinkExpired(l.SetupLinkID, at)); err != nil {
			r.itemFailed(rep, "expire link", err, "setup_link_id", l.SetupLinkID)
			continue
		}
		rep.LinksExpired++
	}
	return nil
}

// confirmTenants asks the Platform API about tenants that are waiting for a
// confirmation (or have an open link): a number Kapso lists under their
// customer that is not yet connected here is confirmed by the API.
func (r *Reconciler) confirmTenants(ctx context.Context, rep *Report) error {
	var errList []error
	for _, status := range []onboarding.TenantStatus{onboarding.TenantAwaitingConfirmation, onboarding.TenantLinkActive} {
		tenants, err := r.Store.TenantsWithStatus(ctx, status, r.limit())
		if err != nil {
			errList = append(errList, err)
			continue
		}
		for _, t := range tenants {
			if r.outOfTime(ctx) {
				rep.StoppedByDeadline = true
				return errors.Join(errList...)
			}
			rep.TenantsChecked++
			if err := r.confirmTenant(ctx, t.TenantID, rep); err != nil {
				r.itemFailed(rep, "confirm tenant", err, "tenant_id", t.TenantID)
			}
		}
	}
	return errors.Join(errList...)
}

func (r *Reconciler) confirmTenant(ctx context.Context, tenantID string, rep *Report) error {
	conn, found, err := r.Store.Load(ctx, tenantID)
	if err != nil || !found || conn.Tenant.KapsoCustomerID == "" {
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
		if err := r.Confirmer.ConfirmFromAPI(ctx, tenantID, n, linkFor(conn, n.PhoneNumberID)); err != nil {
			return fmt.Errorf("confirm number %s: %w", n.PhoneNumberID, err)
		}
		rep.NumbersConfirmed++
	}
	return nil
}

// gone: Kapso lists a number that is no longer usable.
func gone(status string) bool {
	return slices.Contains([]string{"deleted", "disconnected", "offboarded", "banned"}, strings.ToLower(status))
}

// linkFor is the attempt a number came through: the one whose trusted
// success redirect named it, else the newest attempt still open or awaiting
// confirmation, else none.
func linkFor(conn onboarding.Connection, phoneNumberID string) string {
	for _, a := range slices.Backward(conn.Attempts) {
		if a.Redirect != nil && a.Redirect.PhoneNumberID == phoneNumberID && !a.Redirect.Suspicious {
			return a.SetupLinkID
		}
	}
	if a := conn.NewestAttempt(); a != nil &&
		(a.Status == onboarding.AttemptActive || a.Status == onboarding.AttemptRedirectedSuccess) {
		return a.SetupLinkID
	}
	return ""
}

// registerWebhooks retries registration for numbers without a recorded
// webhook; for a number whose registration is recorded in its tenant's facts
// but still listed, that only takes it off the list.
func (r *Reconciler) registerWebhooks(ctx context.Context, rep *Report) error {
	items, err := r.Numbers.NumbersMissingWebhook(ctx, r.limit())
	if err != nil {
		return err
	}
	for _, it := range items {
		if r.outOfTime(ctx) {
			rep.StoppedByDeadline = true
			return nil
		}
		rep.WebhooksChecked++
		if err := r.Confirmer.RegisterWebhook(ctx, it.TenantID, it.PhoneNumberID); err != nil {
			r.itemFailed(rep, "register webhook", err, "phone_number_id", it.PhoneNumberID)
		}
	}
	return nil
}

// numberStatuses are the tenant statuses whose numbers Kapso may have
// changed without kapso-bridge hearing of it (a lost or forged webhook).
var numberStatuses = []onboarding.TenantStatus{onboarding.TenantConnected, onboarding.TenantRestricted,
	onboarding.TenantDisabled, onboarding.TenantReconnectRequired, onboarding.TenantDisconnected}

// correctNumbers checks the numbers of connected (or once connected)
// tenants against the Platform API and records what it shows where the
// stored state disagrees. Each status is swept in pages from where the last
// run stopped (a checkpoint per status), so every tenant's turn comes even
// when a run checks only Limit numbers; a sweep that reaches the end starts
// over. The budget is counted in numbers and may be overrun by the numbers
// of the tenant in hand, so that no tenant is checked by halves.
func (r *Reconciler) correctNumbers(ctx context.Context, rep *Report) error {
	var errList []error
	budget := r.limit()
	for _, status := range numberStatuses {
		name := "numbers:" + string(status)
		cursor, err := r.checkpoint(ctx, name)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		q := onboarding.TenantQuery{Status: status, Now: r.now(), Limit: r.limit(), Cursor: cursor}
		tenants, next, err := r.Store.ListTenants(ctx, q)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		for _, t := range tenants {
			if budget <= 0 {
				return errors.Join(append(errList, r.saveCheckpoint(ctx, name, cursor))...)
			}
			if r.outOfTime(ctx) {
				rep.StoppedByDeadline = true
				return errors.Join(append(errList, r.saveCheckpoint(ctx, name, cursor))...)
			}
			budget -= r.correctTenant(ctx, t.TenantID, rep)
			cursor = q.CursorAfter(t)
		}
		if err := r.saveCheckpoint(ctx, name, next); err != nil {
			errList = append(errList, err)
		}
	}
	return errors.Join(errList...)
}

// correctTenant checks each confirmed number of the tenant and returns how
// many it checked.
func (r *Reconciler) correctTenant(ctx context.Context, tenantID string, rep *Report) int {
	conn, found, err := r.Store.Load(ctx, tenantID)
	if err != nil {
		r.itemFailed(rep, "load tenant to check its numbers", err, "tenant_id", tenantID)
		return 1
	}
	checked := 0
	for _, n := range conn.PhoneNumbers {
		if !found || n.Status == onboarding.NumberStatusUnconfirmed {
			continue
		}
		checked++
		rep.NumbersChecked++
		changed, err := r.Confirmer.CorrectNumber(ctx, tenantID, n.PhoneNumberID)
		if err != nil {
			r.itemFailed(rep, "check number", err, "tenant_id", tenantID, "phone_number_id", n.PhoneNumberID)
			continue
		}
		if changed {
			rep.NumbersCorrected++
		}
	}
	return checked
}

// checkpoint is where the sweep name stopped; "" without a checkpoint store.
func (r *Reconciler) checkpoint(ctx context.Context, name string) (string, error) {
	if r.Checkpoints == nil {
		return "", nil
	}
	return r.Checkpoints.Checkpoint(ctx, name)
}

func (r *Reconciler) saveCheckpoint(ctx context.Context, name, position string) error {
	if r.Checkpoints == nil {
		return nil
	}
	return r.Checkpoints.SaveCheckpoint(ctx, name, position)
}

func (r *Reconciler) limit() int {
	if r.Limit <= 0 {
		return 100
	}
	return r.Limit
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
