package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// Templates is the templates.Store on the bridge table: a tenant's
// templates and sync marks share one partition, so its catalog is one
// Query.
//
//	TEMPLATES#<tenant> / TPL#<waba>#<name>#<language>   one template: what Kapso reports of it, its status
//	                                                    history (a list), its version and the source of its change
//	TEMPLATES#<tenant> / SYNC#<waba>                    when the WABA's templates were last read whole
//
// A template is written whole, on the condition that its stored version is
// the one before; its change in the table's stream tells
// template.status_changed when its status moved (EventKeyPrefixes). A sync
// mark tells nothing. Reads are strongly consistent.
type Templates struct {
	DB    *dynamodb.Client
	Table string
}

var _ templates.Store = (*Templates)(nil)

// Attributes of the template and sync mark items that expressions name.
const (
	attrTemplateVersion = "version"
	attrSyncedAt        = "synced_at"
)

// Catalog implements templates.Store: one Query of the tenant's partition,
// a call a page.
func (s *Templates) Catalog(ctx context.Context, tenantID string) (templates.Catalog, error) {
	var cat templates.Catalog
	if tenantID == "" {
		return cat, nil
	}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: aws.String(s.Table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(templatesPK(tenantID))},
		ConsistentRead:            aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return templates.Catalog{}, fmt.Errorf("read templates of %s: %w", tenantID, err)
		}
		for _, it := range page.Items {
			switch sk := stringAttr(it[schema.AttrSK]); {
			case strings.HasPrefix(sk, templatePrefix):
				t, err := storedTemplateFrom(tenantID, it)
				if err != nil {
					return templates.Catalog{}, fmt.Errorf("read templates of %s: %s: %w", tenantID, sk, err)
				}
				cat.Templates = append(cat.Templates, t)
			case strings.HasPrefix(sk, syncMarkPrefix):
				n, _ := intAttr(it["template_count"])
				cat.Synced = append(cat.Synced, templates.SyncMark{BusinessAccountID: stringAttr(it["business_account_id"]),
					At: parseStamp(stringAttr(it[attrSyncedAt])), Count: int(n)})
			}
		}
	}
	return cat, nil
}

// Template implements templates.Store: one GetItem.
func (s *Templates) Template(ctx context.Context, tenantID string, k templates.Key) (templates.Template, bool, error) {
	if tenantID == "" || k.BusinessAccountID == "" || k.Name == "" || k.Language == "" {
		return templates.Template{}, false, nil
	}
	wrap := func(err error) error {
		return fmt.Errorf("read template %s (%s) of %s: %w", k.Name, k.Language, tenantID, err)
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: templateKey(tenantID, k),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return templates.Template{}, false, wrap(err)
	}
	if out.Item == nil {
		return templates.Template{}, false, nil
	}
	t, err := storedTemplateFrom(tenantID, out.Item)
	if err != nil {
		return templates.Template{}, false, wrap(err)
	}
	return t, true, nil
}

// SaveTemplates implements templates.Store: one conditional PutItem a
// changed template, in order, then one PutItem for the mark. A template
// whose stored version is not the one before its own is errs.Conflict, and
// stops the save there: the templates before it are stored, the mark is
// not. A mark older than the stored one is left as it is: a sync that
// read earlier and finished later does not move it back.
func (s *Templates) SaveTemplates(ctx context.Context, tenantID string, changed []templates.Template, mark *templates.SyncMark) error {
	if err := templates.CheckSave(tenantID, changed, mark); err != nil {
		return fmt.Errorf("save templates of %s: %w", tenantID, err)
	}
	for _, t := range changed {
		in := &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: templateItem(tenantID, t),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if t.Version > 1 {
			in.ConditionExpression = aws.String(attrTemplateVersion + " = :was")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":was": numberAttr(t.Version - 1)}
		}
		if _, err := s.DB.PutItem(ctx, in); err != nil {
			if isConditionFailed(err) {
				err = errs.E(errs.Conflict, "the template changed since it was read", err)
			}
			return fmt.Errorf("save template %s (%s) v%d of %s: %w", t.Name, t.Language, t.Version, tenantID, refused(err))
		}
	}
	if mark == nil {
		return nil
	}
	item := syncMarkKey(tenantID, mark.BusinessAccountID)
	item["business_account_id"] = str(mark.BusinessAccountID)
	item[attrSyncedAt] = str(sortKeyTime(mark.At))
	item["template_count"] = numberAttr(int64(mark.Count))
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR " + attrSyncedAt + " <= :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": item[attrSyncedAt]}})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("save the template sync mark of %s for %s: %w", mark.BusinessAccountID, tenantID, refused(err))
	}
	return nil
}

