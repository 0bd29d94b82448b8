package main

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

// make bench runs go test on packages it names by path; a package that
// moved would only fail the bench, which make test does not run. Every
// "./…" package path in this command's source must exist.
func TestPackagesTheBenchRunsExist(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..")
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.HasPrefix(s, "./") || strings.ContainsAny(s, " \n") {
				return true
			}
			seen++
			if st, err := os.Stat(filepath.Join(root, s)); err != nil || !st.IsDir() {
				t.Errorf("%s names %q, which is no directory of the module", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
	if seen == 0 {
		t.Fatal("no package path found: the test reads nothing")
	}
}
