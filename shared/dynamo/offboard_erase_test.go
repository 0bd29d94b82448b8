package dynamo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// tenantItems are one item of every layout a tenant's data takes in the
// bridge table (pk, sk, and the tenant_id of the lookups), for tenant t on
// number n: what an offboarding must delete.
func tenantItems(t, n string) [][3]string {
	return [][3]string{
		{"TENANT#" + t, "TENANT", ""}, {"TENANT#" + t, "FACT#link_created#sl#1", ""},
		{"TENANT#" + t, "UPLOAD#" + n + "#abc", ""}, {"TENANT#" + t, "UPLOADID#" + n + "#m1", ""},
		{"MSG#" + t + "#wamid.1", "MSG", ""}, {"MSG#" + t + "#wamid.1", "STATUS#read", ""},
		{"CONV#" + t + "#c1", "CONV", ""}, {"CONV#" + t + "#c2", "ALIAS", ""},
		{"CONTACT#" + t + "#" + n + "#bsuid.1", "CONTACT", ""}, {"OUT#" + t + "#o1", "OUT", ""},
		{"TEMPLATES#" + t, "TPL#waba#hello#en", ""}, {"TEMPLATES#" + t, "SYNC#waba", ""},
		{"MEDIARETRY", "2026-03-01T12:00:00.000000000Z#" + t + "#wamid.1", ""},
		{"PENDING#" + n, "event-1", ""}, {"CHECKPOINT#catchup:messages:" + n, "CHECKPOINT", ""},
		{"CHECKPOINT#catchup:conversations:" + n, "CHECKPOINT", ""},
		{"LINK#sl-" + t, "LINK", t}, {"CUSTOMER#cus-" + t, "CUSTOMER", t}, {"PHONE#" + n, "PHONE", t},
	}
}

func putItems(t *testing.T, db *dynamodb.Client, table string, items [][3]string, status string) {
	t.Helper()
	for _, it := range items {
		item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: it[0]},
			"sk": &types.AttributeValueMemberS{Value: it[1]}}
		if it[2] != "" {
			item["tenant_id"] = &types.AttributeValueMemberS{Value: it[2]}
		}
		if it[1] == "MSG" { // a message whose media is stored
			tenant := strings.Split(it[0], "#")[1]
			item["media_key"] = &types.AttributeValueMemberS{Value: media.ObjectKey(tenant, "111", "m1")}
		}
		if it[1] == "TENANT" {
			item["status"] = &types.AttributeValueMemberS{Value: status}
		}
		if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
}

func allKeys(t *testing.T, db *dynamodb.Client, table string) []string {
	t.Helper()
	var out []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			out = append(out, it["pk"].(*types.AttributeValueMemberS).Value+" / "+it["sk"].(*types.AttributeValueMemberS).Value)
		}
	}
	slices.Sort(out)
	return out
}

func keysOf(items [][3]string) []string {
	var out []string
	for _, it := range items {
		out = append(out, it[0]+" / "+it[1])
	}
	slices.Sort(out)
	return out
}

type noKapso struct{}

func (noKapso) RevokeSetupLink(context.Context, string, string) (onboarding.SetupLink, error) {
	return onboarding.SetupLink{}, nil
}
func (noKapso) DeleteWebhook(context.Context, string, string) error { return nil }

// deletedObjects records the media objects deleted.
type deletedObjects struct{ keys []string }

func (d *deletedObjects) Delete(_ context.Context, key string) error {
	d.keys = append(d.keys, key)
	return nil
}

type noFacts struct{}

func (noFacts) AppendFact(context.Context, string, onboarding.Fact) (onboarding.Connection, onboarding.Change, error) {
	return onboarding.Connection{}, onboarding.Change{}, nil
}

