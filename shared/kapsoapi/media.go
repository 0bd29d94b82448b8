package kapsoapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Kapso's media calls on the Meta proxy, as its TypeScript SDK makes them
// (media.get, media.download, media.upload):
//   - GET {base}/{version}/{media_id}?phone_number_id=… answers the media's
//     metadata: url (temporary, 5 minutes), download_url (a token URL on
//     Kapso's host, 4 minutes, no API key), mime_type, sha256, file_size;
//   - GET download_url, else url, answers the bytes;
//   - POST {base}/{version}/{phone_number_id}/media, multipart/form-data
//     with messaging_product=whatsapp, type and file, answers {"id"}.
//
// The URLs in the metadata come from Kapso, an untrusted upstream: the API
// key only ever goes to the proxy's own origin, and any other URL must be
// https to a public host, which the connection itself is held to as well
// (a public name can resolve to a private address).

const (
	mediaGetOp    = "get media"
	mediaOpenOp   = "download media"
	mediaUploadOp = "upload media"
	// maxMetadataBytes bounds a metadata or upload answer: a few short
	// fields and two URLs.
	maxMetadataBytes = 16 << 10
	// maxMediaURL bounds each URL of the metadata.
	maxMediaURL = 4096
	// maxMIMEType bounds a MIME type, read or sent.
	maxMIMEType = 255
	// maxFilename bounds the file name an upload sends.
	maxFilename = 240
	// maxRedirects a download follows, each one checked as the first URL.
	maxRedirects = 5
	// maxDownloadError is how much of a refused download's body is read for
	// its error message.
	maxDownloadError = 4 << 10
	dialTimeout      = 10 * time.Second
)

// ErrMediaExpired is wrapped when a download URL was refused as expired
// (403, or 401 on the token URL): fetch the metadata again for a fresh one.
var ErrMediaExpired = errors.New("kapso media download url expired")

var _ media.Source = (*MetaProxy)(nil)

// errRefusedURL is wrapped when a URL from Kapso, or one it redirects to,
// is not one kapso-bridge fetches.
var errRefusedURL = errors.New("media url refused")

// origin is a URL's scheme and lowercase host:port (the default port made
// explicit), as a connection is made to it.
type origin struct{ scheme, host string }

func originOf(raw string) origin {
	u, err := url.Parse(raw)
	if err != nil {
		return origin{}
	}
	return urlOrigin(u)
}

func urlOrigin(u *url.URL) origin {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return origin{scheme: scheme, host: net.JoinHostPort(strings.ToLower(u.Hostname()), port)}
}

// check holds a URL from Kapso to what kapso-bridge fetches: the proxy's
// own origin (the local simulator's is http on loopback), else https to a
// public host. kapso says whether it is the proxy's origin, the only one
// the API key may go to. Errors name the host only: the URL carries a
// token.
func (o origin) check(u *url.URL) (kapso bool, err error) {
	if !u.IsAbs() || u.Host == "" || u.User != nil {
		return false, fmt.Errorf("%w: not an absolute URL without credentials", errRefusedURL)
	}
	if o.host != "" && urlOrigin(u) == o {
		return true, nil
	}
	if u.Scheme != "https" {
		return false, fmt.Errorf("%w: %s to %s is neither https nor Kapso's proxy", errRefusedURL, u.Scheme, u.Hostname())
	}
	if problem := messaging.PublicHost(u.Hostname()); problem != "" {
		return false, fmt.Errorf("%w: host %s %s", errRefusedURL, u.Hostname(), problem)
	}
	return false, nil
}

// newFilesClient is the client of downloads and uploads. It has no overall
// timeout (a large file takes its time; the caller's context bounds it),
// only one for the answer's headers; it connects to the proxy's origin as
// configured and to any other host only at a public address; it follows
// a few redirects, each checked, and keeps the API key off any other
// origin (Go's client would forward a custom header).
func newFilesClient(o origin) *http.Client {
	direct := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: publicOnly}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.ResponseHeaderTimeout = defaultHTTPTimeout
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if o.host != "" && strings.EqualFold(addr, o.host) {
			return direct.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", errRefusedURL, maxRedirects)
		}
		kapso, err := o.check(req.URL)
		if err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if !kapso {
			req.Header.Del("X-API-Key")
		}
		return nil
	}}
}

