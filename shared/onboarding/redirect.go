package onboarding

import "time"

// Names of the lifecycle events a browser redirect becomes.
const (
	EventRedirectSuccess = "redirect.success"
	EventRedirectFailure = "redirect.failure"
)

// Redirect is a browser's return from Kapso's setup page, as the redirect
// handler queues it for the lifecycle worker: the well-formed query
// parameters and the tenant of the setup link. It is unsigned, a hint only.
type Redirect struct {
	TenantID                 string    `json:"tenant_id"`
	SetupLinkID              string    `json:"setup_link_id"`
	Status                   string    `json:"status,omitempty"`
	PhoneNumberID            string    `json:"phone_number_id,omitempty"`
	BusinessAccountID        string    `json:"business_account_id,omitempty"`
	DisplayPhoneNumber       string    `json:"display_phone_number,omitempty"`
	ProvisionedPhoneNumberID string    `json:"provisioned_phone_number_id,omitempty"`
	WhatsAppConfigID         string    `json:"whatsapp_config_id,omitempty"`
	ErrorCode                string    `json:"error_code,omitempty"`
	ReceivedAt               time.Time `json:"received_at"`
}

// Details are what a success redirect's facts record.
func (r Redirect) Details() RedirectDetails {
	return RedirectDetails{SetupLinkID: r.SetupLinkID, PhoneNumberID: r.PhoneNumberID,
		BusinessAccountID: r.BusinessAccountID, DisplayPhoneNumber: r.DisplayPhoneNumber}
}
