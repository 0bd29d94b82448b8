package app_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kapso-bridge/kapso-bridge/"

// What every function links to start: its settings, its logger and the AWS
// SDK configuration.
var linkedByAll = []string{"shared/app", "shared/config", "shared/schema"}

// mayLink lists, besides base, every package of this module each function
// may link.
var mayLink = map[string][]string{
	"ingest": {"shared/app/ingestapp", "shared/config/awssecrets", "shared/lambdahttp",
		"shared/httpapi", "shared/httpapi/webhook", "shared/dynamo", "shared/sqsqueue", "shared/routes",
		"shared/envelope", "shared/errs", "shared/idempotency", "shared/jsonscan", "shared/kapso", "shared/rawjson",
		"shared/meta", "shared/onboarding"},
	"tenantapi": {"shared/app/tenantapiapp", "shared/app/offboardapp", "shared/offboarding", "bridgeevents", "shared/access", "shared/apiview", "shared/config/awssecrets", "shared/lambdahttp",
		"shared/httpapi", "shared/httpapi/tenantapi", "shared/dynamo", "shared/kapsoapi", "shared/routes",
		// The messages' media: the bucket, Kapso's uploads, the uploads kept.
		"shared/media", "shared/s3media",
		"shared/errs", "shared/idempotency", "shared/onboarding",
		// The feed of events, read.
		"shared/eventing",
		// The tenant's messages, read side; the messages it sends, queued.
		"shared/messaging", "shared/media", "shared/kapso", "shared/meta", "shared/rawjson", "shared/sqsqueue",
		// The strict reader of the send and setup-link bodies.
		"shared/strictjson",
		// A person's erasure: its job and tombstones.
		"shared/erasure"},
	"redirect": {"shared/app/redirectapp", "shared/lambdahttp",
		"shared/httpapi/redirect", "shared/dynamo", "shared/sqsqueue", "shared/routes",
		"shared/envelope", "shared/errs", "shared/idempotency", "shared/onboarding"},
	// The lifecycle worker tells the messages queue that a number connected.
	"lifecycle": {"shared/app/lifecycleapp", "shared/config/awssecrets", "shared/lambdasqs", "shared/delivery",
		"shared/lifecycleworker", "shared/dynamo", "shared/sqsqueue", "shared/kapsoapi", "shared/routes",
		"shared/envelope", "shared/errs", "shared/idempotency", "shared/kapso", "shared/rawjson", "shared/meta",
		"shared/onboarding"},
	// The reconciler confirms numbers through the lifecycle worker, and so
	// announces them on the messages queue too.
	"reconcile": {"shared/app/reconcileapp", "shared/app/lifecycleapp", "shared/config/awssecrets",
		// Offboardings finished: the tables' items and the media objects.
		"shared/app/offboardapp", "shared/s3media", "shared/offboarding",
		"shared/reconcile", "shared/lifecycleworker", "shared/lambdasqs", "shared/delivery", "shared/dynamo", "shared/sqsqueue", "shared/kapsoapi", "shared/routes",
		"shared/envelope", "shared/errs", "shared/idempotency", "shared/kapso", "shared/rawjson", "shared/meta",
		"shared/onboarding",
		// A failed media copy goes back to the media queue as its message's event.
		"shared/media",
		// People's erasures, advanced: their media deleted from the bucket.
		"shared/erasure", "shared/s3media"},
	"messages": {"shared/app/messagesapp", "shared/config/awssecrets", "shared/erasure", "shared/lambdasqs", "shared/delivery",
		"shared/messagesworker", "shared/messaging", "shared/media", "shared/dynamo",
		"shared/envelope", "shared/errs", "shared/kapso", "shared/rawjson", "shared/meta"},
	// The stream's consumer decodes the bridge table's items, appends to
	// the feed and tells the topic; it keeps aside what it cannot read.
	"publisher": {"shared/app/publisherapp", "shared/publisher", "shared/dynamo", "shared/snstopic", "shared/eventing",
		"bridgeevents", "shared/apiview", "shared/messaging", "shared/media", "shared/onboarding", "shared/delivery", "shared/envelope",
		"shared/errs", "shared/kapso", "shared/rawjson", "shared/meta",
		// Template items tell template.status_changed.
		"shared/templates"},
	// The sender puts a paced or refused send back on its own queue.
	"outbound": {"shared/app/outboundapp", "shared/config/awssecrets", "shared/lambdasqs",
		"shared/outboundworker", "shared/messaging", "shared/media", "shared/dynamo", "shared/sqsqueue", "shared/kapsoapi",
		"shared/errs", "shared/kapso", "shared/rawjson", "shared/meta"},
	// The webhook sender reads and signs events, and keeps a message that
	// is none aside in the bridge table.
	"eventwebhooks": {"shared/app/eventwebhooksapp", "shared/config/awssecrets", "shared/lambdasqs", "shared/delivery",
		"shared/eventwebhooksworker", "bridgeevents", "shared/dynamo", "shared/sqsqueue", "shared/envelope"},
	// The media worker reads events, asks Kapso's Meta proxy for the media,
	// copies it into the bucket and records it on the message.
	"media": {"shared/app/mediaapp", "shared/config/awssecrets", "shared/lambdasqs", "shared/delivery",
		"shared/mediaworker", "shared/media", "bridgeevents", "shared/dynamo", "shared/sqsqueue", "shared/s3media",
		"shared/kapsoapi", "shared/envelope", "shared/errs", "shared/messaging", "shared/kapso", "shared/rawjson",
		"shared/meta"},
}

