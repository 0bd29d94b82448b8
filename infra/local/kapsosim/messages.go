package kapsosim

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// The message controls play both sides of a connected number's traffic: a
// person writing to it (whatsapp.message.received, alone or in a batch) and
// the business writing back (whatsapp.message.sent, then delivered, read or
// failed). Each event is built the way Kapso builds it, from the state the
// simulator keeps per number: conversations and messages.

// Inbound is a message, or a batch of them, a person sends to a number.
// A person is FromBSUID, FromPhone or both; with neither, a default person
// with a phone writes.
type Inbound struct {
	Text      string `json:"text"`
	FromPhone string `json:"from_phone"` // digits, a leading "+" allowed
	FromBSUID string `json:"from_bsuid"` // business-scoped user ID, e.g. US.13491208655302741918
	Name      string `json:"name"`       // the person's WhatsApp profile name
	// Count above 1 sends Count messages in one batch delivery, as Kapso
	// does with buffering on (at most 100).
	Count int `json:"count"`
	// Type is text (""), or image, audio (a voice note), video, document
	// or sticker: a message with a real file, Text its caption (image,
	// video and document) and Filename a document's name. Size > 0 makes the file
	// that many bytes, generated as it is read (a large document for the
	// bench, or a file over Meta's limit for its type).
	Type     string `json:"type"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// Outbound is a message the business sends from a number. With no
// recipient it goes to the number's most recently active conversation.
type Outbound struct {
	Text    string `json:"text"`
	ToPhone string `json:"to_phone"`
	ToBSUID string `json:"to_bsuid"`
}

// StatusChange moves an outbound message to delivered, read or failed.
// A failure without ErrorCode is 131047 "Re-engagement message".
type StatusChange struct {
	Status     string `json:"status"`
	ErrorCode  int    `json:"error_code"`
	ErrorTitle string `json:"error_title"`
}

// Sent is what a message control delivered.
type Sent struct {
	Event          string   `json:"event"`
	WAMID          string   `json:"wamid"` // the first of WAMIDs
	WAMIDs         []string `json:"wamids"`
	ConversationID string   `json:"conversation_id"`
	Key            string   `json:"key"`
	// Statuses are the first attempt's answers, one per webhook (0: no
	// answer); a failed attempt is retried in the background.
	Statuses []int `json:"statuses"`
}

// ChatMessage is a message as the simulator keeps it.
type ChatMessage struct {
	WAMID          string `json:"wamid"`
	PhoneNumberID  string `json:"phone_number_id"`
	ConversationID string `json:"conversation_id"`
	Direction      string `json:"direction"` // inbound | outbound
	// Type is the message's type as Meta names it (text, template, image…);
	// "" is text.
	Type     string          `json:"type,omitempty"`
	Text     string          `json:"text"` // a text's body, else a description of the message
	Media    *MessageMedia   `json:"media,omitempty"`
	At       time.Time       `json:"at"`
	Person   Person          `json:"person"`             // the sender of an inbound message, the recipient of an outbound one
	Statuses []MessageStatus `json:"statuses,omitempty"` // outbound only, oldest first
}

// MessageMedia is the file of a media message.
type MessageMedia struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"` // hex
	Size     int64  `json:"size"`
	Filename string `json:"filename,omitempty"`
	Caption  string `json:"caption,omitempty"`
	// URL is Kapso's media_url of the message (the API key needed).
	URL string `json:"url"`
}

// Status is the message's current status: received for an inbound one.
func (m ChatMessage) Status() string {
	if len(m.Statuses) == 0 {
		return "received"
	}
	return m.Statuses[len(m.Statuses)-1].Status
}

// MessageStatus is one status of an outbound message.
type MessageStatus struct {
	Status     string    `json:"status"`
	At         time.Time `json:"at"`
	ErrorCode  int       `json:"error_code,omitempty"`
	ErrorTitle string    `json:"error_title,omitempty"`
}

