// Package offboarding is the domain of deleting a tenant: the job that
// takes its webhooks and links away at Kapso, then deletes everything
// kapso-bridge keeps for it, and the tombstone that job leaves.
//
// A job is resumable: it records where it stands after each bounded step,
// so the request that starts it does what fits in its deadline and the
// reconciler finishes it. Every step is idempotent: a step run twice (a
// crash after the work, before the record) changes nothing the second time.
// The package does no I/O itself; it says what it needs (Store, Kapso,
// Eraser) and adapters implement those.
package offboarding

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Phase is where an offboarding stands.
type Phase string

const (
	// PhaseKapso: the tenant's active setup links are being revoked and the
	// webhooks kapso-bridge registered for its numbers deleted at Kapso.
	PhaseKapso Phase = "kapso"
	// PhaseData: the tenant's data is being deleted, one Eraser after
	// another.
	PhaseData Phase = "data"
	// PhaseDone: everything is deleted; the job is the tenant's tombstone.
	PhaseDone Phase = "done"
)

// Webhook is a number webhook kapso-bridge registered at Kapso.
type Webhook struct {
	PhoneNumberID string `json:"phone_number_id"`
	WebhookID     string `json:"webhook_id"`
}

// Counts says what an offboarding deleted so far.
type Counts struct {
	// LinksRevoked and WebhooksDeleted are Kapso's (a link or webhook
	// Kapso no longer had counts too).
	LinksRevoked    int `json:"links_revoked"`
	WebhooksDeleted int `json:"webhooks_deleted"`
	// Items are the bridge table's and the events table's items, Objects
	// the media bucket's.
	Items   int `json:"items"`
	Objects int `json:"objects"`
}

func (c Counts) add(d Counts) Counts {
	return Counts{LinksRevoked: c.LinksRevoked + d.LinksRevoked, WebhooksDeleted: c.WebhooksDeleted + d.WebhooksDeleted,
		Items: c.Items + d.Items, Objects: c.Objects + d.Objects}
}

