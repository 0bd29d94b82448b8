package storetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

const (
	waba      = "102290129340398"
	otherWABA = "102290129340399"
)

// tpl is tenant's template name in language of waba, as Merge makes a new
// one: version 1, its first status on its history.
func tpl(tenant, wabaID, name, language, status string) templates.Template {
	return templates.Template{TenantID: tenant, BusinessAccountID: wabaID,
		Read: templates.Read{ID: "tpl-" + name + "-" + language, Name: name, Language: language, Category: templates.Utility,
			Status: status, RejectedReason: "NONE", QualityScore: "UNKNOWN", ParameterFormat: templates.Positional,
			// Kept byte for byte: spaces and key order as Meta gave them.
			Components: json.RawMessage(`[{"type":"BODY", "text":"Your order {{1}} has shipped","example":{"body_text":[["#1234"]]}}]`)},
		History:   []templates.StatusChange{{Status: status, At: at(1), Source: templates.SourceReconciler}},
		UpdatedAt: at(1), Version: 1, Source: templates.SourceReconciler}
}

// next is t one stored change on, in status at minute m.
func next(t templates.Template, status string, m int) templates.Template {
	t.Version++
	t.UpdatedAt = at(m)
	t.Source = templates.SourceAPI
	if status != t.Status {
		t.Status = status
		t.History = append(slices.Clone(t.History), templates.StatusChange{Status: status, Reason: "reason " + status,
			At: at(m), Source: templates.SourceAPI})
	}
	return t
}

