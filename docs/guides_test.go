package docs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// The guides are README.md and every Markdown file of docs/. What they
// name (paths, make targets, settings, tests, Go identifiers) is checked
// against the tree, so that a rename fails here instead of leaving a guide
// pointing at nothing.

// root is the repository, seen from docs/.
const root = ".."

// maxREADMELines keeps the README a front page: the rest lives in docs/.
const maxREADMELines = 250

// guide is one Markdown file: its path from the root, its text, and its
// text with the fenced code blocks taken out (prose) and alone (code).
type guide struct {
	path, text, prose, code string
}

func guides(t *testing.T) []guide {
	t.Helper()
	paths := []string{"README.md"}
	mds, err := filepath.Glob("*.md")
	if err != nil || len(mds) == 0 {
		t.Fatalf("docs/*.md: %v", err)
	}
	for _, m := range mds {
		paths = append(paths, "docs/"+m)
	}
	var out []guide
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		g := guide{path: p, text: string(b)}
		var prose, code strings.Builder
		inCode := false
		for _, line := range strings.SplitAfter(g.text, "\n") {
			if strings.HasPrefix(line, "```") {
				inCode = !inCode
				continue
			}
			if inCode {
				code.WriteString(line)
			} else {
				prose.WriteString(line)
			}
		}
		g.prose, g.code = prose.String(), code.String()
		out = append(out, g)
	}
	return out
}

func readGuide(t *testing.T, path string) guide {
	t.Helper()
	for _, g := range guides(t) {
		if g.path == path {
			return g
		}
	}
	t.Fatalf("no guide %s", path)
	return guide{}
}

var span = regexp.MustCompile("`([^`\n]+)`")

// spans are the backticked spans of the prose.
func (g guide) spans() []string {
	var out []string
	for _, m := range span.FindAllStringSubmatch(g.prose, -1) {
		out = append(out, m[1])
	}
	return out
}

// section is the text under a heading, up to the next heading of the same
// level or higher.
func (g guide) section(t *testing.T, heading string) string {
	t.Helper()
	level := strings.Index(heading, " ")
	_, rest, ok := strings.Cut(g.text, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no %q", g.path, heading)
	}
	for i := 1; i <= level; i++ {
		if j := strings.Index(rest, "\n"+strings.Repeat("#", i)+" "); j >= 0 {
			rest = rest[:j]
		}
	}
	return rest
}

// tableRows are the rows of the Markdown tables in text, each as its
// trimmed cells; header and separator rows are left out.
func tableRows(text string) [][]string {
	var out [][]string
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "|---") {
			continue // a header
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		out = append(out, cells)
	}
	return out
}

func TestREADMEIsAFrontPage(t *testing.T) {
	g := readGuide(t, "README.md")
	if n := strings.Count(g.text, "\n"); n >= maxREADMELines {
		t.Errorf("README.md has %d lines, want fewer than %d: move the detail to docs/", n, maxREADMELines)
	}
}

// pathRoots are the folders whose files and packages a guide may name.
var pathRoots = []string{"shared", "testkit", "infra", "functions", "docs", "events", "scripts", "examples", "bridgeevents"}

var codePath = regexp.MustCompile(`(?:^|[\s"'=])(?:\./)?((?:shared|testkit|infra|functions|docs|events|scripts|examples|bridgeevents)/[A-Za-z0-9_./-]*)`)

// Every path a guide names, in prose or in a command, exists.
func TestNamedPathsExist(t *testing.T) {
	checked := 0
	for _, g := range guides(t) {
		var named []string
		for _, s := range g.spans() {
			for _, tok := range strings.Fields(s) {
				tok = strings.TrimPrefix(tok, "./")
				if slices.ContainsFunc(pathRoots, func(r string) bool { return strings.HasPrefix(tok, r+"/") }) {
					named = append(named, tok)
				}
			}
		}
		for _, m := range codePath.FindAllStringSubmatch(g.code, -1) {
			named = append(named, m[1])
		}
		for _, p := range named {
			// A pattern (shared/app/<function>app, /connect/success|failure) names no one path.
			if strings.ContainsAny(p, "<>{}|*…") {
				continue
			}
			p = strings.TrimRight(p, ".,:;)")
			checked++
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
				t.Errorf("%s names %s, which does not exist", g.path, p)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d paths checked: is the parsing broken?", checked)
	}
}

var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// headingSlug is the anchor GitHub gives a heading.
func headingSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ' || r == '-':
			b.WriteRune('-')
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(g guide) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(g.prose, "\n") {
		if strings.HasPrefix(line, "#") {
			out[headingSlug(strings.TrimSpace(strings.TrimLeft(line, "#")))] = true
		}
	}
	return out
}

