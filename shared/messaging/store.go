package messaging

import (
	"context"
	"errors"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// Store keeps a tenant's messages, statuses, conversations and contacts.
// Every write is idempotent and commutative with the others: the same event
// applied twice, or events applied in any order, leave the same state. That
// is what lets the worker apply a delivery's events concurrently and SQS
// deliver a message more than once. The rules are the domain's merges
// (MergeMessage, MergeConversation, the contact rules of contactbook.go);
// each store applies them, and testkit/storetest holds it to them. A
// field an event may leave out (a person's name, a conversation's status)
// is the exception: a newer event without it cannot tell whether an older
// value was replaced since, so the first older value to arrive fills it.
type Store interface {
	// PutMessage stores m under (tenant, m.WAMID) with the statuses its own
	// event carried. Storing it again changes nothing; a message whose
	// statuses arrived first is completed, its statuses kept. A message
	// named by one copy under a derived conversation id and by another
	// under Kapso's conversation (IsDerivedConversationID) makes the derived
	// id an alias of Kapso's, whichever copy came first; the first alias
	// of a derived id stays (MergeMessage, ConversationAlias).
	PutMessage(ctx context.Context, tenantID string, m Message, statuses []StatusUpdate) error
	// ApplyStatus adds u to its message's history and moves the message's
	// status forward, never back (a conditional write): see Merge. A status
	// for a message not stored yet is kept and shown once the message is.
	ApplyStatus(ctx context.Context, tenantID string, u StatusUpdate) error
	// PutConversation creates or updates the conversation c.ID: the newest
	// LastActiveAt wins, and with it the status; fields c leaves empty keep
	// their stored values; an older event only fills what is missing
	// (MergeConversation).
	PutConversation(ctx context.Context, tenantID string, c Conversation) error
	// PutContact records that p wrote or was written to on the number, as s
	// says: one contact per person per number, keyed by Person.Key. The
	// newest sighting sets the person's fields (an older one only fills),
	// LastSeenAt and ConversationID, the newest inbound one LastInboundAt. A
	// person first known by phone and now by BSUID and phone is merged into
	// the BSUID contact; the phone contact then points to it. A sighting
	// that reaches a contact through a merge leaves out its BSUIDs
	// (SightContact).
	PutContact(ctx context.Context, tenantID, phoneNumberID string, p Person, s Sighting) error
	// ChangeIdentity moves the person known by previous.BSUID to
	// current.BSUID: the new contact takes in the old one (the fields of the
	// one seen last, the highest marketing sequence), lists the old BSUID
	// among its previous ones, oldest first, and the old contact points to
	// it (ChangeContactIdentity).
	ChangeIdentity(ctx context.Context, tenantID, phoneNumberID string, previous, current Person, at time.Time) error
	// SetMarketingPreference records the person's preference unless a higher
	// Sequence is already stored (PreferContact).
	SetMarketingPreference(ctx context.Context, tenantID, phoneNumberID string, p Person, pref MarketingPreference) error
}

// Reader is the read side of the Store, for the tenant API. Every method
// is scoped to one tenant: no id, key or cursor reaches another tenant's
// items. A cursor a Reader did not hand out for the same tenant and list is
// ErrBadCursor.
type Reader interface {
	// Conversations lists the tenant's conversations, newest activity first,
	// each with its contact as it is now (merges and identity changes
	// followed).
	Conversations(ctx context.Context, tenantID string, p Page) ([]ConversationView, string, error)
	// ConversationMessages lists a conversation's messages oldest first (or
	// newest first: Page.Newest), by Meta's timestamp then WAMID. A derived conversation id that became an
	// alias (Store.PutMessage, Outbox.MoveOutbound) lists the conversation
	// it is an alias of, so the id a send was answered with keeps working;
	// unless it is a conversation of its own (Meta-format traffic stored
	// one): then it lists its own messages.
	ConversationMessages(ctx context.Context, tenantID, conversationID string, p Page) ([]StoredMessage, string, error)
	// Message is one message with its whole status history, by WAMID or by
	// the outbound id of a message sent through the API (IsOutboundID); ok
	// is false when nothing, not even a status, is stored for id.
	Message(ctx context.Context, tenantID, id string) (m StoredMessage, ok bool, err error)
	// Contact finds a contact of the number by BSUID (current or previous)
	// or phone, following merges to the contact as it is now.
	Contact(ctx context.Context, tenantID, phoneNumberID, bsuidOrPhone string) (c Contact, ok bool, err error)
}

// PendingStore keeps the events of numbers no tenant owns yet, until the
// number connects.
type PendingStore interface {
	// KeepPending stores raw under (phoneNumberID, eventID); keeping the same
	// id again overwrites it.
	KeepPending(ctx context.Context, phoneNumberID, eventID string, receivedAt time.Time, raw []byte) error
	// Pending lists up to limit kept events of the number, oldest first,
	// after the event id after ("" for the first page).
	Pending(ctx context.Context, phoneNumberID, after string, limit int) ([]PendingEvent, error)
	// DropPending deletes one kept event; dropping a missing one is no error.
	DropPending(ctx context.Context, phoneNumberID, eventID string) error
}

// PendingEvent is one event kept for a number without a tenant.
type PendingEvent struct {
	ID         string
	ReceivedAt time.Time
	Raw        []byte
}

// Page asks for one page of a list. Limit is clamped to [1, MaxPageLimit]
// (DefaultPageLimit when 0); Cursor is "" for the first page.
type Page struct {
	Limit  int
	Cursor string
	// UpdatedSince, in Conversations, keeps only the conversations last
	// active at or after it; zero keeps every one. It only bounds the list:
	// a cursor goes on from its place under any UpdatedSince.
	UpdatedSince time.Time
	// Newest, in ConversationMessages, lists newest first; its cursors are
	// of that list only.
	Newest bool
}

// Page sizes of the read API.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// Size is p's limit, clamped.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// ErrBadCursor marks a cursor that is not one the store handed out for this
// tenant and list. Callers answer 400.
var ErrBadCursor = errors.New("invalid cursor")

// StoredMessage is a message as stored: its content, once the message
// itself has arrived (Known), and its delivery state, the Merge of every
// status stored for it.
type StoredMessage struct {
	Message
	// Known is false while only statuses of the message have arrived: then
	// only WAMID, PhoneNumberID, Direction (outbound: only outbound messages
	// have statuses) and Delivery are set.
	Known    bool
	Delivery Delivery
	// Outbound is set for a message sent through the API. Until Kapso
	// answered its WAMID the message is the outbound message alone: WAMID
	// is "", Timestamp is when it was queued, and Outbound.State says where
	// the send is.
	Outbound *OutboundInfo
	// MediaCopy is the copy of the message's media in kapso-bridge's
	// bucket, as recorded: zero until a copy was tried, also for a message
	// with media, which is then pending (media.Store.MediaState says so).
	MediaCopy media.Info
}

// ConversationView is a conversation with its contact as it is now.
type ConversationView struct {
	Conversation
	Contact Contact
}

// Contact is one person on one number.
type Contact struct {
	PhoneNumberID string
	Person        Person
	// PreviousBSUIDs are BSUIDs the person had before identity changes,
	// oldest first.
	PreviousBSUIDs []string
	Marketing      *MarketingPreference
	// LastSeenAt is the newest time a message or event showed the person.
	LastSeenAt time.Time
	// LastInboundAt is the time of the person's newest inbound message: the
	// customer service window runs 24 hours from it. Zero: never wrote.
	LastInboundAt time.Time
	// ConversationID is the conversation of the newest sighting that named
	// one.
	ConversationID string
}

// MarketingPreference is a person's marketing opt-in, as Kapso reports it.
type MarketingPreference struct {
	Status     string // opted_in | opted_out | …, kept as Kapso sends it
	Sequence   int64  // Kapso's ordering: the highest wins
	OccurredAt time.Time
}
