// Package messages is the worker behind the messages queue: it splits each
// delivery of a number's webhook (Kapso or Meta format) into its events and
// stores the messages, statuses, conversations and contacts they carry for
// the number's tenant. Events of a number no tenant owns yet are kept until
// it connects; events naming another number are kept aside as suspicious.
package messagesworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/delivery"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdasqs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Numbers maps a number to its tenant (onboarding.NumberStore). The read is
// strongly consistent: a number's connection must be seen by the check that
// follows keeping one of its events.
type Numbers interface {
	TenantOfPhoneNumber(ctx context.Context, phoneNumberID string) (string, bool, error)
}

// PayloadStore loads bodies stored aside (dynamo.Payloads).
type PayloadStore = envelope.PayloadStore

// RejectStore keeps what is applied to no one, with the reason, where an
// operator sees it (dynamo.Rejects): malformed events, suspicious ones,
// and events kapso-bridge has no use for yet.
type RejectStore = envelope.RejectStore

// Worker handles messages queue batches.
type Worker struct {
	Store    messaging.Store
	Pending  messaging.PendingStore
	Numbers  Numbers
	Payloads PayloadStore
	Rejects  RejectStore
	Log      *slog.Logger
	Now      func() time.Time
	// Concurrency bounds the events of one batch applied at once
	// (default 16).
	Concurrency int
	// TenantTTL is how long a number's tenant is remembered (default 30 s):
	// most deliveries then cost no lookup.
	TenantTTL time.Duration

	mu      sync.Mutex
	tenants map[string]cachedTenant
}

type cachedTenant struct {
	id    string
	until time.Time
}

// Handle processes a batch and reports the messages that failed, so SQS
// retries only those (and moves them to the DLQ after its receive limit).
// Messages and their events are applied concurrently: every store write is
// idempotent and order-independent.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	lim := newLimiter(w.concurrency())
	return lambdasqs.Concurrently(ctx, batch, func(ctx context.Context, msg events.SQSMessage) error {
		return w.handleMessage(ctx, msg, lim)
	}, func(msg events.SQSMessage, err error) {
		w.logger().Error("messages queue message failed", "message_id", msg.MessageId, "err", err.Error())
	}), nil
}

// handleMessage applies every event of one delivery. An event that can
// never be applied is kept aside and does not hold up the others; a
// transient failure fails the message, so SQS delivers it again, and the
// events already applied change nothing the second time.
func (w *Worker) handleMessage(ctx context.Context, msg events.SQSMessage, lim limiter) error {
	d, body, ok, err := w.intake().Open(ctx, msg)
	if !ok {
		return err
	}
	if d.Source == envelope.SourceNumberConnected {
		return w.drain(ctx, d.PhoneNumberID, lim)
	}
	evs, err := deliveryEvents(d, body)
	if err != nil {
		return w.intake().KeepAside(ctx, d.Key, delivery.Unusable, err.Error(), d.ReceivedAt, body)
	}
	return lim.each(len(evs), func(i int) error { return w.handleEvent(ctx, evs[i]) })
}

// handleEvent applies the trust rule, then applies the event to the
// number's tenant, or keeps it until the number has one.
func (w *Worker) handleEvent(ctx context.Context, ev event) error {
	number, err := messaging.ResolveNumber(ev.PhoneNumberID, ev.named)
	if err != nil {
		return w.keepEvent(ctx, ev, delivery.Suspicious, err.Error()+
			fmt.Sprintf(" (webhook of %q, event names %q)", ev.PhoneNumberID, ev.named))
	}
	tenant, ok, err := w.tenantOf(ctx, number, true)
	if errors.Is(err, onboarding.ErrNumberOffboarded) {
		// Its tenant is being deleted: nothing more is kept of it.
		w.logger().Info("event for a number being offboarded; dropped", "event_id", ev.ID, "phone_number_id", number)
		return nil
	}
	if err != nil {
		return err
	}
	if !ok {
		return w.keepPending(ctx, number, ev)
	}
	return w.applyOrKeep(ctx, tenant, number, ev)
}

