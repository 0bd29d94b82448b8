// Package messaging holds the messages domain: the people, messages,
// delivery statuses and conversations of a tenant's WhatsApp numbers, the
// normalisers that read them out of Kapso's and Meta's webhook formats into
// one shape, the pure status merge that makes arrival order irrelevant, and
// the rule that keeps a number's webhook from touching another number. It
// does no I/O.
package messaging

import (
	"errors"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// Person is one side of a conversation. A person is identified by BSUID
// first and phone second: either may be empty (WhatsApp can hide the phone),
// and BSUIDs are kept verbatim, case included.
type Person struct {
	BSUID       string
	ParentBSUID string
	Username    string
	// Phone is written as Meta's wa_id writes it: digits, no "+".
	Phone string
	Name  string
}

// Key identifies the person on one number: "bsuid:<BSUID>" when there is
// one, else "phone:<Phone>", else "" (nobody known).
func (p Person) Key() string {
	switch {
	case p.BSUID != "":
		return "bsuid:" + p.BSUID
	case p.Phone != "":
		return "phone:" + p.Phone
	}
	return ""
}

// fill copies into p the fields it lacks from q. Only used for two views of
// the same person.
func (p Person) fill(q Person) Person {
	if p.BSUID == "" {
		p.BSUID = q.BSUID
	}
	if p.ParentBSUID == "" {
		p.ParentBSUID = q.ParentBSUID
	}
	if p.Username == "" {
		p.Username = q.Username
	}
	if p.Phone == "" {
		p.Phone = q.Phone
	}
	if p.Name == "" {
		p.Name = q.Name
	}
	return p
}

// Direction says who sent a message.
type Direction string

const (
	Inbound  Direction = "inbound"  // from the person to the business
	Outbound Direction = "outbound" // from the business to the person
)

// Media is a reference to a message's media; nothing is downloaded.
type Media struct {
	ID       string // Meta's media id
	URL      string // a link, when the message carries one
	MIMEType string
	Caption  string
	Filename string
}

// Template is the template a template message was sent with.
type Template struct {
	Name     string
	Language string // e.g. en_US
	// Components are the template's components with their parameters:
	// compact JSON, as the message carried them.
	Components string
}

// Reaction is a reaction message. Removed is true for a reaction removal,
// which Meta and Kapso send as a reaction with no emoji: it is kept as such.
type Reaction struct {
	MessageID string // the WAMID reacted to
	Emoji     string
	Removed   bool
}

// KapsoContent is what Kapso adds to a message; only Kapso-format traffic
// carries it.
type KapsoContent struct {
	Content    string
	Origin     string // cloud_api | business_app | history_sync
	HasMedia   bool
	MediaURL   string // download needs the X-API-Key header
	Transcript string
}

// Message is a WhatsApp message, whatever format it arrived in.
type Message struct {
	WAMID         string
	PhoneNumberID string
	Direction     Direction
	Type          string
	// Text is the text, the caption, or a short readable rendering of
	// anything else, so that every message can be listed as a line.
	Text string
	// TextRendered is true when Text renders the type alone ("[image]"):
	// the copy carried no text, caption or name. Another copy's own text
	// replaces it (MergeMessage), so Kapso's webhook for a message sent
	// through the API, which names the type and little else, does not hide
	// the caption or template the request sent.
	TextRendered bool
	Media        *Media
	// Template is a template message's template.
	Template *Template
	Reaction *Reaction
	// ReplyTo is the WAMID this message replies to.
	ReplyTo string
	// Timestamp is Meta's, never the time of processing: order and
	// inactivity depend on it.
	Timestamp time.Time
	From      Person
	To        Person
	Kapso     *KapsoContent
	// ConversationID is Kapso's conversation id, or for Meta traffic the
	// id MetaConversationID derives.
	ConversationID string
}

// Status is a delivery status of an outbound message.
type Status string

const (
	Sent      Status = "sent"
	Delivered Status = "delivered"
	Read      Status = "read"
	Failed    Status = "failed"
)

// ParseStatus reads one of the four delivery statuses; other values
// (received, pending, deleted, …) are not delivery statuses.
func ParseStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case Sent, Delivered, Read, Failed:
		return st, true
	}
	return "", false
}

// StatusError is why a message failed.
type StatusError struct {
	Code    int
	Title   string
	Message string
	Details string
}

// StatusUpdate is one delivery status of one message.
type StatusUpdate struct {
	WAMID         string
	PhoneNumberID string
	Status        Status
	// At is Meta's time for the status; zero when the body gave none.
	At        time.Time
	Error     *StatusError // when Status is Failed and Meta said why
	Recipient Person
}

// ConversationStatus is whether a conversation is open.
type ConversationStatus string

const (
	ConversationActive ConversationStatus = "active"
	ConversationEnded  ConversationStatus = "ended"
)

// Conversation is one person's thread on one number.
type Conversation struct {
	ID            string
	PhoneNumberID string
	Person        Person
	Status        ConversationStatus
	LastActiveAt  time.Time
	// InactivityMinutes is the webhook's inactivity threshold, when an
	// inactive event said; 0 when unknown.
	InactivityMinutes int
	// InactiveSince is the last activity after which Kapso reported the
	// conversation inactive (whatsapp.conversation.inactive); zero when it
	// never did. See Inactive.
	InactiveSince time.Time
}

// Inactive reports whether the conversation is open but went quiet: Kapso
// reported it inactive after its latest activity, and nothing happened
// since. A newer activity makes it active again without a write of its
// own, whichever of the two arrived first.
func (c Conversation) Inactive() bool {
	return c.Status == ConversationActive && !c.InactiveSince.IsZero() &&
		Instant(c.InactiveSince) >= Instant(c.LastActiveAt)
}

// ErrForeignNumber marks an event that names a phone number other than the
// one whose verified webhook delivered it. It is always wrapped in an
// *errs.Error with code Invalid; test with errors.Is.
var ErrForeignNumber = errors.New("event names another phone number")

// ResolveNumber applies the trust rule and returns the number an event
// applies to: a delivery through number A's webhook, verified with A's
// secret, may only affect A. An event naming another number is refused with
// ErrForeignNumber; one naming no number is A's. An empty verified number is
// refused too: without it nothing is trusted.
func ResolveNumber(verifiedPathNumber, named string) (string, error) {
	if verifiedPathNumber == "" {
		return "", errs.E(errs.Invalid, "no verified phone number for this delivery", nil)
	}
	if named != "" && named != verifiedPathNumber {
		return "", errs.E(errs.Invalid, "event names another phone number",
			ErrForeignNumber)
	}
	return verifiedPathNumber, nil
}

// LookupKey is the Person.Key that a lookup by BSUID or by phone (written
// with or without "+", spaces, dashes or parentheses) names; "" when q is
// neither.
func LookupKey(q string) string {
	if kapso.IsBSUID(q) {
		return Person{BSUID: q}.Key()
	}
	p := phone(q)
	if p == "" || strings.Trim(p, "0123456789") != "" {
		return ""
	}
	return Person{Phone: p}.Key()
}
