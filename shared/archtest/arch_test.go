// Package archtest checks the import rules that keep the domain at the
// centre: domain packages own their types and the interfaces of what they
// need, workers and handlers depend on those only, and adapters implement
// them; what ships links no test kit or local tooling. Every package has a
// role the rules name. It reads the module's import graph from go list.
package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// role names what a package is. Every package of the module under shared/,
// functions/, testkit/, infra/ and examples/ has exactly one, and the rules
// forbid imports by role. A pattern is a package path inside the module, or
// one ending in "/..." for that directory and every package below it.
type role struct {
	name     string
	packages []string
}

var roles = []role{
	// The domain: its types, rules, and the interfaces of what it needs.
	{"domain", []string{"shared/onboarding", "shared/messaging", "shared/idempotency", "shared/errs", "shared/eventing",
		"shared/media", "shared/templates", "shared/access", "shared/erasure",
		// Deleting a tenant.
		"shared/offboarding"}},
	// What crosses a boundary as bytes: Kapso's and Meta's payloads, the
	// queues' envelope, the HTTP routes, and the readers of raw JSON.
	{"wire format", []string{"shared/kapso", "shared/meta", "shared/envelope", "shared/rawjson", "shared/jsonscan",
		"shared/strictjson", "shared/routes",
		// kapso-bridge's public records (the API's answers and the events),
		// and the domain shown as them.
		"bridgeevents", "shared/apiview"}},
	{"handler", []string{"shared/httpapi", "shared/httpapi/webhook", "shared/httpapi/tenantapi", "shared/httpapi/redirect"}},
	{"worker", []string{"shared/lifecycleworker", "shared/messagesworker", "shared/outboundworker", "shared/reconcile",
		"shared/eventwebhooksworker", "shared/mediaworker",
		// What every queue worker does with a message before its own work.
		"shared/delivery",
		// The bridge table stream's consumer.
		"shared/publisher"}},
	// What talks to the world: Kapso, AWS's services (and the tables and
	// queues they hold), and Lambda's ways of calling a function.
	{"adapter", []string{"shared/kapsoapi", "shared/dynamo", "shared/sqsqueue", "shared/config/awssecrets", "shared/schema",
		"shared/lambdahttp", "shared/lambdasqs",
		// The local stack's reader of the bridge table's stream.
		"shared/dynamo/streams",
		// The events topic.
		"shared/snstopic",
		// The media bucket.
		"shared/s3media"}},
	// What builds each function from its settings.
	{"wiring", []string{"shared/app/...", "shared/config", "functions/..."}},
	{"test kit", []string{"testkit/...", "shared/archtest"}},
	// The local stack, the Kapso simulator, the tools behind make, and the
	// reading of the adapters that the CDK stack's tests do.
	{"local tooling", []string{"infra/local/...", "infra/awsaccess"}},
	// What a SaaS backend's own code looks like: consumers of the events.
	{"example", []string{"examples/..."}},
}

// roleDirs are where every package has a role.
var roleDirs = []string{"shared/", "functions/", "testkit/", "infra/", "bridgeevents", "examples/"}

// inRoles is the patterns of the named roles.
func inRoles(names ...string) []string {
	var out []string
	for _, r := range roles {
		if slices.Contains(names, r.name) {
			out = append(out, r.packages...)
		}
	}
	return out
}

// rule forbids a set of packages (patterns, as roles name them) to depend,
// directly or through others, on any import path starting with one of
// forbidden, unless it starts with one of allowed. Paths inside the module
// are written relative to it, each forbidden one with everything below it.
type rule struct {
	who       string
	packages  []string
	forbidden []string
	allowed   []string
	why       string
}

const awsSDK, smithy = "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"

// The Kapso adapter and the stores, which only the wiring hands to the
// packages that use them through their interfaces.
var adapters = []string{"shared/kapsoapi", "shared/dynamo", "shared/sqsqueue", "shared/snstopic", "shared/s3media"}

