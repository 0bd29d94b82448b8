// Package meta holds the Meta WhatsApp Cloud API webhook format that a
// phone number's meta-kind Kapso webhook forwards as is: its types, the
// splitting of one delivery into messages, statuses and changes, and Meta's
// own X-Hub-Signature-256 check. It imports no AWS SDK.
package meta

import "encoding/json"

// Identity fields (wa_id, from, recipient_id) may be "" or absent: a person
// can be known only by a business-scoped user ID (BSUID). All types decode
// tolerantly: missing or null fields leave zero values, unknown fields are
// ignored, and type-specific message parts stay raw.

// ObjectWhatsAppBusinessAccount is the "object" of a WhatsApp payload.
const ObjectWhatsAppBusinessAccount = "whatsapp_business_account"

// FieldMessages is the change field that carries messages, statuses and errors.
const FieldMessages = "messages"

// Payload is one Meta webhook POST body.
type Payload struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is the changes of one WhatsApp Business Account.
type Entry struct {
	ID      string   `json:"id"` // the WABA id
	Changes []Change `json:"changes"`
}

// Change is one field's update; Value decodes as a Value when Field is
// "messages" and has a field-specific shape otherwise.
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// Value is the value of a "messages" change.
type Value struct {
	MessagingProduct string    `json:"messaging_product"`
	Metadata         Metadata  `json:"metadata"`
	Contacts         []Contact `json:"contacts,omitempty"`
	Messages         []Message `json:"messages,omitempty"`
	Statuses         []Status  `json:"statuses,omitempty"`
	Errors           []Error   `json:"errors,omitempty"`
}

// Metadata names the business number a change is about.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Profile is what a person shows about themselves.
type Profile struct {
	Name        string `json:"name"`
	Username    string `json:"username"`
	CountryCode string `json:"country_code"`
}

// Contact is the sender of the messages of a change.
type Contact struct {
	Profile      Profile `json:"profile"`
	WaID         string  `json:"wa_id"`
	UserID       string  `json:"user_id"`
	ParentUserID string  `json:"parent_user_id"`
}

// ErrorData carries the detail of an Error.
type ErrorData struct {
	Details string `json:"details"`
}

// Error is a Meta error, on a change, a message or a status.
type Error struct {
	Code      int        `json:"code"`
	Title     string     `json:"title"`
	Message   string     `json:"message"`
	ErrorData *ErrorData `json:"error_data,omitempty"`
	Href      string     `json:"href,omitempty"`
}

// Details returns error_data.details, or "".
func (e Error) Details() string {
	if e.ErrorData == nil {
		return ""
	}
	return e.ErrorData.Details
}

// Text is the body of a text message.
type Text struct {
	Body string `json:"body"`
}

// Reaction is a reaction to an earlier message; an absent or empty emoji
// removes it.
type Reaction struct {
	MessageID string  `json:"message_id"`
	Emoji     *string `json:"emoji,omitempty"`
}

// IsRemoval reports whether the reaction removes an earlier one.
func (r Reaction) IsRemoval() bool { return r.Emoji == nil || *r.Emoji == "" }

// Context is the message a message replies to or was forwarded from.
type Context struct {
	From                string `json:"from"`
	ID                  string `json:"id"`
	Forwarded           bool   `json:"forwarded"`
	FrequentlyForwarded bool   `json:"frequently_forwarded"`
}

// System is the body of a system message (user_changed_number,
// user_changed_user_id, …); such messages come with no contacts.
type System struct {
	Body     string `json:"body"`
	Type     string `json:"type"`
	NewWaID  string `json:"new_wa_id,omitempty"`
	WaID     string `json:"wa_id,omitempty"`
	Customer string `json:"customer,omitempty"`
	// The identity fields of user_changed_user_id and user_changed_number:
	// the person's BSUID after and before the change.
	UserID               string `json:"user_id,omitempty"`
	ParentUserID         string `json:"parent_user_id,omitempty"`
	PreviousUserID       string `json:"previous_user_id,omitempty"`
	PreviousParentUserID string `json:"previous_parent_user_id,omitempty"`
}

// Message is one message. Its type-specific object (image, location, …) is
// kept raw for the code that renders it.
type Message struct {
	From             string    `json:"from"`
	FromUserID       string    `json:"from_user_id"`
	FromParentUserID string    `json:"from_parent_user_id"`
	ID               string    `json:"id"`
	Timestamp        string    `json:"timestamp"` // Unix seconds
	Type             string    `json:"type"`
	Text             *Text     `json:"text,omitempty"`
	Reaction         *Reaction `json:"reaction,omitempty"`
	Context          *Context  `json:"context,omitempty"`
	System           *System   `json:"system,omitempty"`
	Errors           []Error   `json:"errors,omitempty"`

	Image       json.RawMessage `json:"image,omitempty"`
	Video       json.RawMessage `json:"video,omitempty"`
	Audio       json.RawMessage `json:"audio,omitempty"`
	Document    json.RawMessage `json:"document,omitempty"`
	Sticker     json.RawMessage `json:"sticker,omitempty"`
	Location    json.RawMessage `json:"location,omitempty"`
	Contacts    json.RawMessage `json:"contacts,omitempty"`
	Interactive json.RawMessage `json:"interactive,omitempty"`
	Button      json.RawMessage `json:"button,omitempty"`
	Template    json.RawMessage `json:"template,omitempty"`
	Order       json.RawMessage `json:"order,omitempty"`
	Referral    json.RawMessage `json:"referral,omitempty"`
}

// IsReactionRemoval reports whether the message removes a reaction.
func (m Message) IsReactionRemoval() bool {
	return m.Type == "reaction" && (m.Reaction == nil || m.Reaction.IsRemoval())
}

// Pricing is how Meta bills a status's message.
type Pricing struct {
	Billable     *bool  `json:"billable,omitempty"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
	Type         string `json:"type,omitempty"`
}

// Status is a delivery status of an outbound message.
type Status struct {
	ID                    string          `json:"id"`
	Status                string          `json:"status"` // sent | delivered | read | failed | …
	Timestamp             string          `json:"timestamp"`
	RecipientID           string          `json:"recipient_id"`
	RecipientUserID       string          `json:"recipient_user_id"`
	RecipientParentUserID string          `json:"recipient_parent_user_id"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Pricing               *Pricing        `json:"pricing,omitempty"`
	Conversation          json.RawMessage `json:"conversation,omitempty"`
	Errors                []Error         `json:"errors,omitempty"`
}
