package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// fuzzQueue keeps what the ingest enqueues.
type fuzzQueue struct {
	mu   sync.Mutex
	sent []fuzzSent
}

type fuzzSent struct {
	url  string
	d    envelope.Delivery
	body []byte
}

func (q *fuzzQueue) Send(_ context.Context, url string, d envelope.Delivery, body []byte, _ bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, fuzzSent{url: url, d: d, body: bytes.Clone(body)})
	return nil
}

// Signing modes of FuzzIngest.
const (
	fuzzUnsigned   = iota // no signature header
	fuzzSigned            // X-Webhook-Signature under the route's secret
	fuzzUpperCase         // the same in upper-case hex
	fuzzWrongKey          // signed under another secret
	fuzzRawHeader         // the fuzzed header as X-Webhook-Signature
	fuzzMetaSigned        // X-Hub-Signature-256 under the Meta app secret only
	fuzzMetaRaw           // the fuzzed header as X-Hub-Signature-256, the body signed for Kapso
	fuzzModes
)

const fuzzMaxBody = 64 << 10

// FuzzIngest posts random bodies and headers, signed and not, to every
// ingest route, on in-memory stores. Nothing that is not signed by the
// route's own secret (or, on the Meta route, Meta's app secret) reaches the
// queue; what does is the body byte for byte; bad input never gets a 5xx.
func FuzzIngest(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if len(s.Body) >= 8<<10 {
			continue
		}
		rt := uint8(1)
		switch s.Route {
		case events.RouteProject:
			rt = 0
		case events.RouteMeta:
			rt = 2
		}
		f.Add(rt, numberID, s.Body, uint8(fuzzSigned), "", s.Event, "key-"+s.Path)
		f.Add(rt, numberID, s.Body, uint8(fuzzUnsigned), "", s.Event, "")
		if s.Route == events.RouteMeta {
			f.Add(rt, numberID, s.Body, uint8(fuzzMetaSigned), "", "", "")
		}
	}
	body := []byte(`{"type":"whatsapp.message.received","data":[]}`)
	f.Add(uint8(1), numberID, body, uint8(fuzzUpperCase), "", "whatsapp.message.received", "k")
	f.Add(uint8(1), numberID, body, uint8(fuzzWrongKey), "", "", "k")
	f.Add(uint8(1), "999", body, uint8(fuzzSigned), "", "", "k")
	f.Add(uint8(1), "../x", body, uint8(fuzzSigned), "", "", "k")
	f.Add(uint8(0), "", body, uint8(fuzzRawHeader), "sha256="+kapso.Sign(projectSecret, body), "", "")
	f.Add(uint8(2), numberID, []byte(`{"object":"whatsapp_business_account","entry":[]}`), uint8(fuzzMetaRaw),
		"sha256=00", "", "")
	f.Add(uint8(1), numberID, body, uint8(fuzzSigned), "", "bad\x00event", "k")
	f.Add(uint8(1), numberID, body, uint8(fuzzSigned), "", "", strings.Repeat("k", 300))

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	numbers := &memstore.Numbers{}
	if err := numbers.PutSecret(context.Background(), numberID, numberSecret); err != nil {
		f.Fatal(err)
	}
	secrets := &webhook.SecretCache{Source: numbers, TTL: time.Minute, NegativeTTL: time.Minute, MinRefresh: time.Hour}

	f.Fuzz(func(t *testing.T, rt uint8, pathID string, body []byte, mode uint8, header, event, key string) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		queue := &fuzzQueue{}
		ingest := &webhook.Ingest{
			Claims: &memstore.Claims{}, Queue: queue, Secrets: secrets,
			ProjectSecret: projectSecret, MetaAppSecret: metaAppSecret,
			LifecycleQueueURL: "lifecycle", MessagesQueueURL: "messages",
			MaxBodyBytes: fuzzMaxBody, Deadline: 3 * time.Second, Log: log,
		}
		mux := http.NewServeMux()
		ingest.Register(mux)

		path, secret := "/webhooks/kapso", projectSecret
		switch rt % 3 {
		case 1:
			path, secret = "/webhooks/kapso/"+pathID, numberSecret
		case 2:
			path, secret = "/webhooks/meta/"+pathID, numberSecret
		}
		req, err := http.NewRequest(http.MethodPost, "http://bridge.example"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request any client could send
		}
		switch mode % fuzzModes {
		case fuzzSigned:
			req.Header.Set("X-Webhook-Signature", kapso.Sign(secret, body))
		case fuzzUpperCase:
			req.Header.Set("X-Webhook-Signature", strings.ToUpper(kapso.Sign(secret, body)))
		case fuzzWrongKey:
			req.Header.Set("X-Webhook-Signature", kapso.Sign(secret+"-old", body))
		case fuzzRawHeader:
			req.Header["X-Webhook-Signature"] = []string{header}
		case fuzzMetaSigned:
			req.Header.Set("X-Hub-Signature-256", meta.Sign(metaAppSecret, body))
		case fuzzMetaRaw:
			req.Header["X-Hub-Signature-256"] = []string{header}
			req.Header.Set("X-Webhook-Signature", kapso.Sign(secret, body))
		}
		if event != "" {
			req.Header["X-Webhook-Event"] = []string{event}
		}
		if key != "" {
			req.Header["X-Idempotency-Key"] = []string{key}
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound,
			http.StatusMethodNotAllowed, http.StatusConflict, http.StatusRequestEntityTooLarge,
			// ServeMux's own answer to a path it cleans (".." or "//").
			http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		default:
			t.Fatalf("POST %s (mode %d): %d %s", path, mode%fuzzModes, rec.Code, rec.Body)
		}
		if len(queue.sent) > 1 {
			t.Fatalf("one delivery enqueued %d times", len(queue.sent))
		}
		if rec.Code == http.StatusOK && len(queue.sent) != 1 {
			t.Fatalf("200 without an enqueued delivery")
		}
		if rec.Code != http.StatusOK && len(queue.sent) != 0 {
			t.Fatalf("%d with an enqueued delivery", rec.Code)
		}
		if len(queue.sent) == 0 {
			return
		}
		got := queue.sent[0]
		kapsoOK := kapso.VerifySignature(secret, body, req.Header.Get("X-Webhook-Signature"))
		metaOK := rt%3 == 2 && meta.VerifySignature(metaAppSecret, body, req.Header.Get("X-Hub-Signature-256"))
		if !kapsoOK && !metaOK {
			t.Fatalf("a delivery not signed for %s reached the queue (mode %d)", path, mode%fuzzModes)
		}
		if rt%3 == 2 && req.Header.Get("X-Hub-Signature-256") != "" && !metaOK {
			t.Fatalf("a wrong X-Hub-Signature-256 was let through")
		}
		if !bytes.Equal(got.body, body) {
			t.Fatalf("queued body %q differs from the posted %q", got.body, body)
		}
		if len(body) > fuzzMaxBody {
			t.Fatalf("a body of %d bytes over the %d limit was queued", len(body), fuzzMaxBody)
		}
		wantURL := "messages"
		if rt%3 == 0 {
			wantURL = "lifecycle"
		}
		if got.url != wantURL || (rt%3 != 0 && got.d.PhoneNumberID != pathID) {
			t.Fatalf("queued on %s for number %q from %s", got.url, got.d.PhoneNumberID, path)
		}
	})
}