// publicOnly is a dialer's Control: it refuses an address that is not on
// the public internet, whatever name resolved to it.
func publicOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %w", errRefusedURL, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !messaging.PublicAddr(a) {
		return fmt.Errorf("%w: address %s is not public", errRefusedURL, host)
	}
	return nil
}

// Metadata is Kapso's answer about the number's media id. Kapso or Meta
// failing (5xx, timeouts) is retried as reads are; the error's errs code
// says what became of the call: NotFound when Kapso has no such media
// (any more), Unavailable or RateLimited to retry later, BadGateway for an
// answer that cannot be used.
func (s *MetaProxy) Metadata(ctx context.Context, phoneNumberID, mediaID string) (media.Metadata, error) {
	doing := "get media " + mediaID
	if _, err := pathID("phone number id", phoneNumberID); err != nil {
		return media.Metadata{}, failed(doing, err)
	}
	id, err := pathID("media id", mediaID)
	if err != nil {
		return media.Metadata{}, failed(doing, err)
	}
	var m media.Metadata
	_, err = s.c.do(ctx, call{op: mediaGetOp, method: http.MethodGet, path: "/" + id,
		query: url.Values{"phone_number_id": {phoneNumberID}}, policy: retrySafe,
		decode: func(b []byte) error {
			var err error
			m, err = decodeMediaMetadata(b, mediaID)
			return err
		},
		refused: func(api *APIError, body []byte) error {
			if me := newMetaError(api.Status, http.Header{}, body); api.Status == http.StatusNotFound ||
				api.Status == http.StatusGone || (me.Code == metaNoObject && me.Subcode == metaNoObjectSubcode) {
				return fmt.Errorf("%w: %w", errMediaGone, api)
			}
			return api
		}}, nil)
	if errors.Is(err, errMediaGone) {
		return media.Metadata{}, fmt.Errorf("%s: %w", doing, errs.E(errs.NotFound, "Kapso has no such media", err))
	}
	if err != nil {
		return media.Metadata{}, failed(doing, err)
	}
	return m, nil
}

// Meta's refusal of a request about an object that does not exist (or is
// not the caller's): code 100, subcode 33, with a 400.
const (
	metaNoObject        = 100
	metaNoObjectSubcode = 33
)

// errMediaGone is wrapped when Kapso or Meta has no such media.
var errMediaGone = errors.New("no such media")

type wireMediaMetadata struct {
	ID          flexString `json:"id"`
	MIMEType    string     `json:"mime_type"`
	SHA256      string     `json:"sha256"`
	FileSize    flexString `json:"file_size"` // Kapso documents a string; Meta sends a number
	URL         string     `json:"url"`
	DownloadURL string     `json:"download_url"`
}

// decodeMediaMetadata reads Kapso's metadata answer about the media id
// want: at most maxMetadataBytes, about that id, with a MIME type that
// parses, a whole non-negative file_size (a number or a string), a sha256
// of 32 bytes (hex or base64, kept as lowercase hex) and at least one
// absolute http(s) URL.
func decodeMediaMetadata(b []byte, want string) (media.Metadata, error) {
	if len(b) > maxMetadataBytes {
		return media.Metadata{}, fmt.Errorf("media metadata larger than %d bytes", maxMetadataBytes)
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return media.Metadata{}, errors.New("media metadata is not a JSON object")
	}
	var w wireMediaMetadata
	if err := json.Unmarshal(b, &w); err != nil {
		return media.Metadata{}, fmt.Errorf("decode media metadata: %w", err)
	}
	m := media.Metadata{ID: string(w.ID), MIMEType: strings.TrimSpace(w.MIMEType)}
	switch {
	case m.ID == "":
		m.ID = want
	case m.ID != want:
		return media.Metadata{}, fmt.Errorf("media metadata is about media %.60q, not the one asked for", m.ID)
	}
	if m.MIMEType != "" {
		if _, _, err := mime.ParseMediaType(m.MIMEType); err != nil || len(m.MIMEType) > maxMIMEType {
			return media.Metadata{}, fmt.Errorf("media metadata has an unusable mime_type %.60q", m.MIMEType)
		}
	}
	if fs := strings.TrimSpace(string(w.FileSize)); fs != "" {
		n, err := strconv.ParseInt(fs, 10, 64)
		if err != nil || n < 0 {
			return media.Metadata{}, fmt.Errorf("media metadata has an unusable file_size %.30q", fs)
		}
		m.FileSize = n
	}
	sum, err := sha256Hex(w.SHA256)
	if err != nil {
		return media.Metadata{}, err
	}
	m.SHA256 = sum
	for _, f := range []struct {
		name, v string
		to      *string
	}{{"url", w.URL, &m.URL}, {"download_url", w.DownloadURL, &m.DownloadURL}} {
		v := strings.TrimSpace(f.v)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || len(v) > maxMediaURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return media.Metadata{}, fmt.Errorf("media metadata has an unusable %s", f.name)
		}
		*f.to = v
	}
	if m.URL == "" && m.DownloadURL == "" {
		return media.Metadata{}, errors.New("media metadata has neither url nor download_url")
	}
	return m, nil
}

