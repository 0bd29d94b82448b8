// Package webhook is the ingest function's handler: it takes in Kapso's and
// Meta's signed webhooks and puts each delivery on SQS whole.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/jsonscan"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// Ingest receives Kapso's webhooks. It verifies each delivery on its raw
// bytes, validates it in one scan, claims its key and puts the body on SQS
// verbatim, in one message: the workers split it. It answers 200 only once the
// delivery is in SQS (or was already), and always within Deadline.
type Ingest struct {
	Claims  idempotency.Store
	Queue   envelope.Enqueuer
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
	maxEventNameLen      = 128
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
	mux.Handle(routes.ProjectWebhook.Pattern(), h.handler(routeProject))
	mux.Handle(routes.NumberWebhook.Pattern(), h.handler(routeNumber))
	mux.Handle(routes.MetaWebhook.Pattern(), h.handler(routeMeta))
}

type delivery struct {
	route         route
	phoneNumberID string
	key           string
	event         string
	// fingerprint identifies the body for the claim: the verified signature,
	// an HMAC of the body, so the body is hashed once, not twice.
	fingerprint string
	body        []byte
	// storeAside: the body holds characters an SQS message cannot carry.
	storeAside bool
}

// scope is the delivery's key within its route and number: keys of different
// webhooks never collide. It names the claim and prefixes every event ID.
func (d delivery) scope() string {
	return d.route.String() + "#" + d.phoneNumberID + "#" + d.key
}

func (d delivery) source() envelope.Source {
	switch d.route {
	case routeProject:
		return envelope.SourceKapsoProject
	case routeMeta:
		return envelope.SourceMeta
	}
	return envelope.SourceKapsoNumber
}

func (h *Ingest) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.now()
		log := h.logger().With("route", rt.String())
		ctx, cancel := context.WithTimeout(r.Context(), h.deadline()-releaseBudget)
		defer cancel()
		d, err := h.read(ctx, rt, w, r)
		if errors.Is(err, onboarding.ErrNumberOffboarded) {
			// Its tenant is being deleted: nothing of it is kept any more.
			// A 2xx, so that Kapso does not retry it.
			log.Info("delivery for a number being offboarded; dropped", "phone_number_id", d.phoneNumberID)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(acceptedBody)
			return
		}
		if err != nil {
			httpapi.WriteError(w, log, err)
			return
		}
		log = log.With("key", d.key, "phone_number_id", d.phoneNumberID, "event", d.event, "bytes", len(d.body))
		outcome, err := h.accept(ctx, d, start, log)
		if err != nil {
			httpapi.WriteError(w, log, err, "duration_ms", time.Since(start).Milliseconds())
			return
		}
		log.Info("delivery accepted", "outcome", outcome.String(), "duration_ms", time.Since(start).Milliseconds())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(acceptedBody)
	})
}

var acceptedBody = []byte(`{"status":"accepted"}` + "\n")

// read checks size, signature, headers and the body's JSON: everything that
// can refuse a delivery without touching state. The body is hashed once (the
// signature) and scanned once.
func (h *Ingest) read(ctx context.Context, rt route, w http.ResponseWriter, r *http.Request) (delivery, error) {
	d := delivery{route: rt, phoneNumberID: r.PathValue(routes.PhoneNumberID)}
	if rt != routeProject && !validPathID(d.phoneNumberID) {
		return d, errs.E(errs.NotFound, "unknown phone number", nil)
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.maxBody()), r.ContentLength, h.maxBody())
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return d, errs.E(errs.TooLarge, fmt.Sprintf("body larger than %d bytes", h.maxBody()), err)
		}
		return d, errs.E(errs.Invalid, "could not read body", err)
	}
	d.body = body
	if d.fingerprint, err = h.verify(ctx, d, r.Header); err != nil {
		return d, err
	}
	d.key = r.Header.Get("X-Idempotency-Key")
	if d.key == "" {
		sum := sha256.Sum256(body)
		d.key = hex.EncodeToString(sum[:])
	}
	if len(d.key) > maxIdempotencyKeyLen || !printable(d.key) {
		return d, errs.E(errs.Invalid, "bad X-Idempotency-Key", nil)
	}
	d.event = r.Header.Get("X-Webhook-Event")
	if len(d.event) > maxEventNameLen || (d.event != "" && !printable(d.event)) {
		return d, errs.E(errs.Invalid, "bad X-Webhook-Event", nil)
	}
	shape, what := jsonscan.Kapso, "a Kapso webhook payload (a JSON object; a batch with a data array)"
	if rt == routeMeta {
		shape, what = jsonscan.Meta, `a Meta webhook payload (an object with "object" and an "entry" array)`
	}
	res, err := jsonscan.Scan(body, shape)
	if err != nil {
		return d, errs.E(errs.Invalid, "body is not "+what, err)
	}
	d.storeAside = res.SQSUnsafe
	return d, nil
}

