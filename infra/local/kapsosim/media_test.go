package kapsosim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// request makes a request, with the API key or without, and answers the
// answer and its body.
func (h *harness) request(method, rawURL string, body io.Reader, key bool) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, rawURL, body)
	if key {
		req.Header.Set("X-API-Key", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// get makes a GET and answers the status and body.
func (h *harness) get(rawURL string, key bool) (int, []byte) {
	h.t.Helper()
	resp, b := h.request(http.MethodGet, rawURL, nil, key)
	return resp.StatusCode, b
}

type metadataAnswer struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	DownloadURL string `json:"download_url"`
	MIMEType    string `json:"mime_type"`
	SHA256      string `json:"sha256"`
	FileSize    string `json:"file_size"`
}

func (h *harness) metadata(pnid, id string) (int, metadataAnswer) {
	h.t.Helper()
	st, b := h.get(h.srv.URL+"/meta/whatsapp/v24.0/"+id+"?phone_number_id="+pnid, true)
	var m metadataAnswer
	if st == http.StatusOK {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatal(err)
		}
	}
	return st, m
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestInboundMediaWebhooksAndMetadata(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	for _, tc := range []struct {
		in      Inbound
		mime    string
		magic   string
		caption string
	}{
		{Inbound{Type: "image", Text: "o bolo"}, "image/png", "\x89PNG\r\n\x1a\n", "o bolo"},
		{Inbound{Type: "audio"}, "audio/ogg; codecs=opus", "OggS", ""},
		{Inbound{Type: "video", Text: "olha"}, "video/mp4", "\x00\x00\x00\x18ftypisom", "olha"},
		{Inbound{Type: "document", Text: "segue", Filename: "nota.pdf"}, "application/pdf", "%PDF-", "segue"},
		{Inbound{Type: "sticker"}, "image/webp", "RIFF", ""},
	} {
		t.Run(tc.in.Type, func(t *testing.T) {
			sent, err := h.sim.SendInbound(context.Background(), pnid, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			r := lastDelivery(t, rc, kapso.EventMessageReceived)
			km, _ := normalise(t, kapso.EventMessageReceived, r.body)
			var raw struct {
				Message map[string]json.RawMessage `json:"message"`
			}
			var kapsoPart struct {
				HasMedia bool   `json:"has_media"`
				MediaURL string `json:"media_url"`
			}
			var media map[string]any
			if json.Unmarshal(r.body, &raw) != nil || json.Unmarshal(raw.Message["kapso"], &kapsoPart) != nil ||
				json.Unmarshal(raw.Message[tc.in.Type], &media) != nil {
				t.Fatalf("webhook %s", r.body)
			}
			m := km.Message
			if m.WAMID != sent.WAMID || m.Type != tc.in.Type || m.Media == nil || m.Media.ID == "" ||
				m.Media.MIMEType != tc.mime || m.Media.Caption != tc.caption || m.Media.Filename != tc.in.Filename {
				t.Fatalf("message %+v media %+v", m, m.Media)
			}
			if !kapsoPart.HasMedia || !strings.HasPrefix(kapsoPart.MediaURL, h.srv.URL+"/") {
				t.Errorf("kapso %+v", kapsoPart)
			}
			if tc.in.Type == "audio" && media["voice"] != true {
				t.Errorf("audio %v", media)
			}

			st, md := h.metadata(pnid, m.Media.ID)
			if st != http.StatusOK || md.ID != m.Media.ID || md.MIMEType != tc.mime || md.SHA256 != media["sha256"] {
				t.Fatalf("metadata %d %+v, webhook %v", st, md, media)
			}
			for _, u := range []struct {
				url string
				key bool
			}{{md.DownloadURL, false}, {md.URL, true}, {kapsoPart.MediaURL, true}} {
				st, b := h.get(u.url, u.key)
				if st != http.StatusOK || !bytes.HasPrefix(b, []byte(tc.magic)) || hexSHA(b) != md.SHA256 ||
					strconv.Itoa(len(b)) != md.FileSize {
					t.Errorf("GET %s: %d, %d bytes", u.url, st, len(b))
				}
			}
			// The url and media_url need the key; the download_url does not.
			if st, _ := h.get(md.URL, false); st != http.StatusUnauthorized {
				t.Errorf("url without the key: %d", st)
			}
			if st, _ := h.metadata("999", m.Media.ID); st != http.StatusBadRequest {
				t.Errorf("metadata for another number: %d", st)
			}
		})
	}
	if st, _ := h.metadata(pnid, "123"); st != http.StatusBadRequest {
		t.Errorf("unknown media: %d", st)
	}
}

func TestMediaFilesAreReal(t *testing.T) {
	if _, err := png.Decode(bytes.NewReader(smallFile("image"))); err != nil {
		t.Errorf("png: %v", err)
	}
	pdf := string(smallFile("document"))
	xref := strings.LastIndex(pdf, "startxref\n")
	at, _ := strconv.Atoi(strings.Fields(pdf[xref+len("startxref\n"):])[0])
	if !strings.HasPrefix(pdf, "%PDF-1.4") || !strings.HasPrefix(pdf[at:], "xref\n") || !strings.HasSuffix(pdf, "%%EOF\n") {
		t.Errorf("pdf xref at %d", at)
	}
	for _, off := range []string{"1 0 obj", "4 0 obj"} {
		i := strings.Index(pdf, off)
		n, _ := strconv.Atoi(off[:1])
		line := pdf[at+len("xref\n0 6\n")+20*n:][:10]
		if got, _ := strconv.Atoi(line); got != i {
			t.Errorf("xref of %s = %d, at %d", off, got, i)
		}
	}
	ogg := smallFile("audio")
	for page, n := 0, 0; n < len(ogg); page++ {
		p := ogg[n:]
		segs := int(p[26])
		size := 27 + segs
		for _, l := range p[27 : 27+segs] {
			size += int(l)
		}
		c := bytes.Clone(p[:size])
		want := binary.LittleEndian.Uint32(c[22:])
		copy(c[22:], []byte{0, 0, 0, 0})
		if string(p[:4]) != "OggS" || oggCRC(c) != want || binary.LittleEndian.Uint32(p[18:]) != uint32(page) {
			t.Errorf("ogg page %d", page)
		}
		if page == 0 && string(p[28:36]) != "OpusHead" {
			t.Errorf("first packet %q", p[28:36])
		}
		n += size
	}
	webp := smallFile("sticker")
	if string(webp[:4]) != "RIFF" || string(webp[8:16]) != "WEBPVP8L" ||
		int(binary.LittleEndian.Uint32(webp[4:])) != len(webp)-8 {
		t.Errorf("webp % x", webp)
	}
}

func TestLargeMediaIsGeneratedAsRead(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{Seed: 7})
	pnid := connected(t, h, rc)
	size := int64(6<<20 + 3) // over the image limit
	sent, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Type: "image", Size: size})
	if err != nil {
		t.Fatal(err)
	}
	km, _ := normalise(t, kapso.EventMessageReceived, lastDelivery(t, rc, kapso.EventMessageReceived).body)
	st, md := h.metadata(pnid, km.Message.Media.ID)
	if st != 200 || md.FileSize != strconv.FormatInt(size, 10) || km.Message.WAMID != sent.WAMID {
		t.Fatalf("metadata %d %+v", st, md)
	}
	st, b := h.get(md.DownloadURL, false)
	if st != 200 || int64(len(b)) != size || hexSHA(b) != md.SHA256 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("download %d, %d bytes", st, len(b))
	}
	// Read in odd pieces, the bytes are the same.
	r, _ := h.sim.MediaBytes(md.ID)
	var again bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		again.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !bytes.Equal(again.Bytes(), b) {
		t.Error("the bytes differ from one read to the next")
	}
	if _, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Type: "document", Size: maxGenerated + 1}); err == nil {
		t.Error("a file past the largest size was made")
	}
	if _, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Type: "location"}); err == nil {
		t.Error("an unknown type was sent")
	}
}

