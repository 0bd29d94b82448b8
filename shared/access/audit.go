package access

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Entry is one write through the /v1 API that succeeded: who (the token's
// name) did what (method and route pattern) to which tenant and resource,
// with which answer.
type Entry struct {
	// ID tells entries of the same instant apart.
	ID       string
	At       time.Time
	Token    string
	Method   string
	Route    string
	TenantID string
	// ResourceID is the id the answer named (a setup link's, an outbound
	// message's, a media id...), "" when it named none.
	ResourceID string
	Status     int
}

// AuditRetention is how long an entry is kept.
const AuditRetention = 400 * 24 * time.Hour

// Audit paging.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 200
)

// AuditLimit is the page size a query's limit asks for: the default when
// it is not positive, at most MaxAuditLimit.
func AuditLimit(limit int) int {
	if limit <= 0 {
		return DefaultAuditLimit
	}
	return min(limit, MaxAuditLimit)
}

// AuditQuery selects entries, newest first.
type AuditQuery struct {
	// Since keeps the entries at or after it; zero keeps every one.
	Since time.Time
	Limit int
	// Cursor is a previous page's; "" starts at the newest.
	Cursor string
}

// AuditPage is a page of entries, newest first; Cursor continues it, ""
// on the last page.
type AuditPage struct {
	Entries []Entry
	Cursor  string
}

// ErrBadCursor is a cursor that is not one of the audit trail's.
var ErrBadCursor = errors.New("not a cursor of the audit trail")

// CheckEntry refuses an entry that cannot be stored: no id, time, token,
// method or route, or a status that is not one.
func CheckEntry(e Entry) error {
	switch {
	case e.ID == "" || len(e.ID) > 64 || strings.ContainsAny(e.ID, "#"):
		return errs.E(errs.Invalid, "audit entry: id must be 1 to 64 characters, no #", nil)
	case e.At.IsZero():
		return errs.E(errs.Invalid, "audit entry: no time", nil)
	case e.Token == "" || e.Method == "" || e.Route == "":
		return errs.E(errs.Invalid, "audit entry: token, method and route are required", nil)
	case e.Status < 100 || e.Status > 599:
		return errs.E(errs.Invalid, "audit entry: status is not an HTTP status", nil)
	}
	return nil
}

// AuditLog is the audit trail.
type AuditLog interface {
	// Record stores e, kept AuditRetention from its time.
	Record(ctx context.Context, e Entry) error
	List(ctx context.Context, q AuditQuery) (AuditPage, error)
}
