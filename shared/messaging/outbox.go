package messaging

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// OutboundState is where a send request is on its way to Kapso. It is the
// sender's state, not a delivery status: once Kapso has answered a WAMID the
// message's statuses (sent, delivered, read, failed) come from webhooks and
// merge into its Delivery like any other message's.
type OutboundState string

const (
	// OutQueued: accepted by the API and on the outbound queue; never sent.
	OutQueued OutboundState = "queued"
	// OutSending: claimed by the sender; the Kapso call may be under way.
	OutSending OutboundState = "sending"
	// OutAccepted: Kapso answered the WAMID. Final.
	OutAccepted OutboundState = "accepted"
	// OutUnknown: the call was made and its outcome is unknown (a timeout
	// after the request was written, or a crash mid-call). It is never sent
	// again: the reconciler adopts the message from Kapso's records, or fails
	// it as unconfirmed.
	OutUnknown OutboundState = "unknown"
	// OutFailed: not sent, for Reason. Final.
	OutFailed OutboundState = "failed"
)

// DefaultClaimTimeout is how long a claim can be in flight by default: the
// sender's function timeout (schema.Outbound.ConsumerTimeout; a test holds
// them equal). A claim older than that outlived its sender, and the
// outcome of its call is unknown.
const DefaultClaimTimeout = 30 * time.Second

// Final reports whether nothing moves a message out of s.
func (s OutboundState) Final() bool { return s == OutAccepted || s == OutFailed }

// Why an outbound message failed without a WAMID.
const (
	// ReasonRejected: Kapso or Meta refused the message for good (Error says
	// why: invalid recipient, template missing, outside the window…).
	ReasonRejected = "rejected"
	// ReasonUnconfirmed: the outcome stayed unknown and Kapso's message list
	// never showed the message within the time the reconciler waits. It may
	// still have reached the person: the caller decides whether to send again.
	ReasonUnconfirmed = "unconfirmed"
	// ReasonRetriesExhausted: Kapso kept refusing with 5xx or 429 until the
	// sender's retries ran out. Never sent.
	ReasonRetriesExhausted = "retries_exhausted"
)

// OutboundMessage is one send request of a tenant, from the API to Kapso's
// answer. Its ID is derived from the tenant and the idempotency key, so the
// same request asked twice is the same message.
type OutboundMessage struct {
	ID             string
	TenantID       string
	IdempotencyKey string
	// Fingerprint is OutboundRequest.Fingerprint: the same key with another
	// body is refused.
	Fingerprint   string
	PhoneNumberID string
	// To is the recipient: Phone when the request or the contact gave one,
	// BSUID when the request named one.
	To   Person
	Type string
	// Text is a readable rendering, as Message.Text.
	Text string
	// Body is the Meta Cloud API message object sent, byte for byte.
	Body []byte
	// ConversationID is the conversation the message is listed in until its
	// WAMID is known.
	ConversationID string
	State          OutboundState
	WAMID          string
	// Reason and Error say why a failed message failed.
	Reason string
	Error  *StatusError
	// Attempts counts the claims: each is at most one Kapso call.
	Attempts int
	// Claim is the token of the latest claim (Transition.Claim), so a
	// sender whose claim's answer was lost, and whose retried write then
	// found the message claimed, can tell its own claim from another's.
	Claim     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// CreatedBy is the name of the API token that sent it.
	CreatedBy string
}

// Transition moves an outbound message from one of From to To.
type Transition struct {
	From []OutboundState
	To   OutboundState
	At   time.Time
	// WAMID is required when To is OutAccepted.
	WAMID string
	// Reason and Error go with To OutFailed.
	Reason string
	Error  *StatusError
	// Claim is the claimant's token, recorded with a move to OutSending.
	Claim string
	// Content, when set, is the message as the caller read it, for a move
	// to OutAccepted: what it was asked to send never changes once
	// created, so the store need not read it again to fill in the
	// WAMID's message. The state is checked by the write itself.
	Content *OutboundMessage
}

// Check refuses a transition no Outbox can apply: no message, an unknown
// state, a move out of a final state (nothing moves a message out of one),
// or a WAMID without the move to accepted or that move without one. The
// error is an *errs.Error with code Invalid.
func (t Transition) Check(tenantID, id string) error {
	known := []OutboundState{OutQueued, OutSending, OutAccepted, OutUnknown, OutFailed}
	invalid := func(msg string) error { return errs.E(errs.Invalid, msg, nil) }
	switch {
	case tenantID == "" || id == "":
		return invalid("transition without tenant or id")
	case !slices.Contains(known, t.To):
		return invalid(fmt.Sprintf("unknown outbound state %q", t.To))
	case len(t.From) == 0:
		return invalid("transition from no state")
	case (t.To == OutAccepted) != (t.WAMID != ""):
		return invalid("a WAMID goes with, and only with, the move to accepted")
	}
	for _, f := range t.From {
		if !slices.Contains(known, f) || f.Final() {
			return invalid(fmt.Sprintf("transition from %q", f))
		}
	}
	return nil
}

