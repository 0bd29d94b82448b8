package kapsosim

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kapso's media on the Meta proxy (KAPSO.md §11):
//   - GET /meta/whatsapp/{version}/{media_id}?phone_number_id=… (API key)
//     answers the metadata: a temporary url (5 minutes of the simulator's
//     clock, API key needed), a download_url (a token valid 4 minutes, no
//     key), mime_type, sha256 (hex), file_size (a string, as Kapso
//     documents it);
//   - GET /meta/whatsapp/media_download?token=… and GET
//     /meta/whatsapp/media_file?token=… (API key) answer the bytes;
//   - GET /meta/whatsapp/media/{media_id} (API key) answers them too: the
//     webhook's kapso.media_url, which does not expire here;
//   - POST /meta/whatsapp/{version}/{phone_number_id}/media takes a
//     multipart upload (messaging_product=whatsapp, type, file) and answers
//     {"id"}: a media id whose metadata and bytes the routes above serve.
// Faults for the next metadata answers and downloads come from
// SetMediaFaults.

const (
	mediaURLLifetime      = 5 * time.Minute
	mediaDownloadLifetime = 4 * time.Minute
	// maxUpload is the most bytes an upload keeps: Meta's largest limit.
	maxUpload = 100 << 20
	// maxGenerated is the largest file a person sends: past every limit.
	maxGenerated = 2 * maxUpload
)

// MediaFaults make metadata answers and downloads fail or mislead.
type MediaFaults struct {
	// MetadataFailures: the next that many metadata answers are 500.
	MetadataFailures int `json:"metadata_failures"`
	// DownloadFailures: the next that many downloads are 500.
	DownloadFailures int `json:"download_failures"`
	// FailureRate: each other metadata answer or download is 500 with this
	// probability (0 to 1).
	FailureRate float64 `json:"failure_rate"`
	// Expired: metadata hands out a url and download_url already expired.
	Expired bool `json:"expired"`
	// WrongSHA256: metadata advertises a sha256 the bytes do not have.
	WrongSHA256 bool `json:"wrong_sha256"`
	// FileSize, when > 0, is the file_size metadata advertises instead of
	// the real one.
	FileSize int64 `json:"file_size"`
}

// simMedia is a media the simulator holds: bytes kept (small files and
// uploads) or generated as read.
type simMedia struct {
	id, phoneNumberID, mime, filename string
	data                              []byte
	gen                               *generated
	size                              int64
	sha256                            string // hex
}

func (m *simMedia) open() io.Reader {
	if m.gen != nil {
		return m.gen.open()
	}
	return bytes.NewReader(m.data)
}

// mediaToken is a url or download_url handed out with metadata.
type mediaToken struct {
	mediaID string
	expires time.Time
	keyed   bool // the url, which needs the API key
}

type mediaState struct {
	items    map[string]*simMedia
	tokens   map[string]mediaToken
	faults   MediaFaults
	metadata int // metadata answers given, failed ones included
	fetches  int // downloads answered, failed ones included
}

// mediaLocked is the media state, made on first use; callers hold s.mu.
func (s *Simulator) mediaLocked() *mediaState {
	if s.media == nil {
		s.media = &mediaState{items: map[string]*simMedia{}, tokens: map[string]mediaToken{}}
	}
	return s.media
}

// SetMediaFaults sets how the next metadata answers and downloads fail;
// the zero MediaFaults ends them.
func (s *Simulator) SetMediaFaults(f MediaFaults) error {
	if f.MetadataFailures < 0 || f.DownloadFailures < 0 || f.FileSize < 0 || !(f.FailureRate >= 0 && f.FailureRate <= 1) {
		return fmt.Errorf("set media faults: %w: counts and file_size must not be negative, failure_rate must be 0 to 1", ErrInvalid)
	}
	s.mu.Lock()
	s.mediaLocked().faults = f
	s.mu.Unlock()
	return nil
}

// MediaBytes answers the bytes of a media the simulator holds.
func (s *Simulator) MediaBytes(mediaID string) (io.Reader, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mediaLocked().items[mediaID]
	if !ok {
		return nil, false
	}
	return m.open(), true
}

