package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// Bounds of the read routes' inputs.
const (
	// MaxPathIDBytes bounds a conversation id, WAMID, phone number id or
	// contact in a path; Meta's WAMIDs are well under it.
	MaxPathIDBytes = 256
	// MaxCursorBytes bounds a cursor: larger is no cursor a store handed out.
	MaxCursorBytes = 4096
)

// PersonView is one person's identity as the API shows it.
type PersonView struct {
	BusinessScopedUserID       string `json:"business_scoped_user_id"`
	ParentBusinessScopedUserID string `json:"parent_business_scoped_user_id"`
	Username                   string `json:"username"`
	PhoneNumber                string `json:"phone_number"`
	Name                       string `json:"name"`
}

// ContactIdentityView is a person with the BSUIDs they had before.
type ContactIdentityView struct {
	PersonView
	PreviousBusinessScopedUserIDs []string `json:"previous_business_scoped_user_ids,omitempty"`
}

// ConversationItem is one conversation of GET …/conversations.
type ConversationItem struct {
	ID                string                       `json:"id"`
	PhoneNumberID     string                       `json:"phone_number_id"`
	Status            messaging.ConversationStatus `json:"status"`
	LastActiveAt      *time.Time                   `json:"last_active_at,omitempty"`
	InactivityMinutes int                          `json:"inactivity_minutes,omitempty"`
	Contact           ContactIdentityView          `json:"contact"`
}

// ConversationList is the answer of GET …/conversations.
type ConversationList struct {
	Conversations []ConversationItem `json:"conversations"`
	NextCursor    string             `json:"next_cursor,omitempty"`
}

// MessageView is one message. Content is nil, and its fields absent from
// the JSON, while only the message's statuses have arrived.
type MessageView struct {
	// ID is the outbound id (out_…) of a message sent through the API, the
	// WAMID of any other.
	ID string `json:"id"`
	// WAMID is Meta's id, once Kapso answered it.
	WAMID          string              `json:"wamid,omitempty"`
	PhoneNumberID  string              `json:"phone_number_id"`
	ConversationID string              `json:"conversation_id,omitempty"`
	Direction      messaging.Direction `json:"direction"`
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
	Error *StatusErrorView `json:"error,omitempty"`
}

// MessageContent is what the message itself carries.
type MessageContent struct {
	Type      string            `json:"type"`
	Text      string            `json:"text"`
	Timestamp *time.Time        `json:"timestamp,omitempty"`
	From      PersonView        `json:"from"`
	To        PersonView        `json:"to"`
	ReplyTo   string            `json:"reply_to,omitempty"`
	Media     *MediaView        `json:"media,omitempty"`
	Reaction  *ReactionView     `json:"reaction,omitempty"`
	Kapso     *KapsoContentView `json:"kapso,omitempty"`
}

// MediaView is a reference to a message's media.
type MediaView struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	MIMEType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

// ReactionView is a reaction message; Removed marks a reaction taken back.
type ReactionView struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
	Removed   bool   `json:"removed"`
}

// KapsoContentView is what Kapso adds to a message.
type KapsoContentView struct {
	Content    string `json:"content"`
	Origin     string `json:"origin"`
	HasMedia   bool   `json:"has_media"`
	MediaURL   string `json:"media_url"`
	Transcript string `json:"transcript"`
}