// Errors of an Outbox.
var (
	// ErrOutboundState: the message's state is not one of the transition's
	// From; nothing changed. The stored message is returned with it.
	ErrOutboundState = errors.New("outbound message is in another state")
	// ErrOutboundNotFound: no message is stored under the id.
	ErrOutboundNotFound = errors.New("outbound message not found")
	// ErrWAMIDTaken: another outbound message already holds the WAMID.
	ErrWAMIDTaken = errors.New("WAMID belongs to another outbound message")
)

// Outbox keeps the messages a tenant asked to send. Every change is a
// conditional write on the message's state, so a raced request, a
// redelivered queue message or two senders never send a message twice.
type Outbox interface {
	// CreateOutbound stores m, in state OutQueued, unless a message with m.ID
	// is stored: then nothing changes and the stored one is returned. created
	// says which. A stored message is listed in its conversation (Reader)
	// from this moment.
	CreateOutbound(ctx context.Context, m OutboundMessage) (stored OutboundMessage, created bool, err error)
	// Outbound reads one message.
	Outbound(ctx context.Context, tenantID, id string) (OutboundMessage, bool, error)
	// MoveOutbound applies t when the stored state is one of t.From and
	// returns the message as stored after; otherwise nothing changes and the
	// error wraps ErrOutboundState, with the stored message returned. A move
	// to OutSending counts an attempt. A move to OutAccepted records t.WAMID
	// and, in the same atomic write, merges the message into the one stored
	// under the WAMID: that one gets the request's content where it has none
	// and the outbound id, and the outbound message leaves its conversation's
	// list, so the conversation lists it exactly once, whichever of the send
	// and its webhook was stored first. A WAMID another outbound message
	// holds is ErrWAMIDTaken.
	MoveOutbound(ctx context.Context, tenantID, id string, t Transition) (OutboundMessage, error)
	// OpenOutbound lists the messages of every tenant that are neither
	// accepted nor failed, created before before, oldest first, from a cursor
	// it handed out ("" to start); the next cursor is "" at the end.
	OpenOutbound(ctx context.Context, before time.Time, cursor string, limit int) ([]OutboundMessage, string, error)
}

// OutboundInfo is what StoredMessage knows of a message sent through the
// API: its outbound id, and until a status arrives, where the send is.
type OutboundInfo struct {
	ID     string
	State  OutboundState
	Reason string
	Error  *StatusError
	// CreatedBy is the name of the API token that sent it.
	CreatedBy string
}

// Sighting is one time a message or event showed a person on a number.
type Sighting struct {
	At time.Time
	// Inbound: the person wrote. It opens the customer service window.
	Inbound bool
	// ConversationID is the conversation the sighting belongs to ("" when
	// unknown): the newest one is the person's conversation on the number.
	ConversationID string
}

// outboundIDPrefix starts every outbound id; WAMIDs start with "wamid.".
const outboundIDPrefix = "out_"

// OutboundID is the id of the message a tenant asks to send under an
// idempotency key: the same tenant and key always give the same id, and two
// tenants never share one. It is "out_" and 32 base32 characters.
func OutboundID(tenantID, idempotencyKey string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + idempotencyKey))
	return outboundIDPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
}

// IsOutboundID reports whether id has the form OutboundID gives.
func IsOutboundID(id string) bool {
	rest, ok := strings.CutPrefix(id, outboundIDPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	for _, r := range rest {
		if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
			return false
		}
	}
	return true
}

// MaxIdempotencyKeyBytes bounds the Idempotency-Key header.
const MaxIdempotencyKeyBytes = 255

