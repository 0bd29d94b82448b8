package awsaccess

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// FieldCalls is what a module's code calls through struct fields: the
// methods called as x.F.M(...), by the type of x and F when the type is a
// struct of x's own package that declares F (the receiver, a parameter, or
// a local built from a literal), else by F alone; and the field names ever
// used otherwise (copied, passed, returned, taken as a method value), after
// which anything may call any of their methods. Walk narrows an adapter
// held in an interface field to the methods called through that field of
// its holder's type, or through any field of its name whose holder the
// scan cannot tell. A holder's fields are exported, so calls from every
// package of the module count.
type FieldCalls struct {
	byType  map[string][]string // "<import path>.<Type>.<Field>"
	byName  map[string][]string // "<Field>"
	escaped map[string]bool     // "<Field>"
}

// ScanCalls reads every non-test Go file of the module at moduleDir,
// leaving out testdata, vendor, hidden directories, node_modules and
// nested modules.
func ScanCalls(moduleDir string) (*FieldCalls, error) {
	module, err := modulePath(moduleDir)
	if err != nil {
		return nil, err
	}
	fc := &FieldCalls{byType: map[string][]string{}, byName: map[string][]string{}, escaped: map[string]bool{}}
	err = filepath.WalkDir(moduleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != moduleDir {
			name := d.Name()
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" ||
				name == "vendor" || name == "node_modules" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		rel, err := filepath.Rel(moduleDir, p)
		if err != nil {
			return err
		}
		importPath := module
		if rel != "." {
			importPath += "/" + filepath.ToSlash(rel)
		}
		return fc.addDir(p, importPath)
	})
	if err != nil {
		return nil, err
	}
	return fc, nil
}

// addDir records the field uses of the package in dir, if any.
func (fc *FieldCalls) addDir(dir, importPath string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	// The package's struct types: the names of their own fields, and the
	// package's struct types they embed.
	structs := map[string]structFields{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, sp := range g.Specs {
				ts, ok := sp.(*ast.TypeSpec)
				if !ok {
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				var sf structFields
				for _, fl := range st.Fields.List {
					for _, n := range fl.Names {
						sf.fields = append(sf.fields, n.Name)
					}
					if len(fl.Names) == 0 {
						t := fl.Type
						if st, ok := t.(*ast.StarExpr); ok {
							t = st.X
						}
						if n, ok := t.(*ast.Ident); ok {
							sf.fields = append(sf.fields, n.Name)
							sf.embedded = append(sf.embedded, n.Name)
						}
					}
				}
				structs[ts.Name.Name] = sf
			}
		}
	}
	for _, f := range files {
		fc.add(f, importPath, structs)
	}
	return nil
}

// structFields are a struct type's own field names (an embedded one's
// included) and the names of the types it embeds.
type structFields struct{ fields, embedded []string }

// declaring is the struct type of structs that declares field as seen from
// type t, following embedded structs of the package as Go promotes their
// fields (the shallowest wins); "" when none does, or two at one depth.
func declaring(structs map[string]structFields, t, field string) string {
	level := []string{t}
	seen := map[string]bool{t: true}
	for len(level) > 0 {
		var found []string
		var next []string
		for _, s := range level {
			sf, ok := structs[s]
			if !ok {
				continue
			}
			if slices.Contains(sf.fields, field) {
				found = append(found, s)
			}
			for _, e := range sf.embedded {
				if !seen[e] {
					seen[e] = true
					next = append(next, e)
				}
			}
		}
		switch len(found) {
		case 0:
			level = next
		case 1:
			return found[0]
		default:
			return ""
		}
	}
	return ""
}

// add records the field uses of one file of the package importPath, whose
// struct types are structs.
func (fc *FieldCalls) add(f *ast.File, importPath string, structs map[string]structFields) {
	imports := map[string]bool{}
	for _, im := range f.Imports {
		name := path.Base(strings.Trim(im.Path.Value, `"`))
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = true
	}
	// structOf names the package's struct type of x, when the parser's
	// scopes tell it: a receiver or parameter declared with it, or a local
	// declared with one of its literals; "" otherwise.
	structOf := func(x ast.Expr) string {
		id, ok := unparen(x).(*ast.Ident)
		if !ok || id.Obj == nil || id.Obj.Kind != ast.Var {
			return ""
		}
		var t ast.Expr
		switch decl := id.Obj.Decl.(type) {
		case *ast.Field:
			t = decl.Type
		case *ast.AssignStmt:
			if decl.Tok == token.DEFINE && len(decl.Lhs) == len(decl.Rhs) {
				for i, l := range decl.Lhs {
					if li, ok := l.(*ast.Ident); ok && li.Obj == id.Obj {
						if lit := compositeOf(decl.Rhs[i]); lit != nil {
							t = lit.Type
						}
					}
				}
			}
		}
		if st, ok := t.(*ast.StarExpr); ok {
			t = st.X
		}
		if n, ok := t.(*ast.Ident); ok {
			if _, ok := structs[n.Name]; ok {
				return n.Name
			}
		}
		return ""
	}
	record := func(m map[string][]string, key, method string) {
		if !slices.Contains(m[key], method) {
			m[key] = append(m[key], method)
		}
	}
	// harmless holds the field selectors whose use cannot hand the field's
	// value on: the x.F of a call x.F.M(...), an assignment to x.F, a
	// comparison of x.F with nil.
	harmless := map[*ast.SelectorExpr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if m, ok := unparen(n.Fun).(*ast.SelectorExpr); ok {
				if field, ok := unparen(m.X).(*ast.SelectorExpr); ok {
					harmless[field] = true
					if t := declaring(structs, structOf(field.X), field.Sel.Name); t != "" {
						record(fc.byType, importPath+"."+t+"."+field.Sel.Name, m.Sel.Name)
					} else {
						record(fc.byName, field.Sel.Name, m.Sel.Name)
					}
				}
			}
		case *ast.AssignStmt:
			if n.Tok == token.ASSIGN {
				for _, l := range n.Lhs {
					if sel, ok := unparen(l).(*ast.SelectorExpr); ok {
						harmless[sel] = true
					}
				}
			}
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				for _, pair := range [][2]ast.Expr{{n.X, n.Y}, {n.Y, n.X}} {
					if sel, ok := unparen(pair[0]).(*ast.SelectorExpr); ok && isNil(pair[1]) {
						harmless[sel] = true
					}
				}
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || harmless[sel] {
			return true
		}
		// A qualified identifier (pkg.Name) names no field.
		if x, ok := sel.X.(*ast.Ident); ok && x.Obj == nil && imports[x.Name] {
			return true
		}
		fc.escaped[sel.Sel.Name] = true
		return true
	})
}

// narrow is the part of methods (those of the interface type of field
// F of holder) that the module calls through it; all of them when a field
// named F escapes, or fc is nil.
func (fc *FieldCalls) narrow(holder reflect.Type, field string, methods []string) []string {
	if fc == nil || fc.escaped[field] {
		return methods
	}
	called := fc.byName[field]
	if holder.Name() != "" {
		called = append(slices.Clip(called), fc.byType[holder.PkgPath()+"."+holder.Name()+"."+field]...)
	}
	var out []string
	for _, m := range methods {
		if slices.Contains(called, m) {
			out = append(out, m)
		}
	}
	return out
}
