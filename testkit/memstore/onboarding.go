package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Onboarding is the in-memory onboarding.Store (twin of dynamo.Onboarding).
type Onboarding struct {
	Now func() time.Time

	mu        sync.Mutex
	tenants   map[string]*tenant
	links     map[string]*link
	customers map[string]string // Kapso customer → tenant
	orphans   map[string]map[string][]byte
}

type tenant struct {
	identity onboarding.Tenant
	lease    onboarding.Lease
	facts    []onboarding.Fact
	// The snapshot TenantsWithStatus and ListTenants list: the newest
	// version derived.
	status         onboarding.TenantStatus
	version        int
	updatedAt      time.Time
	webhookMissing bool
	health         []onboarding.NumberHealth
}

type link struct {
	tenantID  string
	expiresAt time.Time
	active    bool
}

func (s *Onboarding) lock() func() {
	s.mu.Lock()
	if s.tenants == nil {
		s.tenants, s.links, s.customers = map[string]*tenant{}, map[string]*link{}, map[string]string{}
		s.orphans = map[string]map[string][]byte{}
	}
	return s.mu.Unlock
}

// EnsureTenant implements onboarding.Store.
func (s *Onboarding) EnsureTenant(_ context.Context, tenantID, name string) error {
	defer s.lock()()
	if _, ok := s.tenants[tenantID]; ok {
		return nil
	}
	at := now(s.Now)
	s.tenants[tenantID] = &tenant{identity: onboarding.Tenant{ID: tenantID, Name: name, CreatedAt: at},
		status: onboarding.TenantNotStarted, updatedAt: at}
	return nil
}

// Customer implements onboarding.Store.
func (s *Onboarding) Customer(_ context.Context, tenantID string) (onboarding.TenantCustomer, error) {
	defer s.lock()()
	t, ok := s.tenants[tenantID]
	if !ok {
		return onboarding.TenantCustomer{}, fmt.Errorf("customer of tenant %s: %w", tenantID, onboarding.ErrTenantNotFound)
	}
	return t.customer(), nil
}

func (t *tenant) customer() onboarding.TenantCustomer {
	return onboarding.TenantCustomer{CustomerID: t.identity.KapsoCustomerID, Lease: t.lease}
}

// TakeCustomerLease implements onboarding.Store.
func (s *Onboarding) TakeCustomerLease(_ context.Context, tenantID string, d time.Duration) (string, bool, error) {
	defer s.lock()()
	at := now(s.Now)
	t, ok := s.tenants[tenantID]
	if !ok || t.customer().Next(at) != onboarding.LeaseTake {
		return "", false, nil
	}
	t.lease = onboarding.Lease{Token: randomToken(), Until: at.Add(d)}
	return t.lease.Token, true, nil
}

// ReleaseCustomerLease implements onboarding.Store.
func (s *Onboarding) ReleaseCustomerLease(_ context.Context, tenantID, token string) error {
	defer s.lock()()
	if t, ok := s.tenants[tenantID]; ok && t.lease.HeldBy(token) {
		t.lease = onboarding.Lease{}
	}
	return nil
}

// RecordCustomer implements onboarding.Store.
func (s *Onboarding) RecordCustomer(_ context.Context, tenantID, customerID string) error {
	defer s.lock()()
	wrap := func(err error) error {
		return fmt.Errorf("record customer %s of tenant %s: %w", customerID, tenantID, err)
	}
	if !onboarding.CanMap(s.customers[customerID], tenantID) {
		return wrap(onboarding.ErrCustomerOfAnotherTenant)
	}
	s.customers[customerID] = tenantID
	t, ok := s.tenants[tenantID]
	switch {
	case !ok:
		return wrap(onboarding.ErrTenantNotFound)
	case !t.customer().CanRecord(customerID):
		return wrap(onboarding.ErrCustomerChanged)
	}
	t.identity.KapsoCustomerID, t.lease = customerID, onboarding.Lease{}
	return nil
}

// TenantOfCustomer implements onboarding.Store.
func (s *Onboarding) TenantOfCustomer(_ context.Context, customerID string) (string, bool, error) {
	defer s.lock()()
	t, ok := s.customers[customerID]
	return t, ok, nil
}

// AppendFact implements onboarding.Store.
func (s *Onboarding) AppendFact(_ context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error) {
	wrap := func(err error) error { return fmt.Errorf("append fact %s for tenant %s: %w", f.Kind, tenantID, err) }
	if err := f.Validate(); err != nil {
		return onboarding.Connection{}, onboarding.Change{}, wrap(errs.E(errs.Invalid, "invalid fact", err))
	}
	defer s.lock()()
	t, ok := s.tenants[tenantID]
	if !ok {
		return onboarding.Connection{}, onboarding.Change{}, wrap(onboarding.ErrTenantNotFound)
	}
	conn, change := onboarding.Apply(onboarding.Derive(t.identity, t.facts), f)
	if !change.Applied() {
		return conn, change, nil
	}
	f.AllowedTypes = slices.Clone(f.AllowedTypes)
	t.facts = append(t.facts, f)
	if v := conn.Tenant.Version; v > t.version {
		t.status, t.version, t.updatedAt = conn.Tenant.Status, v, conn.Tenant.UpdatedAt
		t.webhookMissing = onboarding.WebhookMissing(conn)
		t.health = onboarding.ConnectedHealth(conn)
	}
	for _, closed := range change.ClosedLinks() {
		s.closeLink(closed.ID)
	}
	return conn, change, nil
}

// Load implements onboarding.Store.
func (s *Onboarding) Load(_ context.Context, tenantID string) (onboarding.Connection, bool, error) {
	defer s.lock()()
	t, ok := s.tenants[tenantID]
	if !ok {
		return onboarding.Connection{}, false, nil
	}
	return onboarding.Derive(t.identity, t.facts), true, nil
}

