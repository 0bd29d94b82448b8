package kapso

import (
	"encoding/json"
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// The payload types below decode tolerantly: a missing or null field leaves
// its zero value and unknown fields are ignored, because Kapso adds fields
// without notice. Strings that may be absent are plain strings ("" = absent);
// pointers are used only where absent and empty mean different things.
// Timestamps stay strings as Kapso sends them (Unix seconds for messages,
// ISO 8601 elsewhere): callers parse what they use. The json.RawMessage
// fields of a decoded payload are sub-slices of the bytes it was decoded
// from, not copies.

// StatusError is one error of a Meta status, as Kapso forwards it in
// message.kapso.statuses[].errors.
type StatusError = meta.Error

// Status is one raw Meta status in message.kapso.statuses.
type Status = meta.Status

// Reaction is a reaction to an earlier message; an absent emoji removes it.
type Reaction = meta.Reaction

// MessageKapso is Kapso's own view of a message.
type MessageKapso struct {
	Direction        string `json:"direction"` // inbound | outbound
	Status           string `json:"status"`    // free string: received, sent, delivered, read, failed, pending…
	ProcessingStatus string `json:"processing_status"`
	Origin           string `json:"origin"` // cloud_api | business_app | history_sync
	HasMedia         bool   `json:"has_media"`
	Content          string `json:"content"`
	// Statuses is Meta's status history, oldest first.
	Statuses  []Status        `json:"statuses,omitempty"`
	MediaURL  string          `json:"media_url"` // download needs the X-API-Key header
	MediaData json.RawMessage `json:"media_data,omitempty"`
	// Transcript is kept raw: its shape (a string or an object) is not
	// documented. TranscriptText reads both.
	Transcript             json.RawMessage `json:"transcript,omitempty"`
	WhatsAppConversationID string          `json:"whatsapp_conversation_id"`
	ContactName            string          `json:"contact_name"`
}

// TranscriptText returns the transcript as text, whether Kapso sent a string
// or an object with a "text" field.
func (k MessageKapso) TranscriptText() string {
	var s string
	if json.Unmarshal(k.Transcript, &s) == nil {
		return s
	}
	var obj struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(k.Transcript, &obj) == nil {
		return obj.Text
	}
	return ""
}

// Message is a WhatsApp message as Kapso delivers it: Meta's message
// (id, timestamp, type, the type-specific object, context, from identity),
// plus the recipient identity of outbound messages and Kapso's own view. Any
// identity field may be empty: a person can have a BSUID and no phone number.
type Message struct {
	meta.Message
	To             string `json:"to"`
	ToUserID       string `json:"to_user_id"`
	ToParentUserID string `json:"to_parent_user_id"`
	Username       string `json:"username"`

	Kapso MessageKapso `json:"kapso"`
}

// Conversation is Kapso's conversation with one person on one number.
type Conversation struct {
	ID                         string          `json:"id"`
	PhoneNumber                string          `json:"phone_number"` // null for a BSUID-only person
	BusinessScopedUserID       string          `json:"business_scoped_user_id"`
	ParentBusinessScopedUserID string          `json:"parent_business_scoped_user_id"`
	Username                   string          `json:"username"`
	Status                     string          `json:"status"` // active | ended
	LastActiveAt               string          `json:"last_active_at"`
	CreatedAt                  string          `json:"created_at"`
	UpdatedAt                  string          `json:"updated_at"`
	Metadata                   json.RawMessage `json:"metadata,omitempty"`
	PhoneNumberID              string          `json:"phone_number_id"`
	Kapso                      json.RawMessage `json:"kapso,omitempty"`
}

// MessageEvent is the payload of every whatsapp.message.* event.
type MessageEvent struct {
	Message           Message      `json:"message"`
	Conversation      Conversation `json:"conversation"`
	IsNewConversation bool         `json:"is_new_conversation"`
	PhoneNumberID     string       `json:"phone_number_id"`
}

// SinceMessage is the last message before a conversation went inactive.
type SinceMessage struct {
	ID                string `json:"id"`
	WhatsAppMessageID string `json:"whatsapp_message_id"`
	Direction         string `json:"direction"`
	CreatedAt         string `json:"created_at"`
}

// Inactivity is how long a conversation was quiet before it went inactive.
type Inactivity struct {
	Minutes int `json:"minutes"`
}

// ConversationEvent is the payload of whatsapp.conversation.* events; the
// since_message and inactivity parts come only with inactive.
type ConversationEvent struct {
	Conversation  Conversation  `json:"conversation"`
	PhoneNumberID string        `json:"phone_number_id"`
	SinceMessage  *SinceMessage `json:"since_message,omitempty"`
	Inactivity    *Inactivity   `json:"inactivity,omitempty"`
}

// Contact is a person as Kapso knows them on one number.
type Contact struct {
	ID                         string `json:"id"`
	WaID                       string `json:"wa_id"`
	BusinessScopedUserID       string `json:"business_scoped_user_id"`
	ParentBusinessScopedUserID string `json:"parent_business_scoped_user_id"`
	Username                   string `json:"username"`
	ProfileName                string `json:"profile_name"`
}

// ContactIdentity is the identity a contact had before a change.
type ContactIdentity struct {
	BusinessScopedUserID       string `json:"business_scoped_user_id"`
	ParentBusinessScopedUserID string `json:"parent_business_scoped_user_id"`
}

// ContactIdentityChanged is the payload of whatsapp.contact.identity_changed.
type ContactIdentityChanged struct {
	Contact       Contact         `json:"contact"`
	Previous      ContactIdentity `json:"previous"`
	PhoneNumberID string          `json:"phone_number_id"`
}

// MarketingPreference is a contact's marketing opt-in state. Sequence orders
// changes: keep the highest.
type MarketingPreference struct {
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status"`
	OccurredAt     string `json:"occurred_at"`
	Sequence       int64  `json:"sequence"`
}

// MarketingPreferenceChanged is the payload of
// whatsapp.contact.marketing_preference_changed.
type MarketingPreferenceChanged struct {
	Contact             Contact             `json:"contact"`
	MarketingPreference MarketingPreference `json:"marketing_preference"`
	PhoneNumberID       string              `json:"phone_number_id"`
}

// Project is a Kapso project.
type Project struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// Customer is a Kapso customer: one tenant of the SaaS, matched by
// ExternalCustomerID.
type Customer struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	ExternalCustomerID string `json:"external_customer_id"`
	CreatedAt          string `json:"created_at"`
	UpdatedAt          string `json:"updated_at"`
}

