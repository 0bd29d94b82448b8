package s3media_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
)

// The eraser deletes every object under the tenant's prefix, a page a
// call, and none of a tenant whose id its own prefixes.
func TestEraserDeletesTheTenantsObjectsOnly(t *testing.T) {
	ctx := context.Background()
	objects, client, name := bucket(t)
	for i := range 5 {
		for _, key := range []string{media.ObjectKey("acme", "111", fmt.Sprint("m", i)), media.ObjectKey("acme2", "222", fmt.Sprint("m", i))} {
			if _, err := objects.Put(ctx, key, "image/png", bytes.NewReader([]byte("png")), 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := objects.Put(ctx, media.UploadKey("acme", "111", "abc"), "image/png", bytes.NewReader([]byte("up")), 10); err != nil {
		t.Fatal(err)
	}
	e := &s3media.Eraser{Client: client, Bucket: name, Page: 2}
	target := offboarding.Target{TenantID: "acme"}
	deleted, calls, pos := 0, 0, "start"
	for pos != "" {
		n, next, err := e.Erase(ctx, target, pos)
		if err != nil {
			t.Fatal(err)
		}
		deleted, pos = deleted+n.Objects, next
		if calls++; calls > 10 {
			t.Fatal("the eraser never finished")
		}
	}
	if deleted != 6 || calls < 3 {
		t.Errorf("deleted %d objects in %d calls, want 6 in pages of 2", deleted, calls)
	}
	left := awstest.Keys(t, client, name)
	if len(left) != 5 || slices.ContainsFunc(left, func(k string) bool { return !strings.HasPrefix(k, "acme2/") }) {
		t.Errorf("left %q, want the other tenant's 5", left)
	}
	if n, next, err := e.Erase(ctx, target, ""); err != nil || n.Objects != 0 || next != "" {
		t.Errorf("erasing again: %+v %q %v", n, next, err)
	}
}