// Every relative link reaches a file, and every anchor a heading.
func TestLinksResolve(t *testing.T) {
	all := guides(t)
	byPath := map[string]guide{}
	for _, g := range all {
		byPath[g.path] = g
	}
	for _, g := range all {
		for _, m := range link.FindAllStringSubmatch(g.prose, -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := g.path
			if file != "" {
				path = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(g.path), file)))
				if _, err := os.Stat(filepath.Join(root, path)); err != nil {
					t.Errorf("%s links to %s, which does not exist", g.path, target)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			to, ok := byPath[path]
			if !ok {
				t.Errorf("%s links to an anchor of %s, which is no guide", g.path, target)
				continue
			}
			if !anchors(to)[anchor] {
				t.Errorf("%s links to %s: %s has no heading #%s", g.path, target, path, anchor)
			}
		}
	}
}

var (
	makeTarget  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)\s*:([^=]|$)`)
	makeCommand = regexp.MustCompile(`(?:^|[\s;&|(])make ([a-z][a-z0-9-]*)`)
)

func makefileTargets(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := makeTarget.FindStringSubmatch(line); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// Every `make X` a guide names is a Makefile target.
func TestNamedMakeTargetsExist(t *testing.T) {
	targets := makefileTargets(t)
	checked := 0
	for _, g := range guides(t) {
		sources := append(g.spans(), strings.Split(g.code, "\n")...)
		for _, s := range sources {
			for _, m := range makeCommand.FindAllStringSubmatch(s, -1) {
				checked++
				if !targets[m[1]] {
					t.Errorf("%s names make %s, which the Makefile does not have", g.path, m[1])
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d make commands checked: is the parsing broken?", checked)
	}
}

var (
	variableName = regexp.MustCompile(`^\$?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=.*)?$`)
	makeVariable = regexp.MustCompile(`\$\$?[({]([A-Z][A-Z0-9_]*)|^export ([A-Z][A-Z0-9_]*)`)
	stringConst  = regexp.MustCompile(`"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"`)
)

// toolVariables are variables of the tools kapso-bridge runs under, which
// the guides tell people to set: the AWS SDK's and the CDK CLI's.
var toolVariables = []string{"AWS_REGION", "AWS_PROFILE", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"}

// Every UPPER_CASE name a guide puts in backticks is a setting, a secret's
// ARN variable, a variable of the Makefile or of the AWS tools, or a word
// the code itself spells (an error code, a Meta status): never a variable
// that nothing reads.
func TestNamedVariablesExist(t *testing.T) {
	known := map[string]bool{}
	for _, s := range config.Settings {
		known[s.Name] = true
		if s.Secret {
			known[s.ARNVar()] = true
		}
	}
	for _, v := range toolVariables {
		known[v] = true
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mk), "\n") {
		for _, m := range makeVariable.FindAllStringSubmatch(line, -1) {
			known[m[1]+m[2]] = true
		}
	}
	// Words of Kapso's and Meta's the code spells; shared/config is left
	// out, so that a setting must come from config.Settings.
	for _, e := range onboarding.ErrorCodes() {
		known[e.Code] = true
	}
	for _, path := range goFiles(t, "shared", "config") {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range stringConst.FindAllStringSubmatch(string(b), -1) {
			known[m[1]] = true
		}
	}
	eachNamed(t, 30, func(s string) []string {
		var out []string
		for _, tok := range strings.Fields(s) {
			if m := variableName.FindStringSubmatch(tok); m != nil {
				out = append(out, m[1])
			}
		}
		return out
	}, func(g guide, name string) {
		if !known[name] {
			t.Errorf("%s names %s, which is no setting, no variable and no word of the code", g.path, name)
		}
	})
}

// eachNamed calls check with every name extract finds in the backticked
// spans of the guides, and fails when it finds fewer than atLeast: a
// parsing that finds nothing must not pass.
func eachNamed(t *testing.T, atLeast int, extract func(span string) []string, check func(g guide, name string)) {
	t.Helper()
	n := 0
	for _, g := range guides(t) {
		for _, s := range g.spans() {
			for _, name := range extract(s) {
				n++
				check(g, name)
			}
		}
	}
	if n < atLeast {
		t.Errorf("only %d names found: is the parsing broken?", n)
	}
}

var testName = regexp.MustCompile(`^(?:Test|Benchmark|Fuzz)[A-Z][A-Za-z0-9_]*$`)

// goFuncs lists every function declared in the repository's Go files.
func goFuncs(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func (\w+)\(`)
	out := map[string]bool{}
	for _, path := range goFiles(t, ".") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	return out
}

