package kapsoapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "media", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const fixtureSHA = "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3"

func TestMediaMetadataDecodesKapsoAnswers(t *testing.T) {
	for _, tc := range []struct {
		fixture  string
		download string
	}{
		{"get_media_url.json", ""},
		{"get_media_url_with_download_url.json", "https://api.kapso.ai/meta/whatsapp/media_download?token=signed-token"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			var path, query, key string
			s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) {
				path, query, key = r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-API-Key")
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(fixture(t, tc.fixture))
			})
			m, err := s.Metadata(context.Background(), "106540352242922", "2621233374848975")
			if err != nil {
				t.Fatal(err)
			}
			want := media.Metadata{ID: "2621233374848975", MIMEType: "image/jpeg", SHA256: fixtureSHA, FileSize: 303833,
				URL:         "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=2621233374848975&ext=1234567890&hash=...",
				DownloadURL: tc.download}
			if m != want {
				t.Errorf("metadata = %+v\nwant %+v", m, want)
			}
			if path != "/meta/whatsapp/v24.0/2621233374848975" || query != "phone_number_id=106540352242922" || key != testKey {
				t.Errorf("request %s?%s key %q", path, query, key)
			}
			if calls.Load() != 1 {
				t.Errorf("calls = %d", calls.Load())
			}
		})
	}
}

// answerCase is an answer of Kapso's and the errs code it must give,
// after that many calls.
type answerCase struct {
	name   string
	status int
	body   string
	want   errs.Code
	calls  int32
}

func TestMediaMetadataRefusals(t *testing.T) {
	for _, tc := range []answerCase{
		{"meta object does not exist", 400, string(fixture(t, "media_not_found.json")), errs.NotFound, 1},
		{"404", 404, `{"error":"Media not found"}`, errs.NotFound, 1},
		{"other 400", 400, `{"error":{"message":"(#100) Invalid parameter","code":100}}`, errs.Invalid, 1},
		{"wrong key", 401, `{"error":"Invalid API key"}`, errs.Unauthorized, 1},
		{"rate limited", 429, `{"error":"slow down"}`, errs.RateLimited, 3},
		{"kapso failing", 502, `{"error":"bad gateway"}`, errs.Unavailable, 3},
		{"another media", 200, `{"id":"999","url":"https://lookaside.fbsbx.com/x"}`, errs.BadGateway, 1},
		{"no url", 200, `{"id":"2621233374848975","mime_type":"image/jpeg"}`, errs.BadGateway, 1},
		{"negative size", 200, `{"id":"2621233374848975","file_size":-1,"url":"https://a.example/x"}`, errs.BadGateway, 1},
		{"fractional size", 200, `{"file_size":"1.5","url":"https://a.example/x"}`, errs.BadGateway, 1},
		{"bad sha256", 200, `{"sha256":"abc","url":"https://a.example/x"}`, errs.BadGateway, 1},
		{"bad mime type", 200, `{"mime_type":"image/","url":"https://a.example/x"}`, errs.BadGateway, 1},
		{"url not http", 200, `{"url":"file:///etc/passwd"}`, errs.BadGateway, 1},
		{"not an object", 200, `["x"]`, errs.BadGateway, 1},
		{"oversized", 200, `{"url":"https://a.example/x","pad":"` + strings.Repeat("x", maxMetadataBytes) + `"}`, errs.BadGateway, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, tc.status, tc.body) })
			_, err := s.Metadata(context.Background(), "106540352242922", "2621233374848975")
			if !errs.Is(err, tc.want) {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			if e, _ := errs.As(err); strings.Contains(e.Message, "Unsupported") || strings.Contains(e.Message, "lookaside") {
				t.Errorf("message leaks the answer: %q", e.Message)
			}
			if calls.Load() != tc.calls {
				t.Errorf("calls = %d, want %d", calls.Load(), tc.calls)
			}
		})
	}
}

func TestMediaMetadataEmptyIDsMakeNoCall(t *testing.T) {
	s, calls, _ := newTestSender(t, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, `{}`) })
	for _, ids := range [][2]string{{"", "1"}, {"1", ""}, {" ", "1"}} {
		if _, err := s.Metadata(context.Background(), ids[0], ids[1]); err == nil {
			t.Errorf("%q: no error", ids)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("calls = %d", calls.Load())
	}
}