// applyOrKeep applies ev; an event that can never be applied, or one
// kapso-bridge has no use for, is kept aside instead, and only a failure to
// keep it is returned.
func (w *Worker) applyOrKeep(ctx context.Context, tenant, number string, ev event) error {
	err := w.apply(messaging.WithOrigin(ctx, originOf(ev.Source)), tenant, number, ev)
	var unused errUnused
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unused):
		w.logger().Info("event kept, not applied", "event_id", ev.ID, "event", ev.Name, "reason", unused.reason)
		return w.keepEvent(ctx, ev, delivery.Unhandled, unused.reason)
	case errors.Is(err, messaging.ErrForeignNumber), errors.Is(err, messaging.ErrAhead):
		return w.keepEvent(ctx, ev, delivery.Suspicious, err.Error())
	case unusable(err):
		return w.keepEvent(ctx, ev, delivery.Unusable, err.Error())
	}
	return fmt.Errorf("apply %s (%s) for tenant %s: %w", ev.ID, ev.Name, tenant, err)
}

// originOf is what made the changes an event of a delivery from source
// brings: the reconciler's catch-up, or a webhook (an event kept until its
// number connected still came from one).
func originOf(source envelope.Source) messaging.Origin {
	if source == envelope.SourceReconciler {
		return messaging.OriginReconciler
	}
	return messaging.OriginWebhook
}

// keepPending keeps an event of a number without a tenant. The number may
// connect between the lookup and the keeping, and the connection drains
// what was kept before it: so the owner is looked up again, bypassing the
// cache, and if there is one now the event is applied here.
func (w *Worker) keepPending(ctx context.Context, number string, ev event) error {
	raw, err := ev.marshal()
	if err != nil {
		return fmt.Errorf("encode pending %s: %w", ev.ID, err)
	}
	if err := w.Pending.KeepPending(ctx, number, ev.ID, ev.ReceivedAt, raw); err != nil {
		if unusable(err) {
			// Too large to keep, or refused by the store: it could never
			// be applied either.
			return w.keepEvent(ctx, ev, delivery.Unusable, err.Error())
		}
		return fmt.Errorf("keep %s for number %s: %w", ev.ID, number, err)
	}
	tenant, ok, err := w.tenantOf(ctx, number, false)
	if err != nil {
		return err
	}
	if !ok {
		w.logger().Info("event kept until its number connects", "event_id", ev.ID, "event", ev.Name,
			"phone_number_id", number)
		return nil
	}
	if err := w.applyOrKeep(ctx, tenant, number, ev); err != nil {
		return err
	}
	return w.Pending.DropPending(ctx, number, ev.ID)
}

// drain applies the events kept for a number that now has a tenant, page
// by page, dropping each once applied. A failure leaves the rest kept and
// fails the trigger, so SQS delivers it again.
func (w *Worker) drain(ctx context.Context, number string, lim limiter) error {
	tenant, ok, err := w.tenantOf(ctx, number, false)
	if err != nil {
		return err
	}
	if !ok {
		w.logger().Warn("number connected without a tenant; its kept events stay", "phone_number_id", number)
		return nil
	}
	applied := 0
	for after := ""; ; {
		page, err := w.Pending.Pending(ctx, number, after, drainPage)
		if err != nil {
			return fmt.Errorf("list events kept for %s: %w", number, err)
		}
		if len(page) == 0 {
			if applied > 0 {
				w.logger().Info("kept events applied", "phone_number_id", number, "tenant_id", tenant, "events", applied)
			}
			return nil
		}
		err = lim.each(len(page), func(i int) error {
			p := page[i]
			ev, err := unmarshalEvent(p.Raw)
			if err != nil {
				err = w.intake().KeepAside(ctx, p.ID, delivery.Unusable, "kept event: "+err.Error(), p.ReceivedAt, p.Raw)
			} else {
				err = w.applyOrKeep(ctx, tenant, number, ev)
			}
			if err != nil {
				return err
			}
			return w.Pending.DropPending(ctx, number, p.ID)
		})
		if err != nil {
			return err
		}
		applied += len(page)
		after = page[len(page)-1].ID
	}
}

