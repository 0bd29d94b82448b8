package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// The templates store's calls: a catalog is one Query a page, a template
// one GetItem, a save one PutItem a changed template and one for the mark.
func TestTemplatesCallBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := &awstest.Calls{}
	s := &dynamo.Templates{Table: awstest.Bridge(awstest.Tables(t)),
		DB: awstest.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })}
	const tenant, waba = "acme", "102290129340398"
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tpl := func(name string, version int64, components string) templates.Template {
		return templates.Template{BusinessAccountID: waba, Read: templates.Read{Name: name, Language: "en_US",
			Status: templates.Approved, Components: json.RawMessage(components)}, Version: version, UpdatedAt: at}
	}
	mark := &templates.SyncMark{BusinessAccountID: waba, At: at, Count: 3}
	big := fmt.Sprintf(`[{"type":"BODY","text":%q}]`, strings.Repeat("x", 30<<10))
	var many []templates.Template
	for i := range 40 {
		many = append(many, tpl(fmt.Sprintf("bulk_%02d", i), 1, big))
	}
	for _, c := range []struct {
		name string
		call func() error
		want map[string]int
	}{
		{"three new templates and the mark", func() error {
			return s.SaveTemplates(ctx, tenant, []templates.Template{tpl("a", 1, `[]`), tpl("b", 1, `[]`), tpl("c", 1, `[]`)}, mark)
		}, map[string]int{"PutItem": 4}},
		{"two changed, no mark", func() error {
			return s.SaveTemplates(ctx, tenant, []templates.Template{tpl("a", 2, `[]`), tpl("b", 2, `[]`)}, nil)
		}, map[string]int{"PutItem": 2}},
		{"nothing changed: the mark alone", func() error { return s.SaveTemplates(ctx, tenant, nil, mark) },
			map[string]int{"PutItem": 1}},
		{"a conflict stops the save", func() error {
			if err := s.SaveTemplates(ctx, tenant, []templates.Template{tpl("a", 2, `[]`), tpl("d", 1, `[]`)}, mark); err == nil {
				return fmt.Errorf("a stale write was stored")
			}
			return nil
		}, map[string]int{"PutItem": 1}},
		{"one template", func() error {
			_, ok, err := s.Template(ctx, tenant, templates.Key{BusinessAccountID: waba, Name: "a", Language: "en_US"})
			if !ok && err == nil {
				err = fmt.Errorf("not found")
			}
			return err
		}, map[string]int{"GetItem": 1}},
		{"a key without a name", func() error {
			_, _, err := s.Template(ctx, tenant, templates.Key{BusinessAccountID: waba, Language: "en_US"})
			return err
		}, map[string]int{}},
		{"a catalog of one page", func() error {
			cat, err := s.Catalog(ctx, tenant)
			if err == nil && (len(cat.Templates) != 3 || len(cat.Synced) != 1) {
				err = fmt.Errorf("catalog %+v", cat)
			}
			return err
		}, map[string]int{"Query": 1}},
		{"forty large templates", func() error { return s.SaveTemplates(ctx, "globex", many, nil) }, map[string]int{"PutItem": 40}},
		{"a catalog of two pages", func() error {
			cat, err := s.Catalog(ctx, "globex")
			if err == nil && len(cat.Templates) != 40 {
				err = fmt.Errorf("%d templates", len(cat.Templates))
			}
			return err
		}, map[string]int{"Query": 2}},
	} {
		calls.Reset()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := calls.Counts(); !maps.Equal(got, c.want) {
			t.Errorf("%s: calls %v, want %v", c.name, got, c.want)
		}
	}
}
