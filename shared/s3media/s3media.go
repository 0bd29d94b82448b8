// Package s3media is the media bucket on S3: media.Objects.
package s3media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// PartSize is the size of every multipart upload part but the last, and
// of the one buffer Put holds: a body that fits in it is one PutObject.
const PartSize = 8 << 20

// cleanupTimeout bounds the abort or delete that follows a failed Put,
// which runs even once the caller's context is done.
const cleanupTimeout = 30 * time.Second

// Objects is media.Objects on one bucket. Objects are encrypted by the
// bucket's default encryption: Put sets none of its own.
type Objects struct {
	s3     *s3.Client
	bucket string
	// reads presigns the GETs: OwnReads or TenantReads.
	reads presigner
}

// presigner presigns GETs of the bucket's objects.
type presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error)
}

var _ media.Objects = (*Objects)(nil)

// New is the bucket's Objects through client, presigning GETs with
// client's own credentials.
func New(client *s3.Client, bucket string) *Objects {
	return &Objects{s3: client, bucket: bucket, reads: &OwnReads{presign: s3.NewPresignClient(client), bucket: bucket}}
}

// NewWithReadRole is the bucket's Objects through client, presigning each
// tenant's GETs with credentials of roleARN scoped to the tenant's prefix
// (see TenantReads).
func NewWithReadRole(client *s3.Client, bucket string, stsClient STS, roleARN string) (*Objects, error) {
	reads, err := NewTenantReads(s3.NewPresignClient(client), bucket, stsClient, roleARN)
	if err != nil {
		return nil, err
	}
	return &Objects{s3: client, bucket: bucket, reads: reads}, nil
}

// NewClient is kapso-bridge's S3 client. With an endpoint configured (the
// local S3 server, through AWS_ENDPOINT_URL_S3 or an option) it addresses
// buckets by path, since a local server has no per-bucket host names.
func NewClient(cfg aws.Config, opts ...func(*s3.Options)) *s3.Client {
	return s3.NewFromConfig(cfg, append(opts, func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})...)
}

// body reads a Put's body one part at a time, hashing and counting what
// it read; it reads at most max+1 bytes, enough to tell a body over max.
type body struct {
	r     io.Reader
	max   int64
	read  int64
	sum   hash.Hash
	buf   []byte
	ended bool
}

// next fills the buffer with the next part; ended says it is the last.
func (b *body) next() ([]byte, error) {
	n, err := io.ReadFull(b.r, b.buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		b.ended = true
	case err != nil:
		return nil, fmt.Errorf("read the body: %w", err)
	}
	b.read += int64(n)
	if b.read > b.max {
		return nil, media.ErrTooLarge
	}
	b.sum.Write(b.buf[:n])
	return b.buf[:n], nil
}

// Put implements media.Objects: one PutObject when the body fits in one
// part, else a multipart upload of PartSize parts, aborted on any error.
func (o *Objects) Put(ctx context.Context, key, contentType string, r io.Reader, max int64) (media.Put, error) {
	if key == "" || max < 0 {
		return media.Put{}, fmt.Errorf("put object %q: no key or a negative limit", key)
	}
	b := &body{r: io.LimitReader(r, max+1), max: max, sum: sha256.New(), buf: make([]byte, min(PartSize, max+1))}
	part, err := b.next()
	if err != nil {
		return media.Put{}, fmt.Errorf("put object %s: %w", key, err)
	}
	if b.ended {
		if _, err := o.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &o.bucket, Key: &key, ContentType: optional(contentType),
			Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))}); err != nil {
			// A put that failed on its answer may still have stored the object.
			o.cleanup(ctx, func(ctx context.Context) error { return o.Delete(ctx, key) })
			return media.Put{}, fmt.Errorf("put object %s: %w", key, err)
		}
	} else if err := o.multipart(ctx, key, contentType, b, part); err != nil {
		return media.Put{}, fmt.Errorf("put object %s: %w", key, err)
	}
	return media.Put{Size: b.read, SHA256: hex.EncodeToString(b.sum.Sum(nil))}, nil
}

