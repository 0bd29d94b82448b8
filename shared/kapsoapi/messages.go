package kapsoapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

type wireListedMessage struct {
	ID        flexString `json:"id"`
	Timestamp flexString `json:"timestamp"`
	Kapso     struct {
		Direction looseText `json:"direction"`
		Status    looseText `json:"status"`
	} `json:"kapso"`
}

func (w wireListedMessage) message(raw json.RawMessage) (messaging.ListedMessage, error) {
	if w.ID == "" {
		return messaging.ListedMessage{}, errors.New("message without id")
	}
	ts, err := unixSeconds(string(w.Timestamp))
	if err != nil {
		return messaging.ListedMessage{}, fmt.Errorf("message %s: %w", w.ID, err)
	}
	return messaging.ListedMessage{ID: string(w.ID), Timestamp: ts, Direction: string(w.Kapso.Direction),
		Status: string(w.Kapso.Status), Raw: raw}, nil
}

// unixSeconds reads a WhatsApp timestamp: Unix seconds as digits; "" is the zero time.
func unixSeconds(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("timestamp %q is not Unix seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

type wireListedConversation struct {
	ID            flexString `json:"id"`
	Status        looseText  `json:"status"`
	PhoneNumberID flexString `json:"phone_number_id"`
	LastActiveAt  wireTime   `json:"last_active_at"`
	UpdatedAt     wireTime   `json:"updated_at"`
}

func (w wireListedConversation) conversation(raw json.RawMessage) (messaging.ListedConversation, error) {
	if w.ID == "" {
		return messaging.ListedConversation{}, errors.New("conversation without id")
	}
	return messaging.ListedConversation{ID: string(w.ID), Status: string(w.Status), PhoneNumberID: string(w.PhoneNumberID),
		LastActiveAt: time.Time(w.LastActiveAt), UpdatedAt: time.Time(w.UpdatedAt), Raw: raw}, nil
}

// ListMessages returns one page of the number's messages, starting after the
// cursor after ("" for the first page); limit is clamped to 1..100 (≤0: 100).
// Used to catch up on messages whose deliveries were missed.
func (c *Client) ListMessages(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedMessage], error) {
	wrap := func(err error) error { return failed("list messages of phone number "+phoneNumberID, err) }
	if strings.TrimSpace(phoneNumberID) == "" {
		return messaging.ListedPage[messaging.ListedMessage]{}, wrap(argumentError("empty phone number id"))
	}
	p, err := cursorPage(ctx, c, call{op: "list messages", method: http.MethodGet, path: "/whatsapp/messages",
		query: url.Values{"phone_number_id": {phoneNumberID}}, policy: retrySafe}, after, limit, wireListedMessage.message)
	if err != nil {
		return p, wrap(err)
	}
	return p, nil
}

// ListConversations returns one page of the number's conversations, starting
// after the cursor after ("" for the first page); limit is clamped to 1..100
// (≤0: 100). Conversations that name another phone number are dropped, so a
// server that ignored the filter cannot mix numbers (and so tenants).
func (c *Client) ListConversations(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error) {
	wrap := func(err error) error { return failed("list conversations of phone number "+phoneNumberID, err) }
	if strings.TrimSpace(phoneNumberID) == "" {
		return messaging.ListedPage[messaging.ListedConversation]{}, wrap(argumentError("empty phone number id"))
	}
	p, err := cursorPage(ctx, c, call{op: "list conversations", method: http.MethodGet, path: "/whatsapp/conversations",
		query: url.Values{"phone_number_id": {phoneNumberID}}, policy: retrySafe}, after, limit,
		wireListedConversation.conversation)
	if err != nil {
		return p, wrap(err)
	}
	convs := p.Items[:0]
	for _, cv := range p.Items {
		if cv.PhoneNumberID != "" && cv.PhoneNumberID != phoneNumberID {
			c.log.DebugContext(ctx, "kapso listed a conversation of another number", "conversation_id", cv.ID)
			continue
		}
		convs = append(convs, cv)
	}
	return messaging.ListedPage[messaging.ListedConversation]{Items: convs, After: p.After}, nil
}
