// Package templates holds a tenant's WhatsApp message templates: what Meta
// says of each (its status, category, quality and components), the history
// of its status, the rules a new template must keep before Kapso is asked to
// create it, and the check a template send passes before it is queued.
//
// Templates live in each tenant's WhatsApp Business Account (WABA). Kapso
// sends no webhook when Meta reviews, pauses or disables one, so their
// status is read: by the reconciler on a schedule and on demand.
package templates

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Statuses Meta gives a template. Only an APPROVED one can be sent; the
// list is open (Meta adds statuses), so a status is kept as Meta spells it.
const (
	Approved = "APPROVED"
	Pending  = "PENDING"
	Rejected = "REJECTED"
	Paused   = "PAUSED"
	Disabled = "DISABLED"
	InAppeal = "IN_APPEAL"
	// Deleted is kapso-bridge's word too: a stored template a whole
	// reading of its WABA no longer lists.
	Deleted = "DELETED"
)

// Categories a template may have.
const (
	Authentication = "AUTHENTICATION"
	Marketing      = "MARKETING"
	Utility        = "UTILITY"
)

// Sources of a status change, as its history and its event say.
const (
	SourceReconciler = "reconciler"
	SourceAPI        = "api"
)

// Read is one template as Kapso's list gave it.
type Read struct {
	ID, Name, Language, Category, Status string
	// RejectedReason is Meta's reason for a rejection (NONE when there is
	// none); QualityScore is its quality_score.score (GREEN, YELLOW, RED,
	// UNKNOWN).
	RejectedReason, QualityScore string
	ParameterFormat              string // POSITIONAL or NAMED; empty is POSITIONAL
	// Components are Meta's, as Kapso gave them (a JSON array).
	Components json.RawMessage
}

// Template is a stored template of a tenant's WABA.
type Template struct {
	TenantID          string
	BusinessAccountID string
	Read
	// History is every status the template was seen in, oldest first.
	History []StatusChange
	// UpdatedAt is when what Kapso reports of it last changed. When it was
	// last confirmed is its WABA's sync mark: a reading that changes
	// nothing writes nothing.
	UpdatedAt time.Time
	// Version grows with every stored change; a write expects the one it
	// read (0: the template is new).
	Version int64
	// Source is what made the stored change: the reconciler, or the API
	// (create, sync).
	Source string
}

// StatusChange is one status a template was found in.
type StatusChange struct {
	Status, Reason string
	At             time.Time
	Source         string
}

// Key is a template in its WABA: Meta names a template by its name and
// language.
type Key struct{ BusinessAccountID, Name, Language string }

// Key is the template's key.
func (t Template) Key() Key { return Key{t.BusinessAccountID, t.Name, t.Language} }

// Sendable says whether Meta accepts sends of the template.
func (t Template) Sendable() bool { return t.Status == Approved }

// SyncMark is when a WABA's templates were last read whole.
type SyncMark struct {
	BusinessAccountID string
	At                time.Time
	Count             int
}

// Catalog is what is stored of a tenant's templates.
type Catalog struct {
	Templates []Template
	Synced    []SyncMark
}

// SyncedAt is when the WABA's templates were last read whole (zero: never).
func (c Catalog) SyncedAt(wabaID string) time.Time {
	for _, m := range c.Synced {
		if m.BusinessAccountID == wabaID {
			return m.At
		}
	}
	return time.Time{}
}

// Store keeps a tenant's templates. Errors are errs-classified; a write
// whose expected version is not the stored one is errs.Conflict.
type Store interface {
	// Catalog is every stored template of the tenant, and its sync marks.
	Catalog(ctx context.Context, tenantID string) (Catalog, error)
	// Template is one stored template (one read: the send path asks it).
	Template(ctx context.Context, tenantID string, k Key) (Template, bool, error)
	// SaveTemplates stores changed templates, each only if its stored
	// version is still Version-1, and then the sync mark when given.
	SaveTemplates(ctx context.Context, tenantID string, changed []Template, mark *SyncMark) error
}

// CheckSave refuses, as errs.Invalid, a save a store must not make: no
// tenant, another tenant's template, one without its WABA, name, language
// or version, or a sync mark without its WABA or time. Both stores ask it
// before any write.
func CheckSave(tenantID string, changed []Template, mark *SyncMark) error {
	invalid := func(what string) error { return errs.E(errs.Invalid, what, nil) }
	if tenantID == "" {
		return invalid("templates without a tenant")
	}
	for _, t := range changed {
		switch {
		case t.TenantID != "" && t.TenantID != tenantID:
			return invalid("a template of another tenant")
		case t.BusinessAccountID == "" || t.Name == "" || t.Language == "":
			return invalid("a template without its WABA, name or language")
		case t.Version < 1:
			return invalid("a template without a version")
		}
	}
	if mark != nil && (mark.BusinessAccountID == "" || mark.At.IsZero()) {
		return invalid("a sync mark without its WABA or time")
	}
	return nil
}

// Kapso is what templates asks of Kapso: the WABA's templates through the
// Meta proxy. Its failures are errs-classified as the other Kapso ports'
// (errs.Unprocessable: Meta refused the request).
type Kapso interface {
	// ListTemplates is every template of the WABA, all pages read.
	ListTemplates(ctx context.Context, wabaID string) ([]Read, error)
	// CreateTemplate submits a new template for review.
	CreateTemplate(ctx context.Context, wabaID string, d Draft) (Created, error)
}

// Created is Kapso's answer to a template created: Meta's id, its first
// status and the category Meta gave it.
type Created struct{ ID, Status, Category string }
