package messaging

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// KapsoMessage is what one whatsapp.message.* event says.
type KapsoMessage struct {
	Message Message
	// Statuses are the delivery statuses the signed body carries for an
	// outbound message, oldest first: every entry of message.kapso.statuses
	// (the last one with its errors), then message.kapso.status when it
	// names a status the history lacks (its At is then zero). Merging them
	// all gives the message's state. Empty for inbound messages.
	Statuses []StatusUpdate
	// Conversation is the event's conversation, nil when it has no id.
	Conversation *Conversation
}

// FromKapsoMessage normalises a whatsapp.message.* event. Every fact comes
// from the signed body: event, the unsigned X-Webhook-Event name, is used
// only where the body is silent (no kapso.direction; an outbound message
// with no status at all), so a body replayed under another name cannot
// change a message's direction or status.
func FromKapsoMessage(event string, ev kapso.MessageEvent) (KapsoMessage, error) {
	m := ev.Message
	number := ev.PhoneNumberID
	if c := ev.Conversation.PhoneNumberID; c != "" && number != "" && c != number {
		return KapsoMessage{}, errs.E(errs.Invalid, "normalise kapso message: conflicting phone numbers",
			fmt.Errorf("phone_number_id %q, conversation.phone_number_id %q: %w", number, c, ErrForeignNumber))
	}
	if number == "" {
		number = ev.Conversation.PhoneNumberID
	}
	msg, err := fromMetaMessage(m.Message, number)
	if err != nil {
		return KapsoMessage{}, fmt.Errorf("normalise kapso message: %w", err)
	}

	switch Direction(m.Kapso.Direction) {
	case Inbound, Outbound:
		msg.Direction = Direction(m.Kapso.Direction)
	case "":
		switch {
		case len(m.Kapso.Statuses) > 0:
			// Only outbound messages have delivery statuses.
			msg.Direction = Outbound
		case event == kapso.EventMessageReceived:
			msg.Direction = Inbound
		case kapso.IsMessageEvent(event):
			msg.Direction = Outbound
		default:
			return KapsoMessage{}, errs.E(errs.Invalid, "normalise kapso message: no direction", nil)
		}
	default:
		return KapsoMessage{}, errs.E(errs.Invalid,
			fmt.Sprintf("normalise kapso message: unknown direction %q", m.Kapso.Direction), nil)
	}

	conv := ev.Conversation
	person := Person{
		BSUID:       conv.BusinessScopedUserID,
		ParentBSUID: conv.ParentBusinessScopedUserID,
		Username:    conv.Username,
		Phone:       phone(conv.PhoneNumber),
		Name:        m.Kapso.ContactName,
	}
	business := Person{Phone: phone(m.To)}
	if msg.Direction == Inbound {
		msg.From = Person{
			BSUID:       m.FromUserID,
			ParentBSUID: m.FromParentUserID,
			Username:    m.Username,
			Phone:       phone(m.From),
		}.fill(person)
		msg.To = business
	} else {
		msg.From = Person{Phone: phone(m.From)}
		msg.To = Person{
			BSUID:       m.ToUserID,
			ParentBSUID: m.ToParentUserID,
			Username:    m.Username,
			Phone:       phone(m.To),
		}.fill(person)
	}
	msg.Kapso = &KapsoContent{
		Content:    m.Kapso.Content,
		Origin:     m.Kapso.Origin,
		HasMedia:   m.Kapso.HasMedia,
		MediaURL:   m.Kapso.MediaURL,
		Transcript: m.Kapso.TranscriptText(),
	}
	if msg.Text == "" {
		msg.Text = m.Kapso.Content
	}
	msg.ConversationID = conv.ID
	if msg.ConversationID == "" {
		msg.ConversationID = m.Kapso.WhatsAppConversationID
	}

	out := KapsoMessage{Message: msg}
	if msg.Direction == Outbound {
		out.Statuses, err = kapsoStatuses(event, msg, m.Kapso)
		if err != nil {
			return KapsoMessage{}, fmt.Errorf("normalise kapso message %s: %w", msg.WAMID, err)
		}
	}
	if conv.ID != "" {
		c, err := fromKapsoConversation(conv, number, "")
		if err != nil {
			return KapsoMessage{}, fmt.Errorf("normalise kapso message %s: %w", msg.WAMID, err)
		}
		c.Person = c.Person.fill(msg.Counterpart())
		out.Conversation = &c
	}
	if err := boundMessage(out.Message, out.Statuses, out.Conversation); err != nil {
		return KapsoMessage{}, fmt.Errorf("normalise kapso message: %w", err)
	}
	return out, nil
}