// readBody reads the whole body into one buffer sized from Content-Length
// when it is given, so a large body is not copied while it grows. A length
// above the limit is not trusted for the allocation: r refuses it anyway.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	// ReadFrom grows the buffer unless bytes.MinRead bytes are free at EOF.
	buf := bytes.NewBuffer(make([]byte, 0, contentLength+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// verify checks the delivery's signature on its raw bytes and returns it
// as the body's fingerprint (lowercase hex of an HMAC of the body).
func (h *Ingest) verify(ctx context.Context, d delivery, hdr http.Header) (string, error) {
	unauthorized := errs.E(errs.Unauthorized, "missing or invalid signature", nil)
	kapsoSig := hdr.Get("X-Webhook-Signature")
	if d.route == routeProject {
		if !kapso.VerifySignature(h.ProjectSecret, d.body, kapsoSig) {
			return "", unauthorized
		}
		return fingerprint("kapso:", kapsoSig), nil
	}
	metaSig := hdr.Get("X-Hub-Signature-256")
	if d.route == routeMeta && metaSig != "" && h.MetaAppSecret != "" {
		if !meta.VerifySignature(h.MetaAppSecret, d.body, metaSig) {
			return "", unauthorized
		}
		if kapsoSig == "" {
			// The app secret signs for every number of the app, so it says
			// nothing about the path's number: that must be one kapso-bridge
			// knows (holds a webhook secret for), as with Kapso's signature.
			if _, err := h.Secrets.Secret(ctx, d.phoneNumberID); err != nil {
				return "", numberSecretError(err)
			}
			return fingerprint("meta:", metaSig), nil
		}
	}
	if kapsoSig == "" {
		return "", unauthorized
	}
	secret, err := h.Secrets.Secret(ctx, d.phoneNumberID)
	if err != nil {
		return "", numberSecretError(err)
	}
	if kapso.VerifySignature(secret, d.body, kapsoSig) {
		return fingerprint("kapso:", kapsoSig), nil
	}
	// The number's secret may have been rotated since it was cached.
	secret, changed, err := h.Secrets.Refresh(ctx, d.phoneNumberID)
	if err != nil {
		return "", numberSecretError(err)
	}
	if !changed || !kapso.VerifySignature(secret, d.body, kapsoSig) {
		return "", unauthorized
	}
	return fingerprint("kapso:", kapsoSig), nil
}

// fingerprint turns a verified signature into the claim's body hash. Once
// verified, the header is the HMAC of the body under the webhook's secret, so
// the same key with another body never matches it. Hex case is free in the
// header; the fingerprint is not.
func fingerprint(kind, verifiedSig string) string {
	return kind + strings.ToLower(verifiedSig)
}

func numberSecretError(err error) error {
	if errors.Is(err, onboarding.ErrNumberOffboarded) {
		return err
	}
	if errs.CodeOf(err) == errs.NotFound {
		// No secret: nothing can verify this delivery.
		return errs.E(errs.Unauthorized, "missing or invalid signature", err)
	}
	return errs.E(errs.Unavailable, "try again", fmt.Errorf("look up webhook secret: %w", err))
}

// accept claims the delivery's key, enqueues it and marks it done.
func (h *Ingest) accept(ctx context.Context, d delivery, receivedAt time.Time, log *slog.Logger) (idempotency.Outcome, error) {
	res, err := h.Claims.Claim(ctx, d.scope(), d.fingerprint, h.lease())
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
		log.Warn("idempotency key reused with a different body; refused", "fingerprint", d.fingerprint)
		return 0, errs.E(errs.Conflict, "idempotency key already used with a different body", nil)
	}

	if err := h.enqueue(ctx, d, receivedAt); err != nil {
		// Give the key back at once so Kapso's retry is not held off by the lease.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseBudget)
		defer cancel()
		if rerr := h.Claims.Release(rctx, res.Claim); rerr != nil {
			log.Error("release claim after failed enqueue; the lease will free it", "err", rerr)
		}
		return 0, errs.E(errs.Unavailable, "try again", err)
	}
	if err := h.Claims.Accept(ctx, res.Claim); err != nil {
		// The delivery is durable: 200 is true. A later copy may enqueue it
		// again, which the workers absorb through their natural keys.
		log.Error("mark delivery accepted", "err", err)
	}
	return res.Outcome, nil
}

func (h *Ingest) enqueue(ctx context.Context, d delivery, receivedAt time.Time) error {
	url := h.MessagesQueueURL
	if d.route == routeProject {
		url = h.LifecycleQueueURL
	}
	env := envelope.Delivery{
		Source:         d.source(),
		Key:            d.scope(),
		PhoneNumberID:  d.phoneNumberID,
		Event:          d.event,
		IdempotencyKey: d.key,
		ReceivedAt:     receivedAt.UTC(),
	}
	return h.Queue.Send(ctx, url, env, d.body, d.storeAside)
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