// An offboarding deletes every item of the tenant, in pages of three, and
// nothing of a tenant whose id it prefixes, nor a number that another
// tenant has since.
func TestErasersDeleteEveryItemOfTheTenantOnly(t *testing.T) {
	ctx := context.Background()
	db, names := awstest.DynamoDB(t), awstest.Tables(t)
	bridge, events := awstest.Bridge(names), awstest.Events(names)
	mine := tenantItems("acme", "111")
	others := tenantItems("acme2", "222")
	// Number 333 was acme's, and is another tenant's now.
	moved := [][3]string{{"PHONE#333", "PHONE", "beta"}}
	putItems(t, db, bridge, mine, string(onboarding.TenantDeleting))
	putItems(t, db, bridge, others, string(onboarding.TenantConnected))
	putItems(t, db, bridge, moved, "")
	feed := &dynamo.Feed{DB: db, Table: events}
	for i := range 5 {
		for _, tenant := range []string{"acme", "acme2"} {
			if err := feed.Append(ctx, []bridgeevents.Event{feedEvent(tenant, bridgeevents.MessageReceived, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	otherEvents := 0
	for _, k := range allKeys(t, db, events) {
		if strings.HasPrefix(k, "FEED#acme2 ") {
			otherEvents++
		}
	}

	store := &dynamo.Offboardings{DB: db, Table: bridge}
	objects := &deletedObjects{}
	r := &offboarding.Runner{Store: store, Tenants: noFacts{}, Kapso: noKapso{}, Erasers: []offboarding.Eraser{
		&dynamo.MessagingEraser{DB: db, Table: bridge, Page: 3, Objects: objects},
		&dynamo.TenantFeedEraser{DB: db, Table: events, Page: 2},
		&dynamo.TenantEraser{DB: db, Table: bridge, Page: 2, Objects: objects},
	}}
	j, _, err := store.Start(ctx, offboarding.Job{TenantID: "acme", Phase: offboarding.PhaseData,
		RequestedAt: time.Now(), PhoneNumberIDs: []string{"111", "333"}})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = r.Run(ctx, j); err != nil || !j.Done() {
		t.Fatalf("run: %v, %+v", err, j)
	}
	// The tenant's number stays as its tombstone, which answers for it.
	wantLeft := keysOf(append(slices.Clone(others), append(moved, [3]string{"PHONE#111", "PHONE", ""})...))
	var left []string
	for _, k := range allKeys(t, db, bridge) {
		if !strings.HasPrefix(k, "OFFBOARD#") {
			left = append(left, k)
		}
	}
	equalKeys(t, "bridge table", left, wantLeft)
	numbers := &dynamo.Numbers{DB: db, Table: bridge}
	if _, err := numbers.Secret(ctx, "111"); !errors.Is(err, onboarding.ErrNumberOffboarded) {
		t.Errorf("the number's secret after: %v, want ErrNumberOffboarded", err)
	}
	if _, _, err := numbers.TenantOfPhoneNumber(ctx, "111"); !errors.Is(err, onboarding.ErrNumberOffboarded) {
		t.Errorf("the number's tenant after: %v, want ErrNumberOffboarded", err)
	}
	if tenant, ok, err := numbers.TenantOfPhoneNumber(ctx, "333"); err != nil || !ok || tenant != "beta" {
		t.Errorf("the moved number: %q %v %v", tenant, ok, err)
	}
	var stackLeft, otherLeft int
	for _, k := range allKeys(t, db, events) {
		switch {
		case strings.HasPrefix(k, "FEED#* "):
			stackLeft++
		case strings.HasPrefix(k, "FEED#acme2 "):
			otherLeft++
		case strings.HasPrefix(k, "FEED#acme "):
			t.Errorf("the tenant's event left: %s", k)
		}
	}
	if otherLeft != otherEvents || stackLeft != otherEvents {
		t.Errorf("events left: the other tenant's %d (of %d), the stack's %d", otherLeft, otherEvents, stackLeft)
	}
	// The message's stored copy and the upload's file, of this tenant only.
	slices.Sort(objects.keys)
	if want := []string{media.ObjectKey("acme", "111", "m1"), media.UploadKey("acme", "111", "abc")}; !slices.Equal(objects.keys, want) {
		t.Errorf("media objects deleted %q, want %q", objects.keys, want)
	}
	if j.Counts.Objects != 2 {
		t.Errorf("counted %d objects, want 2", j.Counts.Objects)
	}
	if want := len(mine) + 10; j.Counts.Items != want {
		t.Errorf("counted %d items, want %d", j.Counts.Items, want)
	}
	// The tombstone is all that is left of the tenant.
	tomb, ok, err := store.Job(ctx, "acme")
	if err != nil || !ok || !tomb.Done() || tomb.PhoneNumberIDs != nil {
		t.Fatalf("tombstone: %v %v %+v", ok, err, tomb)
	}
}

func equalKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s holds\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