// Counterpart is the person the business talks to in m.
func (m Message) Counterpart() Person {
	if m.Direction == Outbound {
		return m.To
	}
	return m.From
}

// kapsoStatuses reads an outbound message's statuses out of the body.
func kapsoStatuses(event string, msg Message, k kapso.MessageKapso) ([]StatusUpdate, error) {
	var out []StatusUpdate
	for _, s := range k.Statuses {
		if s.ID != "" && s.ID != msg.WAMID {
			continue // another message's status: not a fact about this one
		}
		u, ok, err := statusUpdate(s, msg.PhoneNumberID)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		u.WAMID = msg.WAMID
		u.Recipient = u.Recipient.fill(msg.To)
		out = append(out, u)
	}
	st, ok := ParseStatus(k.Status)
	if !ok && k.Status == "" && len(out) == 0 {
		// The body is silent: the event name may say which status this is.
		st, ok = eventStatus(event)
	}
	if ok && !hasStatus(out, st) {
		out = append(out, StatusUpdate{
			WAMID:         msg.WAMID,
			PhoneNumberID: msg.PhoneNumberID,
			Status:        st,
			Recipient:     msg.To,
		})
	}
	return out, nil
}

func hasStatus(us []StatusUpdate, st Status) bool {
	for _, u := range us {
		if u.Status == st {
			return true
		}
	}
	return false
}

func eventStatus(event string) (Status, bool) {
	switch event {
	case kapso.EventMessageSent:
		return Sent, true
	case kapso.EventMessageDelivered:
		return Delivered, true
	case kapso.EventMessageRead:
		return Read, true
	case kapso.EventMessageFailed:
		return Failed, true
	}
	return "", false
}

// FromKapsoConversation normalises a whatsapp.conversation.* event. The
// event name sets the status only when the body has none.
func FromKapsoConversation(event string, ev kapso.ConversationEvent) (Conversation, error) {
	number := ev.PhoneNumberID
	if c := ev.Conversation.PhoneNumberID; c != "" && number != "" && c != number {
		return Conversation{}, errs.E(errs.Invalid, "normalise kapso conversation: conflicting phone numbers",
			fmt.Errorf("phone_number_id %q, conversation.phone_number_id %q: %w", number, c, ErrForeignNumber))
	}
	if number == "" {
		number = ev.Conversation.PhoneNumberID
	}
	if ev.Conversation.ID == "" {
		return Conversation{}, errs.E(errs.Invalid, "normalise kapso conversation: no id", nil)
	}
	fallback := ConversationStatus("")
	switch event {
	case kapso.EventConversationEnded:
		fallback = ConversationEnded
	case kapso.EventConversationCreated, kapso.EventConversationInactive:
		fallback = ConversationActive
	}
	c, err := fromKapsoConversation(ev.Conversation, number, fallback)
	if err != nil {
		return Conversation{}, fmt.Errorf("normalise kapso conversation: %w", err)
	}
	if ev.Inactivity != nil {
		c.InactivityMinutes = ev.Inactivity.Minutes
	}
	if event == kapso.EventConversationInactive {
		// Quiet since its last activity: a newer one ends that.
		c.InactiveSince = c.LastActiveAt
	}
	if err := boundConversation(c); err != nil {
		return Conversation{}, fmt.Errorf("normalise kapso conversation: %w", err)
	}
	return c, nil
}

