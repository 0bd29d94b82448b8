package awsaccess

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Literal is an adapter a wiring package's source builds.
type Literal struct {
	Adapter *Adapter
	// Table is the expression its Table field is set from, through the local
	// variable holding it ("r.String(config.BridgeTable)"); "" when unset.
	Table string
}

// Literals lists the composite literals of adapters of as in the package in
// dir (its non-test files). It lets a test hold a stand-in for what a walk
// cannot see to the wiring it stands in for.
func Literals(dir string, as Adapters) ([]Literal, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []Literal
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		imports := map[string]string{}
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			n := path.Base(p)
			if im.Name != nil {
				n = im.Name.Name
			}
			imports[n] = p
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			a := as[imports[x.Name]+"."+sel.Sel.Name]
			if a == nil {
				return true
			}
			l := Literal{Adapter: a}
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Table" {
						l.Table = render(fset, definition(kv.Value))
					}
				}
			}
			out = append(out, l)
			return true
		})
	}
	sort.Slice(out, func(i, j int) bool {
		return fmt.Sprint(out[i].Adapter, out[i].Table) < fmt.Sprint(out[j].Adapter, out[j].Table)
	})
	return out, nil
}

// definition follows a local variable to the expression it was defined with.
func definition(e ast.Expr) ast.Expr {
	id, ok := e.(*ast.Ident)
	if !ok || id.Obj == nil {
		return e
	}
	if as, ok := id.Obj.Decl.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
		for i, l := range as.Lhs {
			if li, ok := l.(*ast.Ident); ok && li.Obj == id.Obj {
				return as.Rhs[i]
			}
		}
	}
	return e
}

func render(fset *token.FileSet, e ast.Expr) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, fset, e)
	return b.String()
}
