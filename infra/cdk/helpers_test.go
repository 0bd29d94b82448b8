package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// The stack is synthesized once per test binary: jsii makes each synthesis
// cost seconds. The stack without a webhook URL is synthesized on first use.
var (
	template    assertions.Template
	annotations assertions.Annotations
	tpl         cfnTemplate
	assets      string

	withoutWebhooksOnce sync.Once
	withoutWebhooks     synthesized
	withoutWebhooksErr  error
)

// synthesized is one synthesized stack, with cdk-nag's findings on it.
type synthesized struct {
	template    assertions.Template
	annotations assertions.Annotations
	tpl         cfnTemplate
}

const (
	testSuccessURL = "https://app.example.com/connected"
	testFailureURL = "https://app.example.com/failed"
	// The test stack sends webhooks.
	testEventsWebhookURL = "https://app.example.com/kapso/events"
)

type cfnTemplate struct {
	Resources  map[string]cfnResource
	Outputs    map[string]map[string]any
	Parameters map[string]map[string]any
	Conditions map[string]any
}

type cfnResource struct {
	Type           string
	Properties     map[string]any
	DeletionPolicy string
	Condition      string
	Metadata       map[string]any
	DependsOn      []string
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	defer jsii.Close()
	var err error
	if assets, err = fakeAssets(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(assets)
	s, err := synth(map[string]string{"eventsWebhookUrl": testEventsWebhookURL})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	template, annotations, tpl = s.template, s.annotations, s.tpl
	return m.Run()
}

// synth synthesizes the stack with the test's settings and context, under
// cdk-nag's checks.
func synth(context map[string]string) (synthesized, error) {
	ctx := map[string]string{"assetDir": assets, "appSuccessUrl": testSuccessURL, "appFailureUrl": testFailureURL}
	for k, v := range context {
		ctx[k] = v
	}
	settings, err := LoadSettings(mapLookup(ctx), noEnv)
	if err != nil {
		return synthesized{}, err
	}
	app := awscdk.NewApp(nil)
	stack := NewKapsoBridgeStack(app, "KapsoBridge", &KapsoBridgeStackProps{Settings: settings})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	out := synthesized{template: assertions.Template_FromStack(stack, nil), annotations: assertions.Annotations_FromStack(stack)}
	raw, err := json.Marshal(out.template.ToJSON())
	if err == nil {
		err = json.Unmarshal(raw, &out.tpl)
	}
	return out, err
}

// stackWithoutWebhooks is the stack of a deploy that sets no
// eventsWebhookUrl.
func stackWithoutWebhooks(t *testing.T) synthesized {
	t.Helper()
	withoutWebhooksOnce.Do(func() { withoutWebhooks, withoutWebhooksErr = synth(nil) })
	if withoutWebhooksErr != nil {
		t.Fatal(withoutWebhooksErr)
	}
	return withoutWebhooks
}

// fakeAssets writes a placeholder bootstrap for every function.
func fakeAssets() (string, error) {
	dir, err := os.MkdirTemp("", "kapso-bridge-assets-")
	if err != nil {
		return "", err
	}
	for _, f := range functions {
		name := string(f.Name)
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, name, "bootstrap"), []byte(name), 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noEnv(string) string { return "" }

// assert runs a CDK assertion, which panics on failure, as a test error.
func assert(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// hashSuffix is the hash the CDK appends to a construct path's logical id.
var hashSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// construct strips the hash from a logical id: "LifecycleQueueDCEEFEA6" is
// "LifecycleQueue".
func construct(logicalID string) string { return hashSuffix.ReplaceAllString(logicalID, "") }

// one returns the single resource of a type whose logical id, without hash, is name.
func one(t *testing.T, typ, name string) (string, cfnResource) {
	t.Helper()
	return tpl.one(t, typ, name)
}

func (c cfnTemplate) one(t *testing.T, typ, name string) (string, cfnResource) {
	t.Helper()
	var ids []string
	for id, r := range c.Resources {
		if r.Type == typ && construct(id) == name {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want one %s named %s, found %v", typ, name, ids)
	}
	return ids[0], c.Resources[ids[0]]
}

func ofType(typ string) map[string]cfnResource { return tpl.ofType(typ) }

func (c cfnTemplate) ofType(typ string) map[string]cfnResource {
	out := map[string]cfnResource{}
	for id, r := range c.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// render turns a CloudFormation value into readable text: references become
// the construct name ("BridgeTable"), joins are concatenated.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = render(p)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if r, ok := v["Ref"]; ok {
			return construct(r.(string))
		}
		if g, ok := v["Fn::GetAtt"].([]any); ok {
			// A table's stream is apart from the table: "BridgeTable/stream".
			if g[1] == "StreamArn" {
				return construct(g[0].(string)) + "/stream"
			}
			return construct(g[0].(string))
		}
		if j, ok := v["Fn::Join"].([]any); ok {
			var out strings.Builder
			for _, p := range j[1].([]any) {
				out.WriteString(render(p))
			}
			return out.String()
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// list reads a CloudFormation value that is either one item or a list.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// prop walks nested properties: prop(r.Properties, "A", "B").
func prop(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// assertNagClean fails for every cdk-nag error or warning on s.
func assertNagClean(t *testing.T, s synthesized) {
	t.Helper()
	nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, e := range *s.annotations.FindError(jsii.String("*"), nag) {
		//lint:ignore SA1019 the CDK's Go binding answers FindError with this type and offers no other
		t.Errorf("cdk-nag error at %s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *s.annotations.FindWarning(jsii.String("*"), nag) {
		//lint:ignore SA1019 as above, for FindWarning
		t.Errorf("cdk-nag warning at %s: %v", *w.Id, w.Entry.Data)
	}
}