const drainPage = 100

// tenantOf is the number's tenant, from the cache when cached is true.
// Only owned numbers are cached: a number that connects is seen at once.
func (w *Worker) tenantOf(ctx context.Context, number string, cached bool) (string, bool, error) {
	now := w.now()
	if cached {
		w.mu.Lock()
		c, ok := w.tenants[number]
		w.mu.Unlock()
		if ok && now.Before(c.until) {
			return c.id, true, nil
		}
	}
	id, ok, err := w.Numbers.TenantOfPhoneNumber(ctx, number)
	if err != nil {
		return "", false, fmt.Errorf("tenant of number %s: %w", number, err)
	}
	if ok {
		w.mu.Lock()
		if w.tenants == nil {
			w.tenants = map[string]cachedTenant{}
		}
		w.tenants[number] = cachedTenant{id: id, until: now.Add(w.tenantTTL())}
		w.mu.Unlock()
	}
	return id, ok, nil
}

// keepEvent keeps ev aside with its reason.
func (w *Worker) keepEvent(ctx context.Context, ev event, kind delivery.Kind, reason string) error {
	raw, err := ev.marshal()
	if err != nil {
		return fmt.Errorf("encode %s: %w", ev.ID, err)
	}
	return w.intake().KeepAside(ctx, ev.ID, kind, reason, ev.ReceivedAt, raw)
}

// intake opens the queue's deliveries and keeps aside what is applied to
// no one, each reason labelled with its kind.
func (w *Worker) intake() delivery.Intake {
	return delivery.Intake{Payloads: w.Payloads, Rejects: w.Rejects, Log: w.logger(), Level: slog.LevelWarn, Labelled: true}
}

// receivedAt is the time the event's delivery was received, the clock an
// event's own times are judged by: a message replayed from the DLQ days
// later is still judged by when it arrived, not by when it was applied.
// Only an event without one (none should be) falls back to now.
func (w *Worker) receivedAt(ev event) time.Time {
	if !ev.ReceivedAt.IsZero() {
		return ev.ReceivedAt
	}
	return w.now()
}

// deliveryEvents splits a delivery into the events the worker applies.
func deliveryEvents(d envelope.Delivery, body []byte) ([]event, error) {
	base := envelope.Event{Source: d.Source, PhoneNumberID: d.PhoneNumberID, DeliveryKey: d.IdempotencyKey,
		ReceivedAt: d.ReceivedAt}
	if d.PhoneNumberID == "" {
		return nil, fmt.Errorf("a %s delivery without a verified phone number", d.Source)
	}
	switch d.Source {
	// The reconciler's catch-up carries what the Platform API lists for
	// the number, in the shape of the number's own Kapso webhook.
	case envelope.SourceKapsoNumber, envelope.SourceReconciler:
		items, err := kapso.Split(d.Event, body)
		if err != nil {
			return nil, err
		}
		evs := make([]event, len(items))
		for i, it := range items {
			e := base
			e.ID, e.Name, e.Payload = d.EventID(i), it.Name, it.Payload
			evs[i] = event{Event: e, named: it.PhoneNumberID}
		}
		return evs, nil
	case envelope.SourceMeta:
		parts, err := meta.Split(body)
		if err != nil {
			return nil, err
		}
		evs := make([]event, len(parts))
		for i := range parts {
			e := base
			e.ID, e.Name = d.EventID(i), parts[i].Name()
			evs[i] = event{Event: e, named: parts[i].PhoneNumberID, meta: &parts[i]}
		}
		return evs, nil
	}
	return nil, fmt.Errorf("a %s delivery on the messages queue", d.Source)
}

func (w *Worker) logger() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) concurrency() int {
	if w.Concurrency > 0 {
		return w.Concurrency
	}
	return 16
}

func (w *Worker) tenantTTL() time.Duration {
	if w.TenantTTL > 0 {
		return w.TenantTTL
	}
	return 30 * time.Second
}
