// Package lifecycle is the worker behind the lifecycle queue: it turns
// project webhooks (numbers connected, disconnected, accounts restricted…)
// and browser redirects into onboarding facts, checks redirects against the
// Platform API, and registers each connected number's own webhook.
package lifecycleworker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/shared/delivery"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdasqs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Store is what the worker needs of the onboarding store (onboarding.Store).
type Store interface {
	AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error)
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
	TenantOfCustomer(ctx context.Context, customerID string) (string, bool, error)
	KeepOrphan(ctx context.Context, customerID, eventID string, receivedAt time.Time, envelopeJSON []byte) error
}

// NumberStore is what the worker needs of the number store
// (onboarding.NumberStore): numbers' tenants, and their webhooks'
// registration and secrets, which the ingest reads from the same store.
type NumberStore interface {
	AddNumber(ctx context.Context, tenantID, phoneNumberID string) error
	TenantOfPhoneNumber(ctx context.Context, phoneNumberID string) (string, bool, error)
	ClaimWebhookRegistration(ctx context.Context, phoneNumberID string, lease time.Duration) (onboarding.Number, string, bool, error)
	ReleaseWebhookRegistration(ctx context.Context, phoneNumberID, token string) error
	WebhookRecorded(ctx context.Context, phoneNumberID string) error
	PutSecret(ctx context.Context, phoneNumberID, secret string) error
	Secret(ctx context.Context, phoneNumberID string) (string, error)
}

// KapsoClient is the part of the Platform API the worker calls
// (kapsoapi.Client): numbers and their webhooks, in onboarding's terms. A
// number Kapso does not have is errs.NotFound.
type KapsoClient interface {
	ListPhoneNumbers(ctx context.Context, customerID string) ([]onboarding.KapsoNumber, error)
	GetPhoneNumber(ctx context.Context, phoneNumberID string) (onboarding.KapsoNumber, error)
	ListWebhooks(ctx context.Context, phoneNumberID string) ([]onboarding.NumberWebhook, error)
	CreateWebhook(ctx context.Context, phoneNumberID string, r onboarding.WebhookRegistration) (onboarding.NumberWebhook, error)
	UpdateWebhook(ctx context.Context, phoneNumberID, webhookID string, c onboarding.WebhookChange) (onboarding.NumberWebhook, error)
}

// PayloadStore loads bodies stored aside (dynamo.Payloads).
type PayloadStore = envelope.PayloadStore

// RejectStore keeps what can never be applied, with the reason, where an
// operator sees it (dynamo.Rejects).
type RejectStore = envelope.RejectStore

// ConnectionListener is told when a number is recorded as a tenant's, so
// that the events kept for the number until then are applied (the messages
// queue, through an adapter).
type ConnectionListener interface {
	NumberConnected(ctx context.Context, phoneNumberID string) error
}

// Worker handles lifecycle queue batches.
type Worker struct {
	Store    Store
	Numbers  NumberStore
	Kapso    KapsoClient
	Payloads PayloadStore
	Rejects  RejectStore
	// Connected, when set, is told of every number confirmed as a tenant's.
	Connected ConnectionListener
	// PublicBaseURL is where Kapso reaches kapso-bridge; numbers' webhooks
	// point at routes.NumberWebhookURL(PublicBaseURL, id).
	PublicBaseURL string
	Log           *slog.Logger
	Now           func() time.Time
	// NewSecret makes a webhook secret; default 32 random bytes in hex.
	NewSecret func() string
	// RegistrationWait is how long a worker waits for another one's
	// registration of the same number before failing its message
	// (default 3 s).
	RegistrationWait time.Duration
}

// NumberWebhookEvents are the events a number's webhook subscribes to.
var NumberWebhookEvents = []string{
	kapso.EventMessageReceived, kapso.EventMessageSent, kapso.EventMessageDelivered, kapso.EventMessageRead,
	kapso.EventMessageFailed, kapso.EventConversationCreated, kapso.EventConversationEnded,
	kapso.EventConversationInactive, kapso.EventContactIdentityChanged, kapso.EventContactMarketingPreference,
}

