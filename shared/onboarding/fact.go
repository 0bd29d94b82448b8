package onboarding

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FactKind names what happened.
type FactKind string

const (
	FactLinkCreated FactKind = "link_created"
	// FactSuccessRedirect and FactFailureRedirect come from the unsigned
	// browser redirects: hints only.
	FactSuccessRedirect FactKind = "success_redirect"
	FactFailureRedirect FactKind = "failure_redirect"
	// FactSuspiciousRedirect is a success redirect the caller already found
	// wrong (its number is not under the tenant's Kapso customer).
	FactSuspiciousRedirect FactKind = "suspicious_redirect"
	// The three confirmations: signed webhooks (v2 and v1 names) and the Platform API.
	FactPhoneNumberCreated FactKind = "phone_number_created"
	FactConfigCreated      FactKind = "config_created"
	FactAPIConfirmed       FactKind = "api_confirmed"
	FactWebhookRegistered  FactKind = "webhook_registered"
	FactNumberDisconnected FactKind = "number_disconnected"
	FactNumberDeleted      FactKind = "number_deleted"
	FactNumberOffboarded   FactKind = "number_offboarded"
	FactNumberReconnected  FactKind = "number_reconnected"
	FactAccountRestricted  FactKind = "account_restricted"
	FactAccountDisabled    FactKind = "account_disabled"
	FactAccountReinstated  FactKind = "account_reinstated"
	FactLinkExpired        FactKind = "link_expired"
	FactLinkRevoked        FactKind = "link_revoked"
	// FactSuspiciousWebhook is a signed webhook whose claim the Platform API
	// did not bear out (a body replayed under another event name, say). It
	// is kept for the timeline only and changes nothing else.
	FactSuspiciousWebhook FactKind = "suspicious_webhook"
	// FactSetupFailed: Kapso's setup link reports the signup failed
	// (whatsapp_setup_status failed): a failure Kapso itself bears out.
	FactSetupFailed FactKind = "setup_failed"
	// FactHealthRead: the reconciler read a number's health (quality,
	// messaging limit, display name review, throughput) and it had changed.
	FactHealthRead FactKind = "health_read"
	// FactOffboardRequested: the SaaS asked for the tenant to be offboarded
	// (DELETE /v1/tenants/{tenant_id}). The tenant is deleting from then on.
	FactOffboardRequested FactKind = "offboard_requested"
)

// kindRank orders kinds that happen at the same instant, so that Derive
// never depends on arrival order; it also rejects unknown kinds (rank < 0).
// Creation comes first, confirmations before the lifecycle events that may
// undo them, and closing a link last.
func kindRank(k FactKind) int {
	switch k {
	case FactLinkCreated:
		return 0
	case FactSuccessRedirect:
		return 1
	case FactSuspiciousRedirect:
		return 2
	case FactFailureRedirect:
		return 3
	case FactPhoneNumberCreated:
		return 4
	case FactConfigCreated:
		return 5
	case FactAPIConfirmed:
		return 6
	case FactWebhookRegistered:
		return 7
	case FactNumberReconnected:
		return 8
	case FactNumberDisconnected:
		return 9
	case FactNumberDeleted:
		return 10
	case FactNumberOffboarded:
		return 11
	case FactAccountReinstated:
		return 12
	case FactAccountRestricted:
		return 13
	case FactAccountDisabled:
		return 14
	case FactLinkExpired:
		return 15
	case FactLinkRevoked:
		return 16
	case FactSuspiciousWebhook:
		return 17
	case FactSetupFailed:
		return 18
	case FactHealthRead:
		return 19
	case FactOffboardRequested:
		return 20
	}
	return -1
}

// kindSource says where a fact of this kind comes from, for the timeline.
func kindSource(k FactKind) string {
	switch k {
	case FactLinkCreated, FactLinkExpired, FactLinkRevoked:
		return "setup_link"
	case FactSuccessRedirect, FactSuspiciousRedirect, FactFailureRedirect:
		return "redirect"
	case FactPhoneNumberCreated:
		return SourcePhoneNumberCreated
	case FactConfigCreated:
		return SourceConfigCreated
	case FactAPIConfirmed, FactWebhookRegistered, FactSetupFailed:
		return SourceAPI
	case FactNumberDisconnected:
		return "webhook:whatsapp.phone_number.disconnected"
	case FactNumberDeleted:
		return "webhook:whatsapp.phone_number.deleted"
	case FactNumberOffboarded:
		return "webhook:whatsapp.phone_number.offboarded"
	case FactNumberReconnected:
		return "webhook:whatsapp.phone_number.reconnected"
	case FactAccountRestricted:
		return "webhook:whatsapp.account.restricted"
	case FactAccountDisabled:
		return "webhook:whatsapp.account.disabled"
	case FactAccountReinstated:
		return "webhook:whatsapp.account.reinstated"
	case FactSuspiciousWebhook:
		return "webhook"
	case FactHealthRead:
		return SourceReconciler
	case FactOffboardRequested:
		return SourceAPI
	}
	return "unknown"
}

