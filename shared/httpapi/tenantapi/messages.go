package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
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

// The views of the read routes are kapso-bridge's public records
// (bridgeevents), shown through apiview: the events carry the same.
type (
	PersonView              = bridgeevents.Person
	ContactIdentityView     = bridgeevents.ContactIdentity
	ConversationItem        = bridgeevents.Conversation
	MessageView             = bridgeevents.MessageSummary
	MessageContent          = bridgeevents.MessageContent
	MediaView               = bridgeevents.Media
	ReactionView            = bridgeevents.Reaction
	KapsoContentView        = bridgeevents.KapsoContent
	StatusErrorView         = bridgeevents.StatusError
	MessageDetail           = bridgeevents.Message
	StatusEntryView         = bridgeevents.StatusEntry
	ContactView             = bridgeevents.Contact
	MarketingPreferenceView = bridgeevents.MarketingPreference
)

// ConversationList is the answer of GET …/conversations.
type ConversationList struct {
	Conversations []ConversationItem `json:"conversations"`
	NextCursor    string             `json:"next_cursor,omitempty"`
}

// MessageList is the answer of GET …/conversations/{id}/messages.
type MessageList struct {
	Messages   []MessageView `json:"messages"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (a *API) listConversations(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	since, err := readUpdatedSince(r)
	if err != nil {
		return err
	}
	page, err := readPage(r)
	if err != nil {
		return err
	}
	page.UpdatedSince = since
	convs, next, err := a.Messages.Conversations(ctx, tenantID, page)
	if err != nil {
		return readError(err, "list conversations")
	}
	out := ConversationList{Conversations: make([]ConversationItem, 0, len(convs)), NextCursor: next}
	for _, c := range convs {
		out.Conversations = append(out.Conversations, apiview.Conversation(c))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) listConversationMessages(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	conversationID, err := pathID(r, routes.ConversationID)
	if err != nil {
		return err
	}
	var page messaging.Page
	if page.Newest, err = readNewest(r); err != nil {
		return err
	}
	p, err := readPage(r)
	if err != nil {
		return err
	}
	page.Limit, page.Cursor = p.Limit, p.Cursor
	msgs, next, err := a.Messages.ConversationMessages(ctx, tenantID, conversationID, page)
	if err != nil {
		return readError(err, "list conversation messages")
	}
	out := MessageList{Messages: make([]MessageView, 0, len(msgs)), NextCursor: next}
	for _, m := range msgs {
		v, err := a.summary(ctx, tenantID, m)
		if err != nil {
			return err
		}
		out.Messages = append(out.Messages, v)
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
	out, err := a.detail(ctx, tenantID, m)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// contactPath reads the number and the contact a contact route names.
func contactPath(r *http.Request) (phoneNumberID, contact string, err error) {
	if phoneNumberID, err = pathID(r, routes.PhoneNumberID); err != nil {
		return "", "", err
	}
	if contact, err = pathID(r, routes.Contact); err != nil {
		return "", "", err
	}
	return phoneNumberID, contact, nil
}

// knownContact is the number and the contact the path names, as it is
// now: 404 when the number does not know them (or no longer: erased).
func (a *API) knownContact(ctx context.Context, r *http.Request, tenantID string) (string, messaging.Contact, error) {
	phoneNumberID, contact, err := contactPath(r)
	if err != nil {
		return "", messaging.Contact{}, err
	}
	c, ok, err := a.Messages.Contact(ctx, tenantID, phoneNumberID, contact)
	if err != nil {
		return "", messaging.Contact{}, readError(err, "load contact")
	}
	if !ok {
		return "", messaging.Contact{}, errs.E(errs.NotFound, "unknown contact", nil)
	}
	return phoneNumberID, c, nil
}

func (a *API) getContact(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	_, c, err := a.knownContact(ctx, r, tenantID)
	if err != nil {
		return err
	}
	out := apiview.Contact(c)
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

// MaxTimeBytes bounds a time in a query: an RFC 3339 time with
// nanoseconds and an offset is 35 bytes.
const MaxTimeBytes = 64

// readUpdatedSince reads updated_since, an RFC 3339 time (the zero time
// when absent).
func readUpdatedSince(r *http.Request) (time.Time, error) { return readSince(r, "updated_since") }

// readSince reads the query parameter name, an RFC 3339 time (the zero
// time when absent).
func readSince(r *http.Request, name string) (time.Time, error) {
	v, ok := r.URL.Query()[name]
	if !ok {
		return time.Time{}, nil
	}
	bad := errs.E(errs.Invalid, name+": must be one RFC 3339 time, such as 2026-03-01T12:00:00Z", nil)
	if len(v) != 1 || len(v[0]) > MaxTimeBytes {
		return time.Time{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		bad.Err = err
		return time.Time{}, bad
	}
	return t.UTC(), nil
}

// readNewest reads order: asc (the default, oldest first) or desc.
func readNewest(r *http.Request) (bool, error) {
	v, ok := r.URL.Query()["order"]
	if !ok {
		return false, nil
	}
	if len(v) != 1 || v[0] != "asc" && v[0] != "desc" {
		return false, errs.E(errs.Invalid, "order: must be asc or desc, once", nil)
	}
	return v[0] == "desc", nil
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
