package tenantapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// fakeSource is Kapso's media uploads: each upload gets a new id.
type fakeSource struct {
	mu      sync.Mutex
	uploads []string // "<number> <mime> <filename> <size>"
}

func (f *fakeSource) Metadata(context.Context, string, string) (media.Metadata, error) {
	return media.Metadata{}, fmt.Errorf("not used")
}

func (f *fakeSource) Open(context.Context, media.Metadata) (io.ReadCloser, error) {
	return nil, fmt.Errorf("not used")
}

func (f *fakeSource) Upload(_ context.Context, number, mimeType, filename string, body io.Reader, size int64) (string, error) {
	b, err := io.ReadAll(body)
	if err != nil || int64(len(b)) != size {
		return "", fmt.Errorf("upload body: %d bytes of %d, %v", len(b), size, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, fmt.Sprintf("%s %s %s %d", number, mimeType, filename, size))
	return fmt.Sprintf("77%04d", len(f.uploads)), nil
}

// mediaAPI is the send API with the media's parts: an in-memory bucket
// served over HTTP, the fake Kapso and the uploads.
type mediaAPI struct {
	*sendAPI
	objects *memstore.Objects
	source  *fakeSource
	uploads *memstore.Uploads
}

func newMediaAPI(t *testing.T, maxUpload int64) *mediaAPI {
	t.Helper()
	m := &mediaAPI{objects: &memstore.Objects{}, source: &fakeSource{}, uploads: &memstore.Uploads{}}
	srv := httptest.NewServer(m.objects)
	t.Cleanup(srv.Close)
	m.objects.BaseURL = srv.URL
	m.sendAPI = newSendAPIWith(t, func(a *tenantapi.API) {
		a.Objects, a.MediaSource, a.Uploads, a.MaxUploadBytes = m.objects, m.source, m.uploads, maxUpload
		a.MediaURLTTL = 5 * time.Minute
	})
	m.objects.Now = func() time.Time { return m.now }
	return m
}

func (m *mediaAPI) do(method, path, contentType string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Content-Length", fmt.Sprint(len(body)))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	m.mux.ServeHTTP(rec, req)
	return rec
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
}

type apiError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		MediaState string `json:"media_state"`
		MediaError string `json:"media_error"`
	} `json:"error"`
}

func (m *mediaAPI) messageMedia(t *testing.T, id string) *tenantapi.MediaView {
	t.Helper()
	rec := m.do(http.MethodGet, "/v1/tenants/acme/messages/"+id, "", nil, nil)
	var out struct {
		Media *tenantapi.MediaView `json:"media"`
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("GET message %s: %d %s", id, rec.Code, rec.Body)
	}
	decodeJSON(t, rec, &out)
	return out.Media
}

