// Package routes names every HTTP route kapso-bridge serves, once: the
// handlers register them, the CDK stack puts them on the HTTP API, and the
// URLs kapso-bridge hands to Kapso (number webhooks, setup-link redirects)
// are built from them, so a route cannot be served at one path and
// registered at another.
package routes

import "strings"

// Route is a method and a path pattern in net/http's ServeMux syntax, which
// API Gateway's route keys share ("{name}" is one path segment).
type Route struct {
	Method string
	Path   string
}

// Pattern is the route as a ServeMux pattern and an API Gateway route key:
// "POST /webhooks/kapso".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Path parameters.
const (
	PhoneNumberID  = "phone_number_id"
	TenantID       = "tenant_id"
	ConversationID = "conversation_id"
	WAMID          = "wamid"
	// Contact is a contact's BSUID (current or previous) or phone digits.
	Contact = "contact"
	// ErasureID is an erasure's id (era_…).
	ErasureID = "erasure_id"
)

// Kapso's and Meta's webhooks, served by the ingest.
var (
	// ProjectWebhook receives the Kapso project's webhooks (numbers connected).
	ProjectWebhook = Route{"POST", "/webhooks/kapso"}
	// NumberWebhook receives the webhooks kapso-bridge registers for each
	// connected number (messages, statuses, conversations, contacts).
	NumberWebhook = Route{"POST", "/webhooks/kapso/{" + PhoneNumberID + "}"}
	// MetaWebhook receives raw Meta payloads forwarded for a number.
	MetaWebhook = Route{"POST", "/webhooks/meta/{" + PhoneNumberID + "}"}
)

// Where Kapso sends the browser after a setup, served by the redirect function.
var (
	ConnectSuccess = Route{"GET", "/connect/success"}
	ConnectFailure = Route{"GET", "/connect/failure"}
)

// The tenant API the SaaS backend calls, served by the setuplinks function.
var (
	// ListTenants lists every tenant, or those of a status or needing a human.
	ListTenants     = Route{"GET", "/v1/tenants"}
	CreateSetupLink = Route{"POST", "/v1/tenants/{" + TenantID + "}/setup-links"}
	GetConnection   = Route{"GET", "/v1/tenants/{" + TenantID + "}/connection"}
	// DeleteTenant offboards a tenant: its Kapso webhooks and links, then
	// all its data.
	DeleteTenant = Route{"DELETE", "/v1/tenants/{" + TenantID + "}"}
	// The tenant's messages, read side.
	ListConversations        = Route{"GET", "/v1/tenants/{" + TenantID + "}/conversations"}
	ListConversationMessages = Route{"GET", "/v1/tenants/{" + TenantID + "}/conversations/{" + ConversationID + "}/messages"}
	// GetMessage takes a WAMID, or the outbound id SendMessage answered.
	GetMessage = Route{"GET", "/v1/tenants/{" + TenantID + "}/messages/{" + WAMID + "}"}
	// GetMessageMedia redirects to the message's stored media.
	GetMessageMedia = Route{"GET", "/v1/tenants/{" + TenantID + "}/messages/{" + WAMID + "}/media"}
	// UploadMedia keeps a file and uploads it to Kapso for a send to name.
	UploadMedia = Route{"POST", "/v1/tenants/{" + TenantID + "}/media"}
	// SendMessage queues a message to send from one of the tenant's numbers.
	SendMessage = Route{"POST", "/v1/tenants/{" + TenantID + "}/messages"}
	GetContact  = Route{"GET", "/v1/tenants/{" + TenantID + "}/numbers/{" + PhoneNumberID + "}/contacts/{" + Contact + "}"}
	// EraseContact erases a person from one of the tenant's numbers;
	// GetErasure shows how far an erasure is.
	EraseContact = Route{"DELETE", GetContact.Path}
	GetErasure   = Route{"GET", "/v1/tenants/{" + TenantID + "}/erasures/{" + ErasureID + "}"}
	// ExportContact answers everything stored about a person on one of the
	// tenant's numbers, in one document.
	ExportContact = Route{"GET", GetContact.Path + "/export"}
	// The tenant's message templates: listed as last read, created, and
	// read again from Kapso now.
	ListTemplates  = Route{"GET", "/v1/tenants/{" + TenantID + "}/templates"}
	CreateTemplate = Route{"POST", "/v1/tenants/{" + TenantID + "}/templates"}
	SyncTemplates  = Route{"POST", "/v1/tenants/{" + TenantID + "}/templates/sync"}
	// The feed of events: the whole stack's, and one tenant's.
	ListEvents       = Route{"GET", "/v1/events"}
	ListTenantEvents = Route{"GET", "/v1/tenants/{" + TenantID + "}/events"}
	// ListAudit lists the writes made through /v1, newest first.
	ListAudit = Route{"GET", "/v1/audit"}
)

// The routes of each HTTP function: the CDK stack sends exactly these to it,
// and the local stack serves it at the same ones.
var (
	Ingest    = []Route{ProjectWebhook, NumberWebhook, MetaWebhook}
	TenantAPI = []Route{ListTenants, CreateSetupLink, GetConnection, ListConversations, ListConversationMessages, GetMessage, GetContact,
		SendMessage, ListEvents, ListTenantEvents, GetMessageMedia, UploadMedia, ListTemplates, CreateTemplate, SyncTemplates, ListAudit,
		DeleteTenant, EraseContact, GetErasure, ExportContact}
	Redirects = []Route{ConnectSuccess, ConnectFailure}
)

// ProjectWebhookURL is the URL to register as the Kapso project's webhook.
func ProjectWebhookURL(baseURL string) string { return join(baseURL, ProjectWebhook.Path) }

// NumberWebhookURL is the URL kapso-bridge registers at Kapso as the webhook
// of the number phoneNumberID (Meta's numeric id).
func NumberWebhookURL(baseURL, phoneNumberID string) string {
	return join(baseURL, strings.Replace(NumberWebhook.Path, "{"+PhoneNumberID+"}", phoneNumberID, 1))
}

// SuccessRedirectURL is where a setup link sends the browser after a
// successful signup.
func SuccessRedirectURL(baseURL string) string { return join(baseURL, ConnectSuccess.Path) }

// FailureRedirectURL is where a setup link sends the browser after a failed one.
func FailureRedirectURL(baseURL string) string { return join(baseURL, ConnectFailure.Path) }

// URLPattern is the route's path on baseURL with its parameters left in
// ("https://x/webhooks/kapso/{phone_number_id}"), for people to read.
func URLPattern(baseURL string, r Route) string { return join(baseURL, r.Path) }

// join tolerates a base URL given with a trailing slash.
func join(baseURL, path string) string { return strings.TrimRight(baseURL, "/") + path }