// mediaServer serves a file at /meta/whatsapp/media_download and
// /meta/whatsapp/file, answering each request with the next status of
// statuses (200 once they run out), and records the API keys it was sent.
type mediaServer struct {
	statuses []int
	keys     []string
	calls    atomic.Int32
}

func (m *mediaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(m.calls.Add(1))
	m.keys = append(m.keys, r.Header.Get("X-API-Key"))
	if n <= len(m.statuses) && m.statuses[n-1] != 200 {
		reply(w, m.statuses[n-1], `{"error":"no"}`)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write([]byte("the bytes"))
}

func newMediaProxy(t *testing.T, h http.Handler) (*MetaProxy, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return NewMetaProxy(srv.URL+"/meta/whatsapp", "v24.0", testKey, WithRetry(3, time.Millisecond, 5*time.Millisecond)), srv.URL
}

func TestMediaOpenStreamsWithTheKeyOnlyOffTheTokenURL(t *testing.T) {
	ms := &mediaServer{}
	s, base := newMediaProxy(t, ms)
	for _, tc := range []struct {
		m   media.Metadata
		key string
	}{
		{media.Metadata{ID: "1", URL: base + "/meta/whatsapp/file", DownloadURL: base + "/meta/whatsapp/media_download?token=t"}, ""},
		{media.Metadata{ID: "1", URL: base + "/meta/whatsapp/file"}, testKey},
	} {
		ms.keys = nil
		rc, err := s.Open(context.Background(), tc.m)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "the bytes" || len(ms.keys) != 1 || ms.keys[0] != tc.key {
			t.Errorf("%+v: body %q, keys %q", tc.m, b, ms.keys)
		}
	}
}

func TestMediaOpenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		token    bool
		want     errs.Code
		expired  bool
		calls    int32
	}{
		{"gone", []int{404}, true, errs.NotFound, false, 1},
		{"410", []int{410}, false, errs.NotFound, false, 1},
		{"token expired", []int{403}, true, errs.Unavailable, true, 1},
		{"token 401", []int{401}, true, errs.Unavailable, true, 1},
		{"key refused", []int{401}, false, errs.Unauthorized, false, 1},
		{"url expired", []int{403}, false, errs.Unavailable, true, 1},
		{"failing", []int{500, 503, 500}, true, errs.Unavailable, false, 3},
		{"rate limited", []int{429}, true, errs.RateLimited, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := &mediaServer{statuses: tc.statuses}
			s, base := newMediaProxy(t, ms)
			m := media.Metadata{ID: "1", URL: base + "/meta/whatsapp/file"}
			if tc.token {
				m.DownloadURL = base + "/meta/whatsapp/media_download?token=t"
			}
			_, err := s.Open(context.Background(), m)
			if !errs.Is(err, tc.want) || errors.Is(err, ErrMediaExpired) != tc.expired {
				t.Fatalf("err = %v, want %s (expired %v)", err, tc.want, tc.expired)
			}
			if e, _ := errs.As(err); strings.Contains(e.Message, "token") && !tc.expired {
				t.Errorf("message %q", e.Message)
			}
			if ms.calls.Load() != tc.calls {
				t.Errorf("calls = %d, want %d", ms.calls.Load(), tc.calls)
			}
		})
	}
}

func TestMediaOpenRetriesAFailureBeforeTheBody(t *testing.T) {
	ms := &mediaServer{statuses: []int{502}}
	s, base := newMediaProxy(t, ms)
	rc, err := s.Open(context.Background(), media.Metadata{DownloadURL: base + "/meta/whatsapp/media_download?token=t"})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if ms.calls.Load() != 2 {
		t.Errorf("calls = %d", ms.calls.Load())
	}
}