// StatusErrorView is why a message failed, as Meta said.
type StatusErrorView struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// MessageList is the answer of GET …/conversations/{id}/messages.
type MessageList struct {
	Messages   []MessageView `json:"messages"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// MessageDetail is the answer of GET …/messages/{wamid}: the message, its
// whole status history, and whether the message itself has arrived.
type MessageDetail struct {
	MessageView
	Known    bool              `json:"known"`
	Statuses []StatusEntryView `json:"statuses"`
}

// StatusEntryView is one status in a message's history.
type StatusEntryView struct {
	Status messaging.Status `json:"status"`
	At     *time.Time       `json:"at,omitempty"`
	Error  *StatusErrorView `json:"error,omitempty"`
}

// ContactView is the answer of GET …/numbers/{id}/contacts/{contact}.
type ContactView struct {
	PhoneNumberID string `json:"phone_number_id"`
	ContactIdentityView
	MarketingPreference *MarketingPreferenceView `json:"marketing_preference,omitempty"`
	LastSeenAt          *time.Time               `json:"last_seen_at,omitempty"`
}

// MarketingPreferenceView is a person's marketing opt-in as Kapso reported it.
type MarketingPreferenceView struct {
	Status     string     `json:"status"`
	Sequence   int64      `json:"sequence"`
	OccurredAt *time.Time `json:"occurred_at,omitempty"`
}

func (a *API) listConversations(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	page, err := readPage(r)
	if err != nil {
		return err
	}
	convs, next, err := a.Messages.Conversations(ctx, tenantID, page)
	if err != nil {
		return readError(err, "list conversations")
	}
	out := ConversationList{Conversations: make([]ConversationItem, 0, len(convs)), NextCursor: next}
	for _, c := range convs {
		out.Conversations = append(out.Conversations, conversationItem(c))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) listConversationMessages(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	conversationID, err := pathID(r, routes.ConversationID)
	if err != nil {
		return err
	}
	page, err := readPage(r)
	if err != nil {
		return err
	}
	msgs, next, err := a.Messages.ConversationMessages(ctx, tenantID, conversationID, page)
	if err != nil {
		return readError(err, "list conversation messages")
	}
	out := MessageList{Messages: make([]MessageView, 0, len(msgs)), NextCursor: next}
	for _, m := range msgs {
		out.Messages = append(out.Messages, messageView(m))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getMessage(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	wamid, err := pathID(r, routes.WAMID)
	if err != nil {
		return err
	}
	m, ok, err := a.Messages.Message(ctx, tenantID, wamid)
	if err != nil {
		return readError(err, "load message")
	}
	if !ok {
		return errs.E(errs.NotFound, "unknown message", nil)
	}
	out := MessageDetail{MessageView: messageView(m), Known: m.Known,
		Statuses: make([]StatusEntryView, 0, len(m.Delivery.History))}
	for _, e := range m.Delivery.History {
		out.Statuses = append(out.Statuses, StatusEntryView{Status: e.Status, At: timeOrNil(e.At), Error: statusErrorView(e.Error)})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getContact(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	phoneNumberID, err := pathID(r, routes.PhoneNumberID)
	if err != nil {
		return err
	}
	contact, err := pathID(r, routes.Contact)
	if err != nil {
		return err
	}
	c, ok, err := a.Messages.Contact(ctx, tenantID, phoneNumberID, contact)
	if err != nil {
		return readError(err, "load contact")
	}
	if !ok {
		return errs.E(errs.NotFound, "unknown contact", nil)
	}
	out := ContactView{PhoneNumberID: c.PhoneNumberID, ContactIdentityView: contactIdentity(c.Person, c.PreviousBSUIDs),
		LastSeenAt: timeOrNil(c.LastSeenAt)}
	if p := c.Marketing; p != nil {
		out.MarketingPreference = &MarketingPreferenceView{Status: p.Status, Sequence: p.Sequence, OccurredAt: timeOrNil(p.OccurredAt)}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// readPage reads limit and cursor. An absent limit is the default; any
// value outside [1, MaxPageLimit] is refused rather than clamped, so that a
// caller's mistake shows.
func readPage(r *http.Request) (messaging.Page, error) {
	q := r.URL.Query()
	var p messaging.Page
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 1 || n > messaging.MaxPageLimit {
			return p, errs.E(errs.Invalid, fmt.Sprintf("limit: must be one integer from 1 to %d", messaging.MaxPageLimit), err)
		}
		p.Limit = n
	}
	// An empty cursor is the first page: what a caller sends back when the
	// previous answer had no next_cursor.
	if v, ok := q["cursor"]; ok {
		if len(v) != 1 || len(v[0]) > MaxCursorBytes {
			return p, badCursor(nil)
		}
		p.Cursor = v[0]
	}
	return p, nil
}

// pathID reads a path parameter that the store uses as (part of) a key:
// 1 to MaxPathIDBytes bytes of printable ASCII, no space.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if v == "" || len(v) > MaxPathIDBytes || !printableASCII(v) {
		return "", errs.E(errs.Invalid, fmt.Sprintf("%s: must be 1 to %d printable ASCII characters", name, MaxPathIDBytes), nil)
	}
	return v, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// readError turns a Reader's failure into the caller's answer: a bad cursor
// is the caller's to fix; anything else is classified or a 503.
func readError(err error, doing string) error {
	if errors.Is(err, messaging.ErrBadCursor) {
		return badCursor(fmt.Errorf("%s: %w", doing, err))
	}
	return storeError(err, doing)
}

func badCursor(cause error) error {
	return errs.E(httpapi.InvalidCursor, "cursor: not a cursor of this list; start again without one", cause)
}

func conversationItem(c messaging.ConversationView) ConversationItem {
	person, previous := c.Contact.Person, c.Contact.PreviousBSUIDs
	if person.Key() == "" {
		// No contact record (yet): the conversation's own view of the person.
		person, previous = c.Person, nil
	}
	return ConversationItem{ID: c.ID, PhoneNumberID: c.PhoneNumberID, Status: c.Status,
		LastActiveAt: timeOrNil(c.LastActiveAt), InactivityMinutes: c.InactivityMinutes,
		Contact: contactIdentity(person, previous)}
}

func messageView(m messaging.StoredMessage) MessageView {
	v := MessageView{ID: m.WAMID, WAMID: m.WAMID, PhoneNumberID: m.PhoneNumberID, ConversationID: m.ConversationID,
		Direction: m.Direction, Status: string(m.Delivery.Status)}
	if o := m.Outbound; o != nil {
		v.ID = o.ID
		if v.Status == "" {
			v.Status = string(o.State)
			if o.State == messaging.OutFailed {
				v.FailureReason, v.Error = o.Reason, statusErrorView(o.Error)
			}
		}
	}
	if m.Delivery.Status == messaging.Failed {
		v.Error = statusErrorView(m.Delivery.Error)
	}
	if !m.Known {
		return v
	}
	c := &MessageContent{Type: m.Type, Text: m.Text, Timestamp: timeOrNil(m.Timestamp),
		From: personView(m.From), To: personView(m.To), ReplyTo: m.ReplyTo}
	if x := m.Media; x != nil {
		c.Media = &MediaView{ID: x.ID, URL: x.URL, MIMEType: x.MIMEType, Caption: x.Caption, Filename: x.Filename}
	}
	if x := m.Reaction; x != nil {
		c.Reaction = &ReactionView{MessageID: x.MessageID, Emoji: x.Emoji, Removed: x.Removed}
	}
	if x := m.Kapso; x != nil {
		c.Kapso = &KapsoContentView{Content: x.Content, Origin: x.Origin, HasMedia: x.HasMedia,
			MediaURL: x.MediaURL, Transcript: x.Transcript}
	}
	v.MessageContent = c
	return v
}

func personView(p messaging.Person) PersonView {
	return PersonView{BusinessScopedUserID: p.BSUID, ParentBusinessScopedUserID: p.ParentBSUID,
		Username: p.Username, PhoneNumber: p.Phone, Name: p.Name}
}

func contactIdentity(p messaging.Person, previous []string) ContactIdentityView {
	return ContactIdentityView{PersonView: personView(p), PreviousBusinessScopedUserIDs: previous}
}

func statusErrorView(e *messaging.StatusError) *StatusErrorView {
	if e == nil {
		return nil
	}
	return &StatusErrorView{Code: e.Code, Title: e.Title, Message: e.Message, Details: e.Details}
}