// ValidIdempotencyKey reports whether k is 1 to MaxIdempotencyKeyBytes
// printable ASCII characters (space excluded at either end).
func ValidIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKeyBytes || k[0] == ' ' || k[len(k)-1] == ' ' {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// CustomerServiceWindow is how long after a person's last inbound message
// free-form messages may be sent to them.
const CustomerServiceWindow = 24 * time.Hour

// InWindow reports whether a free-form message may go at now to a person
// whose last inbound message was at lastInbound (zero: never wrote).
func InWindow(lastInbound, now time.Time) bool {
	return !lastInbound.IsZero() && now.Sub(lastInbound) < CustomerServiceWindow
}

// NewOutbound is the queued message a tenant asks to send from number with
// r, the request as the caller sent it (its fingerprint decides a replay),
// under the idempotency key, at now. A BSUID recipient whose phone is known
// (knownPhone) is sent to by phone, as Kapso advises, and keeps its BSUID.
func NewOutbound(tenantID, key string, r OutboundRequest, number, knownPhone string, now time.Time) (OutboundMessage, error) {
	send := r
	to := Person{Phone: strings.TrimPrefix(r.To, "+"), BSUID: r.Recipient}
	if r.Recipient != "" && knownPhone != "" {
		send.To, send.Recipient = knownPhone, ""
		to.Phone = knownPhone
	}
	body, err := send.MetaMessage()
	if err != nil {
		return OutboundMessage{}, err
	}
	msg := sentContent(r.Type, body)
	return OutboundMessage{
		ID: OutboundID(tenantID, key), TenantID: tenantID, IdempotencyKey: key, Fingerprint: r.Fingerprint(),
		PhoneNumberID: number, To: to, Type: r.Type, Text: msg.Text, Body: body,
		State: OutQueued, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}, nil
}

// sentContent is the content of the Meta message body sent as a message of
// the type: its text, media and template, as a webhook copy of it would
// show them.
func sentContent(typ string, body []byte) Message {
	msg := Message{Type: typ}
	var mm meta.Message
	if json.Unmarshal(body, &mm) != nil || render(&msg, mm) != nil {
		msg = Message{Type: typ, Text: "[" + typ + "]", TextRendered: true}
	}
	return msg
}

// Content is the message m asked to send, as its WAMID's message stores
// it: what the request said (type, text, media, template), to whom, in
// which conversation. Kapso's webhooks of the message merge into it.
func (m OutboundMessage) Content() Message {
	c := sentContent(m.Type, m.Body)
	if m.Text != "" {
		// The text NewOutbound rendered and the store keeps.
		c.Text, c.TextRendered = m.Text, m.Type != OutTypeText && m.Text == "["+m.Type+"]"
	}
	c.WAMID, c.PhoneNumberID, c.Direction, c.Timestamp = m.WAMID, m.PhoneNumberID, Outbound, m.CreatedAt
	c.To, c.ConversationID = m.To, m.ConversationID
	return c
}

// Stored is m as the read model shows it while it has no WAMID.
func (m OutboundMessage) Stored() StoredMessage {
	c := m.Content()
	c.WAMID = ""
	return StoredMessage{
		Message:  c,
		Known:    true,
		Outbound: &OutboundInfo{ID: m.ID, State: m.State, Reason: m.Reason, Error: m.Error, CreatedBy: m.CreatedBy},
	}
}

// OutboundJob is a message of the outbound queue: which message to send.
// It carries no content, so a queue message delivered twice, late or after
// the message was sent names a message whose state decides.
type OutboundJob struct {
	TenantID string `json:"tenant_id"`
	ID       string `json:"id"`
}

// OutboundQueue hands outbound jobs to the sender.
type OutboundQueue interface {
	// Enqueue puts j on the queue, delivered no sooner than delay (at most
	// MaxEnqueueDelay).
	Enqueue(ctx context.Context, j OutboundJob, delay time.Duration) error
}

// MaxEnqueueDelay is the longest delay a queue message can carry (SQS's
// DelaySeconds limit).
const MaxEnqueueDelay = 15 * time.Minute

// ParseOutboundJob reads a queue message; anything but a job naming a
// valid outbound id is an error.
func ParseOutboundJob(body []byte) (OutboundJob, error) {
	var j OutboundJob
	if err := json.Unmarshal(body, &j); err != nil {
		return j, fmt.Errorf("outbound job: %w", err)
	}
	if j.TenantID == "" || !IsOutboundID(j.ID) {
		return j, errors.New("outbound job: tenant_id or id missing or malformed")
	}
	return j, nil
}

// SendPacer spaces the sends of one number across every sender running.
type SendPacer interface {
	// Reserve takes the next send slot of the number at or after now and
	// returns how long to wait for it, or ErrSlotsTaken when every slot
	// within the pacer's horizon is taken.
	Reserve(ctx context.Context, phoneNumberID string, now time.Time) (time.Duration, error)
}

// ErrSlotsTaken: the number's send slots are taken for now; try a little
// later.
var ErrSlotsTaken = errors.New("number's send slots are taken")
