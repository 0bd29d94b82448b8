// Package onboarding is the domain of connecting a tenant's WhatsApp number
// through Kapso setup links: tenants, their attempts (one per setup link),
// their connected phone numbers, and the connection state machine.
//
// The state is never edited in place. Everything that happens is a Fact;
// a Connection is derived from the set of facts seen so far, sorted into one
// canonical order. Applying the same facts in any order, any number of times,
// therefore yields the same Connection, which is what lets redirects, webhooks
// and Platform API checks race each other safely.
//
// Its rules are pure: no clock, no I/O, no AWS or HTTP. The package also
// says, in its own terms, what it needs kept (Store, NumberStore, with the
// lease rules their conditional writes follow); adapters implement those.
// EnsureCustomer is the one protocol here that runs against a store.
package onboarding

import "time"

// TenantStatus is the one-word answer to "is this tenant's WhatsApp connected?".
type TenantStatus string

const (
	// TenantNotStarted: no setup link was ever created and no number is known.
	TenantNotStarted TenantStatus = "not_started"
	// TenantLinkActive: the newest setup link is waiting to be used. A
	// failure only the browser reported (the redirect is unsigned) leaves it
	// so: the link stays usable, and the report is shown.
	TenantLinkActive TenantStatus = "link_active"
	// TenantAwaitingConfirmation: the browser came back through the success
	// redirect of the newest link, but no webhook or API check has confirmed
	// the number yet. Redirects are unsigned, so this is never "connected".
	TenantAwaitingConfirmation TenantStatus = "awaiting_confirmation"
	// TenantConnected: at least one number is confirmed and connected.
	TenantConnected TenantStatus = "connected"
	// TenantRestricted: a connected number's business account is restricted
	// by Meta: it still receives, but sending is limited. It wins over
	// connected; a reinstatement returns the tenant to connected.
	TenantRestricted TenantStatus = "restricted"
	// TenantDisabled: a number's business account is disabled by Meta and
	// nothing works on it until Meta reinstates it (a new signup on the same
	// account does not help). It wins over connected and restricted unless a
	// setup link was created after the disablement; a reinstatement returns
	// the tenant to connected.
	TenantDisabled TenantStatus = "disabled"
	// TenantFailed: the newest setup link's signup failed and Kapso bears it
	// out (its setup link reports the failure). A failure only the browser
	// reported never makes a tenant failed: the redirect is unsigned.
	TenantFailed TenantStatus = "failed"
	// TenantExpired: the newest setup link expired or was revoked unused.
	TenantExpired TenantStatus = "expired"
	// TenantDisconnected: every known number was deleted or offboarded, and
	// no newer setup link was created since.
	TenantDisconnected TenantStatus = "disconnected"
	// TenantReconnectRequired: a number was disconnected (its Meta credentials
	// no longer work) and no newer setup link was created since; the customer
	// must redo signup with reconnect_phone_number.
	TenantReconnectRequired TenantStatus = "reconnect_required"
	// TenantDeleting: the SaaS asked for the tenant to be offboarded and its
	// data is being deleted. It wins over every other status, and nothing
	// brings the tenant back: once the deletion is done the tenant is gone.
	TenantDeleting TenantStatus = "deleting"
)

// AttemptStatus is where one setup link stands.
type AttemptStatus string

const (
	// AttemptActive: created, no outcome yet, not closed. A failure only the
	// browser reported is no outcome: the attempt stays active and shows it.
	AttemptActive AttemptStatus = "active"
	// AttemptRedirectedSuccess: the success redirect came back with a number
	// that nothing contradicts; waiting for a webhook or API confirmation.
	AttemptRedirectedSuccess AttemptStatus = "redirected_success"
	// AttemptFailed: the signup failed and Kapso bears it out (its setup
	// link reports the failure), and nothing confirmed a number for this
	// link.
	AttemptFailed AttemptStatus = "failed"
	// AttemptConfirmed: a webhook or the Platform API confirmed a number for
	// this link. It wins over every other outcome.
	AttemptConfirmed AttemptStatus = "confirmed"
	// AttemptSuperseded: a newer link was created for the tenant before this
	// one had an outcome (Kapso revokes the older link).
	AttemptSuperseded AttemptStatus = "superseded"
	// AttemptExpired: the link expired before it had an outcome.
	AttemptExpired AttemptStatus = "expired"
	// AttemptRevoked: the link was revoked by hand before it had an outcome.
	AttemptRevoked AttemptStatus = "revoked"
)