func TestMediaOpenRefusesURLsItDoesNotFetch(t *testing.T) {
	ms := &mediaServer{}
	s, base := newMediaProxy(t, ms)
	other := httptest.NewServer(ms)
	defer other.Close()
	for _, raw := range []string{
		other.URL + "/x",                  // http elsewhere than Kapso's origin
		"https://127.0.0.1/x",             // not public
		"https://localhost/x",             // not public
		"https://169.254.169.254/latest/", // cloud metadata
		"https://10.0.0.1/x",
		"https://user:pw@a.example/x",
		"ftp://a.example/x",
		"/meta/whatsapp/file",
	} {
		_, err := s.Open(context.Background(), media.Metadata{ID: "1", DownloadURL: raw})
		if !errs.Is(err, errs.BadGateway) {
			t.Errorf("%s: err = %v", raw, err)
		}
	}
	// A redirect from Kapso's origin is held to the same rules.
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusFound)
	})
	s2, base2 := newMediaProxy(t, redirect)
	if _, err := s2.Open(context.Background(), media.Metadata{URL: base2 + "/meta/whatsapp/file"}); !errs.Is(err, errs.BadGateway) {
		t.Errorf("redirect elsewhere: %v", err)
	}
	if ms.calls.Load() != 0 {
		t.Errorf("a refused URL was fetched %d times", ms.calls.Load())
	}
	_ = base
}

func TestMediaOpenConnectsOnlyToPublicAddressesElsewhere(t *testing.T) {
	for addr, ok := range map[string]bool{"8.8.8.8:443": true, "[2606:4700::1111]:443": true,
		"127.0.0.1:443": false, "[::1]:443": false, "169.254.169.254:80": false, "10.1.2.3:443": false,
		"[::ffff:127.0.0.1]:443": false, "nonsense": false} {
		if err := publicOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if o := originOf("https://API.kapso.ai/meta/whatsapp/v24.0"); o != (origin{"https", "api.kapso.ai:443"}) {
		t.Errorf("origin = %+v", o)
	}
}

func TestMediaUploadStreamsAMultipartForm(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 300_000) // 4.8 MB
	sum := sha256.Sum256(payload)
	var got struct {
		path, key, product, typ, filename, ctype, sha string
		length                                        int64
		size                                          int
	}
	s, _ := newMediaProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.key, got.length = r.URL.EscapedPath(), r.Header.Get("X-API-Key"), r.ContentLength
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			reply(w, 400, `{"error":"not multipart"}`)
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			switch p.FormName() {
			case "messaging_product":
				got.product = string(b)
			case "type":
				got.typ = string(b)
			case "file":
				h := sha256.Sum256(b)
				got.filename, got.ctype, got.sha, got.size = p.FileName(), p.Header.Get("Content-Type"), hex.EncodeToString(h[:]), len(b)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(fixture(t, "upload_media.json"))
	}))
	id, err := s.Upload(context.Background(), "106540352242922", "application/pdf", "../reports/Q1 \"final\".pdf",
		bytes.NewReader(payload), int64(len(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if id != "4490709327384033" {
		t.Errorf("id = %q", id)
	}
	if got.path != "/meta/whatsapp/v24.0/106540352242922/media" || got.key != testKey || got.product != "whatsapp" ||
		got.typ != "application/pdf" || got.ctype != "application/pdf" || got.filename != `Q1 "final".pdf` {
		t.Errorf("request = %+v", got)
	}
	if got.sha != hex.EncodeToString(sum[:]) || got.size != len(payload) || got.length <= int64(len(payload)) {
		t.Errorf("file %d bytes sha %s, content length %d", got.size, got.sha, got.length)
	}
}

func TestMediaUploadRefusals(t *testing.T) {
	for _, tc := range []answerCase{
		{"meta refuses", 400, `{"error":{"message":"(#100) Param file must be a file with one of the following types","code":100}}`, errs.Invalid, 1},
		{"kapso failing", 500, `{"error":"boom"}`, errs.Unavailable, 1},
		{"no id", 200, `{}`, errs.BadGateway, 1},
		{"bad id", 200, `{"id":"a b"}`, errs.BadGateway, 1},
		{"not json", 200, `<html>`, errs.BadGateway, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			s, _ := newMediaProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				reply(w, tc.status, tc.body)
			}))
			_, err := s.Upload(context.Background(), "1", "image/png", "a.png", strings.NewReader("png"), 3)
			if !errs.Is(err, tc.want) || calls.Load() != tc.calls {
				t.Fatalf("err = %v (calls %d), want %s", err, calls.Load(), tc.want)
			}
		})
	}
}