// linkedThroughAdapters are packages a function links only because an
// adapter package it uses also holds adapters it does not: in shared/dynamo,
// the payload and reject stores import shared/envelope, the message stores
// shared/messaging (and shared/media, whose copy a stored message carries)
// and shared/kapso (with what they import), the onboarding
// and claim stores shared/onboarding and shared/idempotency, the feed and
// the stream's decoder shared/eventing (with bridgeevents and
// shared/apiview); in shared/kapsoapi, the Platform API's client answers in
// shared/onboarding's and shared/messaging's terms, the Meta proxy in
// shared/messaging's. The test fails once one is no longer linked: delete
// the entry when the adapter package is split. shared/dynamo also keeps
// the media store and the uploads, so it links shared/media, the
// templates store, so it links shared/templates, the token store, so it
// links shared/access, and the offboardings and their erasers, so it links
// shared/offboarding.
var linkedThroughAdapters = map[string][]string{
	"ingest":    {"shared/erasure", "shared/messaging", "shared/media", "shared/eventing", "bridgeevents", "shared/apiview", "shared/templates", "shared/offboarding", "shared/access"},
	"tenantapi": {"shared/envelope", "shared/templates"},
	"redirect": {"shared/erasure", "shared/messaging", "shared/media", "shared/kapso", "shared/meta", "shared/rawjson", "shared/eventing", "bridgeevents",
		"shared/apiview", "shared/templates", "shared/offboarding", "shared/access"},
	"lifecycle": {"shared/erasure", "shared/messaging", "shared/media", "shared/eventing", "bridgeevents", "shared/apiview", "shared/templates", "shared/offboarding", "shared/access"},
	"reconcile": {"shared/messaging", "shared/media", "shared/eventing", "bridgeevents", "shared/apiview", "shared/templates", "shared/access"},
	"messages": {"shared/onboarding", "shared/idempotency", "shared/eventing", "bridgeevents", "shared/apiview",
		"shared/templates", "shared/offboarding", "shared/access"},
	"outbound": {"shared/erasure", "shared/onboarding", "shared/idempotency", "shared/envelope", "shared/eventing", "bridgeevents", "shared/apiview",
		"shared/templates", "shared/offboarding", "shared/access"},
	"publisher": {"shared/erasure", "shared/idempotency", "shared/offboarding", "shared/access"},
	"eventwebhooks": {"shared/erasure", "shared/onboarding", "shared/idempotency", "shared/messaging", "shared/media", "shared/errs", "shared/kapso",
		"shared/meta", "shared/rawjson", "shared/eventing", "shared/apiview", "shared/templates", "shared/offboarding", "shared/access"},
	"media": {"shared/erasure", "shared/onboarding", "shared/idempotency", "shared/eventing", "shared/apiview", "shared/templates", "shared/offboarding", "shared/access"},
}