// ConnectionType is how a number is connected to the WhatsApp Business Platform.
type ConnectionType string

const (
	// ConnectionDedicated: the number lives on the Cloud API only.
	ConnectionDedicated ConnectionType = "dedicated"
	// ConnectionCoexistence: the number stays usable in the WhatsApp Business App too.
	ConnectionCoexistence ConnectionType = "coexistence"
)

// ConnectionTypeOf maps Kapso's is_coexistence flag to a ConnectionType.
func ConnectionTypeOf(isCoexistence bool) ConnectionType {
	if isCoexistence {
		return ConnectionCoexistence
	}
	return ConnectionDedicated
}

// ConnectionTypes reads a setup link's allowed_connection_types as Kapso
// lists them.
func ConnectionTypes(names []string) []ConnectionType {
	var out []ConnectionType
	for _, n := range names {
		out = append(out, ConnectionType(n))
	}
	return out
}

// PhoneNumberStatus is where one connected number stands.
type PhoneNumberStatus string

const (
	// NumberStatusUnconfirmed: known only from events that do not prove it is
	// connected (for example a webhook registration seen before the creation).
	NumberStatusUnconfirmed PhoneNumberStatus = "unconfirmed"
	// NumberStatusConnected: confirmed by a webhook, the Platform API, or reconnected.
	NumberStatusConnected PhoneNumberStatus = "connected"
	// NumberStatusDisconnected: whatsapp.phone_number.disconnected; needs a reconnect signup.
	NumberStatusDisconnected PhoneNumberStatus = "disconnected"
	// NumberStatusDeleted: whatsapp.phone_number.deleted.
	NumberStatusDeleted PhoneNumberStatus = "deleted"
	// NumberStatusOffboarded: whatsapp.phone_number.offboarded.
	NumberStatusOffboarded PhoneNumberStatus = "offboarded"
	// NumberStatusAccountDisabled: the number's business account was disabled by Meta;
	// a new signup does not help, a reinstatement does.
	NumberStatusAccountDisabled PhoneNumberStatus = "account_disabled"
)

// RedirectKind says which redirect URL the browser came back through.
type RedirectKind string

const (
	RedirectSuccess RedirectKind = "success"
	RedirectFailure RedirectKind = "failure"
)

// FailureReporter says who reported a failure: the browser, through the
// unsigned failure redirect (anyone can type that URL), or Kapso, whose
// setup link reports it.
type FailureReporter string

const (
	ReportedByBrowser FailureReporter = "browser"
	ReportedByKapso   FailureReporter = "kapso"
)

// Confirmation sources, as recorded in ConfirmedBy.
const (
	SourcePhoneNumberCreated = "webhook:whatsapp.phone_number.created"
	SourceConfigCreated      = "webhook:whatsapp.config.created"
	SourceAPI                = "api"
	// SourceReconciler: a state the reconciler found at the Platform API
	// (Fact.Source only; the reconciler confirms numbers as SourceAPI).
	SourceReconciler = "reconciler"
)

// Tenant is the SaaS's customer; it maps to one Kapso customer.
type Tenant struct {
	// ID is chosen by the SaaS (see ValidTenantID).
	ID              string       `json:"id"`
	KapsoCustomerID string       `json:"kapso_customer_id,omitempty"`
	Name            string       `json:"name,omitempty"`
	Status          TenantStatus `json:"status"`
	// ActiveSetupLinkID is the newest link while it is still usable.
	ActiveSetupLinkID string    `json:"active_setup_link_id,omitempty"`
	CreatedAt         time.Time `json:"created_at,omitzero"`
	// UpdatedAt is the time of the latest fact, so it is order-independent too.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Version is the number of distinct facts applied; stores use it for
	// optimistic locking.
	Version int `json:"version"`
}

