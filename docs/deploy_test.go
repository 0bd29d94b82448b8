package docs_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// deployRoute is a route in deploy.md's table: `METHOD /path`.
var deployRoute = regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`")

// deploy.md's table of the HTTP API's routes is every route of
// shared/routes, each under the function that serves it, and nothing else.
func TestDeployGuideListsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "## What gets created")
	section, _, _ = strings.Cut(section, "\n## ")
	table := map[string][]string{} // function -> routes
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 4 || !deployRoute.MatchString(cells[1]) {
			continue
		}
		fn := strings.Trim(strings.TrimSpace(cells[2]), "`")
		for _, m := range deployRoute.FindAllStringSubmatch(cells[1], -1) {
			table[fn] = append(table[fn], m[1]+" "+m[2])
		}
	}
	want := map[string][]routes.Route{"ingest": routes.Ingest, "tenantapi": routes.TenantAPI, "redirect": routes.Redirects}
	for fn, rs := range want {
		var patterns []string
		for _, r := range rs {
			patterns = append(patterns, r.Pattern())
		}
		slices.Sort(patterns)
		got := slices.Sorted(slices.Values(table[fn]))
		if !slices.Equal(got, patterns) {
			t.Errorf("deploy.md lists for %s:\n  %v\nshared/routes has:\n  %v", fn, got, patterns)
		}
	}
	for fn := range table {
		if _, ok := want[fn]; !ok {
			t.Errorf("deploy.md lists routes of %q, which serves none", fn)
		}
	}
}
