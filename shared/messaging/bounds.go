package messaging

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Bounds of every field the normalisers read out of a webhook. A signed
// event is still untrusted input: one over-long field must not make its
// message impossible to store, and so a delivery impossible to finish. Meta's
// own limits are for what a business sends; what people send is allowed
// more, within what one DynamoDB item holds (400 KB, keys of 2,048 bytes and
// sort keys of 1,024).
const (
	// MaxIDBytes bounds every id: WAMIDs (also those a reply, reaction or
	// status names), conversation ids, phone number ids, media ids, BSUIDs
	// and phone numbers. Meta's and Kapso's are under 140 bytes; 256 keeps
	// every key an id goes into far inside DynamoDB's key limits, and is the
	// read API's bound on the ids of its paths.
	MaxIDBytes = 256
	// MaxNameChars bounds names and labels: a person's name (WhatsApp allows
	// 25 characters) and username (35), a message type, a MIME type, a
	// filename (255 bytes on most systems), Kapso's origin, a reaction's
	// emoji, a marketing preference.
	MaxNameChars = 256
	// MaxTextChars bounds a message's text, caption, Kapso content and
	// transcript. Meta takes at most 4,096 characters of text and 1,024 of
	// caption in a send; a person can type 65,536 in WhatsApp.
	MaxTextChars = 65536
	// MaxURLBytes bounds a media link and Kapso's media URL (signed URLs
	// run to a few KB).
	MaxURLBytes = 8 << 10
	// MaxErrorChars bounds each of a failure's title, message and details;
	// Meta's are a sentence or two.
	MaxErrorChars = 1024
	// MaxStatuses bounds the statuses one message event carries: there are
	// four delivery statuses, each normally once.
	MaxStatuses = 16
	// MaxMessageBytes bounds the text of one message event, every field of
	// the message, its statuses and its conversation together: with the
	// keys and the attribute names, its item stays under DynamoDB's 400 KB.
	MaxMessageBytes = 256 << 10
)

// ErrOutOfBounds marks an event with a field beyond its bound. It is always
// wrapped in an *errs.Error with code Invalid.
var ErrOutOfBounds = errors.New("field out of bounds")

// bounds collects the first field beyond its bound, and the bytes of text
// seen, so that a check reads as a list of fields.
type bounds struct {
	err   error
	bytes int
}

func (b *bounds) fail(field, msg string) {
	if b.err == nil {
		b.err = errs.E(errs.Invalid, field+": "+msg, ErrOutOfBounds)
	}
}

func (b *bounds) id(field, v string) {
	b.bytes += len(v)
	if len(v) > MaxIDBytes {
		b.fail(field, fmt.Sprintf("%d bytes, above %d", len(v), MaxIDBytes))
	}
}

func (b *bounds) url(field, v string) {
	b.bytes += len(v)
	if len(v) > MaxURLBytes {
		b.fail(field, fmt.Sprintf("%d bytes, above %d", len(v), MaxURLBytes))
	}
}

func (b *bounds) chars(field, v string, most int) {
	b.bytes += len(v)
	// A string of at most `most` bytes has at most `most` characters:
	// counting is only needed beyond.
	if len(v) > most {
		if n := utf8.RuneCountInString(v); n > most {
			b.fail(field, fmt.Sprintf("%d characters, above %d", n, most))
		}
	}
}

func (b *bounds) name(field, v string) { b.chars(field, v, MaxNameChars) }
func (b *bounds) text(field, v string) { b.chars(field, v, MaxTextChars) }

func (b *bounds) person(field string, p Person) {
	b.id(field+".bsuid", p.BSUID)
	b.id(field+".parent_bsuid", p.ParentBSUID)
	b.id(field+".phone", p.Phone)
	b.name(field+".username", p.Username)
	b.name(field+".name", p.Name)
}

func (b *bounds) statusError(field string, e *StatusError) {
	if e == nil {
		return
	}
	b.chars(field+".title", e.Title, MaxErrorChars)
	b.chars(field+".message", e.Message, MaxErrorChars)
	b.chars(field+".details", e.Details, MaxErrorChars)
}

func (b *bounds) message(m Message) {
	b.id("wamid", m.WAMID)
	b.id("phone_number_id", m.PhoneNumberID)
	b.id("conversation_id", m.ConversationID)
	b.id("reply_to", m.ReplyTo)
	b.name("type", m.Type)
	// A caption is also the text: the error names the field the body gave.
	if md := m.Media; md != nil {
		b.id("media.id", md.ID)
		b.url("media.url", md.URL)
		b.name("media.mime_type", md.MIMEType)
		b.text("media.caption", md.Caption)
		b.name("media.filename", md.Filename)
	}
	b.text("text", m.Text)
	b.person("from", m.From)
	b.person("to", m.To)
	if r := m.Reaction; r != nil {
		b.id("reaction.message_id", r.MessageID)
		b.name("reaction.emoji", r.Emoji)
	}
	if k := m.Kapso; k != nil {
		b.text("kapso.content", k.Content)
		b.name("kapso.origin", k.Origin)
		b.url("kapso.media_url", k.MediaURL)
		b.text("kapso.transcript", k.Transcript)
	}
}

func (b *bounds) status(u StatusUpdate) {
	b.id("status.id", u.WAMID)
	b.id("status.phone_number_id", u.PhoneNumberID)
	b.person("status.recipient", u.Recipient)
	b.statusError("status.error", u.Error)
}

func (b *bounds) conversation(c Conversation) {
	b.id("conversation.id", c.ID)
	b.id("conversation.phone_number_id", c.PhoneNumberID)
	b.person("conversation", c.Person)
}

// boundMessage holds a message, its statuses and its conversation to their
// bounds. The error names the field and its size, never its content.
func boundMessage(m Message, statuses []StatusUpdate, c *Conversation) error {
	var b bounds
	b.message(m)
	if len(statuses) > MaxStatuses {
		b.fail("statuses", fmt.Sprintf("%d, above %d", len(statuses), MaxStatuses))
	}
	for _, u := range statuses {
		b.status(u)
	}
	if c != nil {
		b.conversation(*c)
	}
	if b.bytes > MaxMessageBytes {
		b.fail("message", fmt.Sprintf("%d bytes of text, above %d", b.bytes, MaxMessageBytes))
	}
	return b.err
}

// boundID checks one id, before an error message names it.
func boundID(field, v string) error {
	var b bounds
	b.id(field, v)
	return b.err
}

func boundStatus(u StatusUpdate) error {
	var b bounds
	b.status(u)
	return b.err
}

func boundConversation(c Conversation) error {
	var b bounds
	b.conversation(c)
	return b.err
}

func boundIdentity(c IdentityChange) error {
	var b bounds
	b.id("phone_number_id", c.PhoneNumberID)
	b.person("previous", c.Previous)
	b.person("contact", c.Current)
	return b.err
}

func boundMarketing(c MarketingChange) error {
	var b bounds
	b.id("phone_number_id", c.PhoneNumberID)
	b.person("contact", c.Person)
	b.name("marketing_preference.status", c.Preference.Status)
	return b.err
}