func TestMediaURLsExpireBySimulatorTime(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC))
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{Now: clock.Now})
	pnid := connected(t, h, rc)
	if _, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Type: "document"}); err != nil {
		t.Fatal(err)
	}
	km, _ := normalise(t, kapso.EventMessageReceived, lastDelivery(t, rc, kapso.EventMessageReceived).body)
	_, md := h.metadata(pnid, km.Message.Media.ID)
	clock.Advance(4*time.Minute - time.Second)
	if st, _ := h.get(md.DownloadURL, false); st != 200 {
		t.Errorf("download_url before 4 minutes: %d", st)
	}
	clock.Advance(time.Second)
	if st, _ := h.get(md.DownloadURL, false); st != http.StatusUnauthorized {
		t.Errorf("download_url at 4 minutes: %d", st)
	}
	if st, _ := h.get(md.URL, true); st != 200 {
		t.Errorf("url before 5 minutes: %d", st)
	}
	clock.Advance(time.Minute)
	if st, _ := h.get(md.URL, true); st != http.StatusForbidden {
		t.Errorf("url at 5 minutes: %d", st)
	}
	if st, _ := h.get(km.Message.Kapso.MediaURL, true); st != 200 {
		t.Errorf("media_url: %d", st)
	}
	if st, _ := h.get(h.srv.URL+"/meta/whatsapp/media_download?token=nope", false); st != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", st)
	}
	// A download_url token is not a url token.
	tok := md.DownloadURL[strings.Index(md.DownloadURL, "token="):]
	if st, _ := h.get(h.srv.URL+"/meta/whatsapp/media_file?"+tok, true); st != http.StatusUnauthorized {
		t.Errorf("download token as url: %d", st)
	}
}

