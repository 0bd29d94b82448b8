package stack_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// fetched GETs u as a browser would, with no credentials, and answers the
// bytes of a 200.
func fetched(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// mediaOf is the read API message's media.
func mediaOf(m map[string]any) map[string]any {
	md, _ := m["media"].(map[string]any)
	return md
}

// storedMedia: the message's media is copied and linked.
func storedMedia(m map[string]any) bool {
	md := mediaOf(m)
	return md != nil && md["state"] == "stored" && md["url"] != nil
}

// simMediaSHA256 is the sha256 the simulator reports (GET /_sim/media) for
// the media it holds under id.
func simMediaSHA256(t *testing.T, s *stack.Stack, id string) string {
	t.Helper()
	var state struct {
		Media []struct{ ID, SHA256 string } `json:"media"`
	}
	if err := json.Unmarshal(fetched(t, s.SimURL+"/_sim/media"), &state); err != nil {
		t.Fatal(err)
	}
	for _, m := range state.Media {
		if m.ID == id {
			return m.SHA256
		}
	}
	t.Fatalf("the simulator holds no media %s", id)
	return ""
}

// redirectOf asks path of the API without following a redirect.
func redirectOf(t *testing.T, s *stack.Stack, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.Env.Value(config.BridgeAPIToken))
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// smallPNG is a real PNG of a few pixels, made here so that its bytes are
// none the simulator sends.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(40 * i)
	}
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A connected tenant's person sends a photo and a PDF through the
// simulator: the media worker copies both into the bucket, and the read
// API links the copies, whose bytes are the simulator's, with URLs that
// work without credentials and outlive Kapso's own; another tenant sees
// none of it. The tenant then uploads an image and sends it by id with a
// caption: once WhatsApp reports it read, the message still reads back as
// that image, with its caption and a link to the uploaded bytes.
func TestMediaEndToEnd(t *testing.T) {
	kapsoClock := testclock.NewRunning()
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"}, func(o *stack.Options) { o.SimNow = kapsoClock.Now })
	t.Cleanup(s.Stop)
	number, _ := connect(t, s, "acme")
	connect(t, s, "globex")
	const phone = "5215512345678"
	photo := sim(t, s, "/_sim/numbers/"+number+"/messages",
		map[string]any{"type": "image", "text": "o bolo de ontem", "from_phone": "+" + phone, "name": "Ana"})
	pdf := sim(t, s, "/_sim/numbers/"+number+"/messages",
		map[string]any{"type": "document", "text": "a nota", "filename": "nota.pdf", "from_phone": "+" + phone, "name": "Ana"})

	links := map[string]string{}
	for _, tc := range []struct {
		wamid, typ, mime, caption, filename, magic string
	}{
		{photo.WAMID, "image", "image/png", "o bolo de ontem", "", "\x89PNG\r\n\x1a\n"},
		{pdf.WAMID, "document", "application/pdf", "a nota", "nota.pdf", "%PDF-"},
	} {
		m := waitMessage(t, s, "acme", tc.wamid, storedMedia)
		md := mediaOf(m)
		if m["type"] != tc.typ || md["mime_type"] != tc.mime || md["caption"] != tc.caption || md["filename"] != tc.filename {
			t.Errorf("%s: %v", tc.typ, m)
		}
		u := md["url"].(string)
		if !strings.HasPrefix(u, s.SQSEndpoint+"/") {
			t.Errorf("%s: url %s is not on the local S3 endpoint %s", tc.typ, u, s.SQSEndpoint)
		}
		b := fetched(t, u)
		want := simMediaSHA256(t, s, md["id"].(string))
		if got := sha256Hex(b); got != want || md["sha256"] != want || md["size"] != float64(len(b)) ||
			!bytes.HasPrefix(b, []byte(tc.magic)) {
			t.Errorf("%s: fetched %d bytes of sha256 %s; the simulator's %s, the API says %v (%v bytes)", tc.typ, len(b), got,
				want, md["sha256"], md["size"])
		}
		// The media route redirects to a fresh URL of the same bytes.
		status, loc := redirectOf(t, s, "/v1/tenants/acme/messages/"+tc.wamid+"/media")
		if status != http.StatusFound || loc == "" {
			t.Fatalf("%s: media route %d %q", tc.typ, status, loc)
		}
		if got := sha256Hex(fetched(t, loc)); got != want {
			t.Errorf("%s: the media route's URL has sha256 %s, want %s", tc.typ, got, want)
		}
		// Another tenant's paths know nothing of it.
		for _, p := range []string{"/v1/tenants/globex/messages/" + tc.wamid + "/media", "/v1/tenants/globex/messages/" + tc.wamid} {
			if status, loc := redirectOf(t, s, p); status != http.StatusNotFound || loc != "" {
				t.Errorf("%s: %s answered %d %q", tc.typ, p, status, loc)
			}
		}
		links[tc.typ] = u
	}

	// The tenant uploads an image and sends it by id with a caption.
	if err := s.Sim.SetAutoStatuses(number, []string{"delivered", "read"}); err != nil {
		t.Fatal(err)
	}
	file := smallPNG(t)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/tenants/acme/media?phone_number_id="+url.QueryEscape(number),
		bytes.NewReader(file))
	req.Header.Set("Authorization", "Bearer "+s.Env.Value(config.BridgeAPIToken))
	req.Header.Set("Content-Type", "image/png")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var up struct {
		ID, SHA256 string
		Size       int64
	}
	if err := json.Unmarshal(raw, &up); err != nil || res.StatusCode != http.StatusCreated || up.ID == "" ||
		up.SHA256 != sha256Hex(file) || up.Size != int64(len(file)) {
		t.Fatalf("upload: %d %s", res.StatusCode, raw)
	}
	const caption = "o bolo de hoje"
	status, body := send(t, s, "acme", "photo-1", fmt.Sprintf(`{"to":"+%s","phone_number_id":%q,"type":"image","image":{"id":%q,"caption":%q}}`,
		phone, number, up.ID, caption))
	if status != http.StatusAccepted {
		t.Fatalf("send: %d %v", status, body)
	}
	out := message(body)["id"].(string)
	m := waitMessage(t, s, "acme", out, hasStatus("read"))
	md := mediaOf(m)
	if m["type"] != "image" || md == nil || md["id"] != up.ID || md["caption"] != caption || md["state"] != "stored" ||
		md["sha256"] != up.SHA256 {
		t.Fatalf("the read message: %v", m)
	}
	if got := sha256Hex(fetched(t, md["url"].(string))); got != up.SHA256 {
		t.Errorf("the sent image's URL has sha256 %s, want %s", got, up.SHA256)
	}
	// Kapso got those bytes under that id.
	if r, ok := s.Sim.MediaBytes(up.ID); !ok {
		t.Error("the simulator holds no upload under the id")
	} else if b, _ := io.ReadAll(r); !bytes.Equal(b, file) {
		t.Error("the simulator holds other bytes under the upload's id")
	}

	// Kapso's own URL of the photo expires after 5 minutes of its clock;
	// the read API's URL does not depend on it.
	_, photoMsg := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+photo.WAMID, "")
	kapsoURL := simMetadataURL(t, s, number, mediaOf(photoMsg)["id"].(string))
	if st := simGet(t, s, kapsoURL); st != http.StatusOK {
		t.Fatalf("Kapso's url before it expired: %d", st)
	}
	kapsoClock.Advance(5*time.Minute + time.Second)
	if st := simGet(t, s, kapsoURL); st != http.StatusForbidden {
		t.Errorf("Kapso's url after 5 minutes: %d, want 403", st)
	}
	for typ, u := range links {
		if len(fetched(t, u)) == 0 {
			t.Errorf("%s: the API's URL gave nothing once Kapso's expired", typ)
		}
	}
	_, photoMsg = api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+photo.WAMID, "")
	if got := sha256Hex(fetched(t, mediaOf(photoMsg)["url"].(string))); got != mediaOf(photoMsg)["sha256"] {
		t.Errorf("a fresh URL after Kapso's expired: sha256 %s", got)
	}
}

