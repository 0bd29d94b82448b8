package onboarding

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// TenantStatuses lists every TenantStatus, in lifecycle order. A test holds
// it to the constants declared in types.go, so a status added there cannot
// be missing from the API's filter.
var TenantStatuses = []TenantStatus{
	TenantNotStarted, TenantLinkActive, TenantAwaitingConfirmation, TenantConnected, TenantRestricted,
	TenantDisabled, TenantFailed, TenantExpired, TenantDisconnected, TenantReconnectRequired, TenantDeleting,
}

// KnownTenantStatus reports whether s is one of TenantStatuses.
func KnownTenantStatus(s TenantStatus) bool {
	for _, known := range TenantStatuses {
		if s == known {
			return true
		}
	}
	return false
}

// AttentionReason says why a tenant needs a human.
type AttentionReason string

const (
	// AttentionFailed: the newest signup failed and Kapso bears it out (a
	// failure only the browser reported does not need a human: the link
	// stays usable).
	AttentionFailed AttentionReason = "failed"
	// AttentionReconnectRequired: a number lost its Meta credentials.
	AttentionReconnectRequired AttentionReason = "reconnect_required"
	// AttentionRestricted: Meta restricted a number's business account.
	AttentionRestricted AttentionReason = "restricted"
	// AttentionDisabled: Meta disabled a number's business account.
	AttentionDisabled AttentionReason = "disabled"
	// AttentionConfirmationOverdue: the browser came back successfully, but
	// nothing confirmed the number for ConfirmationOverdueAfter.
	AttentionConfirmationOverdue AttentionReason = "confirmation_overdue"
	// AttentionWebhookNotRegistered: a connected number has no registered
	// webhook, so its messages do not arrive.
	AttentionWebhookNotRegistered AttentionReason = "webhook_not_registered"
	// AttentionQualityLow: Meta rates a connected number's quality YELLOW
	// or RED; its messaging limit may drop next.
	AttentionQualityLow AttentionReason = "quality_low"
	// AttentionDisplayNameRejected: Meta refused a connected number's
	// display name.
	AttentionDisplayNameRejected AttentionReason = "display_name_rejected"
)

// ConfirmationOverdueAfter is how long a tenant may await confirmation
// without a new fact before it needs a human: the webhook and the
// reconciler's API checks have had many chances by then.
const ConfirmationOverdueAfter = time.Hour

// attentionByStatus are the statuses that need a human whatever their age.
var attentionByStatus = map[TenantStatus]AttentionReason{
	TenantFailed:            AttentionFailed,
	TenantReconnectRequired: AttentionReconnectRequired,
	TenantRestricted:        AttentionRestricted,
	TenantDisabled:          AttentionDisabled,
}

// WebhookMissing reports whether a connected number of c has no registered
// webhook.
func WebhookMissing(c Connection) bool {
	for _, n := range c.PhoneNumbers {
		if n.Status == NumberStatusConnected && !n.WebhookRegistered {
			return true
		}
	}
	return false
}

// AttentionStored is the part of the attention rule that holds until the
// tenant's next fact: stores index tenants by it. numbers says whether a
// number needs a human (WebhookMissing, HealthAttention). Only
// AttentionConfirmationOverdue comes with time alone, so stores find it by
// age instead.
func AttentionStored(status TenantStatus, numbers bool) bool {
	_, ok := attentionByStatus[status]
	return ok || numbers
}

// TenantItem is a tenant as ListTenants lists it: the snapshot its store
// keeps of the tenant's derived connection.
type TenantItem struct {
	TenantID        string
	Name            string
	KapsoCustomerID string
	Status          TenantStatus
	// UpdatedAt is the time of the tenant's latest fact (its creation before any).
	UpdatedAt time.Time
	// WebhookMissing: see WebhookMissing.
	WebhookMissing bool
	// Health is ConnectedHealth of the tenant's connection.
	Health []NumberHealth
	// Attention is AttentionAt the query's Now, as ListTenants fills it in.
	Attention []AttentionReason
}

// AttentionAt lists why the tenant needs a human at now; nil when it does not.
func (t TenantItem) AttentionAt(now time.Time) []AttentionReason {
	var out []AttentionReason
	if r, ok := attentionByStatus[t.Status]; ok {
		out = append(out, r)
	}
	if t.Status == TenantAwaitingConfirmation && t.UpdatedAt.Before(now.Add(-ConfirmationOverdueAfter)) {
		out = append(out, AttentionConfirmationOverdue)
	}
	if t.WebhookMissing {
		out = append(out, AttentionWebhookNotRegistered)
	}
	if slices.ContainsFunc(t.Health, NumberHealth.QualityLow) {
		out = append(out, AttentionQualityLow)
	}
	if slices.ContainsFunc(t.Health, NumberHealth.NameRefused) {
		out = append(out, AttentionDisplayNameRejected)
	}
	return out
}

