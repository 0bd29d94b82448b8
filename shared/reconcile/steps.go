package reconcile

import (
	"context"
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// replayRedirects applies the redirects kept while the lifecycle queue was
// down, oldest first, as the lifecycle worker would have, and drops each
// once applied. A hint that fails is kept for the next run. One that cannot
// be decoded is kept too, and counted as an error on every run, so an
// operator sees it: the redirect handler only keeps messages it encoded,
// so it is a fault to look at, never something to drop silently.
func (r *run) replayRedirects(ctx context.Context) error {
	if r.Hints == nil {
		return nil
	}
	hints, err := r.Hints.Redirects(ctx, r.lim.Items)
	if err != nil {
		return err
	}
	c := &r.rep.Redirects
	for _, h := range hints {
		if r.stopping(ctx) {
			return nil
		}
		c.Checked++
		c.Found++
		d, body, err := envelope.Decode(string(h.Raw))
		if err == nil && (d.Source != envelope.SourceRedirect || d.BodyRef != "") {
			err = fmt.Errorf("%w: a %s delivery kept as a redirect", envelope.ErrMalformed, d.Source)
		}
		if err != nil {
			r.itemFailed(ctx, "kept redirect cannot be read; left in place", err, "id", h.ID,
				"received_at", h.ReceivedAt, "raw", string(h.Raw))
			continue
		}
		// The event the lifecycle worker makes of a redirect delivery.
		ev := envelope.Event{ID: d.EventID(0), Source: d.Source, Name: d.Event, ReceivedAt: d.ReceivedAt, Payload: body}
		if err := r.Confirmer.ApplyEvent(ctx, ev); err != nil {
			r.itemFailed(ctx, "replay kept redirect", err, "id", h.ID)
			continue
		}
		if err := r.Hints.DropRedirect(ctx, h.ID, h.ReceivedAt); err != nil {
			// Applied: the next run applies it again, which changes nothing.
			r.itemFailed(ctx, "drop replayed redirect", err, "id", h.ID)
			continue
		}
		c.Fixed++
	}
	return nil
}

// expireLinks records LinkExpired for active links past their expiry. The
// expiry time is the evidence (Kapso expires links at expires_at itself),
// so no Platform API call is needed.
func (r *run) expireLinks(ctx context.Context) error {
	links, err := r.Store.ActiveLinksExpiredAt(ctx, r.now, r.lim.Items)
	if err != nil {
		return err
	}
	c := &r.rep.ExpiredLinks
	for _, l := range links {
		if r.stopping(ctx) {
			return nil
		}
		c.Checked++
		conn, found, err := r.Store.Load(ctx, l.TenantID)
		if err != nil {
			r.itemFailed(ctx, "load tenant of expired link", err, "setup_link_id", l.SetupLinkID)
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
				r.itemFailed(ctx, "close link", err, "setup_link_id", l.SetupLinkID)
			}
			continue
		}
		c.Found++
		at := a.ExpiresAt
		if at.IsZero() {
			at = l.ExpiresAt
		}
		if _, _, err := r.Store.AppendFact(ctx, l.TenantID, onboarding.LinkExpired(l.SetupLinkID, at)); err != nil {
			r.itemFailed(ctx, "expire link", err, "setup_link_id", l.SetupLinkID)
			continue
		}
		c.Fixed++
	}
	return nil
}

// registerWebhooks retries registration for numbers without a recorded
// webhook; for a number whose registration is recorded in its tenant's facts
// but still listed, that only takes it off the list.
func (r *run) registerWebhooks(ctx context.Context) error {
	items, err := r.Numbers.NumbersMissingWebhook(ctx, r.lim.Items)
	if err != nil {
		return err
	}
	c := &r.rep.MissingWebhooks
	for _, it := range items {
		if r.stopping(ctx) {
			return nil
		}
		c.Checked++
		c.Found++
		if err := r.Confirmer.RegisterWebhook(ctx, it.TenantID, it.PhoneNumberID); err != nil {
			r.itemFailed(ctx, "register webhook", err, "phone_number_id", it.PhoneNumberID)
			continue
		}
		c.Fixed++
	}
	return nil
}
