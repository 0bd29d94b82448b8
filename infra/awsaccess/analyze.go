// Package awsaccess derives least privilege from the code. Load reads the
// adapters' source and finds, for every method of every adapter type, the AWS
// operations it performs; Walk finds, in a value a function's wiring built,
// every adapter it holds and which of its methods the holder can call. The
// CDK stack's tests hold each function's role to exactly what the two give.
package awsaccess

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// sdkService prefixes the AWS SDK's service packages. Their last element
// (dynamodb, sqs, secretsmanager, sns) is also the service's IAM action
// prefix, but for those of actionPrefixes.
const sdkService = "github.com/aws/aws-sdk-go-v2/service/"

// actionPrefixes maps the SDK packages whose operations IAM names under
// another service's prefix to that prefix: DynamoDB Streams' GetRecords
// is dynamodb:GetRecords.
var actionPrefixes = map[string]string{"dynamodbstreams": "dynamodb"}

// actionPrefix is the IAM action prefix of the operations of an SDK
// service package.
func actionPrefix(service string) string {
	if p, ok := actionPrefixes[service]; ok {
		return p
	}
	return service
}

// Op is one AWS operation, as the IAM action that allows it.
type Op struct {
	Action string // "dynamodb:PutItem"
	// Index: the operation reads a secondary index (a Query or Scan given an
	// IndexName), which IAM names apart from its table.
	Index bool
}

func (o Op) String() string {
	if o.Index {
		return o.Action + " on an index"
	}
	return o.Action
}

// Call is a call an adapter makes through one of its own interface fields,
// such as a sender storing a body aside through its Bodies field.
type Call struct{ Field, Method string }

// Method is what one adapter method does, through every same-package
// function and method it calls.
type Method struct {
	Ops   []Op
	Calls []Call
}

// Adapter is a type holding an AWS SDK client (or an interface over one).
type Adapter struct {
	PkgPath, Name string
	// Methods are all its methods, by name, exported or not.
	Methods map[string]Method
}

func (a *Adapter) String() string { return path.Base(a.PkgPath) + "." + a.Name }

// Adapters are adapter types by import path and name ("…/shared/dynamo.Claims").
type Adapters map[string]*Adapter

// Load analyzes the packages in dirs, relative to the root of the module at
// moduleDir.
func Load(moduleDir string, dirs ...string) (Adapters, error) {
	module, err := modulePath(moduleDir)
	if err != nil {
		return nil, err
	}
	all := Adapters{}
	for _, d := range dirs {
		as, err := Analyze(filepath.Join(moduleDir, d), module+"/"+filepath.ToSlash(d))
		if err != nil {
			return nil, err
		}
		for k, a := range as {
			all[k] = a
		}
	}
	return all, nil
}

func modulePath(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod names no module", dir)
}

// Analyze reads the package in dir (its non-test files), whose import path
// is importPath. It fails when an adapter method hands a client, or one of
// its interface fields, to anything it cannot follow: the result would
// otherwise miss what that code does.
func Analyze(dir, importPath string) (Adapters, error) {
	p, err := parsePackage(dir)
	if err != nil {
		return nil, err
	}
	nodes := map[string]*funcFacts{}
	for name, fn := range p.funcs {
		nodes[name] = p.facts(fn)
	}
	out := Adapters{}
	var problems []string
	for _, tname := range sortedKeys(p.structs) {
		if !p.structs[tname].holdsClient() {
			continue
		}
		a := &Adapter{PkgPath: importPath, Name: tname, Methods: map[string]Method{}}
		for _, fname := range sortedKeys(p.funcs) {
			if p.funcs[fname].recvType != tname {
				continue
			}
			var m Method
			for _, n := range reachable(nodes, fname) {
				f := nodes[n]
				for _, op := range f.ops {
					if !slices.Contains(m.Ops, op) {
						m.Ops = append(m.Ops, op)
					}
				}
				for _, c := range f.calls {
					switch {
					case c.owner != tname:
						problems = append(problems, fmt.Sprintf("%s: %s.%s calls %s.%s.%s, a field of another type",
							c.pos, tname, p.funcs[fname].decl.Name.Name, c.owner, c.Field, c.Method))
					case !slices.Contains(m.Calls, c.Call):
						m.Calls = append(m.Calls, c.Call)
					}
				}
				problems = append(problems, f.problems...)
			}
			sort.Slice(m.Ops, func(i, j int) bool { return m.Ops[i].String() < m.Ops[j].String() })
			sort.Slice(m.Calls, func(i, j int) bool { return m.Calls[i].Field+m.Calls[i].Method < m.Calls[j].Field+m.Calls[j].Method })
			a.Methods[p.funcs[fname].decl.Name.Name] = m
		}
		out[importPath+"."+tname] = a
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("%s: cannot derive the AWS operations of:\n  %s", importPath, strings.Join(slices.Compact(problems), "\n  "))
	}
	return out, nil
}