var rules = []rule{
	{
		who:       "domain or wire format",
		packages:  inRoles("domain", "wire format"),
		forbidden: append([]string{"github.com/aws/", "shared/httpapi"}, adapters...),
		why:       "domain packages import no AWS package, adapter or handler",
	},
	{
		who:       "worker or handler",
		packages:  inRoles("worker", "handler"),
		forbidden: append([]string{"github.com/aws/"}, adapters...),
		// The shape of the Lambda events a worker handles, not an AWS client.
		allowed: []string{"github.com/aws/aws-lambda-go/events"},
		why:     "workers and handlers depend on their domain's interfaces, not on the AWS SDK or its adapters",
	},
	{
		who:       "worker",
		packages:  inRoles("worker"),
		forbidden: []string{"shared/httpapi"},
		why:       "workers share nothing with the HTTP handlers but the domain",
	},
	{
		who:       "strict body reader",
		packages:  []string{"shared/strictjson"},
		forbidden: []string{"github.com/", "shared"},
		why:       "the body reader of the /v1 handlers stands on the standard library alone",
	},
	{
		who:       "events package",
		packages:  []string{"bridgeevents"},
		forbidden: []string{"github.com/", "shared", "testkit", "infra"},
		why:       "a SaaS backend imports bridgeevents: it must bring the standard library alone",
	},
	{
		who:       "example",
		packages:  inRoles("example"),
		forbidden: []string{"github.com/"},
		allowed:   []string{"bridgeevents"},
		why:       "an example stands, as a SaaS backend would, on bridgeevents and the standard library alone",
	},
	{
		who:       "in-memory twin",
		packages:  []string{"testkit/memstore"},
		forbidden: []string{awsSDK, smithy, "shared/dynamo", "shared/sqsqueue"},
		why:       "the twins hold what the adapters hold, without AWS",
	},
	{
		who:       "production package",
		packages:  []string{"shared/...", "functions/..."},
		forbidden: []string{"testkit", "infra/local"},
		why:       "what ships links no test kit and no local tooling",
	},
}

// ruleFor is the rule of who.
func ruleFor(t *testing.T, who string) rule {
	t.Helper()
	i := slices.IndexFunc(rules, func(r rule) bool { return r.who == who })
	if i < 0 {
		t.Fatalf("no rule for %s", who)
	}
	return rules[i]
}

// matchesPattern reports whether the module package p (relative to the
// module) is pattern's: the package itself, or, for "dir/...", dir and
// every package below it.
func matchesPattern(p, pattern string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == dir || strings.HasPrefix(p, dir+"/")
	}
	return p == pattern
}

// graph maps each package's import path to its imports.
type graph map[string][]string

func TestImportRules(t *testing.T) {
	module, g := moduleGraph(t)
	pkgs := modulePackages(g, module)
	checked := 0
	for _, r := range rules {
		for _, pattern := range r.packages {
			if !slices.ContainsFunc(pkgs, func(p string) bool { return matchesPattern(p, pattern) }) {
				t.Errorf("%s package %s is not in the module: update the rule", r.who, pattern)
			}
		}
		for _, v := range violations(g, module, r) {
			t.Error(v)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no rule checked")
	}
}

// Every package is in the rules: each under shared/, functions/, testkit/,
// infra/ and examples/ has exactly one role, and every role's pattern names
// a package.
func TestEveryPackageHasOneRole(t *testing.T) {
	module, g := moduleGraph(t)
	pkgs := modulePackages(g, module)
	for _, problem := range roleProblems(pkgs) {
		t.Error(problem)
	}
	for _, r := range roles {
		for _, pattern := range r.packages {
			if !slices.ContainsFunc(pkgs, func(p string) bool { return matchesPattern(p, pattern) }) {
				t.Errorf("%s package %s is not in the module: update its role", r.name, pattern)
			}
		}
	}
}

// The role check itself: a package in no role, or in two, is named.
func TestRoleProblemsNameThePackage(t *testing.T) {
	got := roleProblems([]string{"shared/onboarding", "shared/newthing", "functions/ingest", "docs", "testkit/memstore"})
	want := []string{`shared/newthing has no role: add it to one of roles ("domain", "wire format", "handler", ` +
		`"worker", "adapter", "wiring", "test kit", "local tooling", "example")`}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	saved := roles
	t.Cleanup(func() { roles = saved })
	roles = append(slices.Clone(roles), role{"extra", []string{"shared/..."}})
	if got := roleProblems([]string{"shared/onboarding"}); len(got) != 1 ||
		got[0] != `shared/onboarding has 2 roles: "domain", "extra"` {
		t.Errorf("problems %q", got)
	}
}

// roleProblems names each package under roleDirs that has no role, or more
// than one.
func roleProblems(pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		if !slices.ContainsFunc(roleDirs, func(dir string) bool { return strings.HasPrefix(p, dir) }) {
			continue
		}
		var in []string
		for _, r := range roles {
			if slices.ContainsFunc(r.packages, func(pattern string) bool { return matchesPattern(p, pattern) }) {
				in = append(in, strconv.Quote(r.name))
			}
		}
		switch {
		case len(in) == 0:
			names := make([]string, len(roles))
			for i, r := range roles {
				names[i] = strconv.Quote(r.name)
			}
			out = append(out, fmt.Sprintf("%s has no role: add it to one of roles (%s)", p, strings.Join(names, ", ")))
		case len(in) > 1:
			out = append(out, fmt.Sprintf("%s has %d roles: %s", p, len(in), strings.Join(in, ", ")))
		}
	}
	return out
}

