package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// upload is an upload of tenant's on number of the bytes named by sum (a
// hex digit repeated), which Kapso gave id.
func upload(tenant, sum, id string, created time.Time) media.Upload {
	sha := strings.Repeat(sum, 64)
	return media.Upload{TenantID: tenant, PhoneNumberID: number, SHA256: sha, MediaID: id, Type: "image",
		MIMEType: "image/png", Size: 1234, Filename: "receipt.png", Key: media.UploadKey(tenant, number, sha),
		CreatedAt: created}
}

// RunUploads holds a store of uploads to its contract.
func RunUploads(t *testing.T, newStore func(t *testing.T) media.Uploads) {
	ctx := context.Background()
	byBytes := func(t *testing.T, s media.Uploads, tenant, phoneNumberID, sha string) (media.Upload, bool) {
		t.Helper()
		u, ok, err := s.Upload(ctx, tenant, phoneNumberID, sha)
		must(t, err)
		return u, ok
	}
	byID := func(t *testing.T, s media.Uploads, tenant, phoneNumberID, id string) (media.Upload, bool) {
		t.Helper()
		u, ok, err := s.UploadByMediaID(ctx, tenant, phoneNumberID, id)
		must(t, err)
		return u, ok
	}
	put := func(t *testing.T, s media.Uploads, u media.Upload, staleBefore time.Time) (media.Upload, bool) {
		t.Helper()
		got, created, err := s.PutUpload(ctx, u, staleBefore)
		must(t, err)
		return got, created
	}
	cases := map[string]func(t *testing.T, s media.Uploads){
		"an upload is found by its bytes and by its media id, by its tenant on its number only": func(t *testing.T, s media.Uploads) {
			u := upload(tenantA, "a", "9001", at(1))
			got, created := put(t, s, u, at(0))
			if !created {
				t.Error("the first put did not create")
			}
			equal(t, "put", got, u)
			got, ok := byBytes(t, s, tenantA, number, u.SHA256)
			equal(t, "by bytes", got, u)
			got, ok2 := byID(t, s, tenantA, number, "9001")
			equal(t, "by media id", got, u)
			if !ok || !ok2 {
				t.Errorf("found by bytes %v, by id %v", ok, ok2)
			}
			for _, c := range []struct{ tenant, number string }{{tenantB, number}, {tenantA, "999"}} {
				if _, ok := byBytes(t, s, c.tenant, c.number, u.SHA256); ok {
					t.Errorf("%s on %s sees the bytes", c.tenant, c.number)
				}
				if _, ok := byID(t, s, c.tenant, c.number, "9001"); ok {
					t.Errorf("%s on %s sees the media id", c.tenant, c.number)
				}
			}
			if _, ok := byBytes(t, s, tenantA, number, strings.Repeat("b", 64)); ok {
				t.Error("other bytes found")
			}
			if _, ok := byID(t, s, tenantA, number, "9002"); ok {
				t.Error("another media id found")
			}
		},
		"the same bytes again keep the first upload until it is stale": func(t *testing.T, s media.Uploads) {
			first := upload(tenantA, "c", "9101", at(1))
			put(t, s, first, at(0))
			again := upload(tenantA, "c", "9102", at(2))
			got, created := put(t, s, again, at(1))
			if created {
				t.Error("a fresh upload was replaced")
			}
			equal(t, "the first", got, first)
			if _, ok := byID(t, s, tenantA, number, "9102"); ok {
				t.Error("the refused upload's media id is recorded")
			}
			// Once the first is older than staleBefore, the bytes are
			// uploaded again; both ids still name the bytes.
			later := upload(tenantA, "c", "9103", at(5))
			got, created = put(t, s, later, at(3))
			if !created {
				t.Error("a stale upload was kept")
			}
			equal(t, "the later", got, later)
			u, _ := byBytes(t, s, tenantA, number, later.SHA256)
			equal(t, "by bytes after", u, later)
			u, _ = byID(t, s, tenantA, number, "9101")
			equal(t, "the first id", u, first)
			u, _ = byID(t, s, tenantA, number, "9103")
			equal(t, "the later id", u, later)
			// Another tenant's same bytes are an upload of its own.
			other := upload(tenantB, "c", "9104", at(2))
			if _, created := put(t, s, other, at(0)); !created {
				t.Error("another tenant's same bytes were refused")
			}
		},
		"racing uploads of the same bytes record one": func(t *testing.T, s media.Uploads) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			var got []media.Upload
			wins := 0
			for i := range 8 {
				wg.Go(func() {
					u := upload(tenantA, "d", "92"+string(rune('0'+i)), at(1))
					stored, created, err := s.PutUpload(ctx, u, at(0))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("put %d: %v", i, err)
					}
					if created {
						wins++
					}
					got = append(got, stored)
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Errorf("%d puts created", wins)
			}
			stored, _ := byBytes(t, s, tenantA, number, strings.Repeat("d", 64))
			for _, g := range got {
				equal(t, "every put answers the one recorded", g, stored)
			}
		},
		"malformed uploads are refused": func(t *testing.T, s media.Uploads) {
			good := upload(tenantA, "e", "9301", at(1))
			for name, edit := range map[string]func(u *media.Upload){
				"no tenant":   func(u *media.Upload) { u.TenantID = "" },
				"no number":   func(u *media.Upload) { u.PhoneNumberID = "" },
				"no sha256":   func(u *media.Upload) { u.SHA256 = "" },
				"no media id": func(u *media.Upload) { u.MediaID = "" },
				"no key":      func(u *media.Upload) { u.Key = "" },
			} {
				u := good
				edit(&u)
				_, _, err := s.PutUpload(ctx, u, at(0))
				var e *errs.Error
				if !errors.As(err, &e) || e.Code != errs.Invalid {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, ok := byBytes(t, s, tenantA, number, good.SHA256); ok {
				t.Error("a refused upload was recorded")
			}
			for _, q := range [][3]string{{"", number, good.SHA256}, {tenantA, "", good.SHA256}, {tenantA, number, ""}} {
				if _, ok := byBytes(t, s, q[0], q[1], q[2]); ok {
					t.Errorf("found by %q", q)
				}
				if _, ok := byID(t, s, q[0], q[1], q[2]); ok {
					t.Errorf("found by id %q", q)
				}
			}
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, newStore(t))
		})
	}
}
