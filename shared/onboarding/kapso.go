package onboarding

import "time"

// What onboarding reads from and asks of Kapso's Platform API, in its own
// terms: a tenant's customer, its setup links, the numbers connected under
// it, and each number's webhook. The Kapso adapter maps its answers to these
// and its failures to errs codes (errs.NotFound: Kapso has no such record;
// errs.Unprocessable or errs.Conflict: Kapso refused the request;
// errs.RateLimited with a RetryAfter; errs.Unavailable: not reached, or
// failing; errs.BadGateway: an answer that cannot be used).

// Customer is a tenant's Kapso customer: one per tenant, keyed by
// ExternalCustomerID, which is the tenant id.
type Customer struct {
	ID, Name, ExternalCustomerID string
	CreatedAt                    time.Time
}

// SetupLinkOptions are the optional fields of a new setup link; zero values
// are left out so Kapso applies its defaults.
type SetupLinkOptions struct {
	SuccessRedirectURL, FailureRedirectURL string
	AllowedConnectionTypes                 []string // "coexistence", "dedicated"
	ProvisionPhoneNumber                   *bool
	PhoneNumberAreaCode                    string // US only
	PhoneNumberCountryISOs                 []string
	// Language: nil leaves it out; a pointer to "" sends null (use the browser's).
	Language             *string
	ThemeConfig          map[string]string // colour name → #RRGGBB
	ReconnectPhoneNumber string            // E.164 of a number the customer already has
}

// SetupLink is a setup link as Kapso reports it.
type SetupLink struct {
	ID, Status, URL                        string // status: active, used, expired, revoked
	CreatedAt, ExpiresAt                   time.Time
	SuccessRedirectURL, FailureRedirectURL string
	AllowedConnectionTypes                 []string
	ProvisionPhoneNumber                   bool
	// WhatsAppSetupStatus and WhatsAppSetupError are how the signup on the
	// link went, in Kapso's words ("failed" and its error code).
	WhatsAppSetupStatus, WhatsAppSetupError string
}

// KapsoNumber is a WhatsApp number as Kapso reports it: the customer it is
// connected under, and its status in Meta's vocabulary (connected,
// disconnected, deleted, restricted, banned…) with its review statuses.
type KapsoNumber struct {
	PhoneNumberID, BusinessAccountID, DisplayPhoneNumber, CustomerID string
	Status, QualityRating, NameStatus, VerifiedName                  string
	IsCoexistence                                                    bool
	// MessagingLimitTier is Meta's tier name (TIER_1K…) and Throughput its
	// throughput level (STANDARD…), as far as Kapso's answer said.
	MessagingLimitTier, Throughput string
}

// Health is the number's health as Kapso reported it, read at at.
func (n KapsoNumber) Health(at time.Time) NumberHealth {
	return NumberHealth{PhoneNumberID: n.PhoneNumberID, QualityRating: n.QualityRating,
		MessagingLimitTier: n.MessagingLimitTier, VerifiedName: n.VerifiedName, NameStatus: n.NameStatus,
		Throughput: n.Throughput, ReadAt: at}.Clean()
}

// NumberWebhook is a number's webhook as Kapso reports it (never its secret).
type NumberWebhook struct {
	ID, URL, Kind string // kind: kapso or meta
	Events        []string
	Active        bool
}

// WebhookRegistration registers a number's webhook. URL and SecretKey are
// required (Kapso never generates the secret); Events is required for kind
// kapso.
type WebhookRegistration struct {
	URL, SecretKey, Kind string
	Events               []string
	Active               *bool // nil: Kapso's default (active)
	PayloadVersion       string
	InactivityMinutes    int // 0: Kapso's default
}

// WebhookChange changes a number's webhook; only the fields set (non-nil,
// non-empty) change, the others keep their value at Kapso.
type WebhookChange struct {
	Active         *bool
	URL, SecretKey string
	Events         []string
}
