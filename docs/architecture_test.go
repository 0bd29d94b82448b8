package docs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// What the function table of the CDK app (infra/cdk/functions.go) says of
// each function, read from its source: the CDK app is its own module, so
// the tests here read it rather than import it.
type deployedFunction struct {
	name      string
	routes    []routes.Route
	queue     string // the schema queue it consumes, by ID
	scheduled bool
}

func parseGo(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, path), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// stringConsts maps each constant of a type to its value, in a file.
func stringConsts(t *testing.T, path, typeName string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range parseGo(t, path).Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != typeName {
				continue
			}
			for i, val := range v.Values {
				if lit, ok := val.(*ast.BasicLit); ok {
					out[v.Names[i].Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return out
}

// schemaQueueIDs maps each schema.Queue variable to its ID.
func schemaQueueIDs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ast.Inspect(parseGo(t, "shared/schema/schema.go"), func(n ast.Node) bool {
		v, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, val := range v.Values {
			lit, ok := val.(*ast.CompositeLit)
			if !ok || !isIdent(lit.Type, "Queue") {
				continue
			}
			if id := stringField(lit, "ID"); id != "" {
				out[v.Names[i].Name] = id
			}
		}
		return true
	})
	return out
}

func stringField(lit *ast.CompositeLit, field string) string {
	for _, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, field) {
			if b, ok := kv.Value.(*ast.BasicLit); ok {
				s, _ := strconv.Unquote(b.Value)
				return s
			}
		}
	}
	return ""
}

func selectorName(e ast.Expr, pkg string) (string, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, pkg) {
		return "", false
	}
	return sel.Sel.Name, true
}

// deployedFunctions reads the function table of the CDK app.
func deployedFunctions(t *testing.T) []deployedFunction {
	t.Helper()
	names := stringConsts(t, "shared/config/settings.go", "Function")
	queues := schemaQueueIDs(t)
	var out []deployedFunction
	ast.Inspect(parseGo(t, "infra/cdk/functions.go"), func(n ast.Node) bool {
		v, ok := n.(*ast.ValueSpec)
		if !ok || len(v.Names) != 1 || v.Names[0].Name != "functions" || len(v.Values) != 1 {
			return true
		}
		for _, e := range v.Values[0].(*ast.CompositeLit).Elts {
			var f deployedFunction
			for _, el := range e.(*ast.CompositeLit).Elts {
				kv := el.(*ast.KeyValueExpr)
				switch key := kv.Key.(*ast.Ident).Name; key {
				case "Name":
					c, _ := selectorName(kv.Value, "config")
					f.name = names[c]
				case "Routes":
					g, _ := selectorName(kv.Value, "routes")
					rs, ok := routeGroups[g]
					if !ok {
						t.Errorf("infra/cdk/functions.go gives a function routes.%s, a group the tests do not know", g)
					}
					f.routes = rs
				case "Consumes":
					c := kv.Value.(*ast.UnaryExpr).X.(*ast.CompositeLit)
					for _, cel := range c.Elts {
						ckv := cel.(*ast.KeyValueExpr)
						if isIdent(ckv.Key, "Queue") {
							q, _ := selectorName(ckv.Value, "schema")
							f.queue = queues[q]
						}
					}
				case "Scheduled":
					f.scheduled = isIdent(kv.Value, "true")
				}
			}
			if f.name == "" {
				t.Errorf("infra/cdk/functions.go has a function whose name the test cannot read")
			}
			out = append(out, f)
		}
		return false
	})
	if len(out) != len(config.Functions) {
		t.Fatalf("infra/cdk/functions.go lists %d functions, shared/config %d", len(out), len(config.Functions))
	}
	return out
}

const module = "github.com/kapso-bridge/kapso-bridge/"

// wiringImports lists the packages of this module a function's wiring
// imports directly: functions/<name>/main.go imports the wiring package
// under shared/app/, whose imports are the handler or worker it builds.
func wiringImports(t *testing.T, function string) []string {
	t.Helper()
	var wiring []string
	for _, imp := range parseGo(t, "functions/"+function+"/main.go").Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if rel, ok := strings.CutPrefix(p, module+"shared/app/"); ok && rel != "" {
			wiring = append(wiring, "shared/app/"+rel)
		}
	}
	if len(wiring) != 1 {
		t.Fatalf("functions/%s/main.go imports %d wiring packages under shared/app/, want 1: %v", function, len(wiring), wiring)
	}
	files, err := filepath.Glob(filepath.Join(root, wiring[0], "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no Go files (%v)", wiring[0], err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		rel, _ := filepath.Rel(root, f)
		for _, imp := range parseGo(t, rel).Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rel, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rel) {
				out = append(out, rel)
			}
		}
	}
	return out
}

