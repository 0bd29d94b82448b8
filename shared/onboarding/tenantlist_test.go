package onboarding

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// TenantStatuses names every TenantStatus constant of the package, so the
// API's status filter knows each.
func TestTenantStatusesListsEveryStatus(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []TenantStatus
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				v := spec.(*ast.ValueSpec)
				if id, ok := v.Type.(*ast.Ident); ok && id.Name == "TenantStatus" {
					for i, n := range v.Names {
						lit, ok := v.Values[i].(*ast.BasicLit)
						if !ok {
							t.Fatalf("%s is not a string literal", n.Name)
						}
						value, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatalf("%s: %v", n.Name, err)
						}
						declared = append(declared, TenantStatus(value))
					}
				}
			}
		}
	}
	slices.Sort(declared)
	if listed := slices.Sorted(slices.Values(TenantStatuses)); len(declared) == 0 || !slices.Equal(declared, listed) {
		t.Fatalf("TenantStatus constants %v, but TenantStatuses lists %v", declared, listed)
	}
	for i, s := range TenantStatuses {
		if !KnownTenantStatus(s) || s == "" || slices.Contains(TenantStatuses[:i], s) {
			t.Errorf("status %q", s)
		}
	}
	if KnownTenantStatus("bogus") || KnownTenantStatus("") {
		t.Error("an unknown status is known")
	}
}

func TestAttentionAt(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		item TenantItem
		want []AttentionReason
	}{
		{TenantItem{Status: TenantConnected, UpdatedAt: now.Add(-48 * time.Hour)}, nil},
		{TenantItem{Status: TenantConnected, WebhookMissing: true}, []AttentionReason{AttentionWebhookNotRegistered}},
		{TenantItem{Status: TenantRestricted, WebhookMissing: true}, []AttentionReason{AttentionRestricted, AttentionWebhookNotRegistered}},
		{TenantItem{Status: TenantFailed, UpdatedAt: now}, []AttentionReason{AttentionFailed}},
		{TenantItem{Status: TenantDisabled}, []AttentionReason{AttentionDisabled}},
		{TenantItem{Status: TenantReconnectRequired}, []AttentionReason{AttentionReconnectRequired}},
		{TenantItem{Status: TenantAwaitingConfirmation, UpdatedAt: now.Add(-time.Hour)}, nil},
		{TenantItem{Status: TenantAwaitingConfirmation, UpdatedAt: now.Add(-time.Hour - time.Nanosecond)},
			[]AttentionReason{AttentionConfirmationOverdue}},
		{TenantItem{Status: TenantLinkActive, UpdatedAt: now.Add(-48 * time.Hour)}, nil},
		{TenantItem{Status: TenantExpired}, nil},
	} {
		if got := c.item.AttentionAt(now); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.item, got, c.want)
		}
		// What stores index is the part no clock changes.
		stored := AttentionStored(c.item.Status, c.item.WebhookMissing)
		if timeless := c.item.AttentionAt(time.Time{}); stored != (len(timeless) > 0) {
			t.Errorf("%+v: stored %v, timeless reasons %v", c.item, stored, timeless)
		}
	}
}

func TestTenantCursor(t *testing.T) {
	last := TenantItem{TenantID: "acme", UpdatedAt: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))}
	all := TenantQuery{}
	cursor := all.CursorAfter(last)
	p, ok, err := TenantQuery{Cursor: cursor}.After()
	if err != nil || !ok || p.TenantID != "acme" || !p.UpdatedAt.Equal(last.UpdatedAt) {
		t.Fatalf("round trip: %+v %v %v", p, ok, err)
	}
	if _, ok, err := all.After(); ok || err != nil {
		t.Fatalf("no cursor: %v %v", ok, err)
	}
	for name, q := range map[string]TenantQuery{
		"other status":   {Status: TenantFailed, Cursor: cursor},
		"attention":      {NeedsAttention: true, Cursor: cursor},
		"not base64":     {Cursor: "!!"},
		"not JSON":       {Cursor: "bm90IGpzb24"},
		"bad tenant":     {Cursor: TenantQuery{}.CursorAfter(TenantItem{TenantID: ".."})},
		"too long":       {Cursor: string(make([]byte, 2000))},
		"conversations'": {Cursor: "eyJsIjoiY29udmVyc2F0aW9ucyIsImsiOiIwMDAwMDAwMDAwMDAwMDAwMDAwMSNhIiwicCI6IkNPTlYjYSNhIn0"},
	} {
		if _, _, err := q.After(); !errors.Is(err, ErrBadCursor) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
