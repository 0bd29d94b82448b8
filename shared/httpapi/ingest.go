package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// Enqueuer puts events on a queue and returns once they are all durable.
type Enqueuer interface {
	Send(ctx context.Context, queueURL string, events []envelope.Event) error
}

// Ingest receives Kapso's webhooks. It answers 200 only once every event of
// a delivery is in SQS (or was already), and always within Deadline.
type Ingest struct {
	Claims  idempotency.Store
	Queue   Enqueuer
	Secrets *SecretCache
	// ProjectSecret verifies project webhooks.
	ProjectSecret string
	// MetaAppSecret, when set, verifies Meta's X-Hub-Signature-256 on
	// forwarded Meta payloads that carry it.
	MetaAppSecret     string
	LifecycleQueueURL string
	MessagesQueueURL  string
	// MaxBodyBytes: Meta sends up to 3 MB; the limit is against abuse.
	MaxBodyBytes int64
	// Lease is how long a claim holds off other copies; longer than the
	// whole handler may take, so a live copy is never overtaken.
	Lease time.Duration
	// Deadline bounds the whole request, well under Kapso's 10 s.
	Deadline time.Duration
	Log      *slog.Logger
	Now      func() time.Time
}

// Defaults used when a field is zero.
const (
	DefaultMaxBodyBytes  = 4 << 20
	DefaultIngestLease   = 10 * time.Second
	DefaultIngestTimeout = 7 * time.Second
	maxIdempotencyKeyLen = 256
	// releaseBudget is kept aside from the deadline to release a claim after
	// a failure, so the retry can go through at once.
	releaseBudget = time.Second
)

type route int

const (
	routeProject route = iota
	routeNumber
	routeMeta
)

func (r route) String() string {
	return [...]string{"kapso_project", "kapso_number", "meta"}[r]
}

// Register adds the ingest routes to mux.
func (h *Ingest) Register(mux *http.ServeMux) {
	mux.Handle("POST /webhooks/kapso", h.handler(routeProject))
	mux.Handle("POST /webhooks/kapso/{phone_number_id}", h.handler(routeNumber))
	mux.Handle("POST /webhooks/meta/{phone_number_id}", h.handler(routeMeta))
}

type delivery struct {
	route         route
	phoneNumberID string
	key           string
	bodyHash      string
	events        []envelope.Event
}

// scope is the delivery's key within its route and number: keys of different
// webhooks never collide. It names the claim and prefixes every event ID.
func (d delivery) scope() string {
	return d.route.String() + "#" + d.phoneNumberID + "#" + d.key
}

func (h *Ingest) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.now()
		log := h.logger().With("route", rt.String())
		ctx, cancel := context.WithTimeout(r.Context(), h.deadline()-releaseBudget)
		defer cancel()
		d, err := h.read(ctx, rt, w, r)
		if err != nil {
			WriteError(w, log, err)
			return
		}
		log = log.With("key", d.key, "phone_number_id", d.phoneNumberID, "events", len(d.events))
		outcome, err := h.accept(ctx, d, log)
		if err != nil {
			WriteError(w, log, err, "duration_ms", time.Since(start).Milliseconds())
			return
		}
		log.Info("delivery accepted", "outcome", outcome.String(), "duration_ms", time.Since(start).Milliseconds())
		writeJSON(w, http.StatusOK, map[string]any{"status": "accepted", "events": len(d.events)})
	})
}

// read checks size and signature and splits the body: everything that can
// refuse a delivery without touching state.
func (h *Ingest) read(ctx context.Context, rt route, w http.ResponseWriter, r *http.Request) (delivery, error) {
	d := delivery{route: rt, phoneNumberID: r.PathValue("phone_number_id")}
	if rt != routeProject && !validPathID(d.phoneNumberID) {
		return d, errs.E(errs.NotFound, "unknown phone number", nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody()))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return d, errs.E(errs.TooLarge, fmt.Sprintf("body larger than %d bytes", h.maxBody()), err)
		}
		return d, errs.E(errs.Invalid, "could not read body", err)
	}
	if err := h.verify(ctx, d, r.Header, body); err != nil {
		return d, err
	}
	sum := sha256.Sum256(body)
	d.bodyHash = hex.EncodeToString(sum[:])
	d.key = r.Header.Get("X-Idempotency-Key")
	if d.key == "" {
		d.key = d.bodyHash
	}
	if len(d.key) > maxIdempotencyKeyLen || !printable(d.key) {
		return d, errs.E(errs.Invalid, "bad X-Idempotency-Key", nil)
	}
	d.events, err = h.split(d, r.Header.Get("X-Webhook-Event"), body)
	return d, err
}