// SetupLink is a setup link as the connection events describe it.
type SetupLink struct {
	ID                     string          `json:"id"`
	Status                 string          `json:"status"`
	CreatedAt              string          `json:"created_at"`
	ExpiresAt              string          `json:"expires_at"`
	SuccessRedirectURL     string          `json:"success_redirect_url"`
	FailureRedirectURL     string          `json:"failure_redirect_url"`
	AllowedConnectionTypes []string        `json:"allowed_connection_types,omitempty"`
	ThemeConfig            json.RawMessage `json:"theme_config,omitempty"`
	ProvisionPhoneNumber   bool            `json:"provision_phone_number"`
	PhoneNumberAreaCode    string          `json:"phone_number_area_code"`
	PhoneNumberCountryISOs []string        `json:"phone_number_country_isos,omitempty"`
	WhatsAppSetupStatus    string          `json:"whatsapp_setup_status"`
	// WhatsAppSetupError is kept raw: null on success, its shape otherwise
	// is not documented.
	WhatsAppSetupError json.RawMessage `json:"whatsapp_setup_error,omitempty"`
	URL                string          `json:"url"`
}

// PhoneNumberCreated is the payload of whatsapp.phone_number.created. Only
// phone_number_id, project and customer are documented; the rest may be
// missing, and then comes from the Platform API.
type PhoneNumberCreated struct {
	PhoneNumberID      string     `json:"phone_number_id"`
	Project            Project    `json:"project"`
	Customer           Customer   `json:"customer"`
	BusinessAccountID  string     `json:"business_account_id,omitempty"`
	DisplayPhoneNumber string     `json:"display_phone_number,omitempty"`
	IsCoexistence      *bool      `json:"is_coexistence,omitempty"`
	SetupLink          *SetupLink `json:"setup_link,omitempty"`
}

// WhatsAppConfig is the v1 name of a connected phone number.
type WhatsAppConfig struct {
	ID                           string `json:"id"`
	Name                         string `json:"name"`
	PhoneNumberID                string `json:"phone_number_id"`
	BusinessAccountID            string `json:"business_account_id"`
	IsCoexistence                bool   `json:"is_coexistence"`
	InboundProcessingEnabled     bool   `json:"inbound_processing_enabled"`
	CallsEnabled                 bool   `json:"calls_enabled"`
	WebhookVerifiedAt            string `json:"webhook_verified_at"`
	CreatedAt                    string `json:"created_at"`
	UpdatedAt                    string `json:"updated_at"`
	CustomerID                   string `json:"customer_id"`
	DisplayName                  string `json:"display_name"`
	DisplayPhoneNumber           string `json:"display_phone_number"`
	DisplayPhoneNumberNormalized string `json:"display_phone_number_normalized"`
}

