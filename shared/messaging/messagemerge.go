package messaging

import (
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Authoritative reports whether m is Kapso's record of a message (it
// carries Kapso content): merged into a stored copy, its fields set the
// stored ones, where another copy's (Meta's, or a send's request) only fill
// what is missing. That way the copies of a message converge in either
// order.
func (m Message) Authoritative() bool { return m.Kapso != nil }

// MergeMessage is the message stored after m, another copy of it (the same
// WAMID), was stored: Store.PutMessage's rule for its content (see
// Authoritative). A zero stored is a message not stored yet.
func MergeMessage(stored, m Message) Message {
	win := m.Authoritative()
	next := stored
	put(false, &next.WAMID, m.WAMID)
	put(win, &next.PhoneNumberID, m.PhoneNumberID)
	put(win, &next.Direction, m.Direction)
	put(win, &next.Type, m.Type)
	next.Text, next.TextRendered = mergeText(win, next, m)
	put(win, &next.ReplyTo, m.ReplyTo)
	next.Media = mergeFields(win, next.Media, m.Media, mediaFields)
	next.Template = mergeFields(win, next.Template, m.Template, templateFields)
	putPtr(win, &next.Reaction, m.Reaction)
	putPtr(win, &next.Kapso, m.Kapso)
	if !m.Timestamp.IsZero() && (win || next.Timestamp.IsZero()) {
		next.Timestamp = m.Timestamp.UTC()
	}
	next.From = next.From.merge(win, m.From)
	next.To = next.To.merge(win, m.To)
	put(win, &next.ConversationID, m.ConversationID)
	return next
}

// mergeText is the text after m: a copy's own text sets (win) or fills
// the stored one, and replaces a rendering of the type; a rendering only
// fills an empty text.
func mergeText(win bool, stored, m Message) (string, bool) {
	switch {
	case m.Text == "":
	case m.TextRendered:
		if stored.Text == "" {
			return m.Text, true
		}
	case win || stored.Text == "" || stored.TextRendered:
		return m.Text, false
	}
	return stored.Text, stored.TextRendered
}

// mergeFields is *stored after *m, field by field (put): a copy that names
// the media id only (Kapso's webhook of a send) keeps the caption, file
// name and link the request gave. A copy without it changes nothing.
func mergeFields[T comparable](win bool, stored, m *T, fields func(*T) []*string) *T {
	var zero T
	if m == nil || *m == zero {
		return stored
	}
	var next T
	if stored != nil {
		next = *stored
	}
	theirs := *m
	values := fields(&theirs)
	for i, f := range fields(&next) {
		put(win, f, *values[i])
	}
	return &next
}

func mediaFields(m *Media) []*string {
	return []*string{&m.ID, &m.URL, &m.MIMEType, &m.Caption, &m.Filename}
}

func templateFields(t *Template) []*string { return []*string{&t.Name, &t.Language, &t.Components} }

// ConversationAlias is the alias a copy of a message makes when it names
// the conversation named and the stored copy names stored: of the two ids,
// the one the merge does not keep (see Authoritative) becomes an alias of
// the other when it is a derived id (IsDerivedConversationID) and the
// other is Kapso's. Then a send answered with a derived id, or Meta-format
// traffic, lists the conversation Kapso named. ok is false when there is
// no such alias. Stores keep the first alias of an id, so it keeps listing
// the same conversation.
func ConversationAlias(stored, named string, authoritative bool) (from, to string, ok bool) {
	if stored == "" || named == "" {
		return "", "", false
	}
	from, to = named, stored
	if authoritative {
		from, to = stored, named
	}
	if !IsDerivedConversationID(from) || IsDerivedConversationID(to) {
		return "", "", false
	}
	return from, to, true
}

// CheckStatus is u as a status of the message wamid ("" for any message),
// given wamid when it names no message; an unknown status, or one of
// another message, is an *errs.Error with code Invalid.
func CheckStatus(u StatusUpdate, wamid string) (StatusUpdate, error) {
	if u.WAMID == "" {
		u.WAMID = wamid
	}
	if u.Status.Rank() == 0 {
		return u, errs.E(errs.Invalid, fmt.Sprintf("unknown delivery status %q", u.Status), nil)
	}
	if u.WAMID == "" || (wamid != "" && u.WAMID != wamid) {
		return u, errs.E(errs.Invalid, "status of another message", nil)
	}
	return u, nil
}

// Message is what a status says of its message, merged into it like a
// copy that only fills: its WAMID and number, and that it is outbound, as
// only outbound messages have statuses.
func (u StatusUpdate) Message() Message {
	return Message{WAMID: u.WAMID, PhoneNumberID: u.PhoneNumberID, Direction: Outbound}
}
