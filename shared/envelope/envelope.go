// Package envelope is the format of kapso-bridge's queue messages. A queue
// message is one accepted delivery, whole: a one-line JSON header saying where
// it came from, a newline, then the body exactly as it was received and
// signed. The ingest never decodes or re-encodes a body; the workers split it
// into events, once. Internal producers (browser redirects) send one-event
// deliveries in the same format.
package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Source says which door a delivery came through; it decides how the body
// is read.
type Source string

const (
	// SourceKapsoProject: a project webhook (connection lifecycle, account, workflow).
	SourceKapsoProject Source = "kapso_project"
	// SourceKapsoNumber: a phone number's Kapso-kind webhook (messages, conversations, contacts).
	SourceKapsoNumber Source = "kapso_number"
	// SourceMeta: a phone number's Meta-kind forwarding of Meta's raw payload.
	SourceMeta Source = "meta"
	// SourceRedirect: a browser came back through a success or failure redirect (unsigned: a hint).
	SourceRedirect Source = "redirect"
	// SourceReconciler: found by the reconciler from the Platform API.
	SourceReconciler Source = "reconciler"
	// SourceNumberConnected: a number just got its tenant; the messages
	// worker applies the events it kept for the number until then.
	SourceNumberConnected Source = "number_connected"
)

// NumberConnected is the delivery that tells the messages worker a number
// now has a tenant, and its body.
func NumberConnected(phoneNumberID string, at time.Time) (Delivery, []byte) {
	at = at.UTC()
	return Delivery{
		Source:        SourceNumberConnected,
		Key:           "connected#" + phoneNumberID + "#" + strconv.FormatInt(at.UnixNano(), 10),
		PhoneNumberID: phoneNumberID,
		ReceivedAt:    at,
	}, []byte("{}")
}

// Delivery is the header of a queue message.
type Delivery struct {
	Source Source `json:"source"`
	// Key names the delivery uniquely and stably across Kapso's retries: the
	// route, the number and the idempotency key. Event IDs are Key#index.
	Key string `json:"key"`
	// PhoneNumberID is, for a number route, the number of the verified path:
	// the only number the delivery may affect, whatever its body says.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// Event is the X-Webhook-Event header as received (bounded by the
	// ingest), or the name of an internal event.
	Event string `json:"event,omitempty"`
	// IdempotencyKey is the delivery's X-Idempotency-Key, or the body's
	// SHA-256 when Kapso sent none.
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	ReceivedAt     time.Time `json:"received_at"`
	// BodyRef, when set, names a body stored aside (too large for a queue
	// message, or holding characters SQS refuses); the message then carries
	// no body.
	BodyRef string `json:"body_ref,omitempty"`
}

// Enqueuer puts one delivery on a queue and returns once it is durable.
// storeAside asks for the body to be kept aside whatever its size, because it
// holds characters a queue message cannot carry. The ingest and the redirects
// both produce deliveries; sqsqueue.DeliveryQueue implements it.
type Enqueuer interface {
	Send(ctx context.Context, queueURL string, d Delivery, body []byte, storeAside bool) error
}

// EventID is the stable ID of the delivery's index-th event.
func (d Delivery) EventID(index int) string {
	return d.Key + "#" + strconv.Itoa(index)
}

// ErrMalformed marks a queue message that is not in this format. Such a
// message can never be processed; it is always wrapped.
var ErrMalformed = errors.New("malformed queue message")

// Header encodes d as the first line of a message.
func Header(d Delivery) ([]byte, error) {
	h, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode delivery header %s: %w", d.Key, err)
	}
	// json.Marshal escapes control characters inside strings, so the header
	// never holds a raw newline and the first one ends it.
	return append(h, '\n'), nil
}

// Encode builds a message: the header line, then body verbatim. The body is
// copied once, into the string the SQS client sends.
func Encode(d Delivery, body []byte) (string, error) {
	h, err := Header(d)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(h) + len(body))
	b.Write(h)
	b.Write(body)
	return b.String(), nil
}

// Decode splits a message into its header and body. The body is empty when
// it was stored aside (BodyRef set).
func Decode(msg string) (Delivery, []byte, error) {
	var d Delivery
	line, body, ok := strings.Cut(msg, "\n")
	if !ok {
		return d, nil, fmt.Errorf("%w: no header line", ErrMalformed)
	}
	if err := json.Unmarshal([]byte(line), &d); err != nil {
		return d, nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if d.Key == "" || d.Source == "" {
		return d, nil, fmt.Errorf("%w: header without key or source", ErrMalformed)
	}
	if d.BodyRef == "" && body == "" {
		return d, nil, fmt.Errorf("%w: delivery %s has no body and no body reference", ErrMalformed, d.Key)
	}
	return d, []byte(body), nil
}

// Event is one event of a delivery, as a worker handles it. Its JSON form is
// what is kept for support (orphaned and rejected events), never a queue
// message.
type Event struct {
	// ID is unique per event and stable across redeliveries of the same
	// delivery: the delivery key plus the event's index in it.
	ID     string `json:"id"`
	Source Source `json:"source"`
	// Name is the Kapso event name (X-Webhook-Event or the body's type/event),
	// or for Meta "meta.<field>" / "meta.message" / "meta.status".
	Name string `json:"name"`
	// PhoneNumberID is the number the event is about: for a number route
	// always the verified path's number.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// DeliveryKey is the idempotency key of the HTTP delivery that carried it.
	DeliveryKey string    `json:"delivery_key,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	// Payload is this one event's body, a slice of the delivery's body.
	Payload json.RawMessage `json:"payload,omitempty"`
}