// ProvisionedNumber is a phone number Kapso provisioned for the customer.
type ProvisionedNumber struct {
	ID              string `json:"id"`
	PhoneNumber     string `json:"phone_number"`
	Status          string `json:"status"`
	AreaCode        string `json:"area_code"`
	CountryISO      string `json:"country_iso"`
	CountryDialCode string `json:"country_dial_code"`
	ProvisionedAt   string `json:"provisioned_at"`
	ReleasedAt      string `json:"released_at"`
	DisplayNumber   string `json:"display_number"`
}

// CreationContext says how a v1 config was created.
type CreationContext struct {
	Sandbox     bool `json:"sandbox"`
	Coexistence bool `json:"coexistence"`
}

// ConfigCreated is the payload of the legacy whatsapp.config.created event.
type ConfigCreated struct {
	WhatsAppConfig  WhatsAppConfig     `json:"whatsapp_config"`
	Project         Project            `json:"project"`
	Customer        Customer           `json:"customer"`
	SetupLink       *SetupLink         `json:"setup_link,omitempty"`
	PhoneNumber     *ProvisionedNumber `json:"phone_number,omitempty"` // null unless provisioned
	CreationContext CreationContext    `json:"creation_context"`
}

// asPhoneNumberCreated converts the v1 event into its v2 form, so one code
// path handles both names of "a number connected".
func (c ConfigCreated) asPhoneNumberCreated() PhoneNumberCreated {
	coexistence := c.WhatsAppConfig.IsCoexistence || c.CreationContext.Coexistence
	customer := c.Customer
	if customer.ID == "" {
		customer.ID = c.WhatsAppConfig.CustomerID
	}
	return PhoneNumberCreated{
		PhoneNumberID:      c.WhatsAppConfig.PhoneNumberID,
		Project:            c.Project,
		Customer:           customer,
		BusinessAccountID:  c.WhatsAppConfig.BusinessAccountID,
		DisplayPhoneNumber: c.WhatsAppConfig.DisplayPhoneNumber,
		IsCoexistence:      &coexistence,
		SetupLink:          c.SetupLink,
	}
}

// PhoneNumberLifecycle is the payload of the deleted, offboarded,
// disconnected and reconnected events and of the whatsapp.account.* events.
// Their bodies are not documented: every field is optional.
type PhoneNumberLifecycle struct {
	PhoneNumberID      string          `json:"phone_number_id"`
	BusinessAccountID  string          `json:"business_account_id"`
	DisplayPhoneNumber string          `json:"display_phone_number"`
	Reason             string          `json:"reason"`
	Customer           *Customer       `json:"customer,omitempty"`
	Project            *Project        `json:"project,omitempty"`
	WhatsAppConfig     *WhatsAppConfig `json:"whatsapp_config,omitempty"`
}

// WorkflowHandoff says why a workflow handed a conversation to a person.
type WorkflowHandoff struct {
	Reason string `json:"reason"`
	Source string `json:"source"`
}

// WorkflowError says why a workflow execution failed.
type WorkflowError struct {
	Message string `json:"message"`
}

// WorkflowEvent is the payload of workflow.* events. Unlike other v2
// payloads it names itself in Event.
type WorkflowEvent struct {
	Event                  string           `json:"event"`
	OccurredAt             string           `json:"occurred_at"`
	ProjectID              string           `json:"project_id"`
	WorkflowID             string           `json:"workflow_id"`
	WorkflowExecutionID    string           `json:"workflow_execution_id"`
	Status                 string           `json:"status"`
	WhatsAppConversationID string           `json:"whatsapp_conversation_id"`
	Handoff                *WorkflowHandoff `json:"handoff,omitempty"`
	Error                  *WorkflowError   `json:"error,omitempty"`
}

// DecodeMessageEvent decodes a whatsapp.message.* payload. A missing
// top-level phone_number_id is taken from the conversation. Its raw fields
// (media_data, transcript, the type-specific objects…) are sub-slices of raw.
func DecodeMessageEvent(raw json.RawMessage) (MessageEvent, error) {
	var ev MessageEvent
	d, err := decoder(raw, "message event")
	if err == nil {
		readMessageEvent(&d, &ev)
		err = finish(&d, "message event")
	}
	if err != nil {
		return MessageEvent{}, err
	}
	if ev.PhoneNumberID == "" {
		ev.PhoneNumberID = ev.Conversation.PhoneNumberID
	}
	return ev, nil
}

