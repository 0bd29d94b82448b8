package tenantapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// MaxSendBodyBytes bounds a send request's body: a contacts message with
// every field at Meta's limits fits well inside.
const MaxSendBodyBytes = 64 << 10

// SendAnswer is the answer of POST …/messages.
type SendAnswer struct {
	Message MessageView `json:"message"`
}

// sendMessage serves POST /v1/tenants/{tenant_id}/messages: it checks the
// request, the number and the customer service window, stores the message
// as queued and puts it on the outbound queue. It never calls Kapso: the
// sender does, once. The same Idempotency-Key with the same body answers the
// same message, whatever happened since; with another body, 409.
func (a *API) sendMessage(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, log *slog.Logger) error {
	key := r.Header.Get("Idempotency-Key")
	if !messaging.ValidIdempotencyKey(key) {
		return errs.E(errs.Invalid, fmt.Sprintf("Idempotency-Key: header required, 1 to %d printable ASCII characters",
			messaging.MaxIdempotencyKeyBytes), nil)
	}
	body, err := readBody(r, MaxSendBodyBytes)
	if err != nil {
		return err
	}
	req, err := parseSendRequest(body)
	if err != nil {
		return errs.E(errs.Invalid, err.Error(), err) // an *errs.FieldError, safe to show
	}
	id := messaging.OutboundID(tenantID, key)
	log = log.With("tenant_id", tenantID, "outbound_id", id)
	if stored, ok, err := a.Outbox.Outbound(ctx, tenantID, id); err != nil {
		return storeError(err, "load outbound message")
	} else if ok {
		return a.replay(ctx, w, stored, req.Fingerprint(), log)
	}
	sender, err := a.sendingNumber(ctx, tenantID, req.PhoneNumberID)
	if err != nil {
		return err
	}
	if req.Template != nil {
		if err := a.checkTemplateSend(ctx, tenantID, sender, req.Template); err != nil {
			return err
		}
	}
	number := sender.PhoneNumberID
	contact, known, err := a.recipient(ctx, tenantID, number, req)
	if err != nil {
		return err
	}
	now := a.now()
	if req.FreeForm() && !messaging.InWindow(contact.LastInboundAt, now) {
		msg := "the person has not written in the last 24 hours: only a template may be sent"
		if contact.LastInboundAt.IsZero() {
			msg = "the person has never written to this number: only a template may be sent"
		}
		return errs.E(httpapi.OutsideCustomerServiceWindow, msg, nil)
	}
	var knownPhone string
	if known {
		knownPhone = contact.Person.Phone
	}
	m, err := messaging.NewOutbound(tenantID, key, req, number, knownPhone, now)
	if err != nil {
		return errs.E(errs.Invalid, err.Error(), err)
	}
	tok, _ := access.FromContext(ctx)
	m.ConversationID, m.CreatedBy = contact.ConversationID, tok.Name
	if m.ConversationID == "" {
		m.ConversationID = messaging.MetaConversationID(number, m.To)
	}
	stored, created, err := a.Outbox.CreateOutbound(ctx, m)
	if err != nil {
		return storeError(err, "store outbound message")
	}
	if !created {
		// The same key raced this request and won.
		return a.replay(ctx, w, stored, m.Fingerprint, log)
	}
	if err := a.Outbound.Enqueue(ctx, messaging.OutboundJob{TenantID: tenantID, ID: id}, 0); err != nil {
		// Stored as queued: a retry with the same key queues it again, and
		// the reconciler re-queues a message left queued.
		return errs.E(errs.Unavailable, "the message could not be queued; retry with the same Idempotency-Key", err)
	}
	log.Info("message queued", "phone_number_id", number, "type", m.Type)
	v, err := a.summary(ctx, tenantID, stored.Stored())
	if err != nil {
		return err
	}
	noteResource(ctx, id)
	httpapi.WriteJSON(w, http.StatusAccepted, SendAnswer{Message: v})
	return nil
}

// replay answers a request whose key is stored: the same message as the
// read API shows it now, or 409 for another body. A message still queued
// is queued again, in case the first request stored it and failed to.
func (a *API) replay(ctx context.Context, w http.ResponseWriter, stored messaging.OutboundMessage, fingerprint string, log *slog.Logger) error {
	if stored.Fingerprint != fingerprint {
		return errs.E(errs.Conflict, "Idempotency-Key: already used for another message", nil)
	}
	if stored.State == messaging.OutQueued {
		if err := a.Outbound.Enqueue(ctx, messaging.OutboundJob{TenantID: stored.TenantID, ID: stored.ID}, 0); err != nil {
			return errs.E(errs.Unavailable, "the message could not be queued; retry with the same Idempotency-Key", err)
		}
	}
	view := stored.Stored()
	if m, ok, err := a.Messages.Message(ctx, stored.TenantID, stored.ID); err == nil && ok {
		view = m
	} else if err != nil {
		log.Warn("replay reads the outbound message alone", "err", err)
	}
	v, err := a.summary(ctx, stored.TenantID, view)
	if err != nil {
		return err
	}
	noteResource(ctx, stored.ID)
	w.Header().Set("Idempotent-Replayed", "true")
	httpapi.WriteJSON(w, http.StatusAccepted, SendAnswer{Message: v})
	return nil
}

// sendingNumber is the tenant's connected number to send from: the one
// asked for, or the only one. No Kapso call: the stored connection decides.
func (a *API) sendingNumber(ctx context.Context, tenantID, asked string) (onboarding.PhoneNumber, error) {
	var none onboarding.PhoneNumber
	c, err := a.loadConnection(ctx, tenantID)
	if err != nil {
		return none, err
	}
	var connected []onboarding.PhoneNumber
	for _, n := range c.PhoneNumbers {
		if asked != "" && n.PhoneNumberID == asked {
			if n.Status != onboarding.NumberStatusConnected {
				return none, errs.E(errs.Conflict, fmt.Sprintf("phone_number_id: the number is %s, not connected", n.Status), nil)
			}
			return n, nil
		}
		if n.Status == onboarding.NumberStatusConnected {
			connected = append(connected, n)
		}
	}
	switch {
	case asked != "":
		return none, errs.E(errs.NotFound, "phone_number_id: not a number of this tenant", nil)
	case len(connected) == 0:
		return none, errs.E(errs.Conflict, "the tenant has no connected number", nil)
	case len(connected) > 1:
		return none, errs.E(errs.Invalid, fmt.Sprintf("phone_number_id: required, the tenant has %d connected numbers", len(connected)), nil)
	}
	return connected[0], nil
}

// recipient is the stored contact of the request's recipient on the number,
// which knows when they last wrote, their phone and their conversation.
func (a *API) recipient(ctx context.Context, tenantID, number string, req messaging.OutboundRequest) (messaging.Contact, bool, error) {
	who := req.Recipient
	if who == "" {
		who = req.To
	}
	c, ok, err := a.Messages.Contact(ctx, tenantID, number, who)
	if err != nil {
		return c, false, storeError(err, "load contact")
	}
	return c, ok, nil
}