// modulePackages is the module's packages in g, relative to the module.
func modulePackages(g graph, module string) []string {
	var out []string
	for p := range g {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			out = append(out, rel)
		}
	}
	slices.Sort(out)
	return out
}

// The checker itself: a violation names the importer, the offending import,
// and the chain that brings it in; an allowed import is no violation.
func TestViolationsNameTheOffendingImport(t *testing.T) {
	const m = "example.com/m"
	g := graph{
		m + "/shared/lifecycleworker":         {m + "/shared/onboarding", m + "/shared/store", "github.com/aws/aws-lambda-go/events"},
		m + "/shared/store":                   {m + "/shared/dynamo"},
		m + "/shared/dynamo":                  {awsSDK + "/service/dynamodb"},
		m + "/shared/onboarding":              {"time"},
		awsSDK + "/service/dynamodb":          nil,
		"github.com/aws/aws-lambda-go/events": nil,
	}
	r := ruleFor(t, "worker or handler")
	got := violations(g, m, r)
	want := "shared/lifecycleworker imports shared/dynamo (shared/lifecycleworker → shared/store → shared/dynamo): " + r.why
	if len(got) != 1 || got[0] != want {
		t.Fatalf("violations %q, want [%q]", got, want)
	}
	delete(g, m+"/shared/store")
	g[m+"/shared/lifecycleworker"] = []string{m + "/shared/onboarding"}
	if got := violations(g, m, r); len(got) != 0 {
		t.Fatalf("clean graph: %q", got)
	}
	// What ships never links the test kit or the local tooling.
	g[m+"/functions/ingest"] = []string{m + "/shared/app"}
	g[m+"/shared/app"] = []string{m + "/testkit/awstest"}
	g[m+"/testkit/awstest"] = nil
	prod := ruleFor(t, "production package")
	want = "shared/app imports testkit/awstest (shared/app → testkit/awstest): " + prod.why
	want2 := "functions/ingest imports testkit/awstest (functions/ingest → shared/app → testkit/awstest): " + prod.why
	if got := violations(g, m, prod); !slices.Equal(got, []string{want2, want}) {
		t.Fatalf("violations %q, want [%q %q]", got, want2, want)
	}
}

// violations lists, for each package the rule covers, every forbidden
// package it reaches first (nothing past a forbidden package is reported
// again), with the chain of imports that reaches it.
func violations(g graph, module string, r rule) []string {
	short := func(p string) string { return strings.TrimPrefix(p, module+"/") }
	covered := func(p string) bool {
		rel, ok := strings.CutPrefix(p, module+"/")
		return ok && slices.ContainsFunc(r.packages, func(pattern string) bool { return matchesPattern(rel, pattern) })
	}
	matches := func(p string, prefixes []string) bool {
		return slices.ContainsFunc(prefixes, func(pre string) bool {
			if !strings.HasPrefix(pre, "github.com/") {
				pre = module + "/" + pre
				return p == pre || strings.HasPrefix(p, pre+"/")
			}
			return strings.HasPrefix(p, pre)
		})
	}
	forbidden := func(p string) bool { return matches(p, r.forbidden) && !matches(p, r.allowed) }
	var out []string
	for _, pkg := range slices.Sorted(func(yield func(string) bool) {
		for p := range g {
			if covered(p) && !yield(p) {
				return
			}
		}
	}) {
		// Breadth first, so each offender is reported with a shortest chain.
		from := map[string]string{pkg: ""}
		queue := []string{pkg}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, imp := range g[p] {
				if _, seen := from[imp]; seen {
					continue
				}
				from[imp] = p
				if !forbidden(imp) {
					queue = append(queue, imp)
					continue
				}
				chain := []string{short(imp)}
				for q := p; q != ""; q = from[q] {
					chain = append([]string{short(q)}, chain...)
				}
				out = append(out, fmt.Sprintf("%s imports %s (%s): %s", short(pkg), short(imp), strings.Join(chain, " → "), r.why))
			}
		}
	}
	return out
}

// moduleGraph runs go list over the whole module and returns its path and
// the import graph of its packages and their dependencies (tests excluded:
// the rules are about what ships).
func moduleGraph(t *testing.T) (string, graph) {
	t.Helper()
	root := filepath.Join("..", "..")
	mod, err := goCommand(root, "list", "-m")
	if err != nil {
		t.Fatal(err)
	}
	out, err := goCommand(root, "list", "-deps", "-json=ImportPath,Imports", "./...")
	if err != nil {
		t.Fatal(err)
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("read go list output: %v", err)
		}
		g[p.ImportPath] = p.Imports
	}
	return strings.TrimSpace(string(mod)), g
}

func goCommand(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