// fetch GETs a presigned URL and answers its body.
func fetch(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return b
}

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 300)...)

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// An inbound image reads back pending, then, once copied, stored with a
// URL made afresh on each read; its media route redirects there. Failed
// shows the reason code alone. Another tenant sees nothing.
func TestMessageMediaStates(t *testing.T) {
	ctx := context.Background()
	m := newMediaAPI(t, 0)
	in := messaging.Message{WAMID: "wamid.img", PhoneNumberID: "111", Direction: messaging.Inbound, Type: "image",
		Text: "a cat", Timestamp: m.now.Add(-time.Minute), From: messaging.Person{Phone: "5215512345678"},
		Media: &messaging.Media{ID: "1001", MIMEType: "image/png", Caption: "a cat"}, ConversationID: "conv-ana"}
	if err := m.msgs.PutMessage(ctx, "acme", in, nil); err != nil {
		t.Fatal(err)
	}
	if v := m.messageMedia(t, "wamid.img"); v == nil || v.State != "pending" || v.URL != "" || v.ID != "1001" || v.Caption != "a cat" {
		t.Fatalf("pending: %+v", v)
	}
	rec := m.do(http.MethodGet, "/v1/tenants/acme/messages/wamid.img/media", "", nil, nil)
	var e apiError
	decodeJSON(t, rec, &e)
	if rec.Code != http.StatusNotFound || e.Error.Code != "media_not_stored" || e.Error.MediaState != "pending" {
		t.Fatalf("media route while pending: %d %s", rec.Code, rec.Body)
	}
	key := media.ObjectKey("acme", "111", "1001")
	if _, err := m.objects.Put(ctx, key, "image/png", bytes.NewReader(pngBytes), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := m.msgs.SetMedia(ctx, "acme", "wamid.img", media.Info{State: media.Stored, MIMEType: "image/png",
		Size: int64(len(pngBytes)), SHA256: hexSHA(pngBytes), Key: key, At: m.now}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	v := m.messageMedia(t, "wamid.img")
	if v == nil || v.State != "stored" || v.Size != int64(len(pngBytes)) || v.SHA256 != hexSHA(pngBytes) || v.URL == "" {
		t.Fatalf("stored: %+v", v)
	}
	if !bytes.Equal(fetch(t, v.URL), pngBytes) {
		t.Error("the URL does not give the bytes")
	}
	m.now = m.now.Add(time.Minute)
	if again := m.messageMedia(t, "wamid.img"); again.URL == v.URL {
		t.Error("the URL was not made afresh")
	}
	rec = m.do(http.MethodGet, "/v1/tenants/acme/messages/wamid.img/media", "", nil, nil)
	if rec.Code != http.StatusFound || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("media route: %d %v", rec.Code, rec.Header())
	}
	if !bytes.Equal(fetch(t, rec.Header().Get("Location")), pngBytes) {
		t.Error("the redirect does not give the bytes")
	}
	// Another tenant's path names no message of its own.
	for _, p := range []string{"/v1/tenants/globex/messages/wamid.img/media", "/v1/tenants/acme/messages/wamid.none/media"} {
		if rec := m.do(http.MethodGet, p, "", nil, nil); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), key) {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
	// A failed copy shows its reason code, never its text.
	other := in
	other.WAMID, other.Media = "wamid.big", &messaging.Media{ID: "1002", MIMEType: "video/mp4"}
	other.Type = "video"
	if err := m.msgs.PutMessage(ctx, "acme", other, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.msgs.SetMedia(ctx, "acme", "wamid.big", media.Info{State: media.Failed,
		Error: media.Failure(media.ReasonTooLarge, "file_size 99999999 over 16777216 at https://internal"), At: m.now}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v := m.messageMedia(t, "wamid.big"); v.State != "failed" || v.Error != "too_large" || v.URL != "" {
		t.Errorf("failed: %+v", v)
	}
	rec = m.do(http.MethodGet, "/v1/tenants/acme/messages/wamid.big/media", "", nil, nil)
	decodeJSON(t, rec, &e)
	if rec.Code != http.StatusNotFound || e.Error.MediaState != "failed" || e.Error.MediaError != "too_large" ||
		strings.Contains(rec.Body.String(), "internal") {
		t.Errorf("media route of a failed copy: %d %s", rec.Code, rec.Body)
	}
	// A message without media.
	text := in
	text.WAMID, text.Type, text.Media = "wamid.text", "text", nil
	if err := m.msgs.PutMessage(ctx, "acme", text, nil); err != nil {
		t.Fatal(err)
	}
	rec = m.do(http.MethodGet, "/v1/tenants/acme/messages/wamid.text/media", "", nil, nil)
	decodeJSON(t, rec, &e)
	if rec.Code != http.StatusNotFound || e.Error.Code != "not_found" {
		t.Errorf("media route of a text: %d %s", rec.Code, rec.Body)
	}
}

// A stored key under another tenant's prefix (a record gone wrong) is
// never presigned: the URL would read that tenant's objects.
func TestMediaKeyOfAnotherTenantIsNotLinked(t *testing.T) {
	ctx := context.Background()
	m := newMediaAPI(t, 0)
	in := messaging.Message{WAMID: "wamid.img", PhoneNumberID: "111", Direction: messaging.Inbound, Type: "image",
		Timestamp: m.now.Add(-time.Minute), From: messaging.Person{Phone: "5215512345678"},
		Media: &messaging.Media{ID: "1001", MIMEType: "image/png"}, ConversationID: "conv-ana"}
	if err := m.msgs.PutMessage(ctx, "acme", in, nil); err != nil {
		t.Fatal(err)
	}
	key := media.ObjectKey("globex", "111", "1001")
	if _, err := m.objects.Put(ctx, key, "image/png", bytes.NewReader(pngBytes), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := m.msgs.SetMedia(ctx, "acme", "wamid.img", media.Info{State: media.Stored, MIMEType: "image/png",
		Size: int64(len(pngBytes)), SHA256: hexSHA(pngBytes), Key: key, At: m.now}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/tenants/acme/messages/wamid.img", "/v1/tenants/acme/messages/wamid.img/media"} {
		rec := m.do(http.MethodGet, p, "", nil, nil)
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Location") != "" ||
			strings.Contains(rec.Body.String(), "globex") || strings.Contains(rec.Body.String(), "X-Amz") {
			t.Errorf("%s: %d %v %s", p, rec.Code, rec.Header(), rec.Body)
		}
	}
}

func form(t *testing.T, fields map[string]string, fileType, fileName string, file []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName)}
		if fileType != "" {
			h["Content-Type"] = []string{fileType}
		}
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Write(file)
	}
	_ = w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// A file is stored and uploaded to Kapso once: the same bytes again, raw
// or as a form, answer the same id. A send by that id reads back stored,
// with a URL of the upload.
func TestUploadOnceThenSendByID(t *testing.T) {
	m := newMediaAPI(t, 0)
	rec := m.do(http.MethodPost, "/v1/tenants/acme/media?phone_number_id=111&filename=receipt.png", "image/png", pngBytes, nil)
	var first tenantapi.UploadAnswer
	decodeJSON(t, rec, &first)
	want := tenantapi.UploadAnswer{ID: "770001", Type: "image", MIMEType: "image/png", SHA256: hexSHA(pngBytes),
		Filename: "receipt.png", Size: int64(len(pngBytes))}
	if rec.Code != http.StatusCreated || first != want {
		t.Fatalf("first upload: %d %+v", rec.Code, first)
	}
	stored, _, _, _ := m.objects.Get(context.Background(), media.UploadKey("acme", "111", want.SHA256))
	if !bytes.Equal(stored, pngBytes) {
		t.Fatal("the bytes are not in the bucket at the upload key")
	}
	ct, body := form(t, map[string]string{"filename": "other.png"}, "image/png", "x.png", pngBytes)
	for name, again := range map[string]*httptest.ResponseRecorder{
		"raw":  m.do(http.MethodPost, "/v1/tenants/acme/media", "image/png", pngBytes, nil),
		"form": m.do(http.MethodPost, "/v1/tenants/acme/media?phone_number_id=111", ct, body, nil),
	} {
		var got tenantapi.UploadAnswer
		decodeJSON(t, again, &got)
		if again.Code != http.StatusOK || got != want {
			t.Errorf("%s again: %d %+v", name, again.Code, got)
		}
	}
	if len(m.source.uploads) != 1 || m.source.uploads[0] != fmt.Sprintf("111 image/png receipt.png %d", len(pngBytes)) {
		t.Errorf("Kapso's uploads: %q", m.source.uploads)
	}
	// Other bytes as a form, named by its part.
	doc := []byte("%PDF-1.4 a receipt")
	ct, body = form(t, nil, "application/pdf", `C:\docs\r.pdf`, doc)
	rec = m.do(http.MethodPost, "/v1/tenants/acme/media?phone_number_id=111", ct, body, nil)
	var pdf tenantapi.UploadAnswer
	decodeJSON(t, rec, &pdf)
	if rec.Code != http.StatusCreated || pdf.Type != "document" || pdf.Filename != "r.pdf" || pdf.ID == want.ID {
		t.Errorf("pdf: %d %+v", rec.Code, pdf)
	}

	send := m.post("img-1", []byte(`{"to":"+5215512345678","type":"image","image":{"id":"`+want.ID+`","caption":"Your receipt"}}`))
	if send.Code != http.StatusAccepted {
		t.Fatalf("send: %d %s", send.Code, send.Body)
	}
	id := sentID(t, send)
	v := m.messageMedia(t, id)
	if v == nil || v.State != "stored" || v.ID != want.ID || v.Caption != "Your receipt" || v.SHA256 != want.SHA256 || v.URL == "" {
		t.Fatalf("sent by id: %+v", v)
	}
	if !bytes.Equal(fetch(t, v.URL), pngBytes) {
		t.Error("the sent message's URL does not give the upload")
	}
	// Once accepted under its WAMID, the same.
	ctx := context.Background()
	tr := messaging.Transition{From: []messaging.OutboundState{messaging.OutQueued}, To: messaging.OutSending, At: m.now}
	if _, err := m.msgs.MoveOutbound(ctx, "acme", id, tr); err != nil {
		t.Fatal(err)
	}
	tr = messaging.Transition{From: []messaging.OutboundState{messaging.OutSending}, To: messaging.OutAccepted, WAMID: "wamid.sent", At: m.now}
	if _, err := m.msgs.MoveOutbound(ctx, "acme", id, tr); err != nil {
		t.Fatal(err)
	}
	if v := m.messageMedia(t, "wamid.sent"); v == nil || v.State != "stored" || v.URL == "" {
		t.Errorf("accepted: %+v", v)
	}
	rec = m.do(http.MethodGet, "/v1/tenants/acme/messages/"+id+"/media", "", nil, nil)
	if rec.Code != http.StatusFound {
		t.Errorf("media route of the send: %d %s", rec.Code, rec.Body)
	}
	// A send by link is not kept here.
	send = m.post("img-2", []byte(`{"to":"+5215512345678","type":"image","image":{"link":"https://example.com/a.png"}}`))
	if v := m.messageMedia(t, sentID(t, send)); v == nil || v.State != "" || v.Link != "https://example.com/a.png" || v.URL != "" {
		t.Errorf("sent by link: %+v", v)
	}
}

// Bad uploads are refused with a clear error, and nothing is stored or
// sent to Kapso.
func TestUploadRefusals(t *testing.T) {
	m := newMediaAPI(t, 1024)
	big := bytes.Repeat([]byte{1}, 1025)
	noFile, noFileBody := form(t, map[string]string{"filename": "a.png"}, "", "", nil)
	badField, badFieldBody := form(t, map[string]string{"type": "image"}, "image/png", "a.png", pngBytes)
	for _, c := range []struct {
		name, path, contentType string
		body                    []byte
		hdr                     map[string]string
		status                  int
		code, says              string
	}{
		{"no content type", "/v1/tenants/acme/media", "", pngBytes, nil, 415, "unsupported_media_type", "Content-Type"},
		{"not media", "/v1/tenants/acme/media", "text/html", pngBytes, nil, 415, "unsupported_media_type", "text/html"},
		{"octet stream", "/v1/tenants/acme/media", "application/octet-stream", pngBytes, nil, 415, "unsupported_media_type", "octet-stream"},
		{"empty", "/v1/tenants/acme/media", "image/png", nil, nil, 400, "invalid", "empty"},
		{"over the limit", "/v1/tenants/acme/media", "image/png", big, nil, 413, "too_large", "1024 bytes"},
		{"over the limit, said", "/v1/tenants/acme/media", "image/png", pngBytes, map[string]string{"Content-Length": "999999"}, 413, "too_large", "1024"},
		{"Content-Length short of the body", "/v1/tenants/acme/media", "image/png", pngBytes, map[string]string{"Content-Length": "10"}, 400, "invalid", "Content-Length"},
		{"Content-Length not a length", "/v1/tenants/acme/media", "image/png", pngBytes, map[string]string{"Content-Length": "ten"}, 400, "invalid", "Content-Length"},
		{"another tenant's number", "/v1/tenants/acme/media?phone_number_id=222", "image/png", pngBytes, nil, 404, "not_found", "phone_number_id"},
		{"unknown tenant", "/v1/tenants/globex/media", "image/png", pngBytes, nil, 404, "not_found", "tenant"},
		{"unknown parameter", "/v1/tenants/acme/media?type=image", "image/png", pngBytes, nil, 400, "invalid", "type"},
		{"a filename with a control character", "/v1/tenants/acme/media?filename=a%0Ab.png", "image/png", pngBytes, nil, 400, "invalid", "filename"},
		{"form without a file", "/v1/tenants/acme/media", noFile, noFileBody, nil, 400, "invalid", "file"},
		{"form with an unknown field", "/v1/tenants/acme/media", badField, badFieldBody, nil, 400, "invalid", "type"},
		{"form without a boundary", "/v1/tenants/acme/media", "multipart/form-data", pngBytes, nil, 400, "invalid", "boundary"},
		{"form cut short", "/v1/tenants/acme/media", badField, badFieldBody[:len(badFieldBody)/2], nil, 400, "invalid", "form"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := m.do(http.MethodPost, c.path, c.contentType, c.body, c.hdr)
			var e apiError
			decodeJSON(t, rec, &e)
			if rec.Code != c.status || e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.says) {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	if len(m.objects.Keys()) != 0 || len(m.source.uploads) != 0 {
		t.Errorf("stored %q, uploaded %q", m.objects.Keys(), m.source.uploads)
	}
	if _, ok, _ := m.uploads.Upload(context.Background(), "acme", "111", hexSHA(pngBytes)); ok {
		t.Error("an upload was recorded")
	}
}
