package tenantapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// Erasures is what the erasure routes need: the jobs and their
// tombstones, the hash a tombstone keys a person by, and the runner that
// does as much of a new job as fits in the request (nil: none, the
// reconciler does it all).
type Erasures struct {
	Jobs       erasure.Jobs
	Tombstones erasure.Tombstones
	Hasher     erasure.Hasher
	Runner     *erasure.Runner
	// Pages bounds the pages a request runs (DefaultErasurePages when 0).
	Pages int
}

// DefaultErasurePages is the most pages of a new job a request runs.
const DefaultErasurePages = 40

// ErasureAnswer is the answer of the erasure routes.
type ErasureAnswer struct {
	Erasure bridgeevents.Erasure `json:"erasure"`
}

// eraseContact erases the person the path names from the number: it
// stores the job and the person's tombstones, runs what fits, and answers
// 202 with the job. The same person again answers their open job, or,
// once their contact is gone, the job that erased it.
func (a *API) eraseContact(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, log *slog.Logger) error {
	e := a.Erasures
	if e == nil {
		return errs.E(errs.NotFound, "erasure is not configured", nil)
	}
	phoneNumberID, contact, err := contactPath(r)
	if err != nil {
		return err
	}
	lookup := messaging.LookupKey(contact)
	if lookup == "" {
		return errs.E(errs.Invalid, "contact: must be a BSUID or a phone number's digits", nil)
	}
	c, ok, err := a.Messages.Contact(ctx, tenantID, phoneNumberID, contact)
	if err != nil {
		return readError(err, "load contact")
	}
	if !ok {
		j, found, err := a.erasedBy(ctx, tenantID, phoneNumberID, lookup)
		if err != nil {
			return err
		}
		if !found {
			return errs.E(errs.NotFound, "unknown contact", nil)
		}
		noteResource(ctx, j.ID)
		httpapi.WriteJSON(w, http.StatusAccepted, ErasureAnswer{apiview.Erasure(j)})
		return nil
	}
	ids := erasure.IdentitiesOf(c)
	hashes := e.Hasher.Hashes(tenantID, phoneNumberID, ids)
	id, err := newErasureID()
	if err != nil {
		return errs.E(errs.Unavailable, "try again", err)
	}
	// Meta's timestamps are Meta's clock, which may run ahead of ours: the
	// erasure covers the newest time stored of the person too.
	at := a.now()
	for _, t := range []time.Time{c.LastSeenAt, c.LastInboundAt} {
		if t.After(at) {
			at = t
		}
	}
	j, err := erasure.NewJob(id, tenantID, phoneNumberID, hashes[0], ids, at)
	if err != nil {
		return err
	}
	if tok, ok := access.FromContext(ctx); ok {
		j.RequestedBy = tok.Name
	}
	stones := make([]erasure.Tombstone, len(hashes))
	for i, h := range hashes {
		stones[i] = erasure.Tombstone{TenantID: tenantID, PhoneNumberID: phoneNumberID, Hash: h, ErasedAt: j.RequestedAt, JobID: j.ID}
	}
	j, created, err := e.Jobs.Open(ctx, j, stones)
	if err != nil {
		return errs.E(errs.Unavailable, "could not store the erasure; try again", err)
	}
	noteResource(ctx, j.ID)
	log = log.With("erasure_id", j.ID)
	if created {
		log.Info("erasure requested", "identities", len(hashes))
	}
	if e.Runner != nil && j.State.Open() {
		pages := e.Pages
		if pages <= 0 {
			pages = DefaultErasurePages
		}
		// What does not fit is the reconciler's: the job is stored.
		ran, err := e.Runner.Run(ctx, j, pages)
		if err != nil && !errors.Is(err, erasure.ErrMoved) {
			log.Warn("erasure left to the reconciler", "err", err)
		}
		j = ran
	}
	httpapi.WriteJSON(w, http.StatusAccepted, ErasureAnswer{apiview.Erasure(j)})
	return nil
}

// erasedBy is the job that erased the person named by the person key
// lookup from the number, found by its tombstone.
func (a *API) erasedBy(ctx context.Context, tenantID, phoneNumberID, lookup string) (erasure.Job, bool, error) {
	e := a.Erasures
	stones, err := e.Tombstones.Tombstones(ctx, tenantID, phoneNumberID, []string{e.Hasher.Person(tenantID, phoneNumberID, lookup)})
	if err != nil {
		return erasure.Job{}, false, errs.E(errs.Unavailable, "could not read erasures; try again", err)
	}
	for _, t := range stones {
		j, ok, err := e.Jobs.Job(ctx, tenantID, t.JobID)
		if err != nil {
			return erasure.Job{}, false, errs.E(errs.Unavailable, "could not read erasures; try again", err)
		}
		if ok {
			return j, true, nil
		}
	}
	return erasure.Job{}, false, nil
}

// getErasure shows an erasure's progress.
func (a *API) getErasure(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	if a.Erasures == nil {
		return errs.E(errs.NotFound, "erasure is not configured", nil)
	}
	id := r.PathValue(routes.ErasureID)
	if !erasure.ValidID(id) {
		return errs.E(errs.Invalid, "erasure_id: must be era_ and up to 60 lowercase letters or digits", nil)
	}
	j, ok, err := a.Erasures.Jobs.Job(ctx, tenantID, id)
	if err != nil {
		return errs.E(errs.Unavailable, "could not read the erasure; try again", err)
	}
	if !ok {
		return errs.E(errs.NotFound, "unknown erasure", nil)
	}
	httpapi.WriteJSON(w, http.StatusOK, ErasureAnswer{apiview.Erasure(j)})
	return nil
}

func newErasureID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return erasure.IDPrefix + hex.EncodeToString(b), nil
}
