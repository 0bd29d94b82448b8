package bridgeevents

import (
	"encoding/json"
	"time"
)

// The records below are kapso-bridge's public JSON: the /v1 API answers
// them and the events carry them, so a message in a message.received event
// is the message GET /v1/tenants/{tenant_id}/messages/{id} shows.

// Person is one person's identity as kapso-bridge shows it.
type Person struct {
	BusinessScopedUserID       string `json:"business_scoped_user_id"`
	ParentBusinessScopedUserID string `json:"parent_business_scoped_user_id"`
	Username                   string `json:"username"`
	PhoneNumber                string `json:"phone_number"`
	Name                       string `json:"name"`
}

// ContactIdentity is a person with the BSUIDs they had before.
type ContactIdentity struct {
	Person
	PreviousBusinessScopedUserIDs []string `json:"previous_business_scoped_user_ids,omitempty"`
}

// Conversation is one conversation of a tenant's number with a person.
type Conversation struct {
	ID                string          `json:"id"`
	PhoneNumberID     string          `json:"phone_number_id"`
	Status            string          `json:"status"`
	LastActiveAt      *time.Time      `json:"last_active_at,omitempty"`
	InactivityMinutes int             `json:"inactivity_minutes,omitempty"`
	Contact           ContactIdentity `json:"contact"`
}

// MessageSummary is one message as a conversation lists it. Content is nil,
// and its fields absent from the JSON, while only the message's statuses
// have arrived.
type MessageSummary struct {
	// ID is the outbound id (out_…) of a message sent through the API, the
	// WAMID of any other.
	ID string `json:"id"`
	// WAMID is Meta's id, once Kapso answered it.
	WAMID          string `json:"wamid,omitempty"`
	PhoneNumberID  string `json:"phone_number_id"`
	ConversationID string `json:"conversation_id,omitempty"`
	// Direction is inbound or outbound.
	Direction string `json:"direction"`
	*MessageContent
	// Status is the delivery status (sent, delivered, read, failed) once
	// one arrived; before that, a message sent through the API shows where
	// its send is (queued, sending, accepted, unknown, failed).
	Status string `json:"status,omitempty"`
	// FailureReason says why a send failed without reaching Meta:
	// rejected, unconfirmed or retries_exhausted.
	FailureReason string `json:"failure_reason,omitempty"`
	// Error is why the message failed; only shown while failed is its
	// status (a read after a failure wins, the history keeps the error).
	Error *StatusError `json:"error,omitempty"`
	// CreatedBy is the name of the API token that sent a message sent
	// through the API.
	CreatedBy string `json:"created_by,omitempty"`
}

// MessageContent is what the message itself carries.
type MessageContent struct {
	Type      string        `json:"type"`
	Text      string        `json:"text"`
	Timestamp *time.Time    `json:"timestamp,omitempty"`
	From      Person        `json:"from"`
	To        Person        `json:"to"`
	ReplyTo   string        `json:"reply_to,omitempty"`
	Media     *Media        `json:"media,omitempty"`
	Template  *Template     `json:"template,omitempty"`
	Reaction  *Reaction     `json:"reaction,omitempty"`
	Kapso     *KapsoContent `json:"kapso,omitempty"`
}

// Media is a message's media: Meta's reference to it and, for media
// kapso-bridge copies into its bucket, where the copy stands.
type Media struct {
	// ID is Meta's media id; Link the link a message carries instead
	// (Meta's or Kapso's, never the bucket's).
	ID       string `json:"id"`
	Link     string `json:"link"`
	MIMEType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	// State is where the copy stands: pending, stored or failed; absent
	// for media that is not copied (sent by link, or by an id not
	// uploaded through kapso-bridge).
	State string `json:"state,omitempty"`
	// Size and SHA256 (hex) are those of the stored bytes.
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Error is why the copy failed, a reason code (too_large, checksum,
	// not_found, unavailable, no_media_id, unsupported); failed only.
	Error string `json:"error,omitempty"`
	// URL is a short-lived link to the stored bytes, made afresh on every
	// read of the /v1 API; events never carry it.
	URL string `json:"url,omitempty"`
}

// Template is the template of a template message: its name, language and
// components with their parameters (Meta's JSON form), as sent.
type Template struct {
	Name       string          `json:"name"`
	Language   string          `json:"language,omitempty"`
	Components json.RawMessage `json:"components,omitempty"`
}

// Reaction is a reaction message; Removed marks a reaction taken back.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
	Removed   bool   `json:"removed"`
}

// KapsoContent is what Kapso adds to a message.
type KapsoContent struct {
	Content    string `json:"content"`
	Origin     string `json:"origin"`
	HasMedia   bool   `json:"has_media"`
	MediaURL   string `json:"media_url"`
	Transcript string `json:"transcript"`
}

// StatusError is why a message failed, as Meta said.
type StatusError struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// Message is one message with its whole status history, and whether the
// message itself has arrived (Known is false while only statuses have).
type Message struct {
	MessageSummary
	Known    bool          `json:"known"`
	Statuses []StatusEntry `json:"statuses"`
}

// StatusEntry is one status in a message's history.
type StatusEntry struct {
	Status string       `json:"status"`
	At     *time.Time   `json:"at,omitempty"`
	Error  *StatusError `json:"error,omitempty"`
}

// Contact is a person as one number knows them now.
type Contact struct {
	PhoneNumberID string `json:"phone_number_id"`
	ContactIdentity
	MarketingPreference *MarketingPreference `json:"marketing_preference,omitempty"`
	LastSeenAt          *time.Time           `json:"last_seen_at,omitempty"`
}

// MarketingPreference is a person's marketing opt-in as Kapso reported it.
type MarketingPreference struct {
	Status     string     `json:"status"`
	Sequence   int64      `json:"sequence"`
	OccurredAt *time.Time `json:"occurred_at,omitempty"`
}