const registrationLease = 20 * time.Second

// Handle processes a batch and reports the messages that failed, so SQS
// retries only those (and moves them to the DLQ after its receive limit).
//
// The messages are handled one after the other, unlike the other queues':
// a batch often holds several events of one number (its connection, its
// phone number, the browser's redirect), and at once they would contend
// for the number's registration lease, the losers failing their messages
// after RegistrationWait; and the function's concurrency, kept low, is
// then the bound on Kapso calls made at once.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	return lambdasqs.InOrder(ctx, batch, w.handleMessage, func(msg events.SQSMessage, err error) {
		w.logger().Error("lifecycle message failed", "message_id", msg.MessageId, "err", err.Error())
	}), nil
}

// errUnusable marks an event that can never be applied, however often it
// is retried: it is kept aside with its reason instead of failing its message.
var errUnusable = errors.New("event can never be applied")

// errNotOnboarding: an event onboarding has no use for.
var errNotOnboarding = errors.New("not an onboarding event")

// handleMessage applies every event of one delivery. An event that can never
// be applied is kept aside and does not hold up the others; a transient
// failure fails the message, so SQS delivers it again, and the events already
// applied change nothing the second time.
func (w *Worker) handleMessage(ctx context.Context, msg events.SQSMessage) error {
	d, body, ok, err := w.intake().Open(ctx, msg)
	if !ok {
		return err
	}
	evs, err := deliveryEvents(d, body)
	if err != nil {
		return w.intake().KeepAside(ctx, d.Key, delivery.Unusable, err.Error(), d.ReceivedAt, body)
	}
	var failed error
	for _, ev := range evs {
		if err := w.ApplyEvent(ctx, ev); err != nil {
			failed = errors.Join(failed, fmt.Errorf("event %s (%s): %w", ev.ID, ev.Name, err))
		}
	}
	return failed
}

// ApplyEvent applies one event as a queue message's events are applied: one
// that can never be applied is kept aside with its reason and is done with;
// only a transient failure (or a failure to keep it aside) is an error.
// The reconciler replays kept redirects through it.
func (w *Worker) ApplyEvent(ctx context.Context, ev envelope.Event) error {
	err := w.HandleEvent(ctx, ev)
	if errors.Is(err, errUnusable) || errors.Is(err, kapso.ErrMalformed) {
		raw, _ := json.Marshal(ev)
		return w.intake().KeepAside(ctx, ev.ID, delivery.Unusable, ev.Name+": "+err.Error(), ev.ReceivedAt, raw)
	}
	return err
}

// deliveryEvents splits a lifecycle delivery into its events.
func deliveryEvents(d envelope.Delivery, body []byte) ([]envelope.Event, error) {
	switch d.Source {
	case envelope.SourceRedirect:
		return []envelope.Event{{ID: d.EventID(0), Source: d.Source, Name: d.Event, ReceivedAt: d.ReceivedAt,
			Payload: body}}, nil
	case envelope.SourceKapsoProject:
		items, err := kapso.Split(d.Event, body)
		if err != nil {
			return nil, err
		}
		evs := make([]envelope.Event, len(items))
		for i, it := range items {
			evs[i] = envelope.Event{ID: d.EventID(i), Source: d.Source, Name: it.Name, PhoneNumberID: it.PhoneNumberID,
				DeliveryKey: d.IdempotencyKey, ReceivedAt: d.ReceivedAt, Payload: it.Payload}
		}
		return evs, nil
	}
	return nil, fmt.Errorf("%w: a %s delivery on the lifecycle queue", errUnusable, d.Source)
}

// intake opens the queue's deliveries and keeps aside what can never be
// applied. Everything kept aside here is unusable, so its reason is its
// error's text alone; each is logged as an error, for a person to look at.
func (w *Worker) intake() delivery.Intake {
	return delivery.Intake{Payloads: w.Payloads, Rejects: w.Rejects, Log: w.logger(), Level: slog.LevelError}
}