// source is where this fact came from, for the timeline: the Source it
// carries, else the webhook it names, else its kind's usual source.
func (f Fact) source() string {
	switch {
	case f.Source != "":
		return f.Source
	case f.Kind == FactSuspiciousWebhook && f.Event != "":
		return "webhook:" + f.Event
	}
	return kindSource(f.Kind)
}

func isConfirmation(k FactKind) bool {
	return k == FactPhoneNumberCreated || k == FactConfigCreated || k == FactAPIConfirmed
}

func isAccountEvent(k FactKind) bool {
	return k == FactAccountRestricted || k == FactAccountDisabled || k == FactAccountReinstated
}

// isNumberLifecycle: kinds that move a known number's status.
func isNumberLifecycle(k FactKind) bool {
	return k == FactNumberDisconnected || k == FactNumberDeleted || k == FactNumberOffboarded ||
		k == FactNumberReconnected
}

// Fact is one thing that happened to a tenant's connection. It is a sum
// type: Kind says which fields are meaningful. Build facts with the
// constructors below rather than by hand.
//
// At must be the event's own time (or the time its first delivery was
// accepted), so that a redelivery is the same fact and collapses with it.
type Fact struct {
	Kind               FactKind         `json:"kind"`
	At                 time.Time        `json:"at"`
	SetupLinkID        string           `json:"setup_link_id,omitempty"`
	PhoneNumberID      string           `json:"phone_number_id,omitempty"`
	BusinessAccountID  string           `json:"business_account_id,omitempty"`
	DisplayPhoneNumber string           `json:"display_phone_number,omitempty"`
	ConnectionType     ConnectionType   `json:"connection_type,omitempty"`
	NameStatus         string           `json:"name_status,omitempty"`
	ReviewStatus       string           `json:"review_status,omitempty"`
	QualityRating      string           `json:"quality_rating,omitempty"`
	ErrorCode          string           `json:"error_code,omitempty"`
	Reason             string           `json:"reason,omitempty"`
	URL                string           `json:"url,omitempty"`
	ExpiresAt          time.Time        `json:"expires_at,omitzero"`
	AllowedTypes       []ConnectionType `json:"allowed_connection_types,omitempty"`
	WebhookID          string           `json:"webhook_id,omitempty"`
	// Event is the webhook event a suspicious webhook claimed to be.
	Event string `json:"event,omitempty"`
	// The health a HealthRead found besides its quality and name status.
	MessagingLimitTier string `json:"messaging_limit_tier,omitempty"`
	Throughput         string `json:"throughput,omitempty"`
	VerifiedName       string `json:"verified_name,omitempty"`
	// Source says who established the fact when its kind alone does not:
	// SourceAPI for a webhook event the Platform API bore out, SourceReconciler
	// for a state the reconciler found. Empty means the kind's usual source.
	Source string `json:"source,omitempty"`
	// CreatedBy is the API token that asked for a link (link_created).
	CreatedBy string `json:"created_by,omitempty"`
}

// WithReason returns the fact with why it happened (a disconnection's
// meta_token_expired, a restriction's policy), shown in the support view.
func (f Fact) WithReason(reason string) Fact {
	f.Reason = reason
	return f
}

// WithSource returns the fact with who established it (SourceAPI,
// SourceReconciler), shown as its timeline entry's source.
func (f Fact) WithSource(source string) Fact {
	f.Source = source
	return f
}

// LinkDetails describes a setup link as Kapso created it.
type LinkDetails struct {
	SetupLinkID            string
	URL                    string
	CreatedAt              time.Time
	ExpiresAt              time.Time
	AllowedConnectionTypes []ConnectionType
	// Adopted says why the reconciler recorded a link kapso-bridge did not
	// (its creation's answer was lost); "" for a link recorded at creation.
	Adopted string
	// CreatedBy is the name of the API token that asked for the link.
	CreatedBy string
}

// RedirectDetails are the query parameters of a success redirect.
type RedirectDetails struct {
	SetupLinkID        string
	PhoneNumberID      string
	BusinessAccountID  string
	DisplayPhoneNumber string
}

