package tenantapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// Media of the /v1 API.
const (
	// DefaultMediaURLTTL is how long a media URL the API hands out works.
	DefaultMediaURLTTL = 15 * time.Minute
	// MaxUploadBytes is the largest file one upload takes: API Gateway
	// hands Lambda requests of at most 6 MB, a binary body base64-encoded
	// (4 bytes for 3), with the request's headers around it. Meta's own
	// limits for the type, when lower (a sticker's), apply too.
	MaxUploadBytes = 4<<20 + 384<<10
	// maxFormOverhead is what a multipart upload may add to its file: the
	// boundaries, the part headers and a filename field.
	maxFormOverhead = 16 << 10
	// MaxUploadFilenameBytes bounds an upload's file name.
	MaxUploadFilenameBytes = 240
)

// UploadAnswer is the answer of POST …/media.
type UploadAnswer struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	MIMEType string `json:"mime_type"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Filename string `json:"filename"`
}

func (a *API) maxUploadBytes() int64 {
	if a.MaxUploadBytes > 0 {
		return a.MaxUploadBytes
	}
	return MaxUploadBytes
}

// MediaLinks links messages' media kept in the bucket: presigned URLs of
// the objects, valid TTL (DefaultMediaURLTTL when zero), and for an
// outbound message sent with an id uploaded through POST …/media, the
// upload (Uploads may be nil: then none is looked for).
type MediaLinks struct {
	Objects media.Objects
	Uploads media.Uploads
	TTL     time.Duration
}

// Shown is m as the API shows it: with the upload its outbound media id
// names, and a fresh URL of its stored media ("" when none is stored).
func (l MediaLinks) Shown(ctx context.Context, tenantID string, m messaging.StoredMessage) (messaging.StoredMessage, string, error) {
	m, err := l.withUpload(ctx, tenantID, m)
	if err != nil {
		return m, "", err
	}
	key, ok := apiview.MediaCopied(m)
	if !ok || l.Objects == nil {
		return m, "", nil
	}
	// The bucket presigns for the tenant the key is under: it must be the
	// tenant of the path.
	if owner, ok := media.KeyTenant(key); !ok || owner != tenantID {
		return m, "", errs.E(errs.Internal, "could not link the media",
			fmt.Errorf("media key %s of tenant %s's message is not under its prefix", key, tenantID))
	}
	u, err := l.Objects.PresignGet(ctx, key, cmp.Or(l.TTL, DefaultMediaURLTTL), m.Media.Filename)
	if err != nil {
		return m, "", errs.E(errs.Unavailable, "could not link the media; retry", fmt.Errorf("presign %s: %w", key, err))
	}
	return m, u, nil
}

// withUpload is m with the upload its media id names, for an outbound
// message sent with an id uploaded through POST …/media: its media is
// then the stored upload.
func (l MediaLinks) withUpload(ctx context.Context, tenantID string, m messaging.StoredMessage) (messaging.StoredMessage, error) {
	if l.Uploads == nil || m.Direction != messaging.Outbound || m.Media == nil || m.Media.ID == "" ||
		m.MediaCopy.State != "" {
		return m, nil
	}
	u, ok, err := l.Uploads.UploadByMediaID(ctx, tenantID, m.PhoneNumberID, m.Media.ID)
	if err != nil {
		return m, storeError(err, "load upload")
	}
	if !ok {
		return m, nil
	}
	md := *m.Media
	md.MIMEType = cmp.Or(md.MIMEType, u.MIMEType)
	md.Filename = cmp.Or(md.Filename, u.Filename)
	m.Media = &md
	m.MediaCopy = media.Info{State: media.Stored, MIMEType: u.MIMEType, Size: u.Size, SHA256: u.SHA256, Key: u.Key,
		At: u.CreatedAt}
	return m, nil
}

// shown is m's content as the API answers it (MediaLinks.Shown).
func (a *API) shown(ctx context.Context, tenantID string, m messaging.StoredMessage) (messaging.StoredMessage, string, error) {
	return MediaLinks{Objects: a.Objects, Uploads: a.Uploads, TTL: a.MediaURLTTL}.Shown(ctx, tenantID, m)
}

// summary is the message as a conversation lists it, with its media's URL.
func (a *API) summary(ctx context.Context, tenantID string, m messaging.StoredMessage) (MessageView, error) {
	m, u, err := a.shown(ctx, tenantID, m)
	if err != nil {
		return MessageView{}, err
	}
	v := apiview.MessageSummary(m)
	setMediaURL(v.MessageContent, u)
	return v, nil
}

// detail is the message with its status history, with its media's URL.
func (a *API) detail(ctx context.Context, tenantID string, m messaging.StoredMessage) (MessageDetail, error) {
	m, u, err := a.shown(ctx, tenantID, m)
	if err != nil {
		return MessageDetail{}, err
	}
	v := apiview.Message(m)
	setMediaURL(v.MessageContent, u)
	return v, nil
}

func setMediaURL(c *bridgeevents.MessageContent, u string) {
	if c != nil && c.Media != nil && u != "" {
		c.Media.URL = u
	}
}

// getMessageMedia serves GET …/messages/{id}/media: a 302 to a fresh
// presigned URL of the message's stored media.
func (a *API) getMessageMedia(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	id, err := pathID(r, routes.WAMID)
	if err != nil {
		return err
	}
	m, ok, err := a.Messages.Message(ctx, tenantID, id)
	if err != nil {
		return readError(err, "load message")
	}
	if !ok {
		return errs.E(errs.NotFound, "unknown message", nil)
	}
	m, u, err := a.shown(ctx, tenantID, m)
	if err != nil {
		return err
	}
	if u == "" {
		return mediaNotStored(m)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
	return nil
}

// mediaNotStored says why a message's media cannot be linked.
func mediaNotStored(m messaging.StoredMessage) error {
	if m.Media == nil {
		return errs.E(errs.NotFound, "the message has no media", nil)
	}
	v := apiview.Media(m)
	switch media.State(v.State) {
	case media.Pending:
		return &httpapi.MediaState{Err: errs.E(httpapi.MediaNotStored, "media not stored yet", nil), State: v.State}
	case media.Failed:
		return &httpapi.MediaState{Err: errs.E(httpapi.MediaNotStored, "the media could not be copied", nil),
			State: v.State, Reason: v.Error}
	}
	return errs.E(httpapi.MediaNotStored, "the media is not kept by kapso-bridge: it was sent by link or by an id not uploaded here", nil)
}

// uploadMedia serves POST …/media: the file, raw or as a form's file part,
// is kept in the bucket and uploaded to Kapso once for the number; the
// same bytes again answer the same media id (200, 201 the first time).
func (a *API) uploadMedia(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, log *slog.Logger) error {
	f, err := a.readUpload(r)
	if err != nil {
		return err
	}
	sender, err := a.sendingNumber(ctx, tenantID, r.URL.Query().Get(routes.PhoneNumberID))
	if err != nil {
		return err
	}
	number := sender.PhoneNumberID
	now := a.now()
	staleBefore := now.Add(-(media.UploadIDLifetime - 24*time.Hour))
	if u, ok, err := a.Uploads.Upload(ctx, tenantID, number, f.sha256); err != nil {
		return storeError(err, "load upload")
	} else if ok && u.Fresh(now) {
		noteResource(ctx, u.MediaID)
		httpapi.WriteJSON(w, http.StatusOK, uploadAnswer(u))
		return nil
	}
	key := media.UploadKey(tenantID, number, f.sha256)
	put, err := a.Objects.Put(ctx, key, f.mimeType, bytes.NewReader(f.body), int64(len(f.body)))
	if err != nil {
		return errs.E(errs.Unavailable, "could not store the file; retry", fmt.Errorf("put %s: %w", key, err))
	}
	if put.SHA256 != f.sha256 {
		return errs.E(errs.Internal, "the file changed while stored", fmt.Errorf("put %s: sha256 %s", key, put.SHA256))
	}
	id, err := a.MediaSource.Upload(ctx, number, f.mimeType, f.filename, bytes.NewReader(f.body), int64(len(f.body)))
	if err != nil {
		return kapsoError(fromKapso{err}, "upload media to Kapso")
	}
	u := media.Upload{TenantID: tenantID, PhoneNumberID: number, SHA256: f.sha256, MediaID: id, Type: f.messageType,
		MIMEType: f.mimeType, Size: int64(len(f.body)), Filename: f.filename, Key: key, CreatedAt: now}
	stored, created, err := a.Uploads.PutUpload(context.WithoutCancel(ctx), u, staleBefore)
	if err != nil {
		return storeError(err, "record upload")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		log.Info("media uploaded", "phone_number_id", number, "media_id", id, "size", u.Size, "type", u.Type)
	}
	noteResource(ctx, stored.MediaID)
	httpapi.WriteJSON(w, status, uploadAnswer(stored))
	return nil
}

func uploadAnswer(u media.Upload) UploadAnswer {
	return UploadAnswer{ID: u.MediaID, Type: u.Type, MIMEType: u.MIMEType, Size: u.Size, SHA256: u.SHA256, Filename: u.Filename}
}

// upload is a file read from an upload request.
type upload struct {
	body        []byte
	sha256      string
	messageType string
	mimeType    string
	filename    string
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readUpload reads the file of an upload request. Content-Length is never
// trusted: at most the limit and one byte more are read, and a body of
// another length than its Content-Length is refused. The file is buffered
// whole (it is at most MaxUploadBytes, a few MB) and hashed as it is read,
// since its bucket key is its SHA-256.
func (a *API) readUpload(r *http.Request) (upload, error) {
	limit := a.maxUploadBytes()
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return upload{}, errs.E(httpapi.UnsupportedMediaType, "Content-Type: required, the file's MIME type or multipart/form-data", nil)
	}
	declared := int64(-1)
	if cl := r.Header.Get("Content-Length"); cl != "" {
		if declared, err = strconv.ParseInt(cl, 10, 64); err != nil || declared < 0 {
			return upload{}, errs.E(errs.Invalid, "Content-Length: not a length", nil)
		}
	}
	form := mt == "multipart/form-data"
	total := limit
	if form {
		total += maxFormOverhead
	}
	if declared > total {
		return upload{}, tooLarge(limit, "this deployment's")
	}
	body := &countingReader{r: io.LimitReader(r.Body, total+1)}
	var f upload
	if form {
		f, err = readForm(body, params["boundary"], limit)
	} else {
		f.filename = r.URL.Query().Get("filename")
		f, err = readFile(body, mt, f.filename, limit)
	}
	if err != nil {
		return upload{}, err
	}
	// What follows the file (a form's closing boundary) is read too, so
	// that the length read is the body's.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return upload{}, readFailure(err)
	}
	switch {
	case body.n > total:
		return upload{}, tooLarge(limit, "this deployment's")
	case declared >= 0 && body.n != declared:
		return upload{}, errs.E(errs.Invalid, fmt.Sprintf("Content-Length: %d, but the body has %d bytes", declared, body.n), nil)
	}
	return f, nil
}

// readFile reads a file of the MIME type mt, hashing it as it goes.
func readFile(body io.Reader, mt, filename string, limit int64) (upload, error) {
	typ, bare, err := media.TypeOf(mt)
	if err != nil {
		return upload{}, errs.E(httpapi.UnsupportedMediaType, fmt.Sprintf("Content-Type: %s is not a media type WhatsApp takes (%s)",
			bare, strings.Join(media.MIMETypes(), ", ")), nil)
	}
	name, err := cleanFilename(filename)
	if err != nil {
		return upload{}, err
	}
	max, whose := limit, "this deployment's"
	if m, _ := media.MaxBytes(typ); m < max {
		max, whose = m, "WhatsApp's "+typ
	}
	h := sha256.New()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.TeeReader(io.LimitReader(body, max+1), h))
	switch {
	case err != nil:
		return upload{}, readFailure(err)
	case n > max:
		return upload{}, tooLarge(max, whose)
	case n == 0:
		return upload{}, errs.E(errs.Invalid, "the file is empty", nil)
	}
	return upload{body: buf.Bytes(), sha256: hexSum(h), messageType: typ, mimeType: bare, filename: name}, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// readForm reads a multipart form: one part "file" (with its
// Content-Type) and optionally "filename", which names the file instead of
// the part's own file name.
func readForm(body io.Reader, boundary string, limit int64) (upload, error) {
	if boundary == "" {
		return upload{}, errs.E(errs.Invalid, "Content-Type: multipart/form-data without a boundary", nil)
	}
	mr := multipart.NewReader(body, boundary)
	var f upload
	var named string
	seen := map[string]bool{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return upload{}, formFailure(err)
		}
		field := p.FormName()
		if seen[field] {
			return upload{}, errs.E(errs.Invalid, fmt.Sprintf("form: %q given twice", field), nil)
		}
		seen[field] = true
		switch field {
		case "file":
			if f, err = readFile(p, p.Header.Get("Content-Type"), p.FileName(), limit); err != nil {
				return upload{}, err
			}
		case "filename":
			b, err := io.ReadAll(io.LimitReader(p, MaxUploadFilenameBytes+1))
			if err != nil {
				return upload{}, formFailure(err)
			}
			if len(b) > MaxUploadFilenameBytes {
				return upload{}, errs.E(errs.Invalid, fmt.Sprintf("filename: at most %d bytes", MaxUploadFilenameBytes), nil)
			}
			named = string(b)
		default:
			return upload{}, errs.E(errs.Invalid, fmt.Sprintf("form: unknown field %q; give file and, optionally, filename", field), nil)
		}
	}
	if !seen["file"] {
		return upload{}, errs.E(errs.Invalid, "form: no file part", nil)
	}
	if named != "" {
		name, err := cleanFilename(named)
		if err != nil {
			return upload{}, err
		}
		f.filename = name
	}
	return f, nil
}

// cleanFilename is the file's base name; one too long or with control
// characters is refused.
func cleanFilename(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	if len(name) > MaxUploadFilenameBytes || base == "." || base == "/" || strings.ContainsFunc(name, unicode.IsControl) {
		return "", errs.E(errs.Invalid, fmt.Sprintf("filename: 1 to %d bytes, no control characters", MaxUploadFilenameBytes), nil)
	}
	return base, nil
}

func tooLarge(max int64, whose string) error {
	return errs.E(errs.TooLarge, fmt.Sprintf("the file is larger than %s limit of %d bytes (%.2f MiB)", whose, max,
		float64(max)/(1<<20)), nil)
}

// readFailure is a body that could not be read: one that ended before its
// Content-Length, or broke off.
func readFailure(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.E(errs.Invalid, "the body ended before its Content-Length", err)
	}
	return errs.E(errs.Invalid, "could not read body", err)
}

func formFailure(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.E(errs.Invalid, "form: the body ended before the form did", err)
	}
	return errs.E(errs.Invalid, "form: not a valid multipart form", err)
}
