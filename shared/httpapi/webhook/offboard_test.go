package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// A delivery for a number whose tenant is being offboarded is answered
// 200, so Kapso does not retry it, and nothing is claimed or queued; once
// the number is gone it is unknown (401) like any other.
func TestIngestDropsDeliveriesOfANumberBeingOffboarded(t *testing.T) {
	ctx := context.Background()
	numbers := &memstore.Numbers{}
	if err := numbers.AddNumber(ctx, "acme", numberID); err != nil {
		t.Fatal(err)
	}
	if err := numbers.PutSecret(ctx, numberID, numberSecret); err != nil {
		t.Fatal(err)
	}
	queue := &fuzzQueue{}
	ingest := &webhook.Ingest{Claims: &memstore.Claims{}, Queue: queue,
		Secrets:       &webhook.SecretCache{Source: numbers, TTL: time.Minute, NegativeTTL: time.Minute},
		ProjectSecret: projectSecret, LifecycleQueueURL: "lifecycle", MessagesQueueURL: "messages",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	ingest.Register(mux)
	post := func(key string) *httptest.ResponseRecorder {
		body := []byte(`{"type":"whatsapp.message.received","data":[]}`)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/kapso/"+numberID, bytes.NewReader(body))
		req.Header.Set("X-Webhook-Signature", kapso.Sign(numberSecret, body))
		req.Header.Set("X-Idempotency-Key", key)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	if rec := post("before"); rec.Code != http.StatusOK || len(queue.sent) != 1 {
		t.Fatalf("before: %d, %d queued", rec.Code, len(queue.sent))
	}
	if err := numbers.OffboardNumber(ctx, numberID, "acme"); err != nil {
		t.Fatal(err)
	}
	// A fresh cache, as another instance has: the mark is read at once.
	ingest.Secrets = &webhook.SecretCache{Source: numbers, TTL: time.Minute, NegativeTTL: time.Minute}
	for _, key := range []string{"during", "during"} {
		if rec := post(key); rec.Code != http.StatusOK {
			t.Errorf("while offboarding: %d %s", rec.Code, rec.Body)
		}
	}
	if len(queue.sent) != 1 {
		t.Errorf("%d queued while offboarding, want none more", len(queue.sent)-1)
	}
	// Once the offboarding deleted the number, it is unknown.
	numbers2 := &memstore.Numbers{}
	ingest.Secrets = &webhook.SecretCache{Source: numbers2, TTL: time.Minute, NegativeTTL: time.Minute}
	if rec := post("after"); rec.Code != http.StatusUnauthorized || len(queue.sent) != 1 {
		t.Errorf("after: %d, %d queued", rec.Code, len(queue.sent))
	}
}