// newMediaLocked makes a media of the kind a person sends: the kind's small
// file, or with size > 0 a file of that many bytes generated from the
// simulator's seed; callers hold s.mu. The sha256 of a generated file is
// worked out by reading it once.
func (s *Simulator) newMediaLocked(phoneNumberID, kind, filename string, size int64) (*simMedia, error) {
	k, ok := mediaKinds[kind]
	if !ok {
		return nil, fmt.Errorf("%w: type must be text, image, audio, video, document or sticker", ErrInvalid)
	}
	if size < 0 || size > maxGenerated {
		return nil, fmt.Errorf("%w: size must be 0 to %d bytes", ErrInvalid, int64(maxGenerated))
	}
	m := &simMedia{id: s.digits(16), phoneNumberID: phoneNumberID, mime: k.mime, filename: filename}
	if kind == "document" && m.filename == "" {
		m.filename = k.filename
	}
	if size == 0 {
		m.data = smallFile(kind)
		m.size = int64(len(m.data))
	} else {
		h := fnv.New64a()
		h.Write([]byte(m.id))
		m.gen = &generated{prefix: smallFile(kind), size: size, seed: s.rng.Uint64() ^ h.Sum64()}
		m.size = size
	}
	sum := sha256.New()
	_, _ = io.Copy(sum, m.open())
	m.sha256 = hex.EncodeToString(sum.Sum(nil))
	s.mediaLocked().items[m.id] = m
	return m, nil
}

// attachMediaLocked makes m a media message of the kind with a new file,
// its text the caption (image and document) or a description; callers
// hold s.mu.
func (s *Simulator) attachMediaLocked(m *ChatMessage, kind, filename string, size int64) error {
	f, err := s.newMediaLocked(m.PhoneNumberID, kind, filename, size)
	if err != nil {
		return err
	}
	caption := ""
	if kind == "image" || kind == "video" || kind == "document" {
		caption = m.Text
	}
	m.Type = kind
	m.Text = cmp.Or(caption, "["+kind+"]")
	m.Media = &MessageMedia{ID: f.id, MIMEType: f.mime, SHA256: f.sha256, Size: f.size, Filename: f.filename,
		Caption: caption, URL: s.opts.PublicURL + "/meta/whatsapp/media/" + f.id}
	return nil
}

// mediaFaultLocked says whether this metadata answer or download fails,
// counting it; callers hold s.mu.
func (s *Simulator) mediaFaultLocked(metadata bool) bool {
	st := s.mediaLocked()
	n := &st.faults.DownloadFailures
	if metadata {
		st.metadata++
		n = &st.faults.MetadataFailures
	} else {
		st.fetches++
	}
	if *n > 0 {
		*n--
		return true
	}
	return st.faults.FailureRate > 0 && s.rng.Float64() < st.faults.FailureRate
}

func (s *Simulator) mediaMetadata(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("media_id")
	pnid := r.URL.Query().Get("phone_number_id")
	s.mu.Lock()
	if s.mediaFaultLocked(true) {
		s.mu.Unlock()
		writeMetaError(w, http.StatusInternalServerError, 2, "An unexpected error has occurred. Please retry your request later.", "")
		return
	}
	st := s.mediaLocked()
	m, ok := st.items[id]
	if !ok || (pnid != "" && pnid != m.phoneNumberID) {
		s.mu.Unlock()
		writeNoObject(w, "get", id)
		return
	}
	issued, f := s.now(), st.faults
	if f.Expired {
		issued = issued.Add(-mediaURLLifetime - time.Minute)
	}
	urlToken, dlToken := s.hex(32), s.hex(32)
	st.tokens[urlToken] = mediaToken{mediaID: id, expires: issued.Add(mediaURLLifetime), keyed: true}
	st.tokens[dlToken] = mediaToken{mediaID: id, expires: issued.Add(mediaDownloadLifetime)}
	s.mu.Unlock()
	sum, size := m.sha256, m.size
	if f.WrongSHA256 {
		wrong := sha256.Sum256([]byte("not " + m.sha256))
		sum = hex.EncodeToString(wrong[:])
	}
	if f.FileSize > 0 {
		size = f.FileSize
	}
	base := s.opts.PublicURL + "/meta/whatsapp/"
	writeJSON(w, http.StatusOK, map[string]string{"messaging_product": "whatsapp", "id": id, "mime_type": m.mime,
		"sha256": sum, "file_size": strconv.FormatInt(size, 10), "url": base + "media_file?token=" + urlToken,
		"download_url": base + "media_download?token=" + dlToken})
}