// simMetadataURL asks the simulator's Meta proxy for a media's metadata,
// as kapso-bridge does, and answers its temporary url.
func simMetadataURL(t *testing.T, s *stack.Stack, number, mediaID string) string {
	t.Helper()
	_, meta := s.KapsoBases()
	req, _ := http.NewRequest(http.MethodGet, meta+"/v24.0/"+mediaID+"?phone_number_id="+url.QueryEscape(number), nil)
	req.Header.Set("X-API-Key", s.Env.Value(config.KapsoAPIKey))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var md struct{ URL string }
	if err := json.NewDecoder(res.Body).Decode(&md); err != nil || res.StatusCode != http.StatusOK || md.URL == "" {
		t.Fatalf("metadata of %s: %d %v", mediaID, res.StatusCode, err)
	}
	return md.URL
}

// simGet fetches a simulator url with the API key, as its url needs.
func simGet(t *testing.T, s *stack.Stack, u string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-API-Key", s.Env.Value(config.KapsoAPIKey))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// In a real browser, under the app page's Content Security Policy, a
// person's photo shows inline in the tenant's inbox: the image loads from
// the local S3 endpoint, and a PDF is linked by its name.
func TestBrowserInboxShowsAPhoto(t *testing.T) {
	bctx := newBrowser(t, 2*time.Minute)
	s := startStack(t)
	pnid := signUpNumber(t, s, bctx, "acme")
	photo := sim(t, s, "/_sim/numbers/"+pnid+"/messages",
		map[string]any{"type": "image", "text": "o bolo de ontem", "from_phone": "+5215512345678", "name": "Ana"})
	pdf := sim(t, s, "/_sim/numbers/"+pnid+"/messages",
		map[string]any{"type": "document", "text": "a nota", "filename": "nota.pdf", "from_phone": "+5215512345678", "name": "Ana"})
	waitMessage(t, s, "acme", photo.WAMID, storedMedia)
	waitMessage(t, s, "acme", pdf.WAMID, storedMedia)

	// The inbox refreshes itself every 2 s: wait for the loaded image.
	const shown = `(() => {
		const img = document.querySelector('tr.msg[data-wamid="%s"] .media img');
		const file = document.querySelector('tr.msg[data-wamid="%s"] .media a.file');
		return {src: img ? img.src : "", loaded: !!(img && img.complete && img.naturalWidth > 0),
			width: img ? img.naturalWidth : 0, file: file ? file.textContent : "", href: file ? file.href : ""};
	})()`
	var got struct {
		Src, File, Href string
		Loaded          bool
		Width           int
	}
	if !poll.Until(30*time.Second, 250*time.Millisecond, func() bool {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]any](fmt.Sprintf(shown, photo.WAMID, pdf.WAMID)))
		if err != nil {
			return false
		}
		b, _ := json.Marshal(v)
		return json.Unmarshal(b, &got) == nil && got.Loaded && got.File != ""
	}) {
		screenshot(t, bctx, "/tmp/inbox-media.png")
		t.Fatalf("the inbox never showed the photo loaded and the PDF linked: %+v", got)
	}
	screenshot(t, bctx, "/tmp/inbox-media.png")
	if !strings.HasPrefix(got.Src, s.SQSEndpoint+"/") || !strings.HasPrefix(got.Href, s.SQSEndpoint+"/") ||
		got.File != "nota.pdf" {
		t.Errorf("shown: %+v", got)
	}
	// The simulator's photo is a real PNG: its width as the browser decoded it.
	r, ok := s.Sim.MediaBytes(mediaOf(waitMessage(t, s, "acme", photo.WAMID, storedMedia))["id"].(string))
	if !ok {
		t.Fatal("the simulator lost the photo")
	}
	cfg, err := png.DecodeConfig(r)
	if err != nil || cfg.Width != got.Width {
		t.Errorf("the browser decoded a %d px wide image, the simulator's is %d (%v)", got.Width, cfg.Width, err)
	}
}