// Job is one tenant's offboarding. While it runs it holds what it still has
// to take away at Kapso and the tenant's numbers, whose items are among the
// last deleted; once done it is the tombstone, and holds no more than the
// tenant's id, its times and its counts.
type Job struct {
	TenantID    string    `json:"tenant_id"`
	Phase       Phase     `json:"phase"`
	RequestedAt time.Time `json:"requested_at"`
	// RequestedBy is the name of the API token that asked for it.
	RequestedBy string `json:"requested_by,omitempty"`
	// DeletedAt is when the last of the tenant's data was deleted.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	Counts    Counts    `json:"counts"`
	// KapsoCustomerID, SetupLinks and Webhooks are what PhaseKapso takes
	// away; each leaves the job once Kapso no longer has it.
	KapsoCustomerID string    `json:"kapso_customer_id,omitempty"`
	SetupLinks      []string  `json:"setup_links,omitempty"`
	Webhooks        []Webhook `json:"webhooks,omitempty"`
	// PhoneNumberIDs are the tenant's numbers: the items keyed by them are
	// deleted too.
	PhoneNumberIDs []string `json:"phone_number_ids,omitempty"`
	// Eraser is the index of the Eraser PhaseData is at, and Position where
	// it stopped ("" to start).
	Eraser   int    `json:"eraser,omitempty"`
	Position string `json:"position,omitempty"`
	// Version counts the job's saves; stores use it for optimistic locking.
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Done reports whether the job finished.
func (j Job) Done() bool { return j.Phase == PhaseDone }

// Target is what an Eraser deletes: the tenant and the numbers it had.
func (j Job) Target() Target {
	return Target{TenantID: j.TenantID, KapsoCustomerID: j.KapsoCustomerID, PhoneNumberIDs: slices.Clone(j.PhoneNumberIDs)}
}

// Plan is the job for a tenant whose connection is c, asked at now: it
// revokes the active links, deletes the webhooks its numbers have, and
// deletes the data of every number the tenant ever had.
func Plan(c onboarding.Connection, now time.Time) Job {
	j := Job{TenantID: c.Tenant.ID, Phase: PhaseKapso, RequestedAt: now.UTC(), UpdatedAt: now.UTC(),
		KapsoCustomerID: c.Tenant.KapsoCustomerID}
	for _, a := range c.Attempts {
		if a.Status == onboarding.AttemptActive || a.Status == onboarding.AttemptRedirectedSuccess {
			j.SetupLinks = append(j.SetupLinks, a.SetupLinkID)
		}
	}
	for _, n := range c.PhoneNumbers {
		j.PhoneNumberIDs = append(j.PhoneNumberIDs, n.PhoneNumberID)
		if n.WebhookID != "" {
			j.Webhooks = append(j.Webhooks, Webhook{PhoneNumberID: n.PhoneNumberID, WebhookID: n.WebhookID})
		}
	}
	return j
}

// Tombstone is the job as it stays once done: no links, webhooks or
// numbers, nothing about anyone.
func (j Job) Tombstone(at time.Time) Job {
	j.Phase, j.DeletedAt = PhaseDone, at.UTC()
	j.KapsoCustomerID, j.SetupLinks, j.Webhooks, j.PhoneNumberIDs = "", nil, nil, nil
	j.Eraser, j.Position = 0, ""
	return j
}

// Store keeps offboarding jobs, the finished ones as tombstones.
// dynamo.Offboardings keeps them in the bridge table and
// memstore.Offboardings in memory; storetest.RunOffboardings holds both to
// this contract.
type Store interface {
	// Start stores j (Version 1) unless an unfinished job is stored for its
	// tenant, and returns the job as stored: j, or the one already running
	// (started false). A tombstone is replaced: the tenant was made again
	// since and is offboarded again.
	Start(ctx context.Context, j Job) (stored Job, started bool, err error)
	// Job returns the tenant's job or tombstone.
	Job(ctx context.Context, tenantID string) (Job, bool, error)
	// Save stores j over the job of Version j.Version-1; ErrJobMoved when
	// another save came first.
	Save(ctx context.Context, j Job) error
	// Unfinished lists up to limit jobs not done, least recently saved
	// first.
	Unfinished(ctx context.Context, limit int) ([]Job, error)
}

// ErrJobMoved: the job was saved by someone else since it was read.
var ErrJobMoved = errs.E(errs.Conflict, "offboarding saved concurrently", nil)

// Kapso is what an offboarding takes away at Kapso. A link or webhook
// Kapso no longer has (404) is no error: it is gone already.
type Kapso interface {
	RevokeSetupLink(ctx context.Context, customerID, setupLinkID string) (onboarding.SetupLink, error)
	DeleteWebhook(ctx context.Context, phoneNumberID, webhookID string) error
}

// Target is whose data an Eraser deletes.
type Target struct {
	TenantID        string
	KapsoCustomerID string
	PhoneNumberIDs  []string
}

// Eraser deletes one kind of store's data of a tenant, a bounded batch a
// call, from where the last call stopped.
type Eraser interface {
	// Name says what it deletes, in logs.
	Name() string
	// Erase deletes a batch from position ("" to start) and returns what it
	// deleted and where to go on ("" when nothing is left). It is
	// idempotent: a batch erased again deletes nothing more.
	Erase(ctx context.Context, t Target, position string) (deleted Counts, next string, err error)
}

// Runner runs offboardings.
type Runner struct {
	Store Store
	// Tenants records the offboard_requested fact, which makes the tenant
	// deleting.
	Tenants interface {
		AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error)
	}
	Kapso Kapso
	// Numbers, when set, marks the tenant's numbers at the start, so that
	// what arrives for them is answered and dropped from then on.
	Numbers interface {
		OffboardNumber(ctx context.Context, phoneNumberID, tenantID string) error
	}
	// Settle is how long after the request the data phase waits, so that
	// what the workers had read before the numbers were marked (their
	// caches, the messages in flight) is written before it is deleted.
	Settle time.Duration
	// Erasers run in order; the one deleting the tenant's own item and
	// facts comes last, so the tenant shows deleting until the end. A
	// runner without erasers stops at PhaseData: the tenant API's, whose
	// role deletes nothing, leaves the data to the reconciler's.
	Erasers []Eraser
	Now     func() time.Time
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// Run moves j on until it is done, ctx ends, or a step fails, saving it
// after each step, and returns it as last saved. A step that fails leaves
// the job where it was, for the next run.
func (r *Runner) Run(ctx context.Context, j Job) (Job, error) {
	if j.Done() {
		return j, nil
	}
	// Recorded again at each run: a crash between Start and the fact must
	// not leave the tenant looking alive. The same time makes it one fact.
	if j.Phase == PhaseKapso {
		if _, _, err := r.Tenants.AppendFact(ctx, j.TenantID, onboarding.OffboardRequested(j.RequestedAt)); err != nil &&
			!errors.Is(err, onboarding.ErrTenantNotFound) {
			return j, fmt.Errorf("offboard %s: mark deleting: %w", j.TenantID, err)
		}
		for _, n := range j.PhoneNumberIDs {
			if r.Numbers == nil {
				break
			}
			if err := r.Numbers.OffboardNumber(ctx, n, j.TenantID); err != nil {
				return j, fmt.Errorf("offboard %s: mark number %s: %w", j.TenantID, n, err)
			}
		}
	}
	for !j.Done() {
		if ctx.Err() != nil || j.Phase == PhaseData && (len(r.Erasers) == 0 || r.now().Before(j.RequestedAt.Add(r.Settle))) {
			return j, nil
		}
		next, err := r.step(ctx, j)
		if err != nil {
			return j, fmt.Errorf("offboard %s: %w", j.TenantID, err)
		}
		next.Version, next.UpdatedAt = j.Version+1, r.now()
		if err := r.Store.Save(ctx, next); err != nil {
			return j, fmt.Errorf("offboard %s: save: %w", j.TenantID, err)
		}
		j = next
	}
	return j, nil
}

// step does one bounded piece of j's work and returns j as it leaves it.
func (r *Runner) step(ctx context.Context, j Job) (Job, error) {
	switch j.Phase {
	case PhaseKapso:
		if len(j.SetupLinks) > 0 {
			id := j.SetupLinks[0]
			if _, err := r.Kapso.RevokeSetupLink(ctx, j.KapsoCustomerID, id); err != nil && !errs.Is(err, errs.NotFound) {
				return j, fmt.Errorf("revoke setup link %s: %w", id, err)
			}
			j.SetupLinks = slices.Clone(j.SetupLinks[1:])
			j.Counts.LinksRevoked++
			return j, nil
		}
		if len(j.Webhooks) > 0 {
			w := j.Webhooks[0]
			if err := r.Kapso.DeleteWebhook(ctx, w.PhoneNumberID, w.WebhookID); err != nil && !errs.Is(err, errs.NotFound) {
				return j, fmt.Errorf("delete webhook %s of %s: %w", w.WebhookID, w.PhoneNumberID, err)
			}
			j.Webhooks = slices.Clone(j.Webhooks[1:])
			j.Counts.WebhooksDeleted++
			return j, nil
		}
		j.Phase = PhaseData
		return j, nil
	case PhaseData:
		if j.Eraser >= len(r.Erasers) {
			return j.Tombstone(r.now()), nil
		}
		e := r.Erasers[j.Eraser]
		deleted, next, err := e.Erase(ctx, j.Target(), j.Position)
		if err != nil {
			return j, fmt.Errorf("erase %s: %w", e.Name(), err)
		}
		j.Counts = j.Counts.add(deleted)
		if next == "" {
			j.Eraser++
		}
		j.Position = next
		return j, nil
	}
	return j, fmt.Errorf("unknown phase %q", j.Phase)
}
