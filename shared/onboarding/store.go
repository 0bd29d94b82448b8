package onboarding

import (
	"context"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Store keeps tenants' connections: each tenant's identity and facts, the
// lookups from setup links and Kapso customers to tenants, and the events
// kept for customers no tenant owns. dynamo.Onboarding keeps them in the
// bridge table and memstore.Onboarding in memory; storetest.RunStore holds
// both to this contract.
type Store interface {
	CustomerStore
	// AppendFact records f for the tenant (a no-op for a fact already
	// stored), re-derives the connection from every stored fact, closes the
	// links Change.ClosedLinks names, and says what the fact did. A tenant
	// never created is ErrTenantNotFound; an invalid fact is errs.Invalid.
	AppendFact(ctx context.Context, tenantID string, f Fact) (Connection, Change, error)
	// Load derives the tenant's connection from its stored facts.
	Load(ctx context.Context, tenantID string) (Connection, bool, error)
	// TenantsWithStatus lists up to limit tenants whose newest derived status
	// is status, least recently updated first.
	TenantsWithStatus(ctx context.Context, status TenantStatus, limit int) ([]TenantRef, error)
	// ListTenants lists one page of the tenants q selects, least recently
	// updated first, each with its Attention at q.Now, and the cursor of the
	// next page ("" after the last). A cursor not handed out for the same
	// filters is errs.Invalid wrapping ErrBadCursor.
	ListTenants(ctx context.Context, q TenantQuery) ([]TenantItem, string, error)
	// RecordLink maps a setup link Kapso created to the tenant
	// (ErrLinkOfAnotherTenant unless CanMap) and appends its LinkCreated.
	RecordLink(ctx context.Context, tenantID string, l LinkDetails) (Connection, error)
	TenantOfLink(ctx context.Context, setupLinkID string) (string, bool, error)
	// CloseLink takes a link out of the active links, keeping its lookup.
	CloseLink(ctx context.Context, setupLinkID string, status AttemptStatus) error
	// ActiveLinksExpiredAt lists up to limit links still active whose expiry
	// is at or before now (to the second), soonest expired first.
	ActiveLinksExpiredAt(ctx context.Context, now time.Time, limit int) ([]LinkRef, error)
	TenantOfCustomer(ctx context.Context, customerID string) (string, bool, error)
	// KeepOrphan keeps an event for a Kapso customer no tenant owns, for
	// support; the bridge never reads them back.
	KeepOrphan(ctx context.Context, customerID, eventID string, receivedAt time.Time, envelopeJSON []byte) error
}

// NumberStore keeps what a connected number needs outside its tenant's
// facts: the tenant a delivery for it belongs to, the secret that verifies
// its deliveries, and the registration of its webhook. dynamo.Numbers keeps
// them in the bridge table and memstore.Numbers in memory;
// storetest.RunNumbers holds both to this contract.
type NumberStore interface {
	// AddNumber records the number as the tenant's and, unless its webhook
	// is recorded, lists it among the numbers missing their webhook.
	AddNumber(ctx context.Context, tenantID, phoneNumberID string) error
	TenantOfPhoneNumber(ctx context.Context, phoneNumberID string) (string, bool, error)
	// ClaimWebhookRegistration takes the number's registration lease for d
	// when its Number.Next is LeaseTake, and returns the number as the claim
	// left it with the holder's token. ok is false, without error, when the
	// webhook is recorded; the error is ErrRegistrationBusy while another
	// holds the lease and ErrUnknownNumber for a number never stored.
	ClaimWebhookRegistration(ctx context.Context, phoneNumberID string, d time.Duration) (n Number, token string, ok bool, err error)
	// ReleaseWebhookRegistration gives the lease back if token still holds it.
	ReleaseWebhookRegistration(ctx context.Context, phoneNumberID, token string) error
	// WebhookRecorded takes the number out of the missing-webhook list for
	// good and drops its lease. Call it only once the WebhookRegistered fact
	// is stored: the list is how a registration that failed half way is found
	// again. It is idempotent, and a no-op for a number never stored.
	WebhookRecorded(ctx context.Context, phoneNumberID string) error
	// NumbersMissingWebhook lists up to limit numbers whose webhook is not
	// recorded, least recently listed first.
	NumbersMissingWebhook(ctx context.Context, limit int) ([]Number, error)
	// Secret returns the number's webhook secret, or ErrNoSecret.
	Secret(ctx context.Context, phoneNumberID string) (string, error)
	// PutSecret stores the number's webhook secret, creating the number's
	// record if needed and keeping what else it holds.
	PutSecret(ctx context.Context, phoneNumberID, secret string) error
	// OffboardNumber marks the number, while it is tenantID's, as its
	// tenant's being offboarded: from then on TenantOfPhoneNumber and
	// Secret answer ErrNumberOffboarded (so its deliveries are answered
	// and dropped), and it leaves the missing-webhook list. AddNumber
	// clears the mark. Another tenant's number, or one never stored, is
	// left as it is.
	OffboardNumber(ctx context.Context, phoneNumberID, tenantID string) error
}

// Number is what a NumberStore holds about one number. Everything the number
// is (its account, display number, status, whether its webhook is
// registered) is derived from its tenant's facts alone.
type Number struct {
	PhoneNumberID string
	TenantID      string
	// WebhookSecret is "" until one is generated; it is never replaced.
	WebhookSecret string
	// Registration is the lease of the worker registering the webhook.
	Registration Lease
	// WebhookRecorded: the WebhookRegistered fact is stored and the number
	// has left the missing-webhook list. It follows the fact, never stands
	// for it.
	WebhookRecorded bool
}

// Next says what a worker about to register the number's webhook does at now.
func (n Number) Next(now time.Time) LeaseStep {
	return nextStep(n.WebhookRecorded, n.Registration, now)
}

// TenantRef is a tenant as TenantsWithStatus lists it.
type TenantRef struct {
	TenantID, KapsoCustomerID string
	Status                    TenantStatus
	UpdatedAt                 time.Time
}

// LinkRef is an active link as ActiveLinksExpiredAt lists it.
type LinkRef struct {
	TenantID, SetupLinkID string
	ExpiresAt             time.Time
}

// Errors of the stores. Their errs codes let callers test for them without
// knowing which store answered.
var (
	// ErrTenantNotFound: no tenant exists for the id.
	ErrTenantNotFound = errs.E(errs.NotFound, "unknown tenant", nil)
	// ErrLinkOfAnotherTenant: the setup link is mapped to another tenant.
	ErrLinkOfAnotherTenant = errs.E(errs.Conflict, "setup link belongs to another tenant", nil)
	// ErrUnknownNumber: nothing is stored for the phone number.
	ErrUnknownNumber = errs.E(errs.NotFound, "unknown phone number", nil)
	// ErrTenantDeleting: the tenant is being offboarded; nothing new is
	// recorded for it.
	ErrTenantDeleting = errs.E(errs.Conflict, "tenant is being deleted", nil)
	// ErrNumberOffboarded: the number's tenant is being offboarded; what
	// arrives for the number is dropped.
	ErrNumberOffboarded = errs.E(errs.NotFound, "phone number offboarded", nil)
	// ErrNoSecret: no webhook secret is stored for the number.
	ErrNoSecret = errs.E(errs.NotFound, "no webhook secret for phone number", nil)
	// ErrRegistrationBusy: another worker holds the number's registration lease.
	ErrRegistrationBusy = errs.E(errs.InFlight, "webhook registration in progress", nil)
)

// RedirectHints keeps browser redirects the lifecycle queue could not take,
// each as its encoded queue message, until the reconciler has applied it.
// dynamo.Hints keeps them in the bridge table and memstore.Hints in memory;
// storetest.RunHints holds both to this contract. A hint carries no expiry:
// it is only ever dropped once applied.
type RedirectHints interface {
	// KeepRedirect keeps raw as the hint named by id and receivedAt (now
	// when zero); keeping the same pair again replaces it. The same id at
	// another time is another hint: a reload during an outage is kept
	// twice, and applying both changes nothing the second time. A raw
	// above MaxRedirectHintBytes is errs.TooLarge.
	KeepRedirect(ctx context.Context, id string, receivedAt time.Time, raw []byte) error
	// Redirects lists up to limit kept hints, oldest received first.
	Redirects(ctx context.Context, limit int) ([]KeptRedirect, error)
	// DropRedirect forgets a hint as Redirects listed it; dropping one not
	// kept is a no-op.
	DropRedirect(ctx context.Context, id string, receivedAt time.Time) error
}

// KeptRedirect is one hint as RedirectHints lists it.
type KeptRedirect struct {
	ID         string
	ReceivedAt time.Time
	Raw        []byte
}

// MaxRedirectHintBytes bounds a kept hint. A redirect's message is a header
// and a handful of validated query parameters (the query itself is capped
// at 4 KiB), far below it; the bound keeps an item well inside DynamoDB's.
const MaxRedirectHintBytes = 64 * 1024