// multipart uploads first and the rest of b as the parts of one object.
func (o *Objects) multipart(ctx context.Context, key, contentType string, b *body, first []byte) error {
	created, err := o.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &o.bucket, Key: &key,
		ContentType: optional(contentType)})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	var parts []types.CompletedPart
	part := first
	for n := int32(1); ; n++ {
		up, err := o.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: &o.bucket, Key: &key, UploadId: created.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))})
		if err != nil {
			o.abort(ctx, key, created.UploadId)
			return fmt.Errorf("upload part %d: %w", n, err)
		}
		// S3 takes a part's ETag with or without its quotes; without, it
		// is also what a local server that reads the XML loosely matches.
		etag := strings.Trim(aws.ToString(up.ETag), `"`)
		parts = append(parts, types.CompletedPart{ETag: &etag, PartNumber: aws.Int32(n)})
		if b.ended {
			break
		}
		if part, err = b.next(); err != nil {
			o.abort(ctx, key, created.UploadId)
			return err
		}
		if len(part) == 0 {
			break // the body ended on a part boundary: no empty part
		}
	}
	if _, err := o.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &o.bucket, Key: &key,
		UploadId: created.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		o.abort(ctx, key, created.UploadId)
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	return nil
}

// abort ends a multipart upload so that none of its parts is kept.
func (o *Objects) abort(ctx context.Context, key string, uploadID *string) {
	o.cleanup(ctx, func(ctx context.Context) error {
		_, err := o.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &o.bucket, Key: &key, UploadId: uploadID})
		return err
	})
}

// cleanup runs undo after a failed Put, even when ctx is done (a timeout
// is the usual failure). It is best effort: the failed Put's own error is
// what the caller sees, and the bucket's lifecycle rule ends uploads left
// incomplete.
func (o *Objects) cleanup(ctx context.Context, undo func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = undo(ctx)
}

// Delete implements media.Objects; S3 answers a missing key as deleted.
func (o *Objects) Delete(ctx context.Context, key string) error {
	if _, err := o.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &o.bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete object %s: %w", key, err)
	}
	return nil
}

// Deleter deletes objects of one bucket and does nothing else: what an
// offboarding needs of the bucket, which reads no object.
type Deleter struct {
	Client *s3.Client
	Bucket string
}

// Delete deletes the object; S3 answers a missing key as deleted.
func (d Deleter) Delete(ctx context.Context, key string) error {
	if _, err := d.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.Bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete object %s: %w", key, err)
	}
	return nil
}

// PresignGet implements media.Objects: a SigV4 presigned GetObject, which
// makes S3 answer the download with Content-Disposition naming filename.
// The key must be under a tenant (media.KeyTenant).
func (o *Objects) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	return o.reads.PresignGet(ctx, key, ttl, filename)
}

// maxFilename bounds a download's file name, in characters.
const maxFilename = 200

// ContentDisposition is an attachment header naming filename (RFC 6266,
// with RFC 5987's UTF-8 encoding), or "" when filename has nothing left
// once sanitized. The name comes from a WhatsApp user or a tenant: only
// its last path element is kept, invalid UTF-8, control characters,
// quotes and backslashes are dropped, and it is cut to maxFilename characters.
func ContentDisposition(filename string) string {
	name := strings.ToValidUTF8(filename, "")
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > maxFilename {
		name = string(r[:maxFilename])
	}
	if strings.Trim(name, ".") == "" {
		return ""
	}
	var enc strings.Builder
	for _, c := range []byte(name) {
		if isAttrChar(c) {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	return "attachment; filename*=UTF-8''" + enc.String()
}

// isAttrChar is RFC 5987's attr-char: what an ext-value leaves unencoded.
func isAttrChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateBuckets creates every schema bucket under prefix (for the local
// stack and tests; creating a bucket this account has answers it again),
// and returns their names by bucket ID.
func CreateBuckets(ctx context.Context, client *s3.Client, prefix string) (map[string]string, error) {
	out := map[string]string{}
	for _, b := range schema.Buckets {
		name := prefix + b.ID
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
			var owned *types.BucketAlreadyOwnedByYou
			if !errors.As(err, &owned) {
				return nil, fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		out[b.ID] = name
	}
	return out, nil
}
