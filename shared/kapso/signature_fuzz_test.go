package kapso_test

import (
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

// FuzzVerifySignature holds X-Webhook-Signature verification to its rule:
// a header verifies only when it is, up to hex case, Sign(secret, body);
// the signature itself verifies in either case, and nothing around it does.
func FuzzVerifySignature(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if len(s.Body) < 8<<10 {
			f.Add("number-secret", s.Body, kapso.Sign("number-secret", s.Body))
			f.Add("project-secret", s.Body, "")
		}
	}
	f.Add("segredo-do-webhook", []byte(`{"type":"whatsapp.message.received"}`),
		"66f325f1396ffd7390c4feb64b1bfaea776c1e20ee72b7919618d4faea640504")
	f.Add("segredo-do-webhook", []byte(`{"type":"whatsapp.message.received"}`),
		"sha256=66f325f1396ffd7390c4feb64b1bfaea776c1e20ee72b7919618d4faea640504")
	f.Add("", []byte(`{}`), kapso.Sign("", []byte(`{}`)))
	f.Add("k", []byte(`{}`), strings.Repeat("0", 64))
	f.Add("k", []byte(`{}`), " "+kapso.Sign("k", []byte(`{}`))[1:])
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		want := kapso.Sign(secret, body)
		if kapso.VerifySignature(secret, body, header) && (secret == "" || strings.ToLower(header) != want) {
			t.Fatalf("header %q accepted for secret %q; the signature is %s", header, secret, want)
		}
		if secret == "" {
			if kapso.VerifySignature(secret, body, want) {
				t.Fatal("an empty secret verified")
			}
			return
		}
		for _, good := range []string{want, strings.ToUpper(want)} {
			if !kapso.VerifySignature(secret, body, good) {
				t.Fatalf("signature %s refused", good)
			}
		}
		for _, bad := range []string{"", "sha256=" + want, " " + want, want + "\n", want[:63], want + "0",
			want[:63] + flip(want[63])} {
			if kapso.VerifySignature(secret, body, bad) {
				t.Fatalf("header %q accepted", bad)
			}
		}
		if kapso.VerifySignature(secret, append(body, ' '), want) {
			t.Fatal("the signature of a body verified another body")
		}
	})
}

// flip is another hex digit than c.
func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