// Person is someone a number talks to.
type Person struct {
	Phone string `json:"phone,omitempty"` // digits, no "+"
	BSUID string `json:"bsuid,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Conversation is one person's thread on one number.
type Conversation struct {
	ID             string    `json:"id"`
	PhoneNumberID  string    `json:"phone_number_id"`
	Person         Person    `json:"person"`
	CreatedAt      time.Time `json:"created_at"`
	LastActiveAt   time.Time `json:"last_active_at"`
	MessagesCount  int       `json:"messages_count"`
	LastMessageID  string    `json:"last_message_id"`
	LastInboundAt  time.Time `json:"last_inbound_at"`
	LastOutboundAt time.Time `json:"last_outbound_at"`
	lastMessageAt  time.Time // the newest message's time
}

// messageTime is when a new message of the conversation is sent, wanting
// at: never in the same Unix second as, nor before, the one before it, since
// Meta's timestamps are seconds and a conversation is read in their order.
func (c *Conversation) messageTime(at time.Time) time.Time {
	if floor := c.lastMessageAt.Truncate(time.Second).Add(time.Second); !c.lastMessageAt.IsZero() && at.Before(floor) {
		return floor
	}
	return at
}

// Conversations returns the conversations of a number, most recently
// active first.
func (s *Simulator) Conversations(phoneNumberID string) []Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Conversation
	for _, c := range s.conversations {
		if c.PhoneNumberID == phoneNumberID {
			out = append(out, *c)
		}
	}
	slices.SortStableFunc(out, func(a, b Conversation) int { return b.LastActiveAt.Compare(a.LastActiveAt) })
	return out
}

// Messages returns the messages of a number, oldest first.
func (s *Simulator) Messages(phoneNumberID string) []ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChatMessage
	for _, m := range s.messages {
		if m.PhoneNumberID == phoneNumberID {
			c := *m
			c.Statuses = slices.Clone(m.Statuses)
			out = append(out, c)
		}
	}
	return out
}

// Defaults of the message controls.
const (
	defaultInboundText  = "Oi! Vocês entregam hoje?"
	defaultOutboundText = "Olá! Seu pedido sai às 15h."
	defaultPhone        = "16505551234"
	defaultName         = "Maria Souza"
	maxBatch            = 100
	reEngagementCode    = 131047
	reEngagementTitle   = "Re-engagement message"
	reEngagementDetails = "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
)

var phonePattern = regexp.MustCompile(`^[0-9]{6,15}$`)

// newPerson validates a person given by phone and/or BSUID.
func newPerson(phone, bsuid, name string) (Person, error) {
	p := Person{Phone: strings.TrimPrefix(strings.TrimSpace(phone), "+"), BSUID: strings.TrimSpace(bsuid),
		Name: strings.TrimSpace(name)}
	if p.Phone != "" && !phonePattern.MatchString(p.Phone) {
		return p, fmt.Errorf("%w: phone %q is not 6 to 15 digits", ErrInvalid, phone)
	}
	if p.BSUID != "" && !kapso.IsBSUID(p.BSUID) {
		return p, fmt.Errorf("%w: %q is not a BSUID (like US.13491208655302741918)", ErrInvalid, bsuid)
	}
	return p, nil
}

// NewBSUID returns a fresh business-scoped user ID, US.<20 digits>.
func (s *Simulator) NewBSUID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "US." + s.digits(20)
}

// SendInbound delivers a person's message (Count > 1: a batch of them) to
// the number's webhooks as whatsapp.message.received. The number must be
// known (ErrNotFound) and have an active webhook for the event
// (ErrNoWebhook).
func (s *Simulator) SendInbound(ctx context.Context, phoneNumberID string, in Inbound) (Sent, error) {
	fail := func(err error) (Sent, error) {
		return Sent{}, fmt.Errorf("send inbound message to %s: %w", phoneNumberID, err)
	}
	count := cmp.Or(in.Count, 1)
	if count < 1 || count > maxBatch {
		return fail(fmt.Errorf("%w: count must be between 1 and %d", ErrInvalid, maxBatch))
	}
	p, err := newPerson(in.FromPhone, in.FromBSUID, in.Name)
	if err != nil {
		return fail(err)
	}
	if p.Phone == "" && p.BSUID == "" {
		p.Phone, p.Name = defaultPhone, cmp.Or(p.Name, defaultName)
	}
	typ := cmp.Or(in.Type, "text")
	if _, ok := mediaKinds[typ]; !ok && typ != "text" {
		return fail(fmt.Errorf("%w: type must be text, image, audio, video, document or sticker", ErrInvalid))
	}
	text := cmp.Or(strings.TrimSpace(in.Text), defaultInboundText)
	if typ != "text" {
		text = strings.TrimSpace(in.Text) // a caption, or none
		if in.Size < 0 || in.Size > maxGenerated {
			return fail(fmt.Errorf("%w: size must be 0 to %d bytes", ErrInvalid, int64(maxGenerated)))
		}
	}
	event := kapso.EventMessageReceived

	s.mu.Lock()
	n, targets, err := s.numberTargetsLocked(phoneNumberID, event)
	if err != nil {
		s.mu.Unlock()
		return fail(err)
	}
	now := s.now()
	c, isNew := s.conversationLocked(phoneNumberID, p, now)
	sent := Sent{Event: event, ConversationID: c.ID, Key: s.uuid()}
	items := make([]json.RawMessage, 0, count)
	for i := range count {
		body := text
		if count > 1 && text != "" {
			body = fmt.Sprintf("%s (%d/%d)", text, i+1, count)
		}
		// A batch gathers what the person typed over the buffer window.
		at := c.messageTime(now.Add(-time.Duration(count-1-i) * time.Second))
		m := &ChatMessage{WAMID: s.wamid(c.Person, true), PhoneNumberID: phoneNumberID, ConversationID: c.ID,
			Direction: "inbound", Text: body, At: at, Person: c.Person}
		if typ != "text" {
			if err := s.attachMediaLocked(m, typ, in.Filename, in.Size); err != nil {
				s.mu.Unlock()
				return fail(err)
			}
		}
		s.messages = append(s.messages, m)
		c.record(m)
		sent.WAMIDs = append(sent.WAMIDs, m.WAMID)
		items = append(items, s.messageEventLocked(n, c, m, isNew && i == 0))
	}
	sent.WAMID = sent.WAMIDs[0]
	payload, extra := items[0], http.Header(nil)
	if count > 1 {
		s.sequence += count
		payload, _ = json.Marshal(wireBatch{Type: event, Batch: true, Data: items, BatchInfo: wireBatchInfo{
			Size: count, WindowMS: 5000, FirstSequence: s.sequence - count + 1, LastSequence: s.sequence,
			ConversationID: c.ID}})
		extra = http.Header{"X-Webhook-Batch": {"true"}, "X-Batch-Size": {strconv.Itoa(count)}}
	} else {
		items = nil // only a batch is re-sent message by message
	}
	s.mu.Unlock()
	sent.Statuses = s.deliverNumber(ctx, targets, event, sent.Key, payload, extra, items)
	return sent, nil
}

// SendOutbound delivers whatsapp.message.sent for a message the business
// sends, and returns its WAMID in Sent. The message can then be moved on
// with SetMessageStatus.
func (s *Simulator) SendOutbound(ctx context.Context, phoneNumberID string, out Outbound) (Sent, error) {
	fail := func(err error) (Sent, error) {
		return Sent{}, fmt.Errorf("send outbound message from %s: %w", phoneNumberID, err)
	}
	p, err := newPerson(out.ToPhone, out.ToBSUID, "")
	if err != nil {
		return fail(err)
	}
	text := cmp.Or(strings.TrimSpace(out.Text), defaultOutboundText)
	event := kapso.EventMessageSent

	s.mu.Lock()
	n, targets, err := s.numberTargetsLocked(phoneNumberID, event)
	if err != nil {
		s.mu.Unlock()
		return fail(err)
	}
	if p.Phone == "" && p.BSUID == "" {
		latest := s.latestConversationLocked(phoneNumberID)
		if latest == nil {
			s.mu.Unlock()
			return fail(fmt.Errorf("%w: no conversation yet: give to_phone or to_bsuid", ErrInvalid))
		}
		p = latest.Person
	}
	c, isNew := s.conversationLocked(phoneNumberID, p, s.now())
	at := c.messageTime(s.now())
	m := &ChatMessage{WAMID: s.wamid(c.Person, false), PhoneNumberID: phoneNumberID, ConversationID: c.ID,
		Direction: "outbound", Text: text, At: at, Person: c.Person,
		Statuses: []MessageStatus{{Status: "sent", At: at}}}
	s.messages = append(s.messages, m)
	c.record(m)
	payload := s.messageEventLocked(n, c, m, isNew)
	sent := Sent{Event: event, WAMID: m.WAMID, WAMIDs: []string{m.WAMID}, ConversationID: c.ID, Key: s.uuid()}
	s.mu.Unlock()
	sent.Statuses = s.deliverNumber(ctx, targets, event, sent.Key, payload, nil, nil)
	return sent, nil
}

// statusEvents maps the statuses an outbound message can move to to their
// events.
var statusEvents = map[string]string{
	"delivered": kapso.EventMessageDelivered,
	"read":      kapso.EventMessageRead,
	"failed":    kapso.EventMessageFailed,
}

// SetMessageStatus adds a status to an outbound message's history and
// delivers the matching whatsapp.message.* event, whose
// message.kapso.statuses carry the whole history. Any order is allowed, as
// WhatsApp's own statuses can come in any order.
func (s *Simulator) SetMessageStatus(ctx context.Context, wamid string, ch StatusChange) (Sent, error) {
	fail := func(err error) (Sent, error) { return Sent{}, fmt.Errorf("set status of %s: %w", wamid, err) }
	event, ok := statusEvents[ch.Status]
	if !ok {
		return fail(fmt.Errorf("%w: status must be delivered, read or failed", ErrInvalid))
	}
	st := MessageStatus{Status: ch.Status}
	if ch.ErrorCode < 0 {
		return fail(fmt.Errorf("%w: error_code must be a positive integer", ErrInvalid))
	}
	if ch.Status == "failed" {
		st.ErrorCode, st.ErrorTitle = cmp.Or(ch.ErrorCode, reEngagementCode), strings.TrimSpace(ch.ErrorTitle)
		if st.ErrorTitle == "" && st.ErrorCode == reEngagementCode {
			st.ErrorTitle = reEngagementTitle
		}
		st.ErrorTitle = cmp.Or(st.ErrorTitle, "Message failed")
	}

	s.mu.Lock()
	m := first(s.messages, func(m *ChatMessage) bool { return m.WAMID == wamid })
	if m == nil {
		s.mu.Unlock()
		return fail(ErrNotFound)
	}
	if m.Direction != "outbound" {
		s.mu.Unlock()
		return fail(fmt.Errorf("%w: only outbound messages have delivery statuses", ErrInvalid))
	}
	n, targets, err := s.numberTargetsLocked(m.PhoneNumberID, event)
	if err != nil {
		s.mu.Unlock()
		return fail(err)
	}
	st.At = s.now()
	if prev := m.Statuses[len(m.Statuses)-1].At; st.At.Before(prev) {
		st.At = prev // a message sent ahead of the clock (see messageTime)
	}
	m.Statuses = append(m.Statuses, st)
	c := first(s.conversations, func(c *Conversation) bool { return c.ID == m.ConversationID })
	payload := s.messageEventLocked(n, c, m, false)
	sent := Sent{Event: event, WAMID: m.WAMID, WAMIDs: []string{m.WAMID}, ConversationID: c.ID, Key: s.uuid()}
	s.mu.Unlock()
	sent.Statuses = s.deliverNumber(ctx, targets, event, sent.Key, payload, nil, nil)
	return sent, nil
}

// numberTargetsLocked finds the number and the webhooks a message event
// goes to: its active kapso webhooks subscribed to event, none when the
// number's webhooks are in drop mode. A number with only paused webhooks
// for the event still takes the message (Kapso keeps it; nothing is sent),
// so the message lists show what the webhooks missed; one with none at all
// is ErrNoWebhook. Callers hold s.mu.
func (s *Simulator) numberTargetsLocked(phoneNumberID, event string) (*number, []Webhook, error) {
	n := s.findNumber(phoneNumberID)
	if n == nil {
		return nil, nil, fmt.Errorf("phone number %s: %w", phoneNumberID, ErrNotFound)
	}
	var targets []Webhook
	subscribed := false
	for _, h := range s.webhooks {
		if h.PhoneNumberID == phoneNumberID && h.Kind == "kapso" && slices.Contains(h.Events, event) {
			subscribed = true
			if h.Active {
				targets = append(targets, *h) // a copy: sent from outside the lock
			}
		}
	}
	if !subscribed {
		return nil, nil, fmt.Errorf("%s on %s: %w", event, phoneNumberID, ErrNoWebhook)
	}
	if s.numberModes[phoneNumberID] == ModeDrop {
		targets = nil
	}
	return n, targets, nil
}

// conversationLocked finds the person's conversation on the number, by
// BSUID first and phone second, learning what p adds about the person, or
// starts one; callers hold s.mu.
func (s *Simulator) conversationLocked(phoneNumberID string, p Person, now time.Time) (*Conversation, bool) {
	same := func(c *Conversation) bool {
		return c.PhoneNumberID == phoneNumberID &&
			(p.BSUID != "" && c.Person.BSUID == p.BSUID || p.Phone != "" && c.Person.Phone == p.Phone)
	}
	if c := first(s.conversations, same); c != nil {
		c.Person.Phone = cmp.Or(c.Person.Phone, p.Phone)
		c.Person.BSUID = cmp.Or(c.Person.BSUID, p.BSUID)
		c.Person.Name = cmp.Or(p.Name, c.Person.Name)
		return c, false
	}
	c := &Conversation{ID: s.uuid(), PhoneNumberID: phoneNumberID, Person: p, CreatedAt: now, LastActiveAt: now}
	s.conversations = append(s.conversations, c)
	return c, true
}

func (s *Simulator) latestConversationLocked(phoneNumberID string) *Conversation {
	var latest *Conversation
	for _, c := range s.conversations {
		if c.PhoneNumberID == phoneNumberID && (latest == nil || !c.LastActiveAt.Before(latest.LastActiveAt)) {
			latest = c
		}
	}
	return latest
}

// record counts a new message in its conversation.
func (c *Conversation) record(m *ChatMessage) {
	c.MessagesCount++
	c.LastMessageID = m.WAMID
	if m.At.After(c.lastMessageAt) {
		c.lastMessageAt = m.At
	}
	if m.At.After(c.LastActiveAt) {
		c.LastActiveAt = m.At
	}
	if m.Direction == "inbound" {
		c.LastInboundAt = m.At
	} else {
		c.LastOutboundAt = m.At
	}
}

// wamid makes a WAMID shaped like Meta's: base64 of the person's phone (or
// BSUID) and a message id; callers hold s.mu.
func (s *Simulator) wamid(p Person, inbound bool) string {
	who := cmp.Or(p.Phone, p.BSUID)
	dir, id := byte(0x11), "9A"+s.hex(16)
	if inbound {
		dir, id = 0x12, "3A"+s.hex(18)
	}
	b := append([]byte{0x1c, 0x18, byte(len(who))}, who...)
	b = append(b, 0x15, 0x02, 0x00, dir, 0x18, byte(len(id)))
	b = append(b, id...)
	return "wamid." + base64.StdEncoding.EncodeToString(append(b, 0x00))
}

// hex returns n random uppercase hex digits; callers hold s.mu.
func (s *Simulator) hex(n int) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[s.rng.IntN(16)]
	}
	return string(b)
}

// --- Kapso's wire shapes (v2), field for field as in events/kapso ---

type wireText struct {
	Body string `json:"body"`
}

type wireErrorData struct {
	Details string `json:"details"`
}

type wireError struct {
	Code      int           `json:"code"`
	Title     string        `json:"title"`
	Message   string        `json:"message"`
	ErrorData wireErrorData `json:"error_data"`
	Href      string        `json:"href"`
}

type wirePricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
	Type         string `json:"type"`
}

type wireStatus struct {
	ID              string       `json:"id"`
	Status          string       `json:"status"`
	Timestamp       string       `json:"timestamp"`
	RecipientID     string       `json:"recipient_id,omitempty"`
	RecipientUserID string       `json:"recipient_user_id,omitempty"`
	Pricing         *wirePricing `json:"pricing,omitempty"`
	Errors          []wireError  `json:"errors,omitempty"`
}

type wireMessageKapso struct {
	Direction              string       `json:"direction"`
	Status                 string       `json:"status"`
	ProcessingStatus       string       `json:"processing_status"`
	Origin                 string       `json:"origin"`
	HasMedia               bool         `json:"has_media"`
	MediaURL               string       `json:"media_url,omitempty"`
	Content                string       `json:"content"`
	Statuses               []wireStatus `json:"statuses,omitempty"`
	WhatsAppConversationID string       `json:"whatsapp_conversation_id"`
	ContactName            string       `json:"contact_name,omitempty"`
}

type wireMessage struct {
	ID         string           `json:"id"`
	Timestamp  string           `json:"timestamp"`
	Type       string           `json:"type"`
	From       string           `json:"from,omitempty"`
	FromUserID string           `json:"from_user_id,omitempty"`
	To         string           `json:"to,omitempty"`
	ToUserID   string           `json:"to_user_id,omitempty"`
	Text       *wireText        `json:"text,omitempty"` // text messages only
	Image      *wireMedia       `json:"image,omitempty"`
	Audio      *wireMedia       `json:"audio,omitempty"`
	Video      *wireMedia       `json:"video,omitempty"`
	Document   *wireMedia       `json:"document,omitempty"`
	Sticker    *wireMedia       `json:"sticker,omitempty"`
	Kapso      wireMessageKapso `json:"kapso"`
}

// wireMedia is a media message's object, as Meta's webhook has it.
type wireMedia struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption,omitempty"`  // image, video, document
	Filename string `json:"filename,omitempty"` // document
	Voice    *bool  `json:"voice,omitempty"`    // audio
	Animated *bool  `json:"animated,omitempty"` // sticker
}