// cell strips a table cell's backticks.
func cell(s string) string { return strings.Trim(s, "`") }

// rowsByFirstCell maps each row of the tables of a section by its first
// cell, without backticks.
func rowsByFirstCell(t *testing.T, section string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range tableRows(section) {
		if _, dup := out[cell(r[0])]; dup {
			t.Errorf("two rows for %s", r[0])
		}
		out[cell(r[0])] = r
	}
	return out
}

// architecture.md's route table has every route of shared/routes, each
// with the function the CDK stack sends it to and a handler package that
// function's wiring builds; and no other route.
func TestArchitectureMapsEveryRoute(t *testing.T) {
	g := readGuide(t, "docs/architecture.md")
	rows := rowsByFirstCell(t, g.section(t, "### Routes"))
	served := map[string]string{}
	for _, f := range deployedFunctions(t) {
		for _, r := range f.routes {
			served[r.Pattern()] = f.name
		}
	}
	for _, r := range allRoutes() {
		row, ok := rows[r.Pattern()]
		fn := served[r.Pattern()]
		switch {
		case !ok:
			t.Errorf("architecture.md has no row for %s (function %s)", r.Pattern(), fn)
		case len(row) != 3:
			t.Errorf("architecture.md's row for %s is not route | function | handler package: %q", r.Pattern(), row)
		case cell(row[1]) != fn:
			t.Errorf("architecture.md says %s goes to %s; infra/cdk sends it to %s", r.Pattern(), row[1], fn)
		case !slices.Contains(wiringImports(t, fn), cell(row[2])):
			t.Errorf("architecture.md says %s is handled by %s, which the wiring of %s does not build", r.Pattern(), row[2], fn)
		}
		delete(rows, r.Pattern())
	}
	for r := range rows {
		t.Errorf("architecture.md has a row for %s, which shared/routes does not serve", r)
	}
}

// architecture.md's queue table has every queue of shared/schema, each
// with the function that consumes it and a worker package that function's
// wiring builds; and its schedule table the scheduled function.
func TestArchitectureMapsEveryQueueAndTheSchedule(t *testing.T) {
	g := readGuide(t, "docs/architecture.md")
	section := g.section(t, "### Queues and the schedule")
	rows := rowsByFirstCell(t, section)
	consumer := map[string]string{}
	var scheduled []string
	for _, f := range deployedFunctions(t) {
		if f.queue != "" {
			consumer[f.queue] = f.name
		}
		if f.scheduled {
			scheduled = append(scheduled, f.name)
		}
	}
	for _, q := range schema.Queues {
		row, ok := rows[q.ID]
		fn := consumer[q.ID]
		switch {
		case fn == "":
			t.Errorf("no function of infra/cdk consumes the %s queue", q.ID)
		case !ok:
			t.Errorf("architecture.md has no row for the %s queue (function %s)", q.ID, fn)
		case len(row) != 4:
			t.Errorf("architecture.md's row for the %s queue is not queue | message | function | worker package: %q", q.ID, row)
		case cell(row[2]) != fn:
			t.Errorf("architecture.md says %s consumes the %s queue; infra/cdk says %s", row[2], q.ID, fn)
		case !slices.Contains(wiringImports(t, fn), cell(row[3])):
			t.Errorf("architecture.md says the %s queue's worker is %s, which the wiring of %s does not build", q.ID, row[3], fn)
		}
	}
	if len(scheduled) == 0 {
		t.Fatal("no function of infra/cdk is scheduled")
	}
	for _, fn := range scheduled {
		found := false
		for _, row := range tableRows(section) {
			if len(row) == 3 && cell(row[1]) == fn {
				found = true
				if !slices.Contains(wiringImports(t, fn), cell(row[2])) {
					t.Errorf("architecture.md says the schedule runs %s, which the wiring of %s does not build", row[2], fn)
				}
			}
		}
		if !found {
			t.Errorf("architecture.md's schedule table has no row for %s", fn)
		}
	}
}