// RedirectSeen is one browser return through a redirect URL. It is a hint:
// it never confirms a connection.
type RedirectSeen struct {
	Kind               RedirectKind `json:"kind"`
	At                 time.Time    `json:"at"`
	PhoneNumberID      string       `json:"phone_number_id,omitempty"`
	BusinessAccountID  string       `json:"business_account_id,omitempty"`
	DisplayPhoneNumber string       `json:"display_phone_number,omitempty"`
	ErrorCode          string       `json:"error_code,omitempty"`
	// Suspicious: the number does not match what was confirmed, or the
	// caller found it is not under the tenant's Kapso customer.
	Suspicious       bool   `json:"suspicious,omitempty"`
	SuspiciousReason string `json:"suspicious_reason,omitempty"`
	// Late: it came after its link was superseded, expired or revoked, so it
	// decides nothing (the person opened an old link).
	Late bool `json:"late,omitempty"`
}

// Attempt is one setup link created for a tenant.
type Attempt struct {
	SetupLinkID            string           `json:"setup_link_id"`
	Status                 AttemptStatus    `json:"status"`
	URL                    string           `json:"url,omitempty"`
	CreatedAt              time.Time        `json:"created_at,omitzero"`
	ExpiresAt              time.Time        `json:"expires_at,omitzero"`
	AllowedConnectionTypes []ConnectionType `json:"allowed_connection_types,omitempty"`
	// CreatedBy is the name of the API token that asked for the link.
	CreatedBy string `json:"created_by,omitempty"`
	// Redirect is the redirect that decided the attempt's status: the one
	// matching the confirmed number, else the first success, else the latest
	// failure, else the first suspicious one.
	Redirect *RedirectSeen `json:"redirect,omitempty"`
	// Redirects is every redirect seen for this link, in time order.
	Redirects []RedirectSeen `json:"redirects,omitempty"`
	// ErrorCode is the latest failure's error code while the attempt is
	// failed, or while it is active with a failure the browser reported;
	// empty in every other status. ErrorReportedBy says who reported it.
	// Every failure stays in History.
	ErrorCode       string          `json:"error_code,omitempty"`
	ErrorReportedBy FailureReporter `json:"error_reported_by,omitempty"`
	// PhoneNumberID is the number confirmed for this link.
	PhoneNumberID string    `json:"phone_number_id,omitempty"`
	ConfirmedBy   []string  `json:"confirmed_by,omitempty"`
	ConfirmedAt   time.Time `json:"confirmed_at,omitzero"`
	// ClosedAt is when the attempt was superseded, expired or revoked, and
	// SupersededBy the newer link, when that closing decided its status
	// (History also shows a closing after a failure).
	ClosedAt     time.Time `json:"closed_at,omitzero"`
	SupersededBy string    `json:"superseded_by,omitempty"`
	// History is everything that happened to the link, in time order.
	History []AttemptEvent `json:"history,omitempty"`
}

// AttemptEventKind names one step of an attempt's history.
type AttemptEventKind string

const (
	AttemptEventCreated    AttemptEventKind = "created"
	AttemptEventSuccess    AttemptEventKind = "success_redirect"
	AttemptEventSuspicious AttemptEventKind = "suspicious_redirect"
	AttemptEventFailure    AttemptEventKind = "failure_redirect"
	// AttemptEventSetupFailed: Kapso's setup link reports the signup failed.
	AttemptEventSetupFailed AttemptEventKind = "setup_failed"
	AttemptEventConfirmed   AttemptEventKind = "confirmed"
	// The link closed while it could still be used: a newer link was created
	// (Kapso revokes the older one), it expired, or it was revoked.
	AttemptEventSuperseded AttemptEventKind = "superseded"
	AttemptEventExpired    AttemptEventKind = "expired"
	AttemptEventRevoked    AttemptEventKind = "revoked"
)