// writeNoObject answers as Meta does about an object that does not exist.
func writeNoObject(w http.ResponseWriter, verb, id string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": fmt.Sprintf(
		"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", verb, id),
		"type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "Asim" + strings.Repeat("0", 19)}})
}

// mediaByToken serves the bytes of a url (keyed: the API key was checked)
// or download_url, until it expires.
func (s *Simulator) mediaByToken(keyed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		t, ok := s.mediaLocked().tokens[r.URL.Query().Get("token")]
		switch {
		case !ok || t.keyed != keyed:
			s.mu.Unlock()
			writeError(w, http.StatusUnauthorized, "Invalid download token")
			return
		case !s.now().Before(t.expires):
			s.mu.Unlock()
			if keyed {
				writeError(w, http.StatusForbidden, "URL signature expired")
			} else {
				writeError(w, http.StatusUnauthorized, "Download token expired")
			}
			return
		}
		s.mu.Unlock()
		s.serveMedia(w, t.mediaID)
	}
}

// mediaByID serves the bytes of a webhook's kapso.media_url.
func (s *Simulator) mediaByID(w http.ResponseWriter, r *http.Request) {
	s.serveMedia(w, r.PathValue("media_id"))
}

func (s *Simulator) serveMedia(w http.ResponseWriter, id string) {
	s.mu.Lock()
	if s.mediaFaultLocked(false) {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	m, ok := s.mediaLocked().items[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Media not found")
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Header().Set("Content-Length", strconv.FormatInt(m.size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, m.open())
}

// mediaUpload keeps a multipart upload as a media of the number.
func (s *Simulator) mediaUpload(w http.ResponseWriter, r *http.Request) {
	pnid := r.PathValue("phone_number_id")
	s.mu.Lock()
	known := s.findNumber(pnid) != nil
	s.mu.Unlock()
	if !known {
		writeNoObject(w, "post", pnid)
		return
	}
	bad := func(msg string) { writeMetaError(w, http.StatusBadRequest, metaInvalidParameter, "(#100) "+msg, "") }
	mr, err := r.MultipartReader()
	if err != nil {
		bad("The request is not multipart/form-data")
		return
	}
	var product, typ, filename, partType string
	var data []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			bad("Invalid multipart body")
			return
		}
		switch p.FormName() {
		case "messaging_product", "type":
			b, _ := io.ReadAll(io.LimitReader(p, 256))
			if p.FormName() == "type" {
				typ = string(b)
			} else {
				product = string(b)
			}
		case "file":
			filename, partType = p.FileName(), p.Header.Get("Content-Type")
			data, err = io.ReadAll(io.LimitReader(p, maxUpload+1))
			if err != nil {
				bad("Invalid multipart body")
				return
			}
		}
	}
	mt := strings.TrimSpace(typ)
	if mt == "" {
		mt = partType
	}
	switch {
	case product != "whatsapp":
		bad("Param messaging_product must be whatsapp")
		return
	case data == nil:
		bad("Param file is required")
		return
	case len(data) > maxUpload:
		bad("Param file must be at most 100 MB")
		return
	}
	if _, _, err := mime.ParseMediaType(mt); err != nil {
		bad("Param type must be a MIME type")
		return
	}
	sum := sha256.Sum256(data)
	s.mu.Lock()
	m := &simMedia{id: s.digits(16), phoneNumberID: pnid, mime: mt, filename: filename, data: data,
		size: int64(len(data)), sha256: hex.EncodeToString(sum[:])}
	s.mediaLocked().items[m.id] = m
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": m.id})
}

// --- /_sim controls ---

func (s *Simulator) ctlMediaFaults(w http.ResponseWriter, r *http.Request) {
	var f MediaFaults
	if !readJSON(w, r, &f) {
		return
	}
	if err := s.SetMediaFaults(f); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.mediaStateView())
}

func (s *Simulator) ctlMediaState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.mediaStateView())
}

func (s *Simulator) mediaStateView() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mediaLocked()
	items := make([]map[string]any, 0, len(st.items))
	for _, m := range st.items {
		items = append(items, map[string]any{"id": m.id, "phone_number_id": m.phoneNumberID, "mime_type": m.mime,
			"filename": m.filename, "size": m.size, "sha256": m.sha256})
	}
	return map[string]any{"faults": st.faults, "metadata_answers": st.metadata, "downloads": st.fetches, "media": items}
}
