package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// Objects is the in-memory media.Objects (twin of s3media.Objects): it
// keeps each object's bytes and content type in a map.
//
// Its presigned URLs are BaseURL/<bucket>/<key>?expires=<unix seconds>
// (with &filename=<name> when one is given): deterministic for a given
// clock, and served by Objects itself as an http.Handler, so a test can
// run it under httptest and set BaseURL to the server's URL to GET them.
// With no BaseURL they start memstore://.
type Objects struct {
	// Bucket names the bucket in URLs; "media" when empty.
	Bucket string
	// BaseURL is where ServeHTTP is reachable.
	BaseURL string
	// Now is the clock presigned URLs expire by.
	Now func() time.Time

	mu      sync.Mutex
	objects map[string]object
}

var (
	_ media.Objects = (*Objects)(nil)
	_ http.Handler  = (*Objects)(nil)
)

type object struct {
	body        []byte
	contentType string
}

// Put implements media.Objects: it reads at most max+1 bytes, so a body
// over max fails with media.ErrTooLarge having stored nothing.
func (o *Objects) Put(ctx context.Context, key, contentType string, body io.Reader, max int64) (media.Put, error) {
	if key == "" {
		return media.Put{}, fmt.Errorf("put object: no key")
	}
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return media.Put{}, fmt.Errorf("put object %s: %w", key, err)
	}
	if int64(len(b)) > max {
		return media.Put{}, fmt.Errorf("put object %s: %w", key, media.ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return media.Put{}, fmt.Errorf("put object %s: %w", key, err)
	}
	sum := sha256.Sum256(b)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.objects == nil {
		o.objects = map[string]object{}
	}
	o.objects[key] = object{body: b, contentType: contentType}
	return media.Put{Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// Delete implements media.Objects.
func (o *Objects) Delete(_ context.Context, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objects, key)
	return nil
}

// Get reads an object back: its bytes and content type; ok is false when
// there is none.
func (o *Objects) Get(_ context.Context, key string) (body []byte, contentType string, ok bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj, ok := o.objects[key]
	return slices.Clone(obj.body), obj.contentType, ok, nil
}

// Keys are the keys of the objects held, sorted.
func (o *Objects) Keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := make([]string, 0, len(o.objects))
	for k := range o.objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (o *Objects) bucket() string {
	if o.Bucket == "" {
		return "media"
	}
	return o.Bucket
}

// PresignGet implements media.Objects.
func (o *Objects) PresignGet(_ context.Context, key string, ttl time.Duration, filename string) (string, error) {
	if _, ok := media.KeyTenant(key); !ok || ttl <= 0 {
		return "", fmt.Errorf("presign %q: no tenant's key or no lifetime", key)
	}
	q := url.Values{"expires": {strconv.FormatInt(now(o.Now).Add(ttl).Unix(), 10)}}
	if filename != "" {
		q.Set("filename", filename)
	}
	base := o.BaseURL
	if base == "" {
		base = "memstore:/"
	}
	return base + "/" + o.bucket() + "/" + (&url.URL{Path: key}).EscapedPath() + "?" + q.Encode(), nil
}

// ServeHTTP answers a GET of a presigned URL: the bytes with their content
// type, and the file name as an attachment when the URL names one; 403 once
// expired, 404 for no such object.
func (o *Objects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/"+o.bucket()+"/")
	expires, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	switch {
	case r.Method != http.MethodGet || !ok || err != nil:
		http.Error(w, "not a presigned GET", http.StatusBadRequest)
		return
	case now(o.Now).Unix() > expires:
		http.Error(w, "expired", http.StatusForbidden)
		return
	}
	body, contentType, found, _ := o.Get(r.Context(), key)
	if !found {
		http.NotFound(w, r)
		return
	}
	if name := r.URL.Query().Get("filename"); name != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = io.Copy(w, bytes.NewReader(body))
}
