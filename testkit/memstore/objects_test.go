package memstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

func TestObjectsPresignedURLs(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	o := &memstore.Objects{Bucket: "media", Now: clk.Now}
	if _, err := o.Put(ctx, "acme/1/m", "image/png", strings.NewReader("png"), 10); err != nil {
		t.Fatal(err)
	}
	u, err := o.PresignGet(ctx, "acme/1/m", time.Minute, "a b.png")
	if want := "memstore://media/acme/1/m?expires=1800000060&filename=a+b.png"; err != nil || u != want {
		t.Fatalf("presigned %q, %v; want %q", u, err, want)
	}
	srv := httptest.NewServer(o)
	defer srv.Close()
	o.BaseURL = srv.URL
	u, err = o.PresignGet(ctx, "acme/1/m", time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := get(); s != http.StatusOK {
		t.Errorf("GET within its lifetime: %d", s)
	}
	clk.Advance(time.Minute + time.Second)
	if s := get(); s != http.StatusForbidden {
		t.Errorf("GET after its lifetime: %d, want 403", s)
	}
}