func fromKapsoConversation(conv kapso.Conversation, number string, fallback ConversationStatus) (Conversation, error) {
	c := Conversation{
		ID:            conv.ID,
		PhoneNumberID: number,
		Person: Person{
			BSUID:       conv.BusinessScopedUserID,
			ParentBSUID: conv.ParentBusinessScopedUserID,
			Username:    conv.Username,
			Phone:       phone(conv.PhoneNumber),
		},
		Status: fallback,
	}
	switch s := ConversationStatus(conv.Status); s {
	case ConversationActive, ConversationEnded:
		c.Status = s
	case "":
	default:
		return Conversation{}, errs.E(errs.Invalid, fmt.Sprintf("conversation %s: unknown status %q", conv.ID, conv.Status), nil)
	}
	if conv.LastActiveAt != "" {
		t, err := time.Parse(time.RFC3339Nano, conv.LastActiveAt)
		if err != nil {
			return Conversation{}, errs.E(errs.Invalid, fmt.Sprintf("conversation %s: bad last_active_at", conv.ID), err)
		}
		c.LastActiveAt = t.UTC()
	}
	return c, nil
}

// FromMetaMessage normalises a Meta-format message. Meta's webhooks carry
// only what people send, so the message is inbound; its sender is the
// message's own identity fields completed by the change's contact, and it
// is given MetaConversationID's conversation.
func FromMetaMessage(ev meta.MessageEvent) (Message, error) {
	msg, err := fromMetaMessage(ev.Message, ev.Metadata.PhoneNumberID)
	if err != nil {
		return Message{}, fmt.Errorf("normalise meta message: %w", err)
	}
	msg.Direction = Inbound
	msg.From = Person{
		BSUID:       ev.Message.FromUserID,
		ParentBSUID: ev.Message.FromParentUserID,
		Phone:       phone(ev.Message.From),
	}
	if c := ev.Contact; c != nil {
		msg.From = msg.From.fill(Person{
			BSUID:       c.UserID,
			ParentBSUID: c.ParentUserID,
			Username:    c.Profile.Username,
			Phone:       phone(c.WaID),
			Name:        c.Profile.Name,
		})
	}
	msg.To = Person{Phone: phone(ev.Metadata.DisplayPhoneNumber)}
	msg.ConversationID = MetaConversationID(msg.PhoneNumberID, msg.From)
	if err := boundMessage(msg, nil, nil); err != nil {
		return Message{}, fmt.Errorf("normalise meta message: %w", err)
	}
	return msg, nil
}

// MetaConversation is the conversation a Meta-format message belongs to,
// as that message shows it: active, last active at the message's time.
func MetaConversation(m Message) Conversation {
	return Conversation{
		ID:            MetaConversationID(m.PhoneNumberID, m.Counterpart()),
		PhoneNumberID: m.PhoneNumberID,
		Person:        m.Counterpart(),
		Status:        ConversationActive,
		LastActiveAt:  m.Timestamp,
	}
}

// FromMetaStatus normalises a Meta-format status.
func FromMetaStatus(ev meta.StatusEvent) (StatusUpdate, error) {
	u, ok, err := statusUpdate(ev.Status, ev.Metadata.PhoneNumberID)
	if err != nil {
		return StatusUpdate{}, fmt.Errorf("normalise meta status: %w", err)
	}
	if !ok {
		return StatusUpdate{}, errs.E(errs.Invalid,
			fmt.Sprintf("normalise meta status %s: not a delivery status %q", ev.Status.ID, ev.Status.Status), nil)
	}
	if err := boundStatus(u); err != nil {
		return StatusUpdate{}, fmt.Errorf("normalise meta status: %w", err)
	}
	return u, nil
}

