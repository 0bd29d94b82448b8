package media

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Upload is a file a tenant uploaded for one of its numbers: its bytes in
// the bucket (UploadKey) and the media id Kapso gave them, which a send
// names.
type Upload struct {
	TenantID      string
	PhoneNumberID string
	// SHA256 (hex) of the bytes: the same bytes are one upload.
	SHA256 string
	// MediaID is the id Kapso answered; a send names it.
	MediaID string
	// Type is the message type the MIME type makes (image, audio, video,
	// document, sticker).
	Type     string
	MIMEType string
	Size     int64
	Filename string
	// Key is the object's key in the bucket.
	Key       string
	CreatedAt time.Time
}

// Fresh reports whether the upload's media id can still be sent at now:
// Meta keeps an uploaded id UploadIDLifetime; a day's margin leaves a send
// queued now the time to go.
func (u Upload) Fresh(now time.Time) bool {
	return now.Sub(u.CreatedAt) < UploadIDLifetime-24*time.Hour
}

// Uploads keeps the uploads, by their bytes and by their media id, so that
// the same bytes are uploaded to Kapso once and a message sent with an
// uploaded id is shown with the uploaded bytes.
type Uploads interface {
	// Upload is the tenant's upload of the bytes with sha256 on the number.
	Upload(ctx context.Context, tenantID, phoneNumberID, sha256 string) (Upload, bool, error)
	// UploadByMediaID is the tenant's upload that Kapso gave the media id
	// on the number.
	UploadByMediaID(ctx context.Context, tenantID, phoneNumberID, mediaID string) (Upload, bool, error)
	// PutUpload records u unless an upload of the same bytes on the number
	// created at or after staleBefore is recorded: then that one is
	// returned and created is false. Two racing uploads of the same bytes
	// record one; the other's media id is left unused.
	PutUpload(ctx context.Context, u Upload, staleBefore time.Time) (stored Upload, created bool, err error)
}

// ErrUnsupportedType marks a MIME type Meta does not take as media.
var ErrUnsupportedType = errors.New("media type not supported")

// mimeTypes are Meta's supported media types, by the message type each
// makes.
var mimeTypes = map[string]string{
	"image/jpeg":                    "image",
	"image/png":                     "image",
	"image/webp":                    "sticker",
	"audio/aac":                     "audio",
	"audio/amr":                     "audio",
	"audio/mpeg":                    "audio",
	"audio/mp4":                     "audio",
	"audio/ogg":                     "audio",
	"video/mp4":                     "video",
	"video/3gpp":                    "video",
	"text/plain":                    "document",
	"application/pdf":               "document",
	"application/msword":            "document",
	"application/vnd.ms-excel":      "document",
	"application/vnd.ms-powerpoint": "document",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "document",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
}

// TypeOf is the message type a file of the MIME type is sent as (its
// parameters, as "; codecs=opus", and case ignored), and the MIME type
// alone; an error wrapping ErrUnsupportedType for a type Meta does not
// take.
func TypeOf(mimeType string) (messageType, bare string, err error) {
	bare, _, _ = strings.Cut(mimeType, ";")
	bare = strings.ToLower(strings.TrimSpace(bare))
	t, ok := mimeTypes[bare]
	if !ok {
		return "", bare, ErrUnsupportedType
	}
	return t, bare, nil
}

// MIMETypes lists Meta's supported media types.
func MIMETypes() []string {
	return slices.Sorted(maps.Keys(mimeTypes))
}

// CheckUpload refuses an upload no store can record: one without its
// tenant, number, bytes' sha256, media id or key. The error is an
// *errs.Error with code Invalid.
func CheckUpload(u Upload) error {
	if u.TenantID == "" || u.PhoneNumberID == "" || u.SHA256 == "" || u.MediaID == "" || u.Key == "" {
		return errs.E(errs.Invalid, "upload without tenant, number, sha256, media id or key", nil)
	}
	return nil
}
