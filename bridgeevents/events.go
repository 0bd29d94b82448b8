// Package bridgeevents is what a SaaS backend needs to receive
// kapso-bridge's events: the envelope and the typed data of every event,
// a decoder that refuses what is not an event, and the verification of the
// Standard Webhooks signature the webhook sender puts on each delivery. It
// depends on the standard library only, so importing it brings nothing
// else of kapso-bridge's.
//
// The same events arrive three ways: on the SNS topic (the SQS message
// body, with raw delivery, is the event's JSON), POSTed to the SaaS's
// webhook URL (signed; see Verify), and from the feed (GET /v1/events).
// Each is delivered at least once, always under the same id: drop an id
// already handled, and for one subject drop an event whose Version is
// below one already handled.
package bridgeevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// The event types.
const (
	// TenantStatusChanged: a tenant's derived status changed (connected,
	// restricted, disabled, reconnect_required, disconnected, failed,
	// expired, …). Data: TenantStatus.
	TenantStatusChanged = "tenant.status_changed"
	// MessageReceived: a person's message was stored, once per WAMID.
	// Data: MessageReceivedData.
	MessageReceived = "message.received"
	// MessageStatusChanged: an outbound message's status moved forward
	// (queued, sending, accepted, sent, delivered, read; or failed,
	// unknown). Data: MessageStatus.
	MessageStatusChanged = "message.status_changed"
	// ConversationStatusChanged: a conversation was created, went
	// inactive, ended or became active again. Data: ConversationStatus.
	ConversationStatusChanged = "conversation.status_changed"
	// ContactChanged: a person's identity (BSUID) or marketing preference
	// changed. Data: ContactChange.
	ContactChanged = "contact.changed"
	// NumberHealthChanged: a connected number's health (quality rating,
	// messaging limit tier, display name review, throughput) changed, or
	// was read for the first time. Data: NumberHealth.
	NumberHealthChanged = "number.health_changed"
	// TemplateStatusChanged: a WhatsApp message template's status changed
	// (APPROVED, REJECTED, PAUSED, DISABLED, DELETED, …). Data:
	// TemplateStatus.
	TemplateStatusChanged = "template.status_changed"
	// TenantDeleted: a tenant's offboarding finished: everything
	// kapso-bridge kept for it is deleted. Data: TenantDeletion.
	TenantDeleted = "tenant.deleted"
	// ContactErased: a person's erasure from a tenant's number finished:
	// everything kapso-bridge kept of them there is deleted. Data:
	// ContactErasure, which names no one.
	ContactErased = "contact.erased"
)

// Types lists every event type, in the catalogue's order.
var Types = []string{TenantStatusChanged, MessageReceived, MessageStatusChanged, ConversationStatusChanged, ContactChanged,
	NumberHealthChanged, TemplateStatusChanged, TenantDeleted, ContactErased}

// Sources say what made the change an event reports.
const (
	SourceWebhook    = "webhook"    // a Kapso or Meta webhook
	SourceReconciler = "reconciler" // the reconciler, from Kapso's records
	SourceRedirect   = "redirect"   // a browser coming back from the setup page
	SourceAPI        = "api"        // a call to kapso-bridge's API, or its sender's call to Kapso
)

// Event is one event: a change kapso-bridge stored, told once under a
// stable ID.
type Event struct {
	// ID is the same every time the same change is told: deduplicate on it.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Timestamp is when the change was stored.
	Timestamp time.Time `json:"timestamp"`
	TenantID  string    `json:"tenant_id"`
	// Source is what made the change: webhook, reconciler, redirect or api.
	Source string `json:"source"`
	// Subject names what changed ("tenant:<id>", "message:<id>",
	// "conversation:<id>", "contact:<phone_number_id>:<key>",
	// "number:<phone_number_id>", "template:<waba>:<name>:<language>",
	// "offboarding:<tenant_id>", "erasure:<erasure_id>"), and
	// Version orders its changes: of two events of one subject, the one
	// with the higher Version is the newer.
	Subject string `json:"subject"`
	Version int64  `json:"version"`
	// Data is the type's record (TenantStatus, MessageReceivedData, …).
	Data json.RawMessage `json:"data"`
}

// TenantStatus is the data of tenant.status_changed.
type TenantStatus struct {
	TenantID       string `json:"tenant_id"`
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status"`
	// NeedsAttention lists why the tenant needs a human now ([] when it
	// needs nobody), as GET /v1/tenants shows it.
	NeedsAttention []string `json:"needs_attention"`
	// Reason is the fact that changed the status (e.g. "number
	// disconnected: meta_token_expired").
	Reason string `json:"reason"`
}

// TenantDeletion is the data of tenant.deleted: the tenant's tombstone,
// nothing about anyone.
type TenantDeletion struct {
	TenantID    string    `json:"tenant_id"`
	RequestedAt time.Time `json:"requested_at"`
	DeletedAt   time.Time `json:"deleted_at"`
}

// MessageReceivedData is the data of message.received.
type MessageReceivedData struct {
	TenantID string  `json:"tenant_id"`
	Message  Message `json:"message"`
}

// MessageStatus is the data of message.status_changed.
type MessageStatus struct {
	TenantID string `json:"tenant_id"`
	// MessageID is the id the API knows the message by: the out_… id of a
	// message sent through it, else its WAMID.
	MessageID      string `json:"message_id"`
	WAMID          string `json:"wamid,omitempty"`
	PhoneNumberID  string `json:"phone_number_id"`
	ConversationID string `json:"conversation_id,omitempty"`
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status"`
	// FailureReason says why a send failed without reaching Meta
	// (rejected, unconfirmed, retries_exhausted).
	FailureReason string       `json:"failure_reason,omitempty"`
	Error         *StatusError `json:"error"`
}