type wireConversationKapso struct {
	ContactName          string  `json:"contact_name,omitempty"`
	MessagesCount        int     `json:"messages_count"`
	LastMessageID        string  `json:"last_message_id"`
	LastMessageType      string  `json:"last_message_type"`
	LastMessageTimestamp string  `json:"last_message_timestamp"`
	LastInboundAt        *string `json:"last_inbound_at"`
	LastOutboundAt       *string `json:"last_outbound_at"`
}

type wireConversation struct {
	ID                   string                `json:"id"`
	PhoneNumber          *string               `json:"phone_number"`
	BusinessScopedUserID *string               `json:"business_scoped_user_id"`
	Status               string                `json:"status"`
	LastActiveAt         string                `json:"last_active_at"`
	CreatedAt            string                `json:"created_at"`
	UpdatedAt            string                `json:"updated_at"`
	Metadata             struct{}              `json:"metadata"`
	PhoneNumberID        string                `json:"phone_number_id"`
	Kapso                wireConversationKapso `json:"kapso"`
}

type wireMessageEvent struct {
	Message           wireMessage      `json:"message"`
	Conversation      wireConversation `json:"conversation"`
	IsNewConversation bool             `json:"is_new_conversation"`
	PhoneNumberID     string           `json:"phone_number_id"`
}

