package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// Templates is the in-memory templates.Store (twin of dynamo.Templates).
type Templates struct {
	mu        sync.Mutex
	templates map[string]map[templates.Key]templates.Template // by tenant
	marks     map[string]map[string]templates.SyncMark        // by tenant, then WABA
}

var _ templates.Store = (*Templates)(nil)

// Catalog implements templates.Store: the tenant's templates by WABA, name
// and language, its marks by WABA.
func (s *Templates) Catalog(_ context.Context, tenantID string) (templates.Catalog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cat templates.Catalog
	for _, t := range s.templates[tenantID] {
		cat.Templates = append(cat.Templates, copyTemplate(t))
	}
	slices.SortFunc(cat.Templates, func(a, b templates.Template) int {
		return cmp.Or(cmp.Compare(a.BusinessAccountID, b.BusinessAccountID), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Language, b.Language))
	})
	for _, m := range s.marks[tenantID] {
		cat.Synced = append(cat.Synced, m)
	}
	slices.SortFunc(cat.Synced, func(a, b templates.SyncMark) int { return cmp.Compare(a.BusinessAccountID, b.BusinessAccountID) })
	return cat, nil
}

// Template implements templates.Store.
func (s *Templates) Template(_ context.Context, tenantID string, k templates.Key) (templates.Template, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.templates[tenantID][k]
	return copyTemplate(t), ok, nil
}

// SaveTemplates implements templates.Store as dynamo.Templates does: each
// template in order, the first whose stored version is not the one before
// its own stopping the save with errs.Conflict; then the mark, unless the
// stored one is newer.
func (s *Templates) SaveTemplates(_ context.Context, tenantID string, changed []templates.Template, mark *templates.SyncMark) error {
	if err := templates.CheckSave(tenantID, changed, mark); err != nil {
		return fmt.Errorf("save templates of %s: %w", tenantID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.templates == nil {
		s.templates, s.marks = map[string]map[templates.Key]templates.Template{}, map[string]map[string]templates.SyncMark{}
	}
	stored := s.templates[tenantID]
	if stored == nil {
		stored = map[templates.Key]templates.Template{}
		s.templates[tenantID] = stored
	}
	for _, t := range changed {
		if cur, ok := stored[t.Key()]; ok != (t.Version > 1) || cur.Version != t.Version-1 {
			return fmt.Errorf("save template %s (%s) v%d of %s: %w", t.Name, t.Language, t.Version, tenantID,
				errs.E(errs.Conflict, "the template changed since it was read", nil))
		}
		t.TenantID = tenantID
		stored[t.Key()] = copyTemplate(t)
	}
	if mark == nil {
		return nil
	}
	marks := s.marks[tenantID]
	if marks == nil {
		marks = map[string]templates.SyncMark{}
		s.marks[tenantID] = marks
	}
	m := *mark
	m.At = m.At.UTC()
	if cur, ok := marks[m.BusinessAccountID]; !ok || !cur.At.After(m.At) {
		marks[m.BusinessAccountID] = m
	}
	return nil
}

// copyTemplate is t sharing nothing with the caller's, its times in UTC
// and its empty lists nil, as a stored template reads back.
func copyTemplate(t templates.Template) templates.Template {
	if len(t.Components) == 0 {
		t.Components = nil
	}
	t.Components = slices.Clone(t.Components)
	var h []templates.StatusChange
	for _, c := range t.History {
		c.At = c.At.UTC()
		h = append(h, c)
	}
	t.History = h
	t.UpdatedAt = t.UpdatedAt.UTC()
	return t
}
