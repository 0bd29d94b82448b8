package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Merge is what one reading of a WABA changes of its stored templates:
// each new template, and each whose status, category, reason, quality,
// id or components differ, one version up; a new status goes on the
// history. A reading that is the WABA's whole list (complete) also marks a
// stored template it lacks as Deleted. A reading's later duplicate of a
// name and language is ignored, as is an entry with no name or language.
func Merge(tenantID, wabaID string, stored []Template, read []Read, complete bool, at time.Time, source string) []Template {
	byKey := make(map[Key]Template, len(stored))
	for _, t := range stored {
		if t.BusinessAccountID == wabaID {
			byKey[t.Key()] = t
		}
	}
	seen := make(map[Key]bool, len(read))
	var changed []Template
	for _, r := range read {
		k := Key{wabaID, r.Name, r.Language}
		if r.Name == "" || r.Language == "" || seen[k] {
			continue
		}
		seen[k] = true
		r.Components = compact(r.Components)
		old, known := byKey[k]
		if known && same(old.Read, r) {
			continue
		}
		next := old
		if !known {
			next = Template{TenantID: tenantID, BusinessAccountID: wabaID}
		}
		next.Read = r
		next.record(at, source, known && old.Status == r.Status)
		changed = append(changed, next)
	}
	if complete {
		for k, old := range byKey {
			if seen[k] || old.Status == Deleted {
				continue
			}
			next := old
			next.Status = Deleted
			next.RejectedReason = ""
			next.record(at, source, false)
			changed = append(changed, next)
		}
	}
	return changed
}

// record makes t one stored change on: its version up, its time, and,
// unless its status is the one last recorded, a history entry.
func (t *Template) record(at time.Time, source string, sameStatus bool) {
	t.Version++
	t.UpdatedAt = at
	t.Source = source
	if !sameStatus {
		t.History = append(t.History, StatusChange{Status: t.Status, Reason: t.Reason(), At: at, Source: source})
	}
}

// Reason is the template's rejection reason worth showing: Meta says NONE
// when there is none.
func (r Read) Reason() string {
	if r.RejectedReason == "NONE" {
		return ""
	}
	return r.RejectedReason
}

func same(a, b Read) bool {
	return a.ID == b.ID && a.Category == b.Category && a.Status == b.Status && a.RejectedReason == b.RejectedReason &&
		a.QualityScore == b.QualityScore && a.ParameterFormat == b.ParameterFormat && bytes.Equal(a.Components, b.Components)
}

// compact is components without insignificant space, so that a reading
// formatted differently is no change; what is not JSON is kept as it is.
func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// SyncResult is what one sync of a WABA did.
type SyncResult struct {
	BusinessAccountID string
	Read, Changed     int
	At                time.Time
}

// Sync reads the WABA's templates through Kapso and stores what changed,
// then the WABA's sync mark. A write that raced another sync reads the
// store again and merges once more.
func Sync(ctx context.Context, k Kapso, s Store, tenantID, wabaID, source string, now time.Time) (SyncResult, error) {
	read, err := k.ListTemplates(ctx, wabaID)
	if err != nil {
		return SyncResult{}, fmt.Errorf("list templates of %s: %w", wabaID, err)
	}
	for attempt := 0; ; attempt++ {
		cat, err := s.Catalog(ctx, tenantID)
		if err != nil {
			return SyncResult{}, fmt.Errorf("load templates of %s: %w", tenantID, err)
		}
		changed := Merge(tenantID, wabaID, cat.Templates, read, true, now, source)
		err = s.SaveTemplates(ctx, tenantID, changed, &SyncMark{BusinessAccountID: wabaID, At: now, Count: len(read)})
		if errs.CodeOf(err) == errs.Conflict && attempt == 0 {
			continue
		}
		if err != nil {
			return SyncResult{}, fmt.Errorf("save templates of %s: %w", wabaID, err)
		}
		return SyncResult{BusinessAccountID: wabaID, Read: len(read), Changed: len(changed), At: now}, nil
	}
}

// Create checks a draft against Meta's rules, submits it through Kapso and
// stores it as Kapso answered (PENDING, as a rule). A template of that name
// and language already in the WABA is a conflict, found before Kapso is
// called.
func Create(ctx context.Context, k Kapso, s Store, tenantID, wabaID string, d Draft, now time.Time) (Template, error) {
	if ferr := d.Check(); ferr != nil {
		return Template{}, errs.E(errs.Invalid, ferr.Error(), ferr)
	}
	key := Key{wabaID, d.Name, d.Language}
	old, known, err := s.Template(ctx, tenantID, key)
	if err != nil {
		return Template{}, fmt.Errorf("load template %s/%s: %w", d.Name, d.Language, err)
	}
	if known && old.Status != Deleted {
		return Template{}, errs.E(errs.Conflict, fmt.Sprintf("name: the WABA has a template %s in %s already (%s)", d.Name, d.Language, old.Status), nil)
	}
	created, err := k.CreateTemplate(ctx, wabaID, d)
	if err != nil {
		return Template{}, fmt.Errorf("create template %s/%s: %w", d.Name, d.Language, err)
	}
	next := old
	if !known {
		next = Template{TenantID: tenantID, BusinessAccountID: wabaID}
	}
	next.Read = Read{ID: created.ID, Name: d.Name, Language: d.Language, Category: first(created.Category, d.Category),
		Status: first(created.Status, Pending), ParameterFormat: d.ParameterFormat, Components: compact(d.Components)}
	next.record(now, SourceAPI, false)
	if err := s.SaveTemplates(ctx, tenantID, []Template{next}, nil); err != nil {
		if errs.CodeOf(err) != errs.Conflict {
			return Template{}, fmt.Errorf("save template %s/%s: %w", d.Name, d.Language, err)
		}
		// A sync stored it first, from Kapso's own list: that is the record.
		if stored, ok, err := s.Template(ctx, tenantID, key); err == nil && ok {
			return stored, nil
		}
		return Template{}, fmt.Errorf("save template %s/%s: %w", d.Name, d.Language, err)
	}
	return next, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