// DecodeConversationEvent decodes a whatsapp.conversation.* payload. A
// missing top-level phone_number_id is taken from the conversation.
func DecodeConversationEvent(raw json.RawMessage) (ConversationEvent, error) {
	var ev ConversationEvent
	d, err := decoder(raw, "conversation event")
	if err == nil {
		readConversationEvent(&d, &ev)
		err = finish(&d, "conversation event")
	}
	if err != nil {
		return ConversationEvent{}, err
	}
	if ev.PhoneNumberID == "" {
		ev.PhoneNumberID = ev.Conversation.PhoneNumberID
	}
	return ev, nil
}

// DecodeContactIdentityChanged decodes a whatsapp.contact.identity_changed payload.
func DecodeContactIdentityChanged(raw json.RawMessage) (ContactIdentityChanged, error) {
	var ev ContactIdentityChanged
	d, err := decoder(raw, "contact identity change")
	if err == nil {
		readContactIdentityChanged(&d, &ev)
		err = finish(&d, "contact identity change")
	}
	if err != nil {
		return ContactIdentityChanged{}, err
	}
	return ev, nil
}

// DecodeMarketingPreferenceChanged decodes a
// whatsapp.contact.marketing_preference_changed payload.
func DecodeMarketingPreferenceChanged(raw json.RawMessage) (MarketingPreferenceChanged, error) {
	var ev MarketingPreferenceChanged
	d, err := decoder(raw, "marketing preference change")
	if err == nil {
		readMarketingPreferenceChanged(&d, &ev)
		err = finish(&d, "marketing preference change")
	}
	if err != nil {
		return MarketingPreferenceChanged{}, err
	}
	return ev, nil
}

// DecodePhoneNumberCreated decodes a whatsapp.phone_number.created payload.
func decodePhoneNumberCreated(raw json.RawMessage) (PhoneNumberCreated, error) {
	var ev PhoneNumberCreated
	d, err := decoder(raw, "phone number created")
	if err == nil {
		readPhoneNumberCreated(&d, &ev)
		err = finish(&d, "phone number created")
	}
	if err != nil {
		return PhoneNumberCreated{}, err
	}
	return ev, nil
}

// DecodeConfigCreated decodes a whatsapp.config.created payload.
func decodeConfigCreated(raw json.RawMessage) (ConfigCreated, error) {
	var ev ConfigCreated
	d, err := decoder(raw, "config created")
	if err == nil {
		readConfigCreated(&d, &ev)
		err = finish(&d, "config created")
	}
	if err != nil {
		return ConfigCreated{}, err
	}
	return ev, nil
}

// DecodeConnectionCreated decodes either name of "a number connected" into
// the v2 form.
func DecodeConnectionCreated(name string, raw json.RawMessage) (PhoneNumberCreated, error) {
	if name == EventConfigCreated {
		c, err := decodeConfigCreated(raw)
		return c.asPhoneNumberCreated(), err
	}
	return decodePhoneNumberCreated(raw)
}

// DecodePhoneNumberLifecycle decodes a number lifecycle or account event. A
// missing phone_number_id is taken from whatsapp_config when present.
func DecodePhoneNumberLifecycle(raw json.RawMessage) (PhoneNumberLifecycle, error) {
	var ev PhoneNumberLifecycle
	d, err := decoder(raw, "phone number lifecycle")
	if err == nil {
		readPhoneNumberLifecycle(&d, &ev)
		err = finish(&d, "phone number lifecycle")
	}
	if err != nil {
		return PhoneNumberLifecycle{}, err
	}
	if ev.PhoneNumberID == "" && ev.WhatsAppConfig != nil {
		ev.PhoneNumberID = ev.WhatsAppConfig.PhoneNumberID
	}
	return ev, nil
}

// DecodeWorkflowEvent decodes a workflow.* payload.
func decodeWorkflowEvent(raw json.RawMessage) (WorkflowEvent, error) {
	var ev WorkflowEvent
	d, err := decoder(raw, "workflow event")
	if err == nil {
		readWorkflowEvent(&d, &ev)
		err = finish(&d, "workflow event")
	}
	if err != nil {
		return WorkflowEvent{}, err
	}
	return ev, nil
}

// decoder starts decoding raw, which must be a JSON object.
func decoder(raw []byte, what string) (rawjson.Decoder, error) {
	if !rawjson.IsObject(raw) {
		return rawjson.Decoder{}, fmt.Errorf("decode %s: %w: %w", what, ErrMalformed, rawjson.ErrNotObject)
	}
	return rawjson.NewDecoder(raw), nil
}

// finish ends a decoding. On error the value decoded may be half-filled:
// callers return the zero value instead.
func finish(d *rawjson.Decoder, what string) error {
	if err := d.Finish(); err != nil {
		return fmt.Errorf("decode %s: %w: %w", what, ErrMalformed, err)
	}
	return nil
}