// HandleEvent applies one event. It is idempotent: facts dedupe on their
// natural keys, and a repeat with a new delivery key but the same content is
// recognised as already known.
func (w *Worker) HandleEvent(ctx context.Context, ev envelope.Event) error {
	log := w.logger().With("event_id", ev.ID, "event", ev.Name)
	err := errNotOnboarding
	switch {
	case kapso.IsConnectionCreated(ev.Name):
		err = w.connectionCreated(ctx, ev, log)
	case kapso.IsPhoneNumberLifecycle(ev.Name):
		err = w.numberLifecycle(ctx, ev, log)
	case ev.Name == onboarding.EventRedirectSuccess || ev.Name == onboarding.EventRedirectFailure:
		err = w.redirect(ctx, ev, log)
	}
	if errors.Is(err, onboarding.ErrTenantDeleting) || errors.Is(err, onboarding.ErrNumberOffboarded) {
		// Nothing is recorded for a tenant being deleted: gone means gone.
		log.Info("event for a tenant being offboarded; dropped", "err", err.Error())
		return nil
	}
	if err != errNotOnboarding {
		return err
	}
	// Workflow, project and agent events carry nothing about connections;
	// the ingest already accepted them, so they are acknowledged here.
	log.Info("lifecycle event not used by onboarding; acknowledged", "source", string(ev.Source))
	return nil
}

// keepOrphan keeps an event for a customer no tenant owns, for support.
func (w *Worker) keepOrphan(ctx context.Context, ev envelope.Event, customerID string, log *slog.Logger) error {
	if customerID == "" {
		customerID = "unknown"
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode orphan event: %w", err)
	}
	if err := w.Store.KeepOrphan(ctx, customerID, ev.ID, ev.ReceivedAt, body); err != nil {
		return err
	}
	log.Warn("event for a Kapso customer no tenant owns; kept aside", "kapso_customer_id", customerID,
		"phone_number_id", ev.PhoneNumberID)
	return nil
}

// load reads the tenant's connection; a tenant that does not exist is an error.
func (w *Worker) load(ctx context.Context, tenantID string) (onboarding.Connection, error) {
	conn, found, err := w.Store.Load(ctx, tenantID)
	if err != nil {
		return onboarding.Connection{}, err
	}
	if !found {
		return onboarding.Connection{}, fmt.Errorf("tenant %s: %w", tenantID, onboarding.ErrTenantNotFound)
	}
	if conn.Tenant.Status == onboarding.TenantDeleting {
		return onboarding.Connection{}, fmt.Errorf("tenant %s: %w", tenantID, onboarding.ErrTenantDeleting)
	}
	return conn, nil
}

// appendNew appends f to conn's tenant unless conn already holds the same
// fact under another time (Connection.AlreadyKnows), and returns the
// connection after it. conn is the tenant's connection as this event loaded it.
func (w *Worker) appendNew(ctx context.Context, conn onboarding.Connection, f onboarding.Fact, log *slog.Logger) (onboarding.Connection, error) {
	tenantID := conn.Tenant.ID
	if conn.AlreadyKnows(f) {
		log.Info("fact already known", "tenant_id", tenantID, "kind", string(f.Kind))
		return conn, nil
	}
	next, change, err := w.Store.AppendFact(ctx, tenantID, f)
	if err != nil {
		return conn, err
	}
	if change.Rejected != nil {
		return conn, fmt.Errorf("%w: fact refused: %w", errUnusable, change.Rejected)
	}
	log.Info("fact recorded", "tenant_id", tenantID, "kind", string(f.Kind), "duplicate", change.Duplicate,
		"status_from", string(change.TenantStatusFrom), "status_to", string(change.TenantStatusTo))
	return next, nil
}

func (w *Worker) logger() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

func (w *Worker) newSecret() string {
	if w.NewSecret != nil {
		return w.NewSecret()
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func receivedAt(ev envelope.Event, now time.Time) time.Time {
	if ev.ReceivedAt.IsZero() {
		return now
	}
	return ev.ReceivedAt
}