// sha256Hex reads a SHA-256 as Meta gives it (hex) or as base64, as
// lowercase hex; "" stays "".
func sha256Hex(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if b, err := hex.DecodeString(v); err == nil && len(b) == 32 {
		return hex.EncodeToString(b), nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == 32 {
			return hex.EncodeToString(b), nil
		}
	}
	return "", fmt.Errorf("media metadata has an unusable sha256 %.80q", v)
}

// Open streams the media's bytes: from m.DownloadURL (a token URL: no API
// key), else from m.URL (with the key when it is the proxy's origin). The
// caller reads and closes the body and bounds how much it reads. A request
// that failed before any byte came (no connection, 5xx) is repeated as
// reads are. The error's errs code: NotFound (404, 410) when the media is
// gone; Unavailable for a failure that may pass, wrapping ErrMediaExpired
// when the URL was refused as expired (403, or 401 on the token URL: get
// the metadata again);
// BadGateway for a URL kapso-bridge does not fetch.
func (s *MetaProxy) Open(ctx context.Context, m media.Metadata) (io.ReadCloser, error) {
	doing := "download media " + m.ID
	raw, token := m.DownloadURL, true
	if raw == "" {
		raw, token = m.URL, false
	}
	if raw == "" {
		return nil, failed(doing, argumentError("metadata without url or download_url"))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, failed(doing, fmt.Errorf("%w: does not parse", errRefusedURL))
	}
	kapso, err := s.origin.check(u)
	if err != nil {
		return nil, failed(doing, err)
	}
	c := s.c
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, failed(doing, fmt.Errorf("%w: %w", errRefusedURL, err))
		}
		if kapso && !token {
			req.Header.Set("X-API-Key", c.apiKey)
		}
		start := time.Now()
		resp, err := s.files.Do(req)
		if err != nil {
			c.log.DebugContext(ctx, "kapso call failed", "op", mediaOpenOp, "host", u.Host, "attempt", attempt,
				"duration", time.Since(start), "error", err)
			if errors.Is(err, errRefusedURL) {
				return nil, failed(doing, err)
			}
			if ctx.Err() != nil || attempt >= c.maxAttempts || !sleep(ctx, c.backoff(attempt)) {
				return nil, failed(doing, fmt.Errorf("%w: %w", ErrUnavailable, err))
			}
			continue
		}
		c.log.DebugContext(ctx, "kapso call", "op", mediaOpenOp, "host", u.Host, "attempt", attempt,
			"status", resp.StatusCode, "duration", time.Since(start))
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp.Body, nil
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDownloadError))
		resp.Body.Close()
		api := newAPIError(mediaOpenOp, resp.StatusCode, resp.Header, b)
		if api.Status >= 500 && attempt < c.maxAttempts && sleep(ctx, c.backoff(attempt)) {
			continue
		}
		return nil, fmt.Errorf("%s: %w", doing, downloadRefused(api, token))
	}
}

// downloadRefused classifies a download's answer other than 2xx.
func downloadRefused(api *APIError, token bool) error {
	switch {
	case api.Status == http.StatusNotFound || api.Status == http.StatusGone:
		return errs.E(errs.NotFound, "Kapso no longer has the media", api)
	case api.Status == http.StatusForbidden || (token && api.Status == http.StatusUnauthorized):
		// A signed URL past its time; on url a 401 is the API key refused.
		return errs.E(errs.Unavailable, "the media's download URL expired; get its metadata again",
			fmt.Errorf("%w: %w", ErrMediaExpired, api))
	case api.Status >= 500:
		return classify(fmt.Errorf("%w: %w", ErrUnavailable, api))
	}
	return classify(api)
}

