// Package apiview shows the messaging domain's records as kapso-bridge's
// public JSON (package bridgeevents): the one mapping both the /v1 API's
// answers and the events' data use, so an event carries a message exactly
// as GET /v1/tenants/{tenant_id}/messages/{id} shows it.
package apiview

import (
	"cmp"
	"encoding/json"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Message is a stored message with its whole status history.
func Message(m messaging.StoredMessage) bridgeevents.Message {
	out := bridgeevents.Message{MessageSummary: MessageSummary(m), Known: m.Known,
		Statuses: make([]bridgeevents.StatusEntry, 0, len(m.Delivery.History))}
	for _, e := range m.Delivery.History {
		out.Statuses = append(out.Statuses, bridgeevents.StatusEntry{Status: string(e.Status), At: TimeOrNil(e.At),
			Error: StatusError(e.Error)})
	}
	return out
}

// MessageSummary is a stored message as a conversation lists it.
func MessageSummary(m messaging.StoredMessage) bridgeevents.MessageSummary {
	v := bridgeevents.MessageSummary{ID: m.WAMID, WAMID: m.WAMID, PhoneNumberID: m.PhoneNumberID,
		ConversationID: m.ConversationID, Direction: string(m.Direction), Status: string(m.Delivery.Status)}
	if o := m.Outbound; o != nil {
		v.ID, v.CreatedBy = o.ID, o.CreatedBy
		if v.Status == "" {
			v.Status = string(o.State)
			if o.State == messaging.OutFailed {
				v.FailureReason, v.Error = o.Reason, StatusError(o.Error)
			}
		}
	}
	if m.Delivery.Status == messaging.Failed {
		v.Error = StatusError(m.Delivery.Error)
	}
	if !m.Known {
		return v
	}
	c := &bridgeevents.MessageContent{Type: m.Type, Text: m.Text, Timestamp: TimeOrNil(m.Timestamp),
		From: Person(m.From), To: Person(m.To), ReplyTo: m.ReplyTo}
	c.Media = Media(m)
	if x := m.Template; x != nil {
		c.Template = &bridgeevents.Template{Name: x.Name, Language: x.Language}
		if json.Valid([]byte(x.Components)) {
			c.Template.Components = json.RawMessage(x.Components)
		}
	}
	if x := m.Reaction; x != nil {
		c.Reaction = &bridgeevents.Reaction{MessageID: x.MessageID, Emoji: x.Emoji, Removed: x.Removed}
	}
	if x := m.Kapso; x != nil {
		c.Kapso = &bridgeevents.KapsoContent{Content: x.Content, Origin: x.Origin, HasMedia: x.HasMedia,
			MediaURL: x.MediaURL, Transcript: x.Transcript}
	}
	v.MessageContent = c
	return v
}

// Media is the message's media with where its copy stands; nil for a
// message without media. It has no URL: the /v1 API adds one to stored
// media when it answers (MediaCopied says which), events carry none.
func Media(m messaging.StoredMessage) *bridgeevents.Media {
	x := m.Media
	if x == nil {
		return nil
	}
	v := &bridgeevents.Media{ID: x.ID, Link: x.URL, MIMEType: x.MIMEType, Caption: x.Caption, Filename: x.Filename}
	c := m.MediaCopy
	switch {
	case c.State == media.Stored:
		v.State, v.Size, v.SHA256 = string(c.State), c.Size, c.SHA256
		v.MIMEType = cmp.Or(c.MIMEType, v.MIMEType)
	case c.State == media.Failed:
		v.State = string(c.State)
		v.Error, _, _ = strings.Cut(c.Error, ":")
	case c.State != "":
		v.State = string(c.State)
	case m.Direction == messaging.Inbound && media.HasMedia(m.Type):
		// Every inbound media is copied: not yet.
		v.State = string(media.Pending)
	}
	return v
}

// MediaCopied is the bucket key of the message's stored media, for the
// /v1 API to link; ok is false until the media is stored.
func MediaCopied(m messaging.StoredMessage) (key string, ok bool) {
	if m.Media == nil || m.MediaCopy.State != media.Stored || m.MediaCopy.Key == "" {
		return "", false
	}
	return m.MediaCopy.Key, true
}

// Conversation is a conversation with its contact as it is now.
func Conversation(c messaging.ConversationView) bridgeevents.Conversation {
	person, previous := c.Contact.Person, c.Contact.PreviousBSUIDs
	if person.Key() == "" {
		// No contact record (yet): the conversation's own view of the person.
		person, previous = c.Person, nil
	}
	return bridgeevents.Conversation{ID: c.ID, PhoneNumberID: c.PhoneNumberID, Status: string(c.Status),
		LastActiveAt: TimeOrNil(c.LastActiveAt), InactivityMinutes: c.InactivityMinutes,
		Contact: ContactIdentity(person, previous)}
}

// Contact is a person as one number knows them now.
func Contact(c messaging.Contact) bridgeevents.Contact {
	out := bridgeevents.Contact{PhoneNumberID: c.PhoneNumberID, ContactIdentity: ContactIdentity(c.Person, c.PreviousBSUIDs),
		LastSeenAt: TimeOrNil(c.LastSeenAt)}
	if p := c.Marketing; p != nil {
		out.MarketingPreference = &bridgeevents.MarketingPreference{Status: p.Status, Sequence: p.Sequence,
			OccurredAt: TimeOrNil(p.OccurredAt)}
	}
	return out
}

// Person is a person's identity.
func Person(p messaging.Person) bridgeevents.Person {
	return bridgeevents.Person{BusinessScopedUserID: p.BSUID, ParentBusinessScopedUserID: p.ParentBSUID,
		Username: p.Username, PhoneNumber: p.Phone, Name: p.Name}
}

// ContactIdentity is a person with the BSUIDs they had before.
func ContactIdentity(p messaging.Person, previous []string) bridgeevents.ContactIdentity {
	return bridgeevents.ContactIdentity{Person: Person(p), PreviousBusinessScopedUserIDs: previous}
}

// StatusError is why a message failed; nil for nil.
func StatusError(e *messaging.StatusError) *bridgeevents.StatusError {
	if e == nil {
		return nil
	}
	return &bridgeevents.StatusError{Code: e.Code, Title: e.Title, Message: e.Message, Details: e.Details}
}

// TimeOrNil is t in UTC, or nil for the zero time so that JSON leaves it
// out.
func TimeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
