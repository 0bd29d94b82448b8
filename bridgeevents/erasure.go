package bridgeevents

import "time"

// Erasure is one erasure of a person from a tenant's number, as
// DELETE …/contacts/{contact} answers it and GET …/erasures/{id} shows
// its progress. It names no one: it carries no phone or BSUID.
type Erasure struct {
	ID            string `json:"id"`
	TenantID      string `json:"tenant_id"`
	PhoneNumberID string `json:"phone_number_id"`
	// State is pending, erasing or done.
	State       string    `json:"state"`
	RequestedAt time.Time `json:"requested_at"`
	// RequestedBy is the name of the API token that asked for it.
	RequestedBy string          `json:"requested_by,omitempty"`
	UpdatedAt   time.Time       `json:"updated_at"`
	DoneAt      *time.Time      `json:"done_at,omitempty"`
	Erased      ErasureProgress `json:"erased"`
}

// ErasureProgress counts what an erasure deleted so far.
type ErasureProgress struct {
	Messages      int `json:"messages"`
	MediaObjects  int `json:"media_objects"`
	Conversations int `json:"conversations"`
	PendingEvents int `json:"pending_events"`
	FeedEvents    int `json:"feed_events"`
	Contacts      int `json:"contacts"`
}

// ContactErasure is the data of contact.erased: which erasure finished,
// when, and what it deleted. It names no one: no phone, no BSUID, not the
// contact the erasure was asked with; the SaaS knows the person by the
// erasure's id it was answered.
type ContactErasure struct {
	TenantID      string          `json:"tenant_id"`
	PhoneNumberID string          `json:"phone_number_id"`
	ErasureID     string          `json:"erasure_id"`
	RequestedAt   time.Time       `json:"requested_at"`
	ErasedAt      time.Time       `json:"erased_at"`
	Erased        ErasureProgress `json:"erased"`
}