// NumberDetails describe a number as a webhook or the Platform API reported it.
// SetupLinkID is optional; ConnectionType comes from is_coexistence.
type NumberDetails struct {
	PhoneNumberID      string
	SetupLinkID        string
	BusinessAccountID  string
	DisplayPhoneNumber string
	ConnectionType     ConnectionType
	NameStatus         string
	ReviewStatus       string
	QualityRating      string
}

// AccountRef names the account an account event is about: its WABA, or one
// of its numbers. With neither, the event applies to every number of the tenant.
type AccountRef struct {
	BusinessAccountID string
	PhoneNumberID     string
}

// LinkCreated: a setup link was created for the tenant.
func LinkCreated(l LinkDetails) Fact {
	f := Fact{Kind: FactLinkCreated, At: l.CreatedAt, SetupLinkID: l.SetupLinkID, URL: l.URL,
		ExpiresAt: l.ExpiresAt, AllowedTypes: l.AllowedConnectionTypes, CreatedBy: l.CreatedBy}
	if l.Adopted != "" {
		f = f.WithSource(SourceReconciler).WithReason(l.Adopted)
	}
	return f
}

// SuccessRedirect: the browser came back through the success redirect.
func SuccessRedirect(r RedirectDetails, at time.Time) Fact {
	return redirectFact(FactSuccessRedirect, r, at)
}

// SuspiciousRedirect: a success redirect the caller rejected, with why.
func SuspiciousRedirect(r RedirectDetails, reason string, at time.Time) Fact {
	f := redirectFact(FactSuspiciousRedirect, r, at)
	f.Reason = reason
	return f
}

func redirectFact(kind FactKind, r RedirectDetails, at time.Time) Fact {
	return Fact{Kind: kind, At: at, SetupLinkID: r.SetupLinkID, PhoneNumberID: r.PhoneNumberID,
		BusinessAccountID: r.BusinessAccountID, DisplayPhoneNumber: r.DisplayPhoneNumber}
}

// FailureRedirect: the browser came back through the failure redirect. It
// is the browser's report only: the link stays usable until Kapso bears the
// failure out (SetupFailed, or the link closing).
func FailureRedirect(setupLinkID, errorCode string, at time.Time) Fact {
	return Fact{Kind: FactFailureRedirect, At: at, SetupLinkID: setupLinkID, ErrorCode: errorCode}
}

// MaxSetupErrorBytes bounds the error a SetupFailed keeps: Kapso's
// whatsapp_setup_error is free text of no documented length.
const MaxSetupErrorBytes = 256

// SetupFailed: Kapso's setup link reports the signup failed, with its
// whatsapp_setup_error as the code (CodeUnknown when it gives none), cut to
// MaxSetupErrorBytes.
func SetupFailed(setupLinkID, setupError string, at time.Time) Fact {
	code := strings.ToValidUTF8(strings.TrimSpace(setupError), "")
	if len(code) > MaxSetupErrorBytes {
		code = strings.ToValidUTF8(code[:MaxSetupErrorBytes], "")
	}
	return Fact{Kind: FactSetupFailed, At: at, SetupLinkID: setupLinkID, ErrorCode: cmp.Or(code, CodeUnknown)}
}

// PhoneNumberCreated: the signed project webhook whatsapp.phone_number.created (v2).
func PhoneNumberCreated(n NumberDetails, at time.Time) Fact {
	return numberFact(FactPhoneNumberCreated, n, at)
}

// ConfigCreated: the signed project webhook whatsapp.config.created (v1).
func ConfigCreated(n NumberDetails, at time.Time) Fact {
	return numberFact(FactConfigCreated, n, at)
}

// APIConfirmed: the Platform API lists the number, connected, under the
// tenant's Kapso customer.
func APIConfirmed(n NumberDetails, at time.Time) Fact {
	return numberFact(FactAPIConfirmed, n, at)
}

func numberFact(kind FactKind, n NumberDetails, at time.Time) Fact {
	return Fact{Kind: kind, At: at, PhoneNumberID: n.PhoneNumberID, SetupLinkID: n.SetupLinkID,
		BusinessAccountID: n.BusinessAccountID, DisplayPhoneNumber: n.DisplayPhoneNumber,
		ConnectionType: n.ConnectionType, NameStatus: n.NameStatus, ReviewStatus: n.ReviewStatus,
		QualityRating: n.QualityRating}
}

// WebhookRegistered: kapso-bridge registered the number's own webhook.
func WebhookRegistered(phoneNumberID, webhookID string, at time.Time) Fact {
	return Fact{Kind: FactWebhookRegistered, At: at, PhoneNumberID: phoneNumberID, WebhookID: webhookID}
}

