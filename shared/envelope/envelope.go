// Package envelope is the format of the work items kapso-bridge puts on its
// queues: one accepted event each, with where it came from, so that a worker
// can process it without the original HTTP request.
package envelope

import (
	"encoding/json"
	"time"
)

// Source says which door an event came through; it decides how the payload
// is read.
type Source string

const (
	// SourceKapsoProject: a project webhook (connection lifecycle, account, workflow).
	SourceKapsoProject Source = "kapso_project"
	// SourceKapsoNumber: a phone number's Kapso-kind webhook (messages, conversations, contacts).
	SourceKapsoNumber Source = "kapso_number"
	// SourceMeta: a phone number's Meta-kind forwarding, one message/status/change per event.
	SourceMeta Source = "meta"
	// SourceRedirect: a browser came back through a success or failure redirect (unsigned: a hint).
	SourceRedirect Source = "redirect"
	// SourceReconciler: found by the reconciler from the Platform API.
	SourceReconciler Source = "reconciler"
)

// Event is one unit of work.
type Event struct {
	// ID is unique per event and stable across redeliveries of the same
	// delivery: the delivery key plus the event's index in it.
	ID     string `json:"id"`
	Source Source `json:"source"`
	// Name is the Kapso event name (X-Webhook-Event or the body's type/event),
	// or for Meta "meta.<field>" / "meta.message" / "meta.status".
	Name string `json:"name"`
	// PhoneNumberID is the number the event is about, when known at ingest.
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	// DeliveryKey is the idempotency key of the HTTP delivery that carried it.
	DeliveryKey string    `json:"delivery_key,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	// Payload is this one event's body: a Kapso v2 payload (batch items
	// unwrapped, legacy {event,data} unwrapped) or a Meta fragment.
	Payload json.RawMessage `json:"payload,omitempty"`
	// PayloadRef, when set, names a stored body too large for a queue message;
	// Payload is then empty and the worker loads the body by this reference.
	PayloadRef string `json:"payload_ref,omitempty"`
}