// TenantQuery asks ListTenants for one page of tenants, least recently
// updated first (by UpdatedAt, then tenant id).
type TenantQuery struct {
	// Status keeps only the tenants of this status; "" keeps every status.
	Status TenantStatus
	// NeedsAttention keeps only the tenants with a reason AttentionAt Now.
	NeedsAttention bool
	// Now decides which tenants await confirmation for too long; stores take
	// their own clock when it is zero.
	Now time.Time
	// UpdatedSince keeps only the tenants updated at or after it; zero keeps
	// every one. It only bounds the list: a cursor goes on from its place
	// under any UpdatedSince.
	UpdatedSince time.Time
	// Limit is clamped to [1, MaxTenantPageLimit]; 0 is DefaultTenantPageLimit.
	Limit int
	// Cursor is the previous page's next cursor, "" for the first page.
	Cursor string
}

// Page sizes of ListTenants.
const (
	DefaultTenantPageLimit = 50
	MaxTenantPageLimit     = 200
)

// Size is q's limit, clamped.
func (q TenantQuery) Size() int {
	switch {
	case q.Limit <= 0:
		return DefaultTenantPageLimit
	case q.Limit > MaxTenantPageLimit:
		return MaxTenantPageLimit
	}
	return q.Limit
}

// Selects reports whether the query keeps t at now.
func (q TenantQuery) Selects(t TenantItem, now time.Time) bool {
	if q.Status != "" && t.Status != q.Status || t.UpdatedAt.Before(q.UpdatedSince) {
		return false
	}
	return !q.NeedsAttention || len(t.AttentionAt(now)) > 0
}

// TenantPosition is where a tenant sorts in a tenant list.
type TenantPosition struct {
	UpdatedAt time.Time
	TenantID  string
}

// Compare orders positions: by time, then tenant id.
func (p TenantPosition) Compare(o TenantPosition) int {
	return cmp.Or(p.UpdatedAt.Compare(o.UpdatedAt), strings.Compare(p.TenantID, o.TenantID))
}

// Position is where t sorts.
func (t TenantItem) Position() TenantPosition {
	return TenantPosition{UpdatedAt: t.UpdatedAt, TenantID: t.TenantID}
}

// ErrBadCursor marks a cursor that is no cursor ListTenants handed out for
// the same filters. Callers answer 400 and start again without one.
var ErrBadCursor = errors.New("invalid tenant list cursor")

// tenantCursor is the position of the last tenant of a page, with the list
// it belongs to, so that a cursor of other filters (or of another list) is
// refused rather than followed.
type tenantCursor struct {
	List      string `json:"l"`
	UpdatedAt string `json:"u"`
	TenantID  string `json:"t"`
}

// list names the list the query's filters select.
func (q TenantQuery) list() string {
	l := "tenants"
	if q.Status != "" {
		l += ";status=" + string(q.Status)
	}
	if q.NeedsAttention {
		l += ";needs_attention"
	}
	return l
}

// maxCursorBytes bounds a cursor: larger is none ListTenants handed out.
const maxCursorBytes = 1024

// After is where the page starts: after the returned position, or at the
// start when ok is false. A cursor not handed out for q's filters is
// errs.Invalid wrapping ErrBadCursor.
func (q TenantQuery) After() (p TenantPosition, ok bool, err error) {
	if q.Cursor == "" {
		return p, false, nil
	}
	bad := errs.E(errs.Invalid, "invalid cursor", ErrBadCursor)
	if len(q.Cursor) > maxCursorBytes {
		return p, false, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return p, false, bad
	}
	var c tenantCursor
	if err := json.Unmarshal(b, &c); err != nil || c.List != q.list() || !ValidTenantID(c.TenantID) {
		return p, false, bad
	}
	at, err := time.Parse(time.RFC3339Nano, c.UpdatedAt)
	if err != nil {
		return p, false, bad
	}
	return TenantPosition{UpdatedAt: at.UTC(), TenantID: c.TenantID}, true, nil
}

// CursorAfter is the cursor of the page that follows t in q's list.
func (q TenantQuery) CursorAfter(t TenantItem) string {
	b, _ := json.Marshal(tenantCursor{List: q.list(), UpdatedAt: t.UpdatedAt.UTC().Format(time.RFC3339Nano), TenantID: t.TenantID})
	return base64.RawURLEncoding.EncodeToString(b)
}