// templateItem is the item of a tenant's template.
func templateItem(tenantID string, t templates.Template) map[string]types.AttributeValue {
	it := templateKey(tenantID, t.Key())
	it["tenant_id"] = str(tenantID)
	it["business_account_id"], it["name"], it["language"] = str(t.BusinessAccountID), str(t.Name), str(t.Language)
	it[attrTemplateVersion] = numberAttr(t.Version)
	for name, v := range map[string]string{"template_id": t.ID, "category": t.Category, "status": t.Status,
		"rejected_reason": t.RejectedReason, "quality_score": t.QualityScore, "parameter_format": t.ParameterFormat,
		"source": t.Source, "updated_at": stampOrEmpty(t.UpdatedAt)} {
		if v != "" {
			it[name] = str(v)
		}
	}
	// The components are kept as the bytes they are: what Meta gave, never
	// decoded and encoded again.
	if len(t.Components) > 0 {
		it["components"] = &types.AttributeValueMemberB{Value: t.Components}
	}
	if len(t.History) > 0 {
		h := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, 0, len(t.History))}
		for _, c := range t.History {
			e := map[string]types.AttributeValue{"status": str(c.Status)}
			for name, v := range map[string]string{"reason": c.Reason, "source": c.Source, "at": stampOrEmpty(c.At)} {
				if v != "" {
					e[name] = str(v)
				}
			}
			h.Value = append(h.Value, &types.AttributeValueMemberM{Value: e})
		}
		it["history"] = h
	}
	return it
}

// storedTemplateFrom reads what templateItem wrote; the tenant is the
// partition's.
func storedTemplateFrom(tenantID string, it map[string]types.AttributeValue) (templates.Template, error) {
	version, err := intAttr(it[attrTemplateVersion])
	if err != nil {
		return templates.Template{}, fmt.Errorf("version: %w", err)
	}
	t := templates.Template{TenantID: tenantID, BusinessAccountID: stringAttr(it["business_account_id"]),
		Read: templates.Read{ID: stringAttr(it["template_id"]), Name: stringAttr(it["name"]), Language: stringAttr(it["language"]),
			Category: stringAttr(it["category"]), Status: stringAttr(it["status"]), RejectedReason: stringAttr(it["rejected_reason"]),
			QualityScore: stringAttr(it["quality_score"]), ParameterFormat: stringAttr(it["parameter_format"])},
		UpdatedAt: parseStamp(stringAttr(it["updated_at"])), Version: version, Source: stringAttr(it["source"])}
	if b, ok := it["components"].(*types.AttributeValueMemberB); ok && len(b.Value) > 0 {
		t.Components = slices.Clone(b.Value)
	}
	if v, found := it["history"]; found {
		l, ok := v.(*types.AttributeValueMemberL)
		if !ok {
			return templates.Template{}, fmt.Errorf("history is not a list")
		}
		for i, e := range l.Value {
			m, ok := e.(*types.AttributeValueMemberM)
			if !ok {
				return templates.Template{}, fmt.Errorf("history[%d] is not a map", i)
			}
			t.History = append(t.History, templates.StatusChange{Status: stringAttr(m.Value["status"]),
				Reason: stringAttr(m.Value["reason"]), At: parseStamp(stringAttr(m.Value["at"])), Source: stringAttr(m.Value["source"])})
		}
	}
	return t, nil
}

// stampOrEmpty is t's stamp, "" for the zero time.
func stampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return stamp(t)
}