// AttemptEvent is one step of an attempt's history.
type AttemptEvent struct {
	At    time.Time        `json:"at"`
	Event AttemptEventKind `json:"event"`
	// ErrorCode is a failure's code (see DescribeError), and ReportedBy who
	// reported it.
	ErrorCode     string          `json:"error_code,omitempty"`
	ReportedBy    FailureReporter `json:"reported_by,omitempty"`
	PhoneNumberID string          `json:"phone_number_id,omitempty"`
	// Reason is why a redirect is suspicious.
	Reason string `json:"reason,omitempty"`
	// SupersededBy is the newer link, for a superseded event.
	SupersededBy string `json:"superseded_by,omitempty"`
	// Late: a redirect that came after the link had closed; it changed nothing.
	Late bool `json:"late,omitempty"`
}

// PhoneNumber is a number connected (or once connected) for the tenant.
type PhoneNumber struct {
	PhoneNumberID      string            `json:"phone_number_id"`
	BusinessAccountID  string            `json:"business_account_id,omitempty"`
	DisplayPhoneNumber string            `json:"display_phone_number,omitempty"`
	ConnectionType     ConnectionType    `json:"connection_type,omitempty"`
	Status             PhoneNumberStatus `json:"status"`
	// StatusSince is when Status last changed.
	StatusSince time.Time `json:"status_since,omitzero"`
	// StatusReason is why the number has its status, as the event that set
	// it said (meta_token_expired, deleted_by_user, ACCOUNT_DISABLED…).
	StatusReason string `json:"status_reason,omitempty"`
	// NameStatus is Meta's display-name review status; ReviewStatus the WABA
	// review status. Both as the Platform API reported them last, with when
	// each took its current value.
	NameStatus        string    `json:"name_status,omitempty"`
	NameStatusSince   time.Time `json:"name_status_since,omitzero"`
	ReviewStatus      string    `json:"review_status,omitempty"`
	ReviewStatusSince time.Time `json:"review_status_since,omitzero"`
	QualityRating     string    `json:"quality_rating,omitempty"`
	// MessagingLimitTier, Throughput and VerifiedName are Meta's, as the
	// reconciler last read them with the quality rating and name status
	// (see Health), at HealthReadAt.
	MessagingLimitTier string    `json:"messaging_limit_tier,omitempty"`
	Throughput         string    `json:"throughput,omitempty"`
	VerifiedName       string    `json:"verified_name,omitempty"`
	HealthReadAt       time.Time `json:"health_read_at,omitzero"`
	// Restricted: Meta restricted the business account; the number still
	// works within limits, so its status stays connected (the tenant's
	// becomes restricted). RestrictedReason and RestrictedAt are the latest
	// restriction's.
	Restricted        bool      `json:"restricted,omitempty"`
	RestrictedReason  string    `json:"restricted_reason,omitempty"`
	RestrictedAt      time.Time `json:"restricted_at,omitzero"`
	WebhookRegistered bool      `json:"webhook_registered,omitempty"`
	WebhookID         string    `json:"webhook_id,omitempty"`
	ConfirmedBy       []string  `json:"confirmed_by,omitempty"`
	ConnectedAt       time.Time `json:"connected_at,omitzero"`
	UpdatedAt         time.Time `json:"updated_at,omitzero"`
	// SetupLinkID is the link the number was connected through, when known.
	SetupLinkID string `json:"setup_link_id,omitempty"`
}

// TimelineEntry is one applied fact, as shown in the support view.
type TimelineEntry struct {
	At     time.Time         `json:"at"`
	Kind   FactKind          `json:"kind"`
	Source string            `json:"source"`
	Detail map[string]string `json:"detail,omitempty"`
}

// Connection is everything known about one tenant's WhatsApp connection.
// Build it with Derive or Apply; every field except the tenant's identity is
// derived from Facts.
type Connection struct {
	Tenant       Tenant          `json:"tenant"`
	Attempts     []Attempt       `json:"attempts,omitempty"`      // oldest first
	PhoneNumbers []PhoneNumber   `json:"phone_numbers,omitempty"` // by phone_number_id
	Timeline     []TimelineEntry `json:"timeline,omitempty"`      // in time order
	Facts        []Fact          `json:"facts,omitempty"`         // canonical order
}