// SuspiciousWebhook: a webhook named event claimed something of the number
// that the Platform API did not confirm; reason says what Kapso showed.
// phoneNumberID may be empty for an account event naming only its WABA.
func SuspiciousWebhook(event, phoneNumberID, reason string, at time.Time) Fact {
	return Fact{Kind: FactSuspiciousWebhook, At: at, Event: event, PhoneNumberID: phoneNumberID, Reason: reason}
}

// NumberDisconnected: whatsapp.phone_number.disconnected.
func NumberDisconnected(phoneNumberID string, at time.Time) Fact {
	return Fact{Kind: FactNumberDisconnected, At: at, PhoneNumberID: phoneNumberID}
}

// NumberDeleted: whatsapp.phone_number.deleted.
func NumberDeleted(phoneNumberID string, at time.Time) Fact {
	return Fact{Kind: FactNumberDeleted, At: at, PhoneNumberID: phoneNumberID}
}

// NumberOffboarded: whatsapp.phone_number.offboarded.
func NumberOffboarded(phoneNumberID string, at time.Time) Fact {
	return Fact{Kind: FactNumberOffboarded, At: at, PhoneNumberID: phoneNumberID}
}

// NumberReconnected: whatsapp.phone_number.reconnected.
func NumberReconnected(phoneNumberID string, at time.Time) Fact {
	return Fact{Kind: FactNumberReconnected, At: at, PhoneNumberID: phoneNumberID}
}

// AccountRestricted: whatsapp.account.restricted.
func AccountRestricted(a AccountRef, reason string, at time.Time) Fact {
	return accountFact(FactAccountRestricted, a, reason, at)
}

// AccountDisabled: whatsapp.account.disabled.
func AccountDisabled(a AccountRef, reason string, at time.Time) Fact {
	return accountFact(FactAccountDisabled, a, reason, at)
}

// AccountReinstated: whatsapp.account.reinstated.
func AccountReinstated(a AccountRef, at time.Time) Fact {
	return accountFact(FactAccountReinstated, a, "", at)
}

func accountFact(kind FactKind, a AccountRef, reason string, at time.Time) Fact {
	return Fact{Kind: kind, At: at, BusinessAccountID: a.BusinessAccountID,
		PhoneNumberID: a.PhoneNumberID, Reason: reason}
}

// LinkExpired: the link passed its expires_at unused.
func LinkExpired(setupLinkID string, at time.Time) Fact {
	return Fact{Kind: FactLinkExpired, At: at, SetupLinkID: setupLinkID}
}

// LinkRevoked: the link was revoked, by hand at Kapso or by a newer link
// Kapso made; the reconciler records what the Platform API lists.
func LinkRevoked(setupLinkID string, at time.Time) Fact {
	return Fact{Kind: FactLinkRevoked, At: at, SetupLinkID: setupLinkID}
}

// OffboardRequested: the SaaS asked for the tenant to be offboarded.
func OffboardRequested(at time.Time) Fact {
	return Fact{Kind: FactOffboardRequested, At: at}
}

// Validate says whether the fact carries what its kind needs. Errors wrap
// ErrInvalidFact.
func (f Fact) Validate() error {
	if kindRank(f.Kind) < 0 {
		return fmt.Errorf("%w: kind %q is unknown", ErrInvalidFact, f.Kind)
	}
	if f.At.IsZero() {
		return fmt.Errorf("%w: %s has no time", ErrInvalidFact, f.Kind)
	}
	switch f.Kind {
	case FactLinkCreated, FactSuccessRedirect, FactSuspiciousRedirect, FactFailureRedirect,
		FactLinkExpired, FactLinkRevoked, FactSetupFailed:
		if f.SetupLinkID == "" {
			return fmt.Errorf("%w: %s has no setup link id", ErrInvalidFact, f.Kind)
		}
	case FactAccountRestricted, FactAccountDisabled, FactAccountReinstated:
		// No reference at all means the whole tenant.
	case FactOffboardRequested:
		// About the whole tenant.
	case FactSuspiciousWebhook:
		if f.Event == "" {
			return fmt.Errorf("%w: %s has no event name", ErrInvalidFact, f.Kind)
		}
	default:
		if f.PhoneNumberID == "" {
			return fmt.Errorf("%w: %s has no phone number id", ErrInvalidFact, f.Kind)
		}
	}
	for _, t := range append([]ConnectionType{f.ConnectionType}, f.AllowedTypes...) {
		if t != "" && t != ConnectionDedicated && t != ConnectionCoexistence {
			return fmt.Errorf("%w: %s: connection type %q is unknown", ErrInvalidFact, f.Kind, t)
		}
	}
	return nil
}