func TestMediaFaults(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	if _, err := h.sim.SendInbound(context.Background(), pnid, Inbound{Type: "image"}); err != nil {
		t.Fatal(err)
	}
	km, _ := normalise(t, kapso.EventMessageReceived, lastDelivery(t, rc, kapso.EventMessageReceived).body)
	id := km.Message.Media.ID
	_, good := h.metadata(pnid, id)

	st, out := h.call("POST", "/_sim/media/faults", map[string]any{"metadata_failures": 2, "download_failures": 1})
	if st != 200 || out["faults"].(map[string]any)["metadata_failures"] != 2.0 {
		t.Fatalf("faults %d %v", st, out)
	}
	for i := range 2 {
		if st, _ := h.metadata(pnid, id); st != http.StatusInternalServerError {
			t.Errorf("metadata %d: %d", i, st)
		}
	}
	_, md := h.metadata(pnid, id)
	if st, _ := h.get(md.DownloadURL, false); st != http.StatusInternalServerError {
		t.Errorf("faulted download: %d", st)
	}
	if st, _ := h.get(md.DownloadURL, false); st != 200 {
		t.Errorf("download after the fault: %d", st)
	}

	h.call("POST", "/_sim/media/faults", map[string]any{"expired": true, "wrong_sha256": true, "file_size": 6 << 20})
	_, md = h.metadata(pnid, id)
	if md.SHA256 == good.SHA256 || len(md.SHA256) != 64 || md.FileSize != strconv.Itoa(6<<20) {
		t.Errorf("misleading metadata %+v", md)
	}
	if st, _ := h.get(md.DownloadURL, false); st != http.StatusUnauthorized {
		t.Errorf("expired download_url: %d", st)
	}
	if st, _ := h.get(md.URL, true); st != http.StatusForbidden {
		t.Errorf("expired url: %d", st)
	}

	h.call("POST", "/_sim/media/faults", map[string]any{"failure_rate": 1})
	if st, _ := h.metadata(pnid, id); st != http.StatusInternalServerError {
		t.Errorf("failure rate 1: %d", st)
	}
	h.call("POST", "/_sim/media/faults", map[string]any{})
	if st, _ := h.metadata(pnid, id); st != 200 {
		t.Errorf("faults ended: %d", st)
	}
	for _, bad := range []map[string]any{{"failure_rate": 1.5}, {"metadata_failures": -1}, {"file_size": -1}} {
		if st, _ := h.call("POST", "/_sim/media/faults", bad); st != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d", bad, st)
		}
	}
	st, out = h.call("GET", "/_sim/media", nil)
	if st != 200 || out["metadata_answers"] != 7.0 || out["downloads"] != 2.0 || len(out["media"].([]any)) != 1 {
		t.Errorf("state %d %v", st, out)
	}
}

func TestMediaUploadKeepsTheFile(t *testing.T) {
	rc := newReceiver(t, 200)
	h := newHarness(t, Options{})
	pnid := connected(t, h, rc)
	upload := func(fields map[string]string, file []byte) (int, map[string]any) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		if file != nil {
			fw, _ := mw.CreateFormFile("file", "foto.png")
			_, _ = fw.Write(file)
		}
		_ = mw.Close()
		req, _ := http.NewRequest("POST", h.srv.URL+"/meta/whatsapp/v24.0/"+pnid+"/media", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("X-API-Key", apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	file := smallFile("image")
	st, out := upload(map[string]string{"messaging_product": "whatsapp", "type": "image/png"}, file)
	id, _ := out["id"].(string)
	if st != 200 || id == "" {
		t.Fatalf("upload %d %v", st, out)
	}
	st, md := h.metadata(pnid, id)
	if st != 200 || md.MIMEType != "image/png" || md.SHA256 != hexSHA(file) {
		t.Fatalf("metadata %d %+v", st, md)
	}
	if st, b := h.get(md.DownloadURL, false); st != 200 || !bytes.Equal(b, file) {
		t.Errorf("download %d", st)
	}
	for _, tc := range []struct {
		fields map[string]string
		file   []byte
	}{
		{map[string]string{"type": "image/png"}, file},
		{map[string]string{"messaging_product": "whatsapp", "type": "image/png"}, nil},
		{map[string]string{"messaging_product": "whatsapp", "type": "image/"}, file},
	} {
		if st, _ := upload(tc.fields, tc.file); st != http.StatusBadRequest {
			t.Errorf("%v: %d", tc.fields, st)
		}
	}
}
