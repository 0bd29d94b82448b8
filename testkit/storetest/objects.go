package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// Objects is a media.Objects and a way to read an object back.
type Objects struct {
	media.Objects
	// Get is the object's bytes and content type; ok is false when there is
	// no object under key.
	Get func(ctx context.Context, key string) (body []byte, contentType string, ok bool, err error)
}

// randomBytes are n bytes of a fixed seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// failingReader gives its bytes, then fails.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// RunObjects is the contract of a media.Objects. Each case gets a fresh
// store, which may share its bucket with others: keys are the case's own.
func RunObjects(t *testing.T, newObjects func(t *testing.T) Objects) {
	ctx := context.Background()
	absent := func(t *testing.T, o Objects, key string) {
		t.Helper()
		if _, _, ok, err := o.Get(ctx, key); ok || err != nil {
			t.Errorf("object %s: ok %v, %v; want none", key, ok, err)
		}
	}
	cases := map[string]func(t *testing.T, o Objects){
		"put stores the bytes, their size, sha256 and content type": func(t *testing.T, o Objects) {
			for _, body := range [][]byte{randomBytes(70_000, 1), {}, []byte("x")} {
				key := "acme/106540352242922/put-" + sha256Hex(body)[:8]
				p, err := o.Put(ctx, key, "image/png", bytes.NewReader(body), int64(len(body)))
				must(t, err)
				equal(t, "put", p, media.Put{Size: int64(len(body)), SHA256: sha256Hex(body)})
				got, ct, ok, err := o.Get(ctx, key)
				must(t, err)
				if !ok || !bytes.Equal(got, body) || ct != "image/png" {
					t.Errorf("read back %s: ok %v, %d bytes (want %d), type %q", key, ok, len(got), len(body), ct)
				}
			}
		},
		"put replaces an object": func(t *testing.T, o Objects) {
			key := "acme/106540352242922/replaced"
			for _, s := range []string{"first", "second"} {
				_, err := o.Put(ctx, key, "text/plain", bytes.NewReader([]byte(s)), 100)
				must(t, err)
			}
			got, _, _, err := o.Get(ctx, key)
			must(t, err)
			equal(t, "body", string(got), "second")
		},
		"a body over max is too large and leaves nothing": func(t *testing.T, o Objects) {
			key := "acme/106540352242922/too-large"
			_, err := o.Put(ctx, key, "image/jpeg", bytes.NewReader(randomBytes(1001, 2)), 1000)
			if !errors.Is(err, media.ErrTooLarge) {
				t.Errorf("put 1001 bytes with max 1000: %v, want ErrTooLarge", err)
			}
			absent(t, o, key)
		},
		"a failing body leaves nothing": func(t *testing.T, o Objects) {
			key := "acme/106540352242922/broken"
			broken := errors.New("connection reset")
			_, err := o.Put(ctx, key, "image/jpeg", &failingReader{r: bytes.NewReader(randomBytes(5000, 3)), err: broken}, 10_000)
			if !errors.Is(err, broken) {
				t.Errorf("put of a failing body: %v, want its error", err)
			}
			absent(t, o, key)
		},
		"delete removes, and a missing key is no error": func(t *testing.T, o Objects) {
			key := "acme/106540352242922/deleted"
			_, err := o.Put(ctx, key, "text/plain", bytes.NewReader([]byte("bye")), 10)
			must(t, err)
			must(t, o.Delete(ctx, key))
			absent(t, o, key)
			must(t, o.Delete(ctx, key))
		},
		"a presigned URL GETs the bytes, naming the file": func(t *testing.T, o Objects) {
			key := "acme/106540352242922/presigned"
			body := randomBytes(3000, 4)
			_, err := o.Put(ctx, key, "application/pdf", bytes.NewReader(body), 5000)
			must(t, err)
			for name, want := range map[string]string{"": "", "Relatório 2026.pdf": "Relatório 2026.pdf"} {
				u, err := o.PresignGet(ctx, key, 5*time.Minute, name)
				must(t, err)
				res, err := http.Get(u)
				must(t, err)
				got, err := io.ReadAll(res.Body)
				res.Body.Close()
				must(t, err)
				if res.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
					t.Fatalf("GET presigned %q: %s, %d bytes", name, res.Status, len(got))
				}
				equal(t, "content type", res.Header.Get("Content-Type"), "application/pdf")
				// A local S3 server may ignore the URL's response overrides:
				// the adapter's own test holds that its URL names the file.
				if d := res.Header.Get("Content-Disposition"); d != "" || want == "" {
					_, params, _ := mime.ParseMediaType(d)
					equal(t, "file name of "+name, params["filename"], want)
				}
			}
		},
		// A URL is scoped to the tenant its key is under: a key under no
		// valid tenant id would widen that scope, or name no tenant.
		"a key under no tenant is not presigned": func(t *testing.T, o Objects) {
			for _, key := range []string{"", "acme", "acme/", "/106540352242922/x", "*/106540352242922/x",
				"ac*me/106540352242922/x", ".acme/106540352242922/x", "-acme/106540352242922/x"} {
				if u, err := o.PresignGet(ctx, key, 5*time.Minute, ""); err == nil {
					t.Errorf("presign %q: %s, want an error", key, u)
				}
			}
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c(t, newObjects(t))
		})
	}
}