// TenantsWithStatus implements onboarding.Store.
func (s *Onboarding) TenantsWithStatus(_ context.Context, status onboarding.TenantStatus, limit int) ([]onboarding.TenantRef, error) {
	defer s.lock()()
	var out []onboarding.TenantRef
	for id, t := range s.tenants {
		if t.status == status {
			out = append(out, onboarding.TenantRef{TenantID: id, KapsoCustomerID: t.identity.KapsoCustomerID,
				Status: t.status, UpdatedAt: t.updatedAt})
		}
	}
	slices.SortFunc(out, func(a, b onboarding.TenantRef) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), strings.Compare(a.TenantID, b.TenantID))
	})
	return out[:min(limit, len(out))], nil
}

// ListTenants implements onboarding.Store.
func (s *Onboarding) ListTenants(_ context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error) {
	after, resume, err := q.After()
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	at := q.Now
	if at.IsZero() {
		at = now(s.Now)
	}
	defer s.lock()()
	var items []onboarding.TenantItem
	for id, t := range s.tenants {
		it := onboarding.TenantItem{TenantID: id, Name: t.identity.Name, KapsoCustomerID: t.identity.KapsoCustomerID,
			Status: t.status, UpdatedAt: t.updatedAt, WebhookMissing: t.webhookMissing, Health: slices.Clone(t.health)}
		if q.Selects(it, at) && (!resume || it.Position().Compare(after) > 0) {
			it.Attention = it.AttentionAt(at)
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b onboarding.TenantItem) int { return a.Position().Compare(b.Position()) })
	if size := q.Size(); len(items) > size {
		return items[:size], q.CursorAfter(items[size-1]), nil
	}
	return items, "", nil
}

// RecordLink implements onboarding.Store.
func (s *Onboarding) RecordLink(ctx context.Context, tenantID string, l onboarding.LinkDetails) (onboarding.Connection, error) {
	unlock := s.lock()
	if old, ok := s.links[l.SetupLinkID]; ok && !onboarding.CanMap(old.tenantID, tenantID) {
		unlock()
		return onboarding.Connection{}, fmt.Errorf("record link %s of tenant %s: %w", l.SetupLinkID, tenantID,
			onboarding.ErrLinkOfAnotherTenant)
	}
	s.links[l.SetupLinkID] = &link{tenantID: tenantID, expiresAt: l.ExpiresAt, active: !l.ExpiresAt.IsZero()}
	unlock()
	conn, _, err := s.AppendFact(ctx, tenantID, onboarding.LinkCreated(l))
	return conn, err
}

// TenantOfLink implements onboarding.Store.
func (s *Onboarding) TenantOfLink(_ context.Context, setupLinkID string) (string, bool, error) {
	defer s.lock()()
	if l, ok := s.links[setupLinkID]; ok {
		return l.tenantID, true, nil
	}
	return "", false, nil
}

// CloseLink implements onboarding.Store.
func (s *Onboarding) CloseLink(_ context.Context, setupLinkID string, _ onboarding.AttemptStatus) error {
	defer s.lock()()
	s.closeLink(setupLinkID)
	return nil
}

// closeLink takes the link off the expiry list; nothing here reads a
// closed link's status.
func (s *Onboarding) closeLink(setupLinkID string) {
	if l, ok := s.links[setupLinkID]; ok {
		l.active = false
	}
}

// ActiveLinksExpiredAt implements onboarding.Store.
func (s *Onboarding) ActiveLinksExpiredAt(_ context.Context, at time.Time, limit int) ([]onboarding.LinkRef, error) {
	defer s.lock()()
	// Expiries compare to the second, as the bridge table's index keys them.
	bound := at.Truncate(time.Second)
	var out []onboarding.LinkRef
	for id, l := range s.links {
		if l.active && !l.expiresAt.Truncate(time.Second).After(bound) {
			out = append(out, onboarding.LinkRef{TenantID: l.tenantID, SetupLinkID: id, ExpiresAt: l.expiresAt})
		}
	}
	slices.SortFunc(out, func(a, b onboarding.LinkRef) int {
		return cmp.Or(a.ExpiresAt.Truncate(time.Second).Compare(b.ExpiresAt.Truncate(time.Second)),
			strings.Compare(a.SetupLinkID, b.SetupLinkID))
	})
	return out[:min(limit, len(out))], nil
}

// KeepOrphan implements onboarding.Store.
func (s *Onboarding) KeepOrphan(_ context.Context, customerID, eventID string, receivedAt time.Time, envelopeJSON []byte) error {
	defer s.lock()()
	kept := s.orphans[customerID]
	if kept == nil {
		kept = map[string][]byte{}
		s.orphans[customerID] = kept
	}
	kept[orphanKey(receivedAt, eventID)] = slices.Clone(envelopeJSON)
	return nil
}

// orphanKey orders a customer's orphans by arrival; the same event kept
// twice is one.
func orphanKey(receivedAt time.Time, eventID string) string {
	return receivedAt.UTC().Format(sortableTime) + "#" + eventID
}

// sortableTime sorts as a string in time order: fixed width, UTC.
const sortableTime = "2006-01-02T15:04:05.000000000Z"

// Orphans lists the events kept for a Kapso customer, oldest first. It is
// not part of onboarding.Store, since nothing in the bridge reads orphans:
// it lets tests see what KeepOrphan kept.
func (s *Onboarding) Orphans(_ context.Context, customerID string) ([][]byte, error) {
	defer s.lock()()
	kept := s.orphans[customerID]
	var out [][]byte
	for _, k := range slices.Sorted(maps.Keys(kept)) {
		out = append(out, slices.Clone(kept[k]))
	}
	return out, nil
}