// architecture.md's function table has a row for every function and no
// other, and so has the list of functions/.
func TestArchitectureListsEveryFunction(t *testing.T) {
	g := readGuide(t, "docs/architecture.md")
	table, _, _ := strings.Cut(g.section(t, "## The AWS shape"), "\n### ")
	rows := rowsByFirstCell(t, table)
	for _, fn := range config.Functions {
		if _, ok := rows[string(fn)]; !ok {
			t.Errorf("architecture.md's function table has no row for %s", fn)
		}
		if !strings.Contains(g.prose, "`functions/"+string(fn)+"`") {
			t.Errorf("architecture.md does not name functions/%s", fn)
		}
	}
	for name, row := range rows {
		if len(row) == 4 && !slices.Contains(config.Functions, config.Function(name)) {
			t.Errorf("architecture.md's function table has %s, which is no function of shared/config", name)
		}
	}
}

// architecture.md gives every package of shared/, testkit/, infra/ and
// functions/ its line.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	g := readGuide(t, "docs/architecture.md")
	section := g.section(t, "## Layers and packages")
	dirs := goPackageDirs(t, "shared", "testkit", "infra", "functions")
	if len(dirs) < 40 {
		t.Fatalf("only %d packages found: is the walk broken?", len(dirs))
	}
	for _, d := range dirs {
		if !strings.Contains(section, "`"+d+"`") {
			t.Errorf("architecture.md's Layers and packages does not name %s", d)
		}
	}
}

// operations.md names every alarm the CDK stack creates, as
// infra/cdk/alarms.go builds their names.
func TestOperationsNamesEveryAlarm(t *testing.T) {
	g := readGuide(t, "docs/operations.md")
	section := g.section(t, "## Alarms")
	want := alarmNames(t)
	if len(want) < 10 {
		t.Fatalf("only %d alarms read from infra/cdk/alarms.go: is the parsing broken?", len(want))
	}
	for _, name := range want {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("operations.md's Alarms does not name %s", name)
		}
	}
}

// pascal is infra/cdk's construct id of a name: "lifecycle-dlq" is
// "LifecycleDlq".
func pascal(s string) string {
	var out strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		out.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return out.String()
}

// alarmNames evaluates the first argument of each alarm(...) call of
// infra/cdk/alarms.go: inside the loop over the DLQs its prefix is each
// DLQ's id, inside the loop over the functions each function's, and
// elsewhere its constants.
func alarmNames(t *testing.T) []string {
	t.Helper()
	var dlqs, fns []string
	for _, q := range schema.Queues {
		dlqs = append(dlqs, pascal(q.DLQID()))
	}
	lambda, err := os.ReadFile(filepath.Join(root, "infra", "cdk", "lambda.go"))
	if err != nil {
		t.Fatal(err)
	}
	scheduleDLQ := regexp.MustCompile(`deadLetterQueue\{ID: id \+ "(\w+)"`).FindSubmatch(lambda)
	if scheduleDLQ == nil {
		t.Fatal("infra/cdk/lambda.go: the schedule's DLQ id is not where the test reads it")
	}
	for _, f := range deployedFunctions(t) {
		fns = append(fns, pascal(f.name))
		if f.scheduled {
			dlqs = append(dlqs, pascal(f.name)+string(scheduleDLQ[1]))
		}
	}
	file := parseGo(t, "infra/cdk/alarms.go")
	consts := map[string]string{}
	for _, d := range file.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, s := range g.Specs {
				v := s.(*ast.ValueSpec)
				for i, val := range v.Values {
					if lit, ok := val.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[v.Names[i].Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	var out []string
	var eval func(e ast.Expr, prefix []string) []string
	eval = func(e ast.Expr, prefix []string) []string {
		switch e := e.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(e.Value)
			return []string{s}
		case *ast.Ident:
			if v, ok := consts[e.Name]; ok {
				return []string{v}
			}
			return prefix
		case *ast.SelectorExpr:
			return prefix
		case *ast.CallExpr:
			if isIdent(e.Fun, "pascal") && len(e.Args) == 1 {
				var out []string
				for _, s := range eval(e.Args[0], prefix) {
					out = append(out, pascal(s))
				}
				return out
			}
		case *ast.BinaryExpr:
			var out []string
			for _, l := range eval(e.X, prefix) {
				for _, r := range eval(e.Y, prefix) {
					out = append(out, l+r)
				}
			}
			return out
		}
		t.Fatalf("infra/cdk/alarms.go: an alarm name the test cannot read: %T", e)
		return nil
	}
	var walk func(n ast.Node, prefix []string)
	walk = func(n ast.Node, prefix []string) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.RangeStmt:
				switch {
				case isSelector(n.X, "b", "dlqs"):
					walk(n.Body, dlqs)
				case isIdent(n.X, "functions"):
					walk(n.Body, fns)
				default:
					t.Fatalf("infra/cdk/alarms.go ranges over something the test does not know")
				}
				return false
			case *ast.CallExpr:
				if isIdent(n.Fun, "alarm") && len(n.Args) > 0 {
					out = append(out, eval(n.Args[0], prefix)...)
				}
			}
			return true
		})
	}
	for _, d := range file.Decls {
		if f, ok := d.(*ast.FuncDecl); ok && f.Name.Name == "addAlarms" {
			walk(f.Body, nil)
		}
	}
	return out
}

