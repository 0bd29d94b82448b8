package dynamo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// Uploads share their tenant's partition; loading the tenant reads its
// item and facts only.
func TestUploadsStayOutOfTheTenantsLoad(t *testing.T) {
	ctx := context.Background()
	db, table := awstest.DynamoDB(t), awstest.Bridge(awstest.Tables(t))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	o := &dynamo.Onboarding{DB: db, Table: table, Now: func() time.Time { return now }}
	if err := o.EnsureTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("a", 64)
	u := media.Upload{TenantID: "acme", PhoneNumberID: "111", SHA256: sha, MediaID: "9001", Type: "image",
		MIMEType: "image/png", Size: 10, Key: media.UploadKey("acme", "111", sha), CreatedAt: now}
	if _, _, err := (&dynamo.Uploads{DB: db, Table: table}).PutUpload(ctx, u, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	c, ok, err := o.Load(ctx, "acme")
	if err != nil || !ok || c.Tenant.ID != "acme" || len(c.Facts) != 0 {
		t.Fatalf("load: %+v %v %v", c, ok, err)
	}
}