func TestMediaUploadChecksItsArguments(t *testing.T) {
	s, _ := newMediaProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reply(w, 200, `{"id":"1"}`)
	}))
	ctx := context.Background()
	for _, tc := range []struct {
		pnid, mime string
		body       string
		size       int64
	}{
		{"", "image/png", "x", 1},
		{"1", "", "x", 1},
		{"1", "image/png\r\nX-Evil: 1", "x", 1},
		{"1", "image/png", "xy", 1}, // longer than said
		{"1", "image/png", "x", 2},  // shorter than said
	} {
		if _, err := s.Upload(ctx, tc.pnid, tc.mime, "a", strings.NewReader(tc.body), tc.size); err == nil || errs.Is(err, errs.Unavailable) {
			t.Errorf("%+v: err = %v", tc, err)
		}
	}
	if id, err := s.Upload(ctx, "1", "image/png", "", strings.NewReader("unknown length"), -1); err != nil || id != "1" {
		t.Errorf("unknown size: %q %v", id, err)
	}
}

func TestUploadFilename(t *testing.T) {
	for in, want := range map[string]string{
		"photo.png":              "photo.png",
		"../../etc/passwd":       "passwd",
		`C:\Users\a\report.pdf`:  "report.pdf",
		"a\r\nb.pdf":             "ab.pdf",
		"":                       "file",
		"/":                      "file",
		"..":                     "..",
		strings.Repeat("é", 200): strings.Repeat("é", maxFilename/2),
	} {
		if got := uploadFilename(in); got != want {
			t.Errorf("uploadFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMediaMetadata: decoding any answer never panics; an answer it
// accepts is about the media asked for, has a size that is not negative,
// a sha256 of 64 hex digits or none, a MIME type that parses, and bounded
// absolute http(s) URLs, at least one.
func FuzzMediaMetadata(f *testing.F) {
	for _, name := range []string{"get_media_url.json", "get_media_url_with_download_url.json", "upload_media.json", "media_not_found.json"} {
		f.Add(fixture(f, name))
	}
	for _, s := range []string{`{}`, `null`, `[]`, `{"url":"https://a.example/x","file_size":1e3}`,
		`{"url":"https://a.example/x","sha256":"gdO9io2bSGyVIO1HGG6LfFeJ5h/3n380S+aVC7CIkNM="}`,
		`{"download_url":"http://127.0.0.1:8090/meta/whatsapp/media_download?token=x","file_size":"0"}`,
		`{"id":2621233374848975,"url":"https://a.example/x","mime_type":"audio/ogg; codecs=opus"}`} {
		f.Add([]byte(s))
	}
	const want = "2621233374848975"
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMediaMetadata(b, want)
		if err != nil {
			return
		}
		if m.ID != want || m.FileSize < 0 || (m.URL == "" && m.DownloadURL == "") {
			t.Fatalf("accepted %+v", m)
		}
		if m.SHA256 != "" {
			if h, err := hex.DecodeString(m.SHA256); err != nil || len(h) != 32 || strings.ToLower(m.SHA256) != m.SHA256 {
				t.Fatalf("sha256 %q", m.SHA256)
			}
		}
		if m.MIMEType != "" {
			if _, _, err := mime.ParseMediaType(m.MIMEType); err != nil || len(m.MIMEType) > maxMIMEType {
				t.Fatalf("mime type %q", m.MIMEType)
			}
		}
		for _, raw := range []string{m.URL, m.DownloadURL} {
			if raw == "" {
				continue
			}
			u, err := url.Parse(raw)
			if err != nil || len(raw) > maxMediaURL || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				t.Fatalf("url %q", raw)
			}
		}
		if s := strconv.FormatInt(m.FileSize, 10); m.FileSize > 0 && !bytes.Contains(b, []byte(s)) {
			t.Fatalf("file size %d is not in the answer", m.FileSize)
		}
	})
}