// Every function loads the AWS SDK configuration, whose credential chain
// links these services' clients.
var baseServices = []string{"signin", "sso", "ssooidc", "sts"}

// mayCall lists, besides baseServices, the AWS service clients each
// function may link: the ones its wiring builds.
var mayCall = map[string][]string{
	"ingest":        {"dynamodb", "sqs", "secretsmanager"},
	"tenantapi":     {"dynamodb", "s3", "sqs", "secretsmanager"},
	"redirect":      {"dynamodb", "sqs"},
	"lifecycle":     {"dynamodb", "sqs", "secretsmanager"},
	"reconcile":     {"dynamodb", "sqs", "secretsmanager", "s3"},
	"messages":      {"dynamodb", "secretsmanager"},
	"outbound":      {"dynamodb", "sqs", "secretsmanager"},
	"publisher":     {"dynamodb", "sns"},
	"eventwebhooks": {"dynamodb", "sqs", "secretsmanager"},
	"media":         {"dynamodb", "s3", "sqs", "secretsmanager"},
}

const sdkServices = "github.com/aws/aws-sdk-go-v2/service/"

// functionsDir holds one directory per function.
var functionsDir = filepath.Join("..", "..", "functions")

// Each function links its own wiring and what that needs, never another
// function's worker or handler, nor an AWS client it does not call: every
// package linked costs binary size and cold start.
func TestEachFunctionLinksOnlyWhatItUses(t *testing.T) {
	dirs, err := os.ReadDir(functionsDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() {
			names = append(names, d.Name())
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			allowed, ok := mayLink[name]
			if !ok {
				t.Fatalf("functions/%s has no entry in mayLink: say which packages it may link", name)
			}
			imports := linkGraph(t, name)
			main := module + "functions/" + name
			linked := reachable(imports, main)
			pending := linkedThroughAdapters[name]
			services := map[string]bool{}
			for _, pkg := range sortedKeys(linked) {
				switch {
				case pkg == main:
				case strings.HasPrefix(pkg, module):
					rel := strings.TrimPrefix(pkg, module)
					if !slices.Contains(linkedByAll, rel) && !slices.Contains(allowed, rel) && !slices.Contains(pending, rel) {
						t.Errorf("%s links %s: %s", name, rel, chain(linked, pkg))
					}
				case strings.HasPrefix(pkg, sdkServices):
					svc, _, _ := strings.Cut(strings.TrimPrefix(pkg, sdkServices), "/")
					if svc != "internal" && !slices.Contains(baseServices, svc) && !slices.Contains(mayCall[name], svc) && !services[svc] {
						services[svc] = true
						t.Errorf("%s links the %s client: %s", name, svc, chain(linked, pkg))
					}
				}
			}
			for _, rel := range pending {
				if _, ok := linked[module+rel]; !ok {
					t.Errorf("%s no longer links %s: delete it from linkedThroughAdapters", name, rel)
				}
			}
		})
	}
	for name := range mayLink {
		if !slices.Contains(names, name) {
			t.Errorf("mayLink has %s, but functions/%s does not exist", name, name)
		}
	}
}

// linkGraph is every package the function's binary links, as Lambda's
// build (make build) sees them, with the packages each imports.
func linkGraph(t *testing.T, name string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc",
		"-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", filepath.Join(functionsDir, name))
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list functions/%s: %v\n%s", name, err, stderr.String())
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		graph[fields[0]] = fields[1:]
	}
	return graph
}

// reachable maps each package reachable from root to the package that
// first imported it ("" for root).
func reachable(graph map[string][]string, root string) map[string]string {
	from := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, imp := range graph[pkg] {
			if _, seen := from[imp]; !seen {
				from[imp] = pkg
				queue = append(queue, imp)
			}
		}
	}
	return from
}

// chain is how the function's main comes to link pkg, shortest first.
func chain(from map[string]string, pkg string) string {
	var path []string
	for p := pkg; p != ""; p = from[p] {
		path = append(path, strings.TrimPrefix(p, module))
	}
	slices.Reverse(path)
	return strings.Join(path, " → ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
