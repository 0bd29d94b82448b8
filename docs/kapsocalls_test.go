package docs_test

import (
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// kapsoCall is one call of the Kapso client: its method and its path, with
// every part that is not a literal written {}.
type kapsoCall struct{ method, path string }

// kapsoClientCalls reads the calls of shared/kapsoapi from its source: every
// call{method, path} literal, and every request built by hand on the client's
// base URL.
func kapsoClientCalls(t *testing.T) []kapsoCall {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "shared", "kapsoapi", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []kapsoCall
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		rel, _ := filepath.Rel(root, f)
		ast.Inspect(parseGo(t, rel), func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); !ok || id.Name != "call" {
					return true
				}
				var c kapsoCall
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					switch kv.Key.(*ast.Ident).Name {
					case "method":
						c.method = httpMethod(kv.Value)
					case "path":
						c.path = callPath(kv.Value)
					}
				}
				if c.method == "" || c.path == "" {
					t.Errorf("%s: a call without a literal method or path: %+v", rel, c)
				}
				calls = append(calls, c)
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "NewRequestWithContext" || len(n.Args) < 3 {
					return true
				}
				bin, ok := n.Args[2].(*ast.BinaryExpr)
				if !ok || !onBaseURL(bin) {
					// A URL Kapso handed over (a download_url), not a path of the client.
					return true
				}
				calls = append(calls, kapsoCall{httpMethod(n.Args[1]), callPath(bin)})
			}
			return true
		})
	}
	return calls
}

func httpMethod(e ast.Expr) string {
	if sel, ok := e.(*ast.SelectorExpr); ok {
		return strings.ToUpper(strings.TrimPrefix(sel.Sel.Name, "Method"))
	}
	return ""
}

// onBaseURL reports whether a concatenation starts with a baseURL field.
func onBaseURL(b *ast.BinaryExpr) bool {
	for {
		switch x := b.X.(type) {
		case *ast.BinaryExpr:
			b = x
		case *ast.SelectorExpr:
			return x.Sel.Name == "baseURL"
		default:
			return false
		}
	}
}

// callPath writes a path expression with its literals kept and every other
// operand as {}; a leading baseURL is left out.
func callPath(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, _ := strconv.Unquote(x.Value)
			return s
		}
	case *ast.BinaryExpr:
		return callPath(x.X) + callPath(x.Y)
	case *ast.SelectorExpr:
		if x.Sel.Name == "baseURL" {
			return ""
		}
	}
	return "{}"
}

var (
	kapsoCallRow = regexp.MustCompile("(?m)^\\| (GET|POST|PATCH|PUT|DELETE) \\| `(/[^`]*)` \\|")
	pathParam    = regexp.MustCompile(`\{[^}]*\}`)
)

// TestKapsoCallsDocumented: every call the Kapso client makes has a row in
// docs/kapso-calls.md, and every row is a call it makes.
func TestKapsoCallsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "kapso-calls.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []kapsoCall
	for _, m := range kapsoCallRow.FindAllStringSubmatch(string(b), -1) {
		rows = append(rows, kapsoCall{m[1], pathParam.ReplaceAllString(m[2], "{}")})
	}
	calls := kapsoClientCalls(t)
	if len(calls) < 10 {
		t.Fatalf("found %d calls in shared/kapsoapi: the scan is broken", len(calls))
	}
	for _, c := range calls {
		if !slices.Contains(rows, c) {
			t.Errorf("docs/kapso-calls.md has no row for %s %s", c.method, c.path)
		}
	}
	for _, r := range rows {
		if !slices.Contains(calls, r) {
			t.Errorf("docs/kapso-calls.md lists %s %s, which shared/kapsoapi does not call", r.method, r.path)
		}
	}
}
