package tenantapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// auditTimeout bounds the recording of an entry, after the answer.
const auditTimeout = 2 * time.Second

// auditNote is what a write's handler tells the audit trail: the tenant
// and the id of the resource its answer names.
type auditNote struct{ tenantID, resourceID string }

type auditKey struct{}

// noteResource records, for the audit trail, the id of the resource a
// write's answer names. Outside a write it does nothing.
func noteResource(ctx context.Context, id string) {
	if n, ok := ctx.Value(auditKey{}).(*auditNote); ok {
		n.resourceID = id
	}
}

func noteTenant(ctx context.Context, tenantID string) {
	if n, ok := ctx.Value(auditKey{}).(*auditNote); ok {
		n.tenantID = tenantID
	}
}

// isWrite reports whether a route changes something: its successes are
// audited.
func isWrite(rt routes.Route) bool {
	return rt.Method != http.MethodGet && rt.Method != http.MethodHead
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// audited serves a write and, when it succeeded, records one entry of it.
// The answer is already written then: an entry that cannot be recorded is
// logged as an error and the answer stands, for the write happened.
func (a *API) audited(rt routes.Route, log *slog.Logger, serve func(ctx context.Context, w http.ResponseWriter)) func(ctx context.Context, w http.ResponseWriter) {
	if a.Audit == nil || !isWrite(rt) {
		return serve
	}
	return func(ctx context.Context, w http.ResponseWriter) {
		note := &auditNote{}
		rec := &statusRecorder{ResponseWriter: w}
		serve(context.WithValue(ctx, auditKey{}, note), rec)
		if rec.status < 200 || rec.status > 299 {
			return
		}
		tok, _ := access.FromContext(ctx)
		var id [8]byte
		_, _ = rand.Read(id[:])
		e := access.Entry{ID: hex.EncodeToString(id[:]), At: a.now(), Token: tok.Name, Method: rt.Method, Route: rt.Path,
			TenantID: note.tenantID, ResourceID: note.resourceID, Status: rec.status}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
		defer cancel()
		if err := a.Audit.Record(ctx, e); err != nil {
			log.Error("audit entry not recorded", "err", err, "token", e.Token, "route", e.Route,
				"tenant_id", e.TenantID, "resource_id", e.ResourceID, "status", e.Status)
		}
	}
}

// AuditEntry is one entry of GET /v1/audit.
type AuditEntry struct {
	At         time.Time `json:"at"`
	Token      string    `json:"token"`
	Method     string    `json:"method"`
	Route      string    `json:"route"`
	TenantID   string    `json:"tenant_id,omitempty"`
	ResourceID string    `json:"resource_id,omitempty"`
	Status     int       `json:"status"`
}

// AuditList is the answer of GET /v1/audit.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func (a *API) listAudit(ctx context.Context, w http.ResponseWriter, r *http.Request, _ *slog.Logger) error {
	page, err := readPage(r)
	if err != nil {
		return err
	}
	since, err := readSince(r, "since")
	if err != nil {
		return err
	}
	if a.Audit == nil {
		return errs.E(errs.Unavailable, "the audit trail is not kept here", nil)
	}
	p, err := a.Audit.List(ctx, access.AuditQuery{Since: since, Limit: page.Limit, Cursor: page.Cursor})
	if err != nil {
		if errors.Is(err, access.ErrBadCursor) {
			return badCursor(err)
		}
		return storeError(err, "list the audit trail")
	}
	out := AuditList{Entries: make([]AuditEntry, len(p.Entries)), NextCursor: p.Cursor}
	for i, e := range p.Entries {
		out.Entries[i] = AuditEntry{At: e.At.UTC(), Token: e.Token, Method: e.Method, Route: e.Route,
			TenantID: e.TenantID, ResourceID: e.ResourceID, Status: e.Status}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