// RunTemplates holds a store of templates to templates.Store's contract.
func RunTemplates(t *testing.T, newStore func(t *testing.T) templates.Store) {
	ctx := context.Background()
	catalog := func(t *testing.T, s templates.Store, tenant string) templates.Catalog {
		t.Helper()
		c, err := s.Catalog(ctx, tenant)
		must(t, err)
		// The store's order is its own: compare by key.
		slices.SortFunc(c.Templates, func(a, b templates.Template) int {
			return cmp.Or(cmp.Compare(a.BusinessAccountID, b.BusinessAccountID), cmp.Compare(a.Name, b.Name),
				cmp.Compare(a.Language, b.Language))
		})
		return c
	}
	get := func(t *testing.T, s templates.Store, tenant string, k templates.Key) (templates.Template, bool) {
		t.Helper()
		got, ok, err := s.Template(ctx, tenant, k)
		must(t, err)
		return got, ok
	}
	save := func(t *testing.T, s templates.Store, tenant string, mark *templates.SyncMark, ts ...templates.Template) {
		t.Helper()
		must(t, s.SaveTemplates(ctx, tenant, ts, mark))
	}
	conflict := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errs.Is(err, errs.Conflict) {
			t.Errorf("%s: %v, want a conflict", what, err)
		}
	}
	cases := map[string]func(t *testing.T, s templates.Store){
		"a new template is stored once, found by its key and listed": func(t *testing.T, s templates.Store) {
			order := tpl(tenantA, waba, "order_shipped", "en_US", templates.Pending)
			save(t, s, tenantA, nil, order)
			got, ok := get(t, s, tenantA, order.Key())
			if !ok {
				t.Fatal("not found by its key")
			}
			equal(t, "by key", got, order)
			equal(t, "listed", catalog(t, s, tenantA).Templates, []templates.Template{order})
			// Version 1 again: another writer created it first.
			again := tpl(tenantA, waba, "order_shipped", "en_US", templates.Approved)
			conflict(t, "a second new template of the key", s.SaveTemplates(ctx, tenantA, []templates.Template{again}, nil))
			got, _ = get(t, s, tenantA, order.Key())
			equal(t, "after the conflict", got, order)
		},
		"a write expects the version before its own": func(t *testing.T, s templates.Store) {
			v1 := tpl(tenantA, waba, "order_shipped", "en_US", templates.Pending)
			save(t, s, tenantA, nil, v1)
			v2 := next(v1, templates.Approved, 2)
			save(t, s, tenantA, nil, v2)
			stale := next(v1, templates.Rejected, 3) // read at v1, written after v2
			conflict(t, "a write from a stale read", s.SaveTemplates(ctx, tenantA, []templates.Template{stale}, nil))
			conflict(t, "a version skipped", s.SaveTemplates(ctx, tenantA, []templates.Template{next(next(v2, templates.Paused, 4), templates.Paused, 5)}, nil))
			never := next(tpl(tenantA, waba, "welcome", "en_US", templates.Pending), templates.Approved, 2)
			conflict(t, "a change of a template never stored", s.SaveTemplates(ctx, tenantA, []templates.Template{never}, nil))
			got, _ := get(t, s, tenantA, v1.Key())
			equal(t, "stored", got, v2)
			if _, ok := get(t, s, tenantA, never.Key()); ok {
				t.Error("the change of a template never stored was stored")
			}
		},
		"history, components and every field are kept as written": func(t *testing.T, s templates.Store) {
			v1 := tpl(tenantA, waba, "order_shipped", "en_US", templates.Pending)
			v1.RejectedReason, v1.ParameterFormat = "", ""
			v1.History[0].Source = ""
			save(t, s, tenantA, nil, v1)
			v2 := next(v1, templates.Rejected, 2)
			v2.RejectedReason = "INVALID_FORMAT"
			save(t, s, tenantA, nil, v2)
			v3 := next(v2, templates.Approved, 3)
			v3.QualityScore, v3.Category, v3.ID = "GREEN", templates.Marketing, "tpl-9"
			v3.Components = json.RawMessage("[ {\"type\":\"BODY\",\"text\":\"Olá {{1}} 🎉\"} ]")
			save(t, s, tenantA, nil, v3)
			got, _ := get(t, s, tenantA, v3.Key())
			equal(t, "three versions on", got, v3)
			if len(got.History) != 3 || string(got.Components) != string(v3.Components) {
				t.Errorf("history %+v, components %s", got.History, got.Components)
			}
			equal(t, "listed", catalog(t, s, tenantA).Templates, []templates.Template{v3})
			// A template with no components and no history reads back so.
			bare := templates.Template{BusinessAccountID: waba, Read: templates.Read{Name: "bare", Language: "pt_BR"}, Version: 1}
			save(t, s, tenantA, nil, bare)
			got, _ = get(t, s, tenantA, bare.Key())
			bare.TenantID = tenantA
			equal(t, "bare", got, bare)
		},
		"a sync mark is kept per WABA and only moves forward": func(t *testing.T, s templates.Store) {
			if c := catalog(t, s, tenantA); len(c.Templates) != 0 || len(c.Synced) != 0 || !c.SyncedAt(waba).IsZero() {
				t.Errorf("a new store's catalog: %+v", c)
			}
			save(t, s, tenantA, &templates.SyncMark{BusinessAccountID: waba, At: at(5), Count: 3},
				tpl(tenantA, waba, "order_shipped", "en_US", templates.Approved))
			save(t, s, tenantA, &templates.SyncMark{BusinessAccountID: otherWABA, At: at(6), Count: 0})
			c := catalog(t, s, tenantA)
			if !c.SyncedAt(waba).Equal(at(5)) || !c.SyncedAt(otherWABA).Equal(at(6)) || len(c.Synced) != 2 || len(c.Templates) != 1 {
				t.Errorf("after two syncs: %+v", c)
			}
			save(t, s, tenantA, &templates.SyncMark{BusinessAccountID: waba, At: at(9), Count: 4})
			// A sync that read earlier and finished later keeps the newer mark.
			save(t, s, tenantA, &templates.SyncMark{BusinessAccountID: waba, At: at(7), Count: 2})
			c = catalog(t, s, tenantA)
			i := slices.IndexFunc(c.Synced, func(m templates.SyncMark) bool { return m.BusinessAccountID == waba })
			if i < 0 {
				t.Fatalf("no mark of %s: %+v", waba, c.Synced)
			}
			equal(t, "the newest mark", c.Synced[i], templates.SyncMark{BusinessAccountID: waba, At: at(9), Count: 4})
			// A save that conflicts writes no mark.
			err := s.SaveTemplates(ctx, tenantA, []templates.Template{tpl(tenantA, waba, "order_shipped", "en_US", templates.Paused)},
				&templates.SyncMark{BusinessAccountID: waba, At: at(10), Count: 1})
			conflict(t, "a save with a mark", err)
			if got := catalog(t, s, tenantA).SyncedAt(waba); !got.Equal(at(9)) {
				t.Errorf("a conflicting save moved the mark to %v", got)
			}
			if c := catalog(t, s, tenantB); len(c.Synced) != 0 {
				t.Errorf("another tenant sees the marks: %+v", c.Synced)
			}
		},
		"a tenant sees only its own templates": func(t *testing.T, s templates.Store) {
			a := tpl(tenantA, waba, "order_shipped", "en_US", templates.Approved)
			b := tpl(tenantB, waba, "order_shipped", "en_US", templates.Rejected)
			b.ID = "tpl-of-b"
			save(t, s, tenantA, nil, a)
			save(t, s, tenantB, nil, b)
			equal(t, tenantA, catalog(t, s, tenantA).Templates, []templates.Template{a})
			equal(t, tenantB, catalog(t, s, tenantB).Templates, []templates.Template{b})
			got, _ := get(t, s, tenantB, a.Key())
			equal(t, "by key, "+tenantB, got, b)
			if c := catalog(t, s, "initech"); len(c.Templates) != 0 {
				t.Errorf("a tenant with none lists %+v", c.Templates)
			}
			if _, ok := get(t, s, "initech", a.Key()); ok {
				t.Error("a tenant with none finds another's")
			}
			// Each tenant's versions are its own.
			save(t, s, tenantB, nil, next(b, templates.Approved, 2))
			got, _ = get(t, s, tenantA, a.Key())
			equal(t, tenantA+" after "+tenantB+"'s change", got, a)
		},
		"a template is found only by its WABA, name and language": func(t *testing.T, s templates.Store) {
			en := tpl(tenantA, waba, "order_shipped", "en_US", templates.Approved)
			pt := tpl(tenantA, waba, "order_shipped", "pt_BR", templates.Pending)
			elsewhere := tpl(tenantA, otherWABA, "welcome", "en_US", templates.Approved)
			save(t, s, tenantA, nil, en, pt, elsewhere)
			for _, k := range [][3]string{
				{otherWABA, "order_shipped", "en_US"}, {waba, "order_shipped", "es_MX"}, {waba, "welcome", "en_US"},
				{waba, "order_shipped", "en"}, {waba, "order", "en_US"}, {"", "order_shipped", "en_US"},
				{waba, "", "en_US"}, {waba, "order_shipped", ""},
			} {
				if got, ok := get(t, s, tenantA, templates.Key{BusinessAccountID: k[0], Name: k[1], Language: k[2]}); ok {
					t.Errorf("%q found %+v", k, got)
				}
			}
			for _, want := range []templates.Template{en, pt, elsewhere} {
				got, ok := get(t, s, tenantA, want.Key())
				if !ok {
					t.Errorf("%+v not found", want.Key())
				}
				equal(t, fmt.Sprint(want.Key()), got, want)
			}
			equal(t, "listed", catalog(t, s, tenantA).Templates, []templates.Template{en, pt, elsewhere})
		},
		"names and languages that hold the key's separators are kept apart": func(t *testing.T, s templates.Store) {
			one := tpl(tenantA, waba, "a#b", "c", templates.Approved)
			two := tpl(tenantA, waba, "a", "b#c", templates.Pending)
			three := tpl(tenantA, waba, "a%23b", "c", templates.Rejected)
			save(t, s, tenantA, nil, one, two, three)
			for _, want := range []templates.Template{one, two, three} {
				got, _ := get(t, s, tenantA, want.Key())
				equal(t, fmt.Sprint(want.Key()), got, want)
			}
			if n := len(catalog(t, s, tenantA).Templates); n != 3 {
				t.Errorf("%d listed, want 3", n)
			}
		},
		"a deleted template stays listed and found": func(t *testing.T, s templates.Store) {
			v1 := tpl(tenantA, waba, "order_shipped", "en_US", templates.Approved)
			save(t, s, tenantA, nil, v1)
			gone := next(v1, templates.Deleted, 2)
			gone.RejectedReason = ""
			save(t, s, tenantA, &templates.SyncMark{BusinessAccountID: waba, At: at(2)}, gone)
			equal(t, "listed", catalog(t, s, tenantA).Templates, []templates.Template{gone})
			got, ok := get(t, s, tenantA, v1.Key())
			if !ok || got.Status != templates.Deleted {
				t.Errorf("found %v: %+v", ok, got)
			}
			// Created again: one more version of the same template.
			back := next(gone, templates.Pending, 3)
			save(t, s, tenantA, nil, back)
			got, _ = get(t, s, tenantA, v1.Key())
			equal(t, "created again", got, back)
		},
		"a save stops at its first conflict": func(t *testing.T, s templates.Store) {
			taken := tpl(tenantA, waba, "b_taken", "en_US", templates.Approved)
			save(t, s, tenantA, nil, taken)
			first := tpl(tenantA, waba, "a_first", "en_US", templates.Approved)
			last := tpl(tenantA, waba, "c_last", "en_US", templates.Approved)
			err := s.SaveTemplates(ctx, tenantA, []templates.Template{first, tpl(tenantA, waba, "b_taken", "en_US", templates.Paused), last}, nil)
			conflict(t, "the second of three", err)
			if _, ok := get(t, s, tenantA, first.Key()); !ok {
				t.Error("the template before the conflict is not stored")
			}
			if _, ok := get(t, s, tenantA, last.Key()); ok {
				t.Error("the template after the conflict is stored")
			}
			got, _ := get(t, s, tenantA, taken.Key())
			equal(t, "the template in conflict", got, taken)
		},
		"racing writes of one version: one wins": func(t *testing.T, s templates.Store) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, conflicts := 0, 0
			for i := range 8 {
				wg.Go(func() {
					c := tpl(tenantA, waba, "order_shipped", "en_US", templates.Pending)
					c.ID = fmt.Sprint("tpl-", i)
					err := s.SaveTemplates(ctx, tenantA, []templates.Template{c}, nil)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errs.Is(err, errs.Conflict):
						conflicts++
					default:
						t.Errorf("save %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if wins != 1 || conflicts != 7 {
				t.Errorf("%d won, %d conflicted", wins, conflicts)
			}
		},
		"a catalog larger than a page of the store is read whole": func(t *testing.T, s templates.Store) {
			// DynamoDB answers a Query 1 MB at a time: 40 templates of 30 KB
			// take two pages.
			body := fmt.Sprintf(`[{"type":"BODY","text":%q}]`, strings.Repeat("x", 30<<10))
			var want []templates.Template
			for i := range 40 {
				c := tpl(tenantA, waba, fmt.Sprintf("bulk_%02d", i), "en_US", templates.Approved)
				c.Components = json.RawMessage(body)
				want = append(want, c)
			}
			save(t, s, tenantA, &templates.SyncMark{BusinessAccountID: waba, At: at(3), Count: 40}, want...)
			c := catalog(t, s, tenantA)
			equal(t, "listed", c.Templates, want)
			if !c.SyncedAt(waba).Equal(at(3)) {
				t.Errorf("marks %+v", c.Synced)
			}
		},
		"a save the store cannot key changes nothing": func(t *testing.T, s templates.Store) {
			good := tpl(tenantA, waba, "order_shipped", "en_US", templates.Approved)
			mark := &templates.SyncMark{BusinessAccountID: waba, At: at(2)}
			for name, edit := range map[string]func(c *templates.Template){
				"another tenant's": func(c *templates.Template) { c.TenantID = tenantB },
				"no WABA":          func(c *templates.Template) { c.BusinessAccountID = "" },
				"no name":          func(c *templates.Template) { c.Name = "" },
				"no language":      func(c *templates.Template) { c.Language = "" },
				"no version":       func(c *templates.Template) { c.Version = 0 },
			} {
				bad := tpl(tenantA, waba, "welcome", "en_US", templates.Approved)
				edit(&bad)
				err := s.SaveTemplates(ctx, tenantA, []templates.Template{good, bad}, mark)
				if !errs.Is(err, errs.Invalid) {
					t.Errorf("%s: %v", name, err)
				}
			}
			for name, m := range map[string]*templates.SyncMark{"no WABA": {At: at(2)}, "no time": {BusinessAccountID: waba}} {
				if err := s.SaveTemplates(ctx, tenantA, []templates.Template{good}, m); !errs.Is(err, errs.Invalid) {
					t.Errorf("a mark with %s: %v", name, err)
				}
			}
			if err := s.SaveTemplates(ctx, "", []templates.Template{good}, mark); !errs.Is(err, errs.Invalid) {
				t.Errorf("no tenant: %v", err)
			}
			if c := catalog(t, s, tenantA); len(c.Templates) != 0 || len(c.Synced) != 0 {
				t.Errorf("a refused save stored %+v", c)
			}
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, newStore(t))
		})
	}
}
