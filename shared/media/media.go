// Package media is the media domain: the copy of a message's media kept
// in kapso-bridge's own bucket, its state, Meta's size limits, and the
// interfaces of what copies and serves it (the bucket, Kapso, the store).
// Meta's and Kapso's media URLs expire (Kapso's download URL in minutes, a
// webhook's media id after 7 days), so the bytes are copied once and
// served from the bucket.
package media

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// State is where a message's copy of its media stands.
type State string

const (
	// Pending: the media is known and not copied yet.
	Pending State = "pending"
	// Stored: the bytes are in the bucket. It is final.
	Stored State = "stored"
	// Failed: the copy failed; Info.Error says why. The reconciler tries
	// again while Meta's media id lives, unless the reason is permanent.
	Failed State = "failed"
)

// MB is Meta's megabyte in its media limits.
const MB = 1024 * 1024

// Limits per message type, from Meta's supported media types: the most
// bytes kapso-bridge copies or uploads for each.
var limits = map[string]int64{
	"image":    5 * MB,
	"audio":    16 * MB,
	"voice":    16 * MB,
	"video":    16 * MB,
	"document": 100 * MB,
	"sticker":  500 * 1024, // animated; a static sticker is at most 100 KB
}

// MaxBytes is the most bytes a media of the message type may have; ok is
// false for a type that carries no media.
func MaxBytes(messageType string) (n int64, ok bool) {
	n, ok = limits[messageType]
	return n, ok
}

// HasMedia reports whether messages of the type carry media.
func HasMedia(messageType string) bool {
	_, ok := limits[messageType]
	return ok
}

// Media-id lifetimes, from Meta's media documentation.
const (
	// WebhookIDLifetime is how long a media id from a webhook can be
	// fetched.
	WebhookIDLifetime = 7 * 24 * time.Hour
	// UploadIDLifetime is how long an uploaded media id can be sent.
	UploadIDLifetime = 30 * 24 * time.Hour
)

// ObjectKey is the bucket key of a message's media: under the tenant, so
// that a tenant's objects share one prefix.
func ObjectKey(tenantID, phoneNumberID, mediaID string) string {
	return tenantID + "/" + phoneNumberID + "/" + mediaID
}

// UploadKey is the bucket key of a file a tenant uploaded, by its SHA-256
// (hex), so the same bytes are kept once.
func UploadKey(tenantID, phoneNumberID, sha256Hex string) string {
	return tenantID + "/" + phoneNumberID + "/uploads/" + sha256Hex
}

// TenantPrefix is the prefix of every object of the tenant.
func TenantPrefix(tenantID string) string { return tenantID + "/" }

// KeyTenant is the tenant whose object key is: its first segment, when
// that is a valid tenant id (so no "*" nor "/", which would widen a grant
// on the tenant's prefix), and something follows it.
func KeyTenant(key string) (string, bool) {
	tenantID, rest, ok := strings.Cut(key, "/")
	if !ok || rest == "" || !onboarding.ValidTenantID(tenantID) {
		return "", false
	}
	return tenantID, true
}

// Info is a message's copy of its media.
type Info struct {
	State State
	// MIMEType, Size and SHA256 (hex) are those of the stored bytes.
	MIMEType string
	Size     int64
	SHA256   string
	// Key is the object's key in the bucket, once stored.
	Key string
	// Error is why the copy failed: a Reason code, a colon, and a short
	// text.
	Error string
	// At is when the state was recorded.
	At time.Time
	// Attempts counts the failed copies.
	Attempts int
}

// Reason codes of a failed copy.
const (
	ReasonTooLarge    = "too_large"   // over Meta's limit for its type: permanent
	ReasonChecksum    = "checksum"    // the bytes do not have Kapso's sha256
	ReasonNotFound    = "not_found"   // Kapso or Meta no longer has the media
	ReasonUnavailable = "unavailable" // Kapso or the download failed: try again
	ReasonNoMediaID   = "no_media_id" // the message names no media id: permanent
	ReasonUnsupported = "unsupported" // a type that carries no media: permanent
	ReasonExpired     = "expired"     // older than Meta's media id lives: permanent
)

// RetryEvery is how often the reconciler copies a retryable failed media
// again: at most hourly per message.
const RetryEvery = time.Hour

// Failure is Info's Error for a reason and a text.
func Failure(reason, text string) string { return reason + ": " + text }

// Retryable reports whether a copy that failed for the reason in the error
// text (Info.Error) may succeed later.
func Retryable(infoError string) bool {
	reason, _, _ := strings.Cut(infoError, ":")
	switch reason {
	case ReasonTooLarge, ReasonNoMediaID, ReasonUnsupported, ReasonExpired:
		return false
	}
	return true
}

// ErrTooLarge is returned by Objects.Put when the body has more bytes than
// allowed.
var ErrTooLarge = errors.New("media larger than its limit")

// Put is what Objects.Put stored.
type Put struct {
	Size   int64
	SHA256 string // hex
}

// Objects is the bucket.
type Objects interface {
	// Put streams body into key with bounded memory, hashing as it goes.
	// It fails with ErrTooLarge once more than max bytes were read, and
	// leaves no object behind on any error.
	Put(ctx context.Context, key, contentType string, body io.Reader, max int64) (Put, error)
	// Delete removes key; a missing key is no error.
	Delete(ctx context.Context, key string) error
	// PresignGet is a URL that GETs key until ttl has passed, naming
	// filename as the download's file name when it is not empty.
	PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error)
}

// Metadata is Kapso's answer about a media id.
type Metadata struct {
	ID       string
	MIMEType string
	// SHA256 as Kapso gave it (Meta's is hex); empty when not given.
	SHA256   string
	FileSize int64
	// URL is the temporary URL (minutes); it needs Kapso's API key.
	URL string
	// DownloadURL needs no key and expires minutes after it was issued.
	DownloadURL string
}

// Source is Kapso, for media.
type Source interface {
	// Metadata is Kapso's answer about the number's media id.
	Metadata(ctx context.Context, phoneNumberID, mediaID string) (Metadata, error)
	// Open reads the media's bytes: from DownloadURL, else from URL.
	Open(ctx context.Context, m Metadata) (io.ReadCloser, error)
	// Upload sends a file to Kapso for the number and answers the media id
	// a send can name.
	Upload(ctx context.Context, phoneNumberID, mimeType, filename string, body io.Reader, size int64) (string, error)
}

// Retry is a message whose media the reconciler copies again.
type Retry struct {
	TenantID string
	WAMID    string
}

// Store keeps each message's Info, on the message itself.
type Store interface {
	// MediaState is the message's Info; ok is false for a message not
	// stored. A message with media and no Info yet is Pending.
	MediaState(ctx context.Context, tenantID, wamid string) (Info, bool, error)
	// SetMedia records info on the message. Stored is final: once stored,
	// a later SetMedia changes nothing. A Failed info that Retryable allows
	// makes the message a Retry due at next; a Stored one ends it.
	SetMedia(ctx context.Context, tenantID, wamid string, info Info, next time.Time) error
	// DueMediaRetries lists up to limit Retries due at or before now,
	// oldest due first.
	DueMediaRetries(ctx context.Context, now time.Time, limit int) ([]Retry, error)
}
