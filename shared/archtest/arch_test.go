// Package archtest checks the import rules that keep the domain at the
// centre: domain packages own their types and the interfaces of what they
// need, workers and handlers depend on those only, and adapters implement
// them. It reads the module's import graph from go list.
package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rule forbids a set of packages (each with everything below it) to depend,
// directly or through others, on any import path starting with one of
// forbidden, unless it starts with one of allowed. Paths inside the module
// are written relative to it.
type rule struct {
	who       string
	packages  []string
	forbidden []string
	allowed   []string
	why       string
}

const awsSDK, smithy = "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"

var rules = []rule{
	{
		who:       "domain",
		packages:  []string{"shared/onboarding", "shared/idempotency", "shared/envelope", "shared/kapso", "shared/meta", "shared/rawjson", "shared/messaging", "shared/errs"},
		forbidden: []string{"github.com/aws/", "shared/dynamo", "shared/sqsqueue", "shared/httpapi"},
		why:       "domain packages import no AWS package, adapter or handler",
	},
	{
		who:       "worker or handler",
		packages:  []string{"shared/lifecycleworker", "shared/reconcile", "shared/httpapi", "shared/httpapi/webhook", "shared/httpapi/tenantapi", "shared/httpapi/redirect"},
		forbidden: []string{"github.com/aws/", "shared/dynamo", "shared/sqsqueue"},
		// The shape of the Lambda events a worker handles, not an AWS client.
		allowed: []string{"github.com/aws/aws-lambda-go/events"},
		why:     "workers and handlers depend on their domain's interfaces, not on the AWS SDK or its adapters",
	},
	{
		who:       "worker",
		packages:  []string{"shared/lifecycleworker", "shared/reconcile"},
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
		who:       "in-memory twin",
		packages:  []string{"testkit/memstore"},
		forbidden: []string{awsSDK, smithy, "shared/dynamo", "shared/sqsqueue"},
		why:       "the twins hold what the adapters hold, without AWS",
	},
}

// graph maps each package's import path to its imports.
type graph map[string][]string

func TestImportRules(t *testing.T) {
	module, g := moduleGraph(t)
	checked := 0
	for _, r := range rules {
		for _, p := range r.packages {
			if _, ok := g[module+"/"+p]; !ok {
				t.Errorf("%s package %s is not in the module: update the rule", r.who, p)
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
	got := violations(g, m, rules[1])
	want := "shared/lifecycleworker imports shared/dynamo (shared/lifecycleworker → shared/store → shared/dynamo): " + rules[1].why
	if len(got) != 1 || got[0] != want {
		t.Fatalf("violations %q, want [%q]", got, want)
	}
	delete(g, m+"/shared/store")
	g[m+"/shared/lifecycleworker"] = []string{m + "/shared/onboarding"}
	if got := violations(g, m, rules[1]); len(got) != 0 {
		t.Fatalf("clean graph: %q", got)
	}
}

// violations lists, for each package the rule covers, every forbidden
// package it reaches first (nothing past a forbidden package is reported
// again), with the chain of imports that reaches it.
func violations(g graph, module string, r rule) []string {
	short := func(p string) string { return strings.TrimPrefix(p, module+"/") }
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
			if matches(p, r.packages) && !yield(p) {
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