// goFiles lists the Go files under dir, a slash path from the root, leaving
// out the folders named skip and what is no source of this repository
// (hidden folders, node_modules, build output).
func goFiles(t *testing.T, dir string, skip ...string) []string {
	t.Helper()
	start := filepath.Join(root, filepath.FromSlash(dir))
	skip = append(skip, "node_modules", "build", "cdk.out")
	var out []string
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != start && (slices.Contains(skip, d.Name()) || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every test, benchmark or fuzz target a guide names exists.
func TestNamedTestsExist(t *testing.T) {
	funcs := goFuncs(t)
	eachNamed(t, 40, func(s string) []string {
		if testName.MatchString(s) {
			return []string{s}
		}
		return nil
	}, func(g guide, name string) {
		if !funcs[name] {
			t.Errorf("%s names %s, which no Go file declares", g.path, name)
		}
	})
}

var qualified = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([A-Z][A-Za-z0-9_]*)$`)

// packageDecls maps the name of every package under shared/ and testkit/,
// and of bridgeevents, to the names it declares at top level.
func packageDecls(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, dir := range goPackageDirs(t, "shared", "testkit", "bridgeevents") {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			names := out[file.Name.Name]
			if names == nil {
				names = map[string]bool{}
				out[file.Name.Name] = names
			}
			for _, d := range file.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Recv == nil {
						names[d.Name.Name] = true
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							names[s.Name.Name] = true
						case *ast.ValueSpec:
							for _, n := range s.Names {
								names[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return out
}

// Every pkg.Name a guide names, of a package of shared/, testkit/ or
// bridgeevents, is declared there.
func TestNamedIdentifiersExist(t *testing.T) {
	decls := packageDecls(t)
	eachNamed(t, 5, func(s string) []string {
		if m := qualified.FindStringSubmatch(s); m != nil && decls[m[1]] != nil {
			return []string{s}
		}
		return nil
	}, func(g guide, name string) {
		pkg, id, _ := strings.Cut(name, ".")
		if !decls[pkg][id] {
			t.Errorf("%s names %s: package %s declares no %s", g.path, name, pkg, id)
		}
	})
}

// goPackageDirs lists every folder under the roots holding Go files, as a
// slash path from the repository root; testdata is no package.
func goPackageDirs(t *testing.T, roots ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range roots {
		for _, path := range goFiles(t, r, "testdata") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			seen[filepath.ToSlash(rel)] = true
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for d := range seen {
			if !yield(d) {
				return
			}
		}
	})
}

// The glossary defines each term once, and at least the terms the other
// guides lean on.
func TestGlossaryDefinesEachTermOnce(t *testing.T) {
	g := readGuide(t, "docs/architecture.md")
	term := regexp.MustCompile(`\*\*([^*]+)\*\*`)
	defined := map[string]int{}
	for _, line := range strings.Split(g.section(t, "## Glossary"), "\n") {
		if !strings.HasPrefix(line, "- **") {
			continue
		}
		head, _, _ := strings.Cut(line, ": ")
		for _, m := range term.FindAllStringSubmatch(head, -1) {
			defined[strings.ToLower(m[1])]++
		}
	}
	for term, n := range defined {
		if n > 1 {
			t.Errorf("the glossary defines %q %d times", term, n)
		}
	}
	for _, want := range []string{"tenant", "attempt", "setup link", "connection", "number", "project webhook",
		"number webhook", "delivery", "event", "idempotency key", "claim", "lease", "body kept aside",
		"kept-aside event", "pending event", "send", "outbox", "wamid", "bsuid", "conversation", "contact", "fact",
		"timeline", "reconciler run", "checkpoint", "mark", "dlq", "redrive"} {
		if defined[want] == 0 {
			t.Errorf("the glossary does not define %q", want)
		}
	}
}
