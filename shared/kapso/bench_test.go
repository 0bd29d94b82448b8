package kapso

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
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

// benchPayload is one of the deliveries make bench measures (events/bench).
func benchPayload(tb testing.TB, name string) []byte {
	tb.Helper()
	s, err := events.Lookup("bench/" + name + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	return s.Body
}

// BenchmarkSplitDecode splits one delivery and decodes every event into its
// typed form: all a worker does before its own logic.
func BenchmarkSplitDecode(b *testing.B) {
	for _, name := range []string{"kapso-message", "kapso-batch-50"} {
		body := benchPayload(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := splitDecode(EventMessageReceived, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func splitDecode(header string, body []byte) error {
	items, err := Split(header, body)
	if err != nil {
		return err
	}
	for _, it := range items {
		switch {
		case IsMessageEvent(it.Name):
			_, err = DecodeMessageEvent(it.Payload)
		case IsConversationEvent(it.Name), it.Name == EventMetaBusinessAgentHandover:
			_, err = DecodeConversationEvent(it.Payload)
		case it.Name == EventContactIdentityChanged:
			_, err = DecodeContactIdentityChanged(it.Payload)
		case it.Name == EventContactMarketingPreference:
			_, err = DecodeMarketingPreferenceChanged(it.Payload)
		case IsConnectionCreated(it.Name):
			_, err = DecodeConnectionCreated(it.Name, it.Payload)
		case IsPhoneNumberLifecycle(it.Name):
			_, err = DecodePhoneNumberLifecycle(it.Payload)
		case isWorkflowEvent(it.Name):
			_, err = decodeWorkflowEvent(it.Payload)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