// ConversationStatus is the data of conversation.status_changed.
type ConversationStatus struct {
	TenantID       string `json:"tenant_id"`
	ConversationID string `json:"conversation_id"`
	PhoneNumberID  string `json:"phone_number_id"`
	// Status is created, active, inactive or ended.
	Status         string          `json:"status"`
	PreviousStatus string          `json:"previous_status"`
	Contact        ContactIdentity `json:"contact"`
}

// The changes contact.changed reports.
const (
	ContactIdentityChanged     = "identity"
	ContactMarketingPreference = "marketing_preference"
)

// ContactChange is the data of contact.changed.
type ContactChange struct {
	TenantID string `json:"tenant_id"`
	// Change is identity or marketing_preference.
	Change  string  `json:"change"`
	Contact Contact `json:"contact"`
}

// NumberHealth is the data of number.health_changed. Every rating is
// Meta's word (GREEN, YELLOW, RED; TIER_1K…; APPROVED, DECLINED…; STANDARD,
// HIGH…) or UNKNOWN; a previous value is "" when the number was never read.
type NumberHealth struct {
	TenantID                   string    `json:"tenant_id"`
	PhoneNumberID              string    `json:"phone_number_id"`
	QualityRating              string    `json:"quality_rating"`
	PreviousQualityRating      string    `json:"previous_quality_rating"`
	MessagingLimitTier         string    `json:"messaging_limit_tier"`
	PreviousMessagingLimitTier string    `json:"previous_messaging_limit_tier"`
	VerifiedName               string    `json:"verified_name"`
	NameStatus                 string    `json:"name_status"`
	PreviousNameStatus         string    `json:"previous_name_status"`
	Throughput                 string    `json:"throughput"`
	PreviousThroughput         string    `json:"previous_throughput"`
	ReadAt                     time.Time `json:"read_at"`
	// NeedsAttention lists why the tenant needs a human now, as
	// tenant.status_changed does.
	NeedsAttention []string `json:"needs_attention"`
}

// TemplateStatus is the data of template.status_changed. Statuses and
// categories are Meta's words; PreviousStatus is never empty, since a
// template's first status tells no event.
type TemplateStatus struct {
	TenantID          string `json:"tenant_id"`
	BusinessAccountID string `json:"business_account_id"`
	// TemplateID is Meta's id of the template.
	TemplateID     string `json:"template_id"`
	Name           string `json:"name"`
	Language       string `json:"language"`
	Category       string `json:"category"`
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status"`
	// Reason is Meta's reason for a rejection (INVALID_FORMAT,
	// PROMOTIONAL…); empty when it gives none.
	Reason string `json:"reason"`
	// QualityScore is Meta's quality rating of the template (GREEN,
	// YELLOW, RED, UNKNOWN); empty when it gives none.
	QualityScore string `json:"quality_score"`
}

// MaxEventBytes bounds an event Decode takes; kapso-bridge's largest (a
// message with its whole history) is well under it.
const MaxEventBytes = 1 << 20

// ErrNotEvent is Decode's answer to bytes that are not one of
// kapso-bridge's events.
var ErrNotEvent = errors.New("not a kapso-bridge event")

// Decode reads one event: a JSON object with an id, a known type, a tenant
// and an object as data, whose data decodes into its type's record. An
// event of a type this package does not know yet decodes (Data() answers
// nil, nil), so a consumer built before a new type keeps working.
func Decode(body []byte) (Event, error) {
	var e Event
	if len(body) > MaxEventBytes {
		return e, fmt.Errorf("%w: %d bytes, more than %d", ErrNotEvent, len(body), MaxEventBytes)
	}
	if !utf8.Valid(body) {
		return e, fmt.Errorf("%w: not UTF-8", ErrNotEvent)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrNotEvent, err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("%w: more than one JSON value", ErrNotEvent)
	}
	switch {
	case e.ID == "":
		return Event{}, fmt.Errorf("%w: no id", ErrNotEvent)
	case e.Type == "":
		return Event{}, fmt.Errorf("%w: no type", ErrNotEvent)
	case len(bytes.TrimSpace(e.Data)) == 0 || bytes.TrimSpace(e.Data)[0] != '{':
		return Event{}, fmt.Errorf("%w: data is not an object", ErrNotEvent)
	}
	if _, err := e.Record(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Record decodes the event's data into its type's record: a
// TenantStatus, MessageReceivedData, MessageStatus, ConversationStatus,
// ContactChange, NumberHealth, TemplateStatus, TenantDeletion or
// ContactErasure; nil for a type this package does not know.
func (e Event) Record() (any, error) {
	var v any
	switch e.Type {
	case TenantStatusChanged:
		v = &TenantStatus{}
	case MessageReceived:
		v = &MessageReceivedData{}
	case MessageStatusChanged:
		v = &MessageStatus{}
	case ConversationStatusChanged:
		v = &ConversationStatus{}
	case ContactChanged:
		v = &ContactChange{}
	case NumberHealthChanged:
		v = &NumberHealth{}
	case TemplateStatusChanged:
		v = &TemplateStatus{}
	case TenantDeleted:
		v = &TenantDeletion{}
	case ContactErased:
		v = &ContactErasure{}
	default:
		return nil, nil
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return nil, fmt.Errorf("%w: %s data: %v", ErrNotEvent, e.Type, err)
	}
	return v, nil
}
