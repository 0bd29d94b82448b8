package eventing

import (
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// Change is the change of one stored item, before and after, in the
// domain's terms: what the bridge table's stream says one write did. At
// most one of its pairs is set; none for an item no event tells of (a
// fact, a link, a claim, a checkpoint…).
type Change struct {
	// At is when the change was stored.
	At time.Time

	Tenant       *Pair[onboarding.Snapshot]
	Message      *Pair[MessageItem]
	Outbound     *Pair[messaging.OutboundMessage]
	Conversation *Pair[ConversationItem]
	Contact      *Pair[ContactItem]
	// Template is a stored template of a tenant's WABA (a sync mark is
	// no change an event tells).
	Template *Pair[templates.Template]
	// Offboarding is a tenant's offboarding job, a tombstone once done.
	Offboarding *Pair[offboarding.Job]
	// Erasure is a person's erasure job on a tenant's number.
	Erasure *Pair[erasure.Job]
}

// Pair is an item before and after a change: Before is nil for an item
// the change created, After for one it removed.
type Pair[T any] struct {
	Before, After *T
}

// MessageItem is a stored message of a tenant.
type MessageItem struct {
	TenantID string
	Message  messaging.StoredMessage
	// Origin made the item's latest change, when a write said.
	Origin messaging.Origin
}

// ConversationItem is a stored conversation of a tenant.
type ConversationItem struct {
	TenantID     string
	Conversation messaging.Conversation
	Origin       messaging.Origin
}

// ContactItem is a stored contact of a tenant's number.
type ContactItem struct {
	TenantID string
	// Key is the person key the contact is stored under
	// (messaging.Person.Key).
	Key     string
	Contact messaging.Contact
	// MergedInto is the key of the contact this one was merged into: then
	// it only points there.
	MergedInto string
	// Version counts the item's writes.
	Version int64
	Origin  messaging.Origin
}