func isSelector(e ast.Expr, x, sel string) bool {
	s, ok := e.(*ast.SelectorExpr)
	return ok && isIdent(s.X, x) && s.Sel.Name == sel
}

// Every key prefix a guide names ("REJECTED#<UTC day>") is one the
// DynamoDB adapters write.
func TestNamedKeyPrefixesExist(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "shared", "dynamo", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("shared/dynamo: %v", err)
	}
	var src strings.Builder
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	prefix := regexp.MustCompile(`(?:^|[\s=])([A-Z][A-Z_]*#)`)
	eachNamed(t, 5, func(s string) []string {
		var out []string
		for _, m := range prefix.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}, func(g guide, name string) {
		if !strings.Contains(src.String(), `"`+name) {
			t.Errorf("%s names the key prefix %s, which shared/dynamo does not write", g.path, name)
		}
	})
}

// configuration.md has a row for every setting of shared/config, with its
// readers, its default and its context key, in the columns its table has.
func TestConfigurationListsEverySetting(t *testing.T) {
	g := readGuide(t, "docs/configuration.md")
	type row struct{ header, cells []string }
	var rows []row
	lines := strings.Split(g.prose, "\n")
	var header []string
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		switch {
		case i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "|---"):
			header = cells
		case strings.HasPrefix(line, "|---"):
		default:
			rows = append(rows, row{header, cells})
		}
	}
	column := func(r row, name string) (string, bool) {
		i := slices.Index(r.header, name)
		if i < 0 || i >= len(r.cells) {
			return "", false
		}
		return r.cells[i], true
	}
	for _, s := range config.Settings {
		var found []row
		for _, r := range rows {
			if v, ok := column(r, "variable"); ok && slices.Contains(strings.Split(v, ", "), "`"+s.Name+"`") {
				found = append(found, r)
			}
		}
		if len(found) != 1 {
			t.Errorf("configuration.md has %d rows for %s, want 1", len(found), s.Name)
			continue
		}
		r := found[0]
		if readers, ok := column(r, "read by"); ok {
			var want []string
			if slices.Equal(s.Functions, config.Functions) {
				want = []string{"every function"}
			} else {
				for _, fn := range s.Functions {
					want = append(want, "`"+string(fn)+"`")
				}
			}
			if readers != strings.Join(want, ", ") {
				t.Errorf("configuration.md says %s is read by %s; shared/config says %s", s.Name, readers, strings.Join(want, ", "))
			}
		} else if len(s.Functions) > 0 {
			t.Errorf("configuration.md lists %s, read by functions, in a table without readers", s.Name)
		}
		def, ok := column(r, "default")
		want := "—"
		if s.Default != "" {
			want = "`" + s.Default + "`"
		}
		if !ok || def != want {
			t.Errorf("configuration.md gives %s the default %q; shared/config says %s", s.Name, def, want)
		}
		ctx, ok := column(r, "context key")
		wantCtx := ""
		if s.Context != "" {
			wantCtx = "`" + s.Context + "`"
		}
		if (ok || s.Context != "") && ctx != wantCtx {
			t.Errorf("configuration.md gives %s the context key %q; shared/config says %q", s.Name, ctx, s.Context)
		}
		if s.Local && (slices.Contains(r.header, "read by") || slices.Contains(r.header, "context key")) {
			t.Errorf("configuration.md lists the local setting %s among the functions' or the deploy's", s.Name)
		}
	}
}
