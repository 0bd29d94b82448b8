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
	return listMessages(ctx, c, phoneNumberID, func(string) call {
		return call{method: http.MethodGet, path: "/whatsapp/messages", query: url.Values{"phone_number_id": {phoneNumberID}}}
	}, after, limit)
}

// ListConversations returns one page of the number's conversations, starting
// after the cursor after ("" for the first page); limit is clamped to 1..100
// (≤0: 100). Conversations that name another phone number are dropped, so a
// server that ignored the filter cannot mix numbers (and so tenants).
func (c *Client) ListConversations(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error) {
	return listConversations(ctx, c, phoneNumberID, func(string) call {
		return call{method: http.MethodGet, path: "/whatsapp/conversations", query: url.Values{"phone_number_id": {phoneNumberID}}}
	}, after, limit)
}

// Kapso's fields asked of the proxy's history: its message object has them
// only when asked (fields=kapso(…)). Messages: the SDK's KAPSO_MESSAGE_FIELDS
// and the statuses and origin of the webhook's message object; conversations:
// those of the webhook's conversation object.
const (
	historyMessageFields = "kapso(direction,status,processing_status,phone_number,has_media,media_data,media_url," +
		"whatsapp_conversation_id,contact_name,message_type_data,content,flow_response,flow_token,flow_name,order_text," +
		"statuses,origin)"
	historyConversationFields = "kapso(contact_name,messages_count,last_message_id,last_message_type," +
		"last_message_timestamp,last_message_text,last_inbound_at,last_outbound_at)"
)

// ListMessages returns one page of the number's message history through the
// Meta proxy (GET /{phone_number_id}/messages, Graph cursors), as
// Client.ListMessages does through the Platform API.
func (s *MetaProxy) ListMessages(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedMessage], error) {
	return listMessages(ctx, s.c, phoneNumberID, func(id string) call {
		return call{method: http.MethodGet, path: "/" + id + "/messages", query: url.Values{"fields": {historyMessageFields}}}
	}, after, limit)
}

// ListConversations returns one page of the number's conversations through
// the Meta proxy (GET /{phone_number_id}/conversations, Graph cursors), as
// Client.ListConversations does through the Platform API.
func (s *MetaProxy) ListConversations(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error) {
	return listConversations(ctx, s.c, phoneNumberID, func(id string) call {
		return call{method: http.MethodGet, path: "/" + id + "/conversations", query: url.Values{"fields": {historyConversationFields}}}
	}, after, limit)
}

// listAt is the call that lists a number's items (its method, path and
// query), given the number's escaped id.
type listAt func(escapedID string) call

func listMessages(ctx context.Context, c *Client, phoneNumberID string, at listAt, after string, limit int) (messaging.ListedPage[messaging.ListedMessage], error) {
	wrap := func(err error) error { return failed("list messages of phone number "+phoneNumberID, err) }
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return messaging.ListedPage[messaging.ListedMessage]{}, wrap(err)
	}
	cl := at(id)
	cl.op, cl.policy = "list messages", retrySafe
	p, err := cursorPage(ctx, c, cl, after, limit, wireListedMessage.message)
	if err != nil {
		return p, wrap(err)
	}
	return p, nil
}

func listConversations(ctx context.Context, c *Client, phoneNumberID string, at listAt, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error) {
	wrap := func(err error) error { return failed("list conversations of phone number "+phoneNumberID, err) }
	id, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return messaging.ListedPage[messaging.ListedConversation]{}, wrap(err)
	}
	cl := at(id)
	cl.op, cl.policy = "list conversations", retrySafe
	p, err := cursorPage(ctx, c, cl, after, limit, wireListedConversation.conversation)
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