type wireBatchInfo struct {
	Size           int    `json:"size"`
	WindowMS       int    `json:"window_ms"`
	FirstSequence  int    `json:"first_sequence"`
	LastSequence   int    `json:"last_sequence"`
	ConversationID string `json:"conversation_id"`
}

type wireBatch struct {
	Type      string            `json:"type"`
	Batch     bool              `json:"batch"`
	Data      []json.RawMessage `json:"data"`
	BatchInfo wireBatchInfo     `json:"batch_info"`
}

// isoTime is Kapso's ISO 8601 with milliseconds.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func unixTime(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return optional(isoTime(t))
}

// messageEventLocked builds the whatsapp.message.* payload of m as it is
// now; callers hold s.mu.
func (s *Simulator) messageEventLocked(n *number, c *Conversation, m *ChatMessage, isNew bool) json.RawMessage {
	ev := wireMessageEvent{Message: wireMessageOf(n, c, m), IsNewConversation: isNew, PhoneNumberID: n.PhoneNumberID,
		Conversation: wireConversationOf(n, c)}
	b, _ := json.Marshal(ev) // strings, ints and bools always marshal
	return b
}

// wireMessageOf is the event's message object, which the messages list
// answers too.
func wireMessageOf(n *number, c *Conversation, m *ChatMessage) wireMessage {
	business := strings.TrimPrefix(n.Display, "+")
	p := m.Person
	w := wireMessage{ID: m.WAMID, Timestamp: unixTime(m.At), Type: cmp.Or(m.Type, "text"),
		Kapso: wireMessageKapso{Direction: m.Direction, Status: m.Status(), Origin: "cloud_api", Content: m.Text,
			WhatsAppConversationID: c.ID, ContactName: c.Person.Name}}
	if w.Type == "text" {
		w.Text = &wireText{Body: m.Text}
	}
	if md := m.Media; md != nil {
		wm := &wireMedia{ID: md.ID, MIMEType: md.MIMEType, SHA256: md.SHA256, Caption: md.Caption, Filename: md.Filename}
		yes, no := true, false
		switch w.Type {
		case "image":
			w.Image = wm
		case "audio":
			wm.Voice, w.Audio = &yes, wm
		case "video":
			w.Video = wm
		case "document":
			w.Document = wm
		case "sticker":
			wm.Animated, w.Sticker = &no, wm
		}
		w.Kapso.HasMedia, w.Kapso.MediaURL = true, md.URL
	}
	if m.Direction == "inbound" {
		w.From, w.FromUserID, w.To = p.Phone, p.BSUID, business
		w.Kapso.ProcessingStatus = "pending"
		return w
	}
	w.From, w.To, w.ToUserID = business, p.Phone, p.BSUID
	w.Kapso.ProcessingStatus = "completed"
	for _, st := range m.Statuses {
		ws := wireStatus{ID: m.WAMID, Status: st.Status, Timestamp: unixTime(st.At), RecipientID: p.Phone,
			RecipientUserID: p.BSUID}
		if st.Status == "failed" {
			details := st.ErrorTitle
			if st.ErrorCode == reEngagementCode {
				details = reEngagementDetails
			}
			ws.Errors = []wireError{{Code: st.ErrorCode, Title: st.ErrorTitle, Message: st.ErrorTitle,
				ErrorData: wireErrorData{Details: details},
				Href:      "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}}
		} else {
			ws.Pricing = &wirePricing{Billable: true, PricingModel: "PMP", Category: "service", Type: "regular"}
		}
		w.Kapso.Statuses = append(w.Kapso.Statuses, ws)
	}
	return w
}

// wireConversationOf is the event's conversation object, which the
// conversations list answers too.
func wireConversationOf(n *number, c *Conversation) wireConversation {
	return wireConversation{ID: c.ID, PhoneNumber: optional(plus(c.Person.Phone)),
		BusinessScopedUserID: optional(c.Person.BSUID), Status: "active", LastActiveAt: isoTime(c.LastActiveAt),
		CreatedAt: isoTime(c.CreatedAt), UpdatedAt: isoTime(c.LastActiveAt), PhoneNumberID: n.PhoneNumberID,
		Kapso: wireConversationKapso{ContactName: c.Person.Name, MessagesCount: c.MessagesCount,
			LastMessageID: c.LastMessageID, LastMessageType: "text", LastMessageTimestamp: isoTime(c.LastActiveAt),
			LastInboundAt: optionalTime(c.LastInboundAt), LastOutboundAt: optionalTime(c.LastOutboundAt)}}
}

func plus(phone string) string {
	if phone == "" {
		return ""
	}
	return "+" + phone
}

// deliverNumber makes the first attempt of a delivery to each webhook now
// and answers their statuses; an attempt not answered 200 is retried in the
// background on the retry schedule. A batch still failing after its last
// retry is sent again one message at a time with new idempotency keys, as
// Kapso does (items are those messages).
func (s *Simulator) deliverNumber(ctx context.Context, targets []Webhook, event, key string, body []byte,
	extra http.Header, items []json.RawMessage) []int {
	statuses := make([]int, 0, len(targets))
	for _, h := range targets {
		st := s.post(ctx, h.URL, h.SecretKey, event, h.PayloadVersion, key, 1, body, extra)
		statuses = append(statuses, st)
		if st != http.StatusOK {
			var tried attempts
			tried.add(st, s.now())
			s.background(func() { s.retryNumber(h, event, key, body, extra, items, tried) })
		}
	}
	return statuses
}

// background runs f unless the simulator is closed; Close waits for it.
func (s *Simulator) background(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.startLocked()
	go func() { defer s.finish(); f() }()
}

// retryNumber makes the delivery's attempts after those tried.
func (s *Simulator) retryNumber(h Webhook, event, key string, body []byte, extra http.Header,
	items []json.RawMessage, tried attempts) {
	for i := tried.n; i < len(s.schedule); i++ {
		t := time.NewTimer(s.schedule[i])
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		st := s.post(s.ctx, h.URL, h.SecretKey, event, h.PayloadVersion, key, i+1, body, extra)
		if st == http.StatusOK {
			return
		}
		tried.add(st, s.now())
	}
	s.log.Info("kapsosim: number webhook gave up", "event", event, "key", key, "url", h.URL,
		"attempts", len(s.schedule), "resending_messages", len(items))
	s.recordFailed(h, event, key, tried)
	for _, item := range items {
		s.mu.Lock()
		k := s.uuid()
		s.mu.Unlock()
		s.retryNumber(h, event, k, item, nil, nil, attempts{})
	}
}
