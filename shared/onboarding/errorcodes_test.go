package onboarding

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDescribeError(t *testing.T) {
	// Every failure code KAPSO.md §6 documents, and the lifecycle reasons of
	// the events/kapso samples.
	for _, code := range []string{"facebook_auth_failed", "phone_verification_failed", "waba_limit_reached",
		"token_exchange_failed", "link_expired", "already_used", "meta_token_expired", "deleted_by_user",
		"customer_offboarded", "ACCOUNT_DISABLED", "RESTRICTED_ADD_PHONE_NUMBER_ACTION", CodeUnknown, CodeUnknownSetupLink} {
		e := DescribeError(code)
		if e.Code != code || e.Meaning == "" || e.NextStep == "" || strings.Contains(e.Meaning, "not documented") {
			t.Errorf("DescribeError(%q) = %+v", code, e)
		}
		if _, ok := KnownError(code); !ok {
			t.Errorf("KnownError(%q) is false", code)
		}
	}
	if got := DescribeError("account_disabled"); got.Code != "ACCOUNT_DISABLED" {
		t.Errorf("a reason in another case = %+v", got)
	}
	got := DescribeError("meta_said_no")
	if got.Code != "meta_said_no" || got.Meaning != `Kapso reported "meta_said_no"; it is not documented, so kapso-bridge cannot say more.` ||
		!strings.Contains(got.NextStep, "contact Kapso support") {
		t.Errorf("an unknown code = %+v", got)
	}
	if _, ok := KnownError("found by the reconciler: Kapso shows the number BANNED"); ok {
		t.Error("free text is a known code")
	}
	if got := DescribeError(""); got.Code != "" || got.NextStep != "" {
		t.Errorf("no code = %+v", got)
	}
	seen := map[string]bool{}
	for _, e := range ErrorCodes() {
		if seen[strings.ToLower(e.Code)] || strings.Contains(e.Meaning+e.NextStep, "|") {
			t.Errorf("code %q is listed twice or breaks the operations guide's table", e.Code)
		}
		seen[strings.ToLower(e.Code)] = true
	}
}

// The operations guide's error-code table is the list itself, rendered;
// its state table has a row for every TenantStatus.
func TestOperationsGuideTables(t *testing.T) {
	const guide = "docs/operations.md"
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(guide)))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var want strings.Builder
	want.WriteString("| code | what it means | next step |\n|---|---|---|\n")
	for _, e := range ErrorCodes() {
		want.WriteString("| `" + e.Code + "` | " + e.Meaning + " | " + e.NextStep + " |\n")
	}
	const begin, end = "<!-- error codes: generated from shared/onboarding/errorcodes.go -->\n", "<!-- end of error codes -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i || doc[i+len(begin):j] != want.String() {
		t.Errorf("%s's error-code table differs from ErrorCodes(); between its markers it must read:\n%s", guide, want.String())
	}

	for _, status := range constantsOf(t, "types.go", "TenantStatus") {
		if !strings.Contains(doc, "\n| `"+status+"` |") {
			t.Errorf("%s's state table has no row for %q", guide, status)
		}
	}
}

// constantsOf lists the values of the constants of a type declared in file.
func constantsOf(t *testing.T, file, typeName string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != typeName {
				continue
			}
			for _, value := range v.Values {
				if lit, ok := value.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, s)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s constants in %s", typeName, file)
	}
	return out
}