// statusUpdate reads one raw Meta status; ok is false for a status that is
// not a delivery status.
func statusUpdate(s meta.Status, number string) (StatusUpdate, bool, error) {
	st, ok := ParseStatus(s.Status)
	if !ok {
		return StatusUpdate{}, false, nil
	}
	if s.ID == "" {
		return StatusUpdate{}, false, errs.E(errs.Invalid, "status without message id", nil)
	}
	if err := boundID("status.id", s.ID); err != nil {
		return StatusUpdate{}, false, err
	}
	at, err := unixTime(s.Timestamp)
	if err != nil {
		return StatusUpdate{}, false, errs.E(errs.Invalid, fmt.Sprintf("status %s of %s: bad timestamp", st, s.ID), err)
	}
	u := StatusUpdate{
		WAMID:         s.ID,
		PhoneNumberID: number,
		Status:        st,
		At:            at,
		Recipient: Person{
			BSUID:       s.RecipientUserID,
			ParentBSUID: s.RecipientParentUserID,
			Phone:       phone(s.RecipientID),
		},
	}
	if st == Failed && len(s.Errors) > 0 {
		// Meta lists the cause first; one is what a person can act on.
		e := s.Errors[0]
		u.Error = &StatusError{Code: e.Code, Title: e.Title, Message: e.Message, Details: e.Details()}
	}
	return u, true, nil
}

// fromMetaMessage reads what Meta's message object says, common to both
// formats: id, time, type, text, media, reaction, reply context.
func fromMetaMessage(m meta.Message, number string) (Message, error) {
	if m.ID == "" {
		return Message{}, errs.E(errs.Invalid, "message without id", nil)
	}
	if err := boundID("wamid", m.ID); err != nil {
		return Message{}, err
	}
	at, err := unixTime(m.Timestamp)
	if err != nil {
		return Message{}, errs.E(errs.Invalid, fmt.Sprintf("message %s: bad timestamp", m.ID), err)
	}
	msg := Message{
		WAMID:         m.ID,
		PhoneNumberID: number,
		Type:          m.Type,
		Timestamp:     at,
	}
	if msg.Type == "" {
		msg.Type = "unknown"
	}
	if m.Context != nil {
		msg.ReplyTo = m.Context.ID
	}
	if err := render(&msg, m); err != nil {
		return Message{}, errs.E(errs.Invalid, fmt.Sprintf("message %s: bad %s", m.ID, m.Type), err)
	}
	return msg, nil
}

// unixTime parses Meta's Unix-seconds timestamps. A missing one is an
// error: processing time must never stand in for it.
func unixTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing timestamp")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse timestamp %q: %w", s, err)
	}
	if n <= 0 {
		return time.Time{}, fmt.Errorf("timestamp %q out of range", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// phone writes a phone number as Meta's wa_id does (digits only), so that
// Kapso's "+16505551234" and Meta's "16505551234" are one person. A value
// with anything but digits and formatting is kept as it is.
func phone(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return s
		}
	}
	return b.String()
}

// MetaConversationID is the conversation id of Meta-format traffic, which
// has no Kapso conversation: "meta:" and the first 32 hex digits of the
// SHA-256 of the phone number id, a NUL, and the person's Key (BSUID, else
// phone). It is stable for a person keyed the same way; a person first seen
// by phone and later by BSUID gets a second id, which contact merging links.
// It is "" when the person is unknown.
func MetaConversationID(phoneNumberID string, p Person) string {
	key := p.Key()
	if key == "" || phoneNumberID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(phoneNumberID + "\x00" + key))
	return derivedPrefix + hex.EncodeToString(sum[:16])
}

const derivedPrefix = "meta:"

// IsDerivedConversationID reports whether id is one MetaConversationID
// derives: it stands for a person's conversation on a number until Kapso
// names one. A send to a person never seen is answered with such an id;
// once Kapso names the message's conversation, the derived id is an alias
// of it (Reader.ConversationMessages).
func IsDerivedConversationID(id string) bool { return strings.HasPrefix(id, derivedPrefix) }