// reachable lists from and every function it calls, directly or not.
func reachable(nodes map[string]*funcFacts, from string) []string {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for i := 0; i < len(queue); i++ {
		for _, e := range nodes[queue[i]].edges {
			if _, ok := nodes[e]; ok && !seen[e] {
				seen[e] = true
				queue = append(queue, e)
			}
		}
	}
	return queue
}

// typ is what the analysis knows of an expression's type.
type typ struct {
	service string // an SDK client, or an interface over one, of this service
	dep     bool   // another interface declared in the package
	strct   string // a struct type declared in the package (or a pointer to one)
}

type fileInfo struct {
	imports map[string]string // name in the file to import path
}

type structInfo struct {
	fields map[string]typ
}

func (s *structInfo) holdsClient() bool {
	for _, f := range s.fields {
		if f.service != "" {
			return true
		}
	}
	return false
}

type funcInfo struct {
	decl     *ast.FuncDecl
	file     *fileInfo
	recvType string
}

type pkgInfo struct {
	fset     *token.FileSet
	structs  map[string]*structInfo
	funcs    map[string]*funcInfo // "f", or "T.m" for methods
	classify func(ast.Expr, *fileInfo) typ
}

func parsePackage(dir string) (*pkgInfo, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type typeDecl struct {
		spec *ast.TypeSpec
		file *fileInfo
	}
	var decls []typeDecl
	ifaces := map[string]typeDecl{}
	p := &pkgInfo{fset: fset, structs: map[string]*structInfo{}, funcs: map[string]*funcInfo{}}
	parsed := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		parsed++
		fi := &fileInfo{imports: map[string]string{}}
		for _, im := range f.Imports {
			ipath := strings.Trim(im.Path.Value, `"`)
			iname := path.Base(ipath)
			if im.Name != nil {
				iname = im.Name.Name
			}
			fi.imports[iname] = ipath
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						decls = append(decls, typeDecl{ts, fi})
						if _, ok := ts.Type.(*ast.InterfaceType); ok {
							ifaces[ts.Name.Name] = typeDecl{ts, fi}
						}
					}
				}
			case *ast.FuncDecl:
				fn := &funcInfo{decl: d, file: fi}
				key := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) == 1 {
					fn.recvType = baseTypeName(d.Recv.List[0].Type)
					key = fn.recvType + "." + key
				}
				p.funcs[key] = fn
			}
		}
	}
	if parsed == 0 {
		return nil, fmt.Errorf("%s: no Go files", dir)
	}
	// An interface is a client when its methods take or return the types of
	// an SDK service package (an interface over the client, for fakes).
	ifaceService := map[string]string{}
	for name, d := range ifaces {
		ast.Inspect(d.spec.Type, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok {
					if svc, ok := serviceOf(d.file.imports[x.Name]); ok {
						ifaceService[name] = svc
					}
				}
			}
			return true
		})
	}
	classify := func(e ast.Expr, fi *fileInfo) typ {
		if st, ok := e.(*ast.StarExpr); ok {
			e = st.X
		}
		switch e := e.(type) {
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && e.Sel.Name == "Client" {
				if svc, ok := serviceOf(fi.imports[x.Name]); ok {
					return typ{service: svc}
				}
			}
		case *ast.Ident:
			if svc, ok := ifaceService[e.Name]; ok {
				return typ{service: svc}
			}
			if _, ok := ifaces[e.Name]; ok {
				return typ{dep: true}
			}
			for _, d := range decls {
				if _, ok := d.spec.Type.(*ast.StructType); ok && d.spec.Name.Name == e.Name {
					return typ{strct: e.Name}
				}
			}
		}
		return typ{}
	}
	p.classify = classify
	for _, d := range decls {
		st, ok := d.spec.Type.(*ast.StructType)
		if !ok {
			continue
		}
		si := &structInfo{fields: map[string]typ{}}
		for _, f := range st.Fields.List {
			t := classify(f.Type, d.file)
			for _, n := range f.Names {
				si.fields[n.Name] = t
			}
		}
		p.structs[d.spec.Name.Name] = si
	}
	return p, nil
}

// serviceOf names the service of an SDK service package's root import path.
func serviceOf(importPath string) (string, bool) {
	svc, ok := strings.CutPrefix(importPath, sdkService)
	return svc, ok && svc != "" && !strings.Contains(svc, "/")
}

func baseTypeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return baseTypeName(e.X)
	case *ast.IndexExpr:
		return baseTypeName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
