package s3media_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// bucket is a fresh bucket's Objects, its client and name.
func bucket(t *testing.T) (*s3media.Objects, *s3.Client, string) {
	client := awstest.S3(t)
	name := awstest.Bucket(t)
	return s3media.New(client, name), client, name
}

func get(ctx context.Context, client *s3.Client, name, key string) ([]byte, string, bool, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &name, Key: &key})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil, "", false, nil
		}
		return nil, "", false, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, aws.ToString(out.ContentType), true, err
}

func TestObjectsContract(t *testing.T) {
	storetest.RunObjects(t, func(t *testing.T) storetest.Objects {
		o, client, name := bucket(t)
		return storetest.Objects{Objects: o, Get: func(ctx context.Context, key string) ([]byte, string, bool, error) {
			return get(ctx, client, name, key)
		}}
	})
}

// stream is n bytes of a fixed seed, made as they are read.
type stream struct {
	r    *rand.Rand
	left int
}

func newStream(n int, seed uint64) *stream {
	return &stream{r: rand.New(rand.NewPCG(seed, 1)), left: n}
}

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), s.left)]
	for i := range p {
		p[i] = byte(s.r.Uint32())
	}
	s.left -= len(p)
	return len(p), nil
}

func sum(r io.Reader) string {
	h := sha256.New()
	_, _ = io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}

// parts is how many parts S3 says the object was uploaded in: a multipart
// ETag ends in -<parts>; a single put's has no dash.
func parts(t *testing.T, client *s3.Client, name, key string) string {
	t.Helper()
	head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &name, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	_, n, _ := strings.Cut(etag, "-")
	return n
}

func TestPutStreamsLargeBodiesInParts(t *testing.T) {
	ctx := context.Background()
	o, client, name := bucket(t)
	for _, c := range []struct {
		size  int
		parts string
	}{
		{20 << 20, "3"}, // two full parts and a smaller last one
		{16 << 20, "2"}, // ends on a part boundary: no empty third part
		{8<<20 - 1, ""}, // fits in one part: one PutObject
		{8 << 20, "1"},  // fills the first part: its end is only seen after
	} {
		key := "acme/106540352242922/large-" + string(rune('a'+c.size%26))
		want := sum(newStream(c.size, uint64(c.size)))
		p, err := o.Put(ctx, key, "video/mp4", newStream(c.size, uint64(c.size)), 100*media.MB)
		if err != nil {
			t.Fatalf("put %d bytes: %v", c.size, err)
		}
		if p.Size != int64(c.size) || p.SHA256 != want {
			t.Errorf("put %d bytes: %+v, want sha256 %s", c.size, p, want)
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &name, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if got := sum(out.Body); got != want {
			t.Errorf("%d bytes read back with sha256 %s, want %s", c.size, got, want)
		}
		out.Body.Close()
		if n := parts(t, client, name, key); n != c.parts {
			t.Errorf("%d bytes stored in %q parts, want %q", c.size, n, c.parts)
		}
	}
}

func TestPutLeavesNothingOnError(t *testing.T) {
	ctx := context.Background()
	o, client, name := bucket(t)
	broken := errors.New("connection reset")
	for what, c := range map[string]struct {
		body io.Reader
		max  int64
		want error
	}{
		"too large in the first part":    {newStream(6<<20, 1), 5 * media.MB, media.ErrTooLarge},
		"too large in a later part":      {newStream(20<<20, 2), 17 << 20, media.ErrTooLarge},
		"a body failing in a later part": {io.MultiReader(newStream(9<<20, 3), iotestErr{broken}), 100 * media.MB, broken},
	} {
		key := "acme/106540352242922/" + strings.ReplaceAll(what, " ", "-")
		if _, err := o.Put(ctx, key, "video/mp4", c.body, c.max); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", what, err, c.want)
		}
		if _, _, ok, err := get(ctx, client, name, key); ok || err != nil {
			t.Errorf("%s left an object (%v)", what, err)
		}
	}
	if keys := awstest.Keys(t, client, name); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestPresignedURLNamesTheFile(t *testing.T) {
	ctx := context.Background()
	o, _, _ := bucket(t)
	u, err := o.PresignGet(ctx, "acme/1/doc", 15*time.Minute, "Relatório final.pdf")
	if err != nil {
		t.Fatal(err)
	}
	q, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	d := q.Query().Get("response-content-disposition")
	if _, params, err := mime.ParseMediaType(d); err != nil || params["filename"] != "Relatório final.pdf" {
		t.Errorf("disposition %q: %v, %v", d, params, err)
	}
	if got := q.Query().Get("X-Amz-Expires"); got != "900" {
		t.Errorf("expires in %q seconds, want 900", got)
	}
	if !strings.Contains(q.Path, "/acme/1/doc") {
		t.Errorf("path %q: want the bucket addressed by path", q.Path)
	}
	u, err = o.PresignGet(ctx, "acme/1/doc", time.Minute, "")
	if err != nil || strings.Contains(u, "response-content-disposition") {
		t.Errorf("no file name: %s, %v", u, err)
	}
}

func TestContentDisposition(t *testing.T) {
	for name, want := range map[string]string{
		"cat.jpg":                 "cat.jpg",
		"Relatório 2026.pdf":      "Relatório 2026.pdf",
		"../../etc/passwd":        "passwd",
		`C:\Users\ana\photo.png`:  "photo.png",
		"a\"b\r\nContent-Type: x": "abContent-Type: x",
		"bad\xffutf8.txt":         "badutf8.txt",
		strings.Repeat("é", 300):  strings.Repeat("é", 200),
	} {
		d := s3media.ContentDisposition(name)
		if strings.ContainsAny(d, "\r\n\"\\") || !strings.HasPrefix(d, "attachment; filename*=UTF-8''") {
			t.Errorf("%q: disposition %q", name, d)
		}
		_, params, err := mime.ParseMediaType(d)
		if err != nil || params["filename"] != want {
			t.Errorf("%q: file name %q (%v), want %q", name, params["filename"], err, want)
		}
	}
	for _, name := range []string{"", "  ", "..", "dir/", "\x00\x01"} {
		if d := s3media.ContentDisposition(name); d != "" {
			t.Errorf("%q: disposition %q, want none", name, d)
		}
	}
}
