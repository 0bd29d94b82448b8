package kapso

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"testing"
)

var benchBody = bytes.Repeat([]byte(`{"message":{"id":"wamid.x","type":"text","text":{"body":"hola"}}}`), 16_000) // ~1 MB

// BenchmarkVerifySignature checks a signature on a 1 MB body; its baseline,
// BenchmarkVerifySignatureBaseline, only hashes the body with SHA-256.
func BenchmarkVerifySignature(b *testing.B) {
	sig := Sign("secret", benchBody)
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if !VerifySignature("secret", benchBody, sig) {
			b.Fatal("signature did not verify")
		}
	}
}

func BenchmarkVerifySignatureBaseline(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		_ = sha256.Sum256(benchBody)
	}
}

// BenchmarkSplitBatch splits a 100-message batch; its baseline only checks
// the body is valid JSON.
func BenchmarkSplitBatch(b *testing.B) {
	body := batchBody(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := Split("whatsapp.message.received", body)
		if err != nil || len(items) != 100 {
			b.Fatalf("%d items, %v", len(items), err)
		}
	}
}

func BenchmarkSplitBatchBaseline(b *testing.B) {
	body := batchBody(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func batchBody(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"type":"whatsapp.message.received","batch":true,"data":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"message":{"id":"wamid.` + string(rune('a'+i%26)) + `","timestamp":"1749416383","type":"text","text":{"body":"hello there"},"from":"16505551234","kapso":{"direction":"inbound","status":"received"}},"conversation":{"id":"conv_1","phone_number":"+16505551234","status":"active"},"is_new_conversation":false,"phone_number_id":"123"}`)
	}
	buf.WriteString(`],"batch_info":{"size":` + strconv.Itoa(n) + `,"window_ms":5000}}`)
	return buf.Bytes()
}