// normalized returns the fact in the one form that Key and Derive compare:
// times in UTC without monotonic readings, connection types sorted.
func (f Fact) normalized() Fact {
	f.At = f.At.UTC()
	if !f.ExpiresAt.IsZero() {
		f.ExpiresAt = f.ExpiresAt.UTC()
	}
	if len(f.AllowedTypes) > 0 {
		f.AllowedTypes = slices.Clone(f.AllowedTypes)
		slices.Sort(f.AllowedTypes)
		f.AllowedTypes = slices.Compact(f.AllowedTypes)
	}
	return f
}

// Key is the fact's natural key: two facts with the same key are the same
// fact (a redelivery). It is the kind, the id the fact is about, and a
// digest of every field, so a store can use it in a conditional write.
func (f Fact) Key() string {
	f = f.normalized()
	fields := f.namedFields()
	// Length-prefixing keeps ("a","bc") and ("ab","c") apart.
	var encoded []byte
	for _, field := range fields {
		encoded = strconv.AppendInt(encoded, int64(len(field.value)), 10)
		encoded = append(encoded, ':')
		encoded = append(encoded, field.value...)
	}
	digest := sha256.Sum256(encoded)
	subject := f.PhoneNumberID
	if subject == "" {
		subject = f.SetupLinkID
	}
	if subject == "" {
		subject = f.BusinessAccountID
	}
	return string(f.Kind) + "#" + subject + "#" + hex.EncodeToString(digest[:12])
}

// AlreadyKnows reports whether the connection holds f under another time.
// Kapso re-sends an event under a new delivery key, and a person reloads a
// redirect page; those copies carry a new receive time, hence a new Key, but
// say nothing new.
//
// Number lifecycle and account events can truly repeat (disconnected,
// reconnected, disconnected again), so such a copy is known only when the
// latest such event about the same number or account up to f's time is that
// copy.
func (c Connection) AlreadyKnows(f Fact) bool {
	want := f.timelessKey()
	if !isNumberLifecycle(f.Kind) && !isAccountEvent(f.Kind) {
		return slices.ContainsFunc(c.Facts, func(g Fact) bool { return g.timelessKey() == want })
	}
	var latest *Fact
	for i, g := range c.Facts {
		if (isNumberLifecycle(g.Kind) || isAccountEvent(g.Kind)) && g.PhoneNumberID == f.PhoneNumberID &&
			g.BusinessAccountID == f.BusinessAccountID && !g.At.After(f.At) {
			latest = &c.Facts[i]
		}
	}
	return latest != nil && latest.timelessKey() == want
}

// timelessKey is the Key of the fact at a fixed time and without its
// source: equal for the same fact at two times, or told by another channel.
func (f Fact) timelessKey() string {
	f.At = time.Unix(0, 0).UTC()
	f.Source = ""
	return f.Key()
}

type namedField struct{ name, value string }

// namedFields lists every field of the fact by its JSON name, in a fixed
// order: Key digests them all and the timeline shows the non-empty ones, so
// a field added to Fact must be added here once.
func (f Fact) namedFields() []namedField {
	types := make([]string, len(f.AllowedTypes))
	for i, t := range f.AllowedTypes {
		types[i] = string(t)
	}
	fields := []namedField{
		{"kind", string(f.Kind)},
		{"at", formatTime(f.At)},
		{"setup_link_id", f.SetupLinkID},
		{"phone_number_id", f.PhoneNumberID},
		{"business_account_id", f.BusinessAccountID},
		{"display_phone_number", f.DisplayPhoneNumber},
		{"connection_type", string(f.ConnectionType)},
		{"name_status", f.NameStatus},
		{"review_status", f.ReviewStatus},
		{"quality_rating", f.QualityRating},
		{"error_code", f.ErrorCode},
		{"reason", f.Reason},
		{"url", f.URL},
		{"expires_at", formatTime(f.ExpiresAt)},
		{"allowed_connection_types", strings.Join(types, ",")},
		{"webhook_id", f.WebhookID},
	}
	// Fields added later are listed only when set, so that the Key of every
	// fact stored before them stays what it was.
	if f.Event != "" {
		fields = append(fields, namedField{"event", f.Event})
	}
	if f.Source != "" {
		fields = append(fields, namedField{"source", f.Source})
	}
	for _, extra := range []namedField{{"messaging_limit_tier", f.MessagingLimitTier},
		{"throughput", f.Throughput}, {"verified_name", f.VerifiedName}} {
		if extra.value != "" {
			fields = append(fields, extra)
		}
	}
	return fields
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ErrInvalidFact is wrapped by the error Apply reports for a fact it refused.
var ErrInvalidFact = errors.New("invalid fact")