func (h *Ingest) verify(ctx context.Context, d delivery, hdr http.Header, body []byte) error {
	unauthorized := errs.E(errs.Unauthorized, "missing or invalid signature", nil)
	kapsoSig := hdr.Get("X-Webhook-Signature")
	if d.route == routeProject {
		if !kapso.VerifySignature(h.ProjectSecret, body, kapsoSig) {
			return unauthorized
		}
		return nil
	}
	metaSig := hdr.Get("X-Hub-Signature-256")
	if d.route == routeMeta && metaSig != "" && h.MetaAppSecret != "" {
		if !meta.VerifySignature(h.MetaAppSecret, body, metaSig) {
			return unauthorized
		}
		if kapsoSig == "" {
			return nil
		}
	}
	if kapsoSig == "" {
		return unauthorized
	}
	secret, err := h.Secrets.Secret(ctx, d.phoneNumberID)
	if err != nil {
		return numberSecretError(err)
	}
	if kapso.VerifySignature(secret, body, kapsoSig) {
		return nil
	}
	// The number's secret may have been rotated since it was cached.
	secret, changed, err := h.Secrets.Refresh(ctx, d.phoneNumberID)
	if err != nil {
		return numberSecretError(err)
	}
	if !changed || !kapso.VerifySignature(secret, body, kapsoSig) {
		return unauthorized
	}
	return nil
}

func numberSecretError(err error) error {
	if errs.CodeOf(err) == errs.NotFound {
		// No secret: nothing can verify this delivery.
		return errs.E(errs.Unauthorized, "missing or invalid signature", err)
	}
	return errs.E(errs.Unavailable, "try again", fmt.Errorf("look up webhook secret: %w", err))
}

func (h *Ingest) split(d delivery, eventHeader string, body []byte) ([]envelope.Event, error) {
	now := h.now().UTC()
	scope := d.scope()
	var events []envelope.Event
	add := func(name, phoneNumberID string, payload []byte, src envelope.Source) {
		if phoneNumberID == "" {
			phoneNumberID = d.phoneNumberID
		}
		events = append(events, envelope.Event{
			ID:            scope + "#" + strconv.Itoa(len(events)),
			Source:        src,
			Name:          name,
			PhoneNumberID: phoneNumberID,
			DeliveryKey:   d.key,
			ReceivedAt:    now,
			Payload:       payload,
		})
	}
	if d.route == routeMeta {
		items, err := meta.Split(body)
		if err != nil {
			return nil, errs.E(errs.Invalid, "body is not a Meta webhook payload", err)
		}
		for _, it := range items {
			add(it.Name, it.PhoneNumberID, it.Payload, envelope.SourceMeta)
		}
		return events, nil
	}
	items, err := kapso.Split(eventHeader, body)
	if err != nil {
		return nil, errs.E(errs.Invalid, "body is not a Kapso webhook payload", err)
	}
	src := envelope.SourceKapsoNumber
	if d.route == routeProject {
		src = envelope.SourceKapsoProject
	}
	for _, it := range items {
		add(it.Name, it.PhoneNumberID, it.Payload, src)
	}
	return events, nil
}

// accept claims the delivery's key, enqueues its events and marks it done.
func (h *Ingest) accept(ctx context.Context, d delivery, log *slog.Logger) (idempotency.Outcome, error) {
	res, err := h.Claims.Claim(ctx, d.scope(), d.bodyHash, h.lease())
	if err != nil {
		return 0, errs.E(errs.Unavailable, "try again", err)
	}
	switch res.Outcome {
	case idempotency.Done:
		return res.Outcome, nil
	case idempotency.InFlight:
		wait := time.Second
		if res.Existing != nil {
			wait = max(wait, res.Existing.LeaseUntil.Sub(h.now()))
		}
		return 0, &errs.Error{Code: errs.InFlight, Message: "this delivery is being processed; retry later", RetryAfter: wait}
	case idempotency.BodyMismatch:
		log.Warn("idempotency key reused with a different body; refused", "body_hash", d.bodyHash)
		return 0, errs.E(errs.Conflict, "idempotency key already used with a different body", nil)
	}

	if err := h.enqueue(ctx, d); err != nil {
		// Give the key back at once so Kapso's retry is not held off by the lease.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseBudget)
		defer cancel()
		if rerr := h.Claims.Release(rctx, res.Claim); rerr != nil {
			log.Error("release claim after failed enqueue; the lease will free it", "err", rerr)
		}
		return 0, errs.E(errs.Unavailable, "try again", err)
	}
	if err := h.Claims.Accept(ctx, res.Claim, len(d.events)); err != nil {
		// The events are durable: 200 is true. A later copy may enqueue them
		// again, which the workers absorb through their natural keys.
		log.Error("mark delivery accepted", "err", err)
	}
	return res.Outcome, nil
}

func (h *Ingest) enqueue(ctx context.Context, d delivery) error {
	url := h.MessagesQueueURL
	if d.route == routeProject {
		url = h.LifecycleQueueURL
	}
	if len(d.events) == 0 {
		return nil
	}
	return h.Queue.Send(ctx, url, d.events)
}

func (h *Ingest) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Ingest) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Ingest) maxBody() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

func (h *Ingest) lease() time.Duration {
	if h.Lease > 0 {
		return h.Lease
	}
	return DefaultIngestLease
}

func (h *Ingest) deadline() time.Duration {
	if h.Deadline > 2*releaseBudget {
		return h.Deadline
	}
	return DefaultIngestTimeout
}

// validPathID accepts the ids Meta uses for phone numbers (digits), with room
// for other opaque ids, and nothing that could smuggle a key separator.
func validPathID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