// Upload sends size bytes of body (size < 0: as many as it has) to Kapso
// as a file of the number, with its MIME type and file name, and answers
// the media id a send can name. The multipart body is streamed with
// bounded memory; with a known size it goes with its Content-Length. An
// upload is never repeated (the body is read once); one that fails leaves
// at most an unused media id at Meta.
func (s *MetaProxy) Upload(ctx context.Context, phoneNumberID, mimeType, filename string, body io.Reader, size int64) (string, error) {
	doing := "upload media for phone number " + phoneNumberID
	pn, err := pathID("phone number id", phoneNumberID)
	if err != nil {
		return "", failed(doing, err)
	}
	mimeType = strings.TrimSpace(mimeType)
	if _, _, err := mime.ParseMediaType(mimeType); err != nil || len(mimeType) > maxMIMEType ||
		strings.ContainsFunc(mimeType, unicode.IsControl) {
		return "", failed(doing, argumentError("unusable mime type"))
	}
	if body == nil {
		return "", failed(doing, argumentError("no body"))
	}
	head, tail, contentType := multipartFrame(mimeType, uploadFilename(filename))
	var file io.Reader = body
	length := int64(-1)
	if size >= 0 {
		file = &sizedReader{r: body, left: size}
		length = int64(len(head)) + size + int64(len(tail))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.c.baseURL+"/"+pn+"/media",
		io.MultiReader(bytes.NewReader(head), file, bytes.NewReader(tail)))
	if err != nil {
		return "", failed(doing, fmt.Errorf("build request: %w", err))
	}
	req.ContentLength = length
	req.Header.Set("X-API-Key", s.c.apiKey)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := s.files.Do(req)
	if err != nil {
		s.c.log.DebugContext(ctx, "kapso call failed", "op", mediaUploadOp, "duration", time.Since(start), "error", err)
		if errors.Is(err, errBodySize) {
			return "", failed(doing, argumentError(fmt.Sprintf("body is not %d bytes", size)))
		}
		return "", failed(doing, fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	s.c.log.DebugContext(ctx, "kapso call", "op", mediaUploadOp, "status", resp.StatusCode, "bytes", len(b),
		"duration", time.Since(start))
	if err != nil {
		return "", failed(doing, fmt.Errorf("%w: read answer: %w", ErrUnavailable, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", failed(doing, newAPIError(mediaUploadOp, resp.StatusCode, resp.Header, b))
	}
	id, err := decodeUploadAnswer(b)
	if err != nil {
		return "", failed(doing, err)
	}
	return id, nil
}

// multipartFrame is the multipart body around the file's bytes, the form
// Kapso's SDK sends: messaging_product, type, then file.
func multipartFrame(mimeType, filename string) (head, tail []byte, contentType string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	// Writes to a bytes.Buffer do not fail.
	_ = mw.WriteField("messaging_product", "whatsapp")
	_ = mw.WriteField("type", mimeType)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", multipart.FileContentDisposition("file", filename))
	h.Set("Content-Type", mimeType)
	_, _ = mw.CreatePart(h)
	n := buf.Len()
	_ = mw.Close()
	all := buf.Bytes()
	return all[:n], all[n:], mw.FormDataContentType()
}

// uploadFilename is the last element of name, without control characters,
// at most maxFilename bytes; "file" when nothing is left.
func uploadFilename(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, `\`, "/")))
	for len(name) > maxFilename {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	return name
}

var errBodySize = errors.New("upload body size differs from the size given")

// sizedReader reads exactly left bytes of r: fewer, or more, is errBodySize.
type sizedReader struct {
	r    io.Reader
	left int64
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		// One byte more tells an exact body from a longer one.
		var one [1]byte
		n, err := s.r.Read(one[:])
		if n > 0 {
			return 0, errBodySize
		}
		if err == nil {
			return 0, nil
		}
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if errors.Is(err, io.EOF) {
		if s.left > 0 {
			return n, errBodySize
		}
		err = nil
	}
	return n, err
}

// decodeUploadAnswer reads {"id": …}, the uploaded media's id.
func decodeUploadAnswer(b []byte) (string, error) {
	if len(b) > maxMetadataBytes {
		return "", fmt.Errorf("upload answer larger than %d bytes", maxMetadataBytes)
	}
	var a struct {
		ID flexString `json:"id"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return "", fmt.Errorf("decode upload answer: %w", err)
	}
	id := string(a.ID)
	if id == "" || len(id) > maxWAMID || strings.IndexFunc(id, badIDRune) >= 0 {
		return "", fmt.Errorf("upload answer has an unusable id %.60q", id)
	}
	return id, nil
}
