package meta_test

import (
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// FuzzVerifySignature holds X-Hub-Signature-256 verification to its rule:
// "sha256=" then the HMAC in hex of either case, nothing else; an empty app
// secret never verifies.
func FuzzVerifySignature(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if s.Route == events.RouteMeta && len(s.Body) < 8<<10 {
			f.Add("meta-app-secret", s.Body, meta.Sign("meta-app-secret", s.Body))
		}
	}
	f.Add("s", []byte(`{}`), strings.TrimPrefix(meta.Sign("s", []byte(`{}`)), meta.SignaturePrefix))
	f.Add("s", []byte(`{}`), "SHA256="+strings.TrimPrefix(meta.Sign("s", []byte(`{}`)), meta.SignaturePrefix))
	f.Add("", []byte(`{}`), meta.Sign("", []byte(`{}`)))
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		want := meta.Sign(secret, body)
		digest := strings.TrimPrefix(want, meta.SignaturePrefix)
		if meta.VerifySignature(secret, body, header) &&
			(secret == "" || meta.SignaturePrefix+strings.ToLower(strings.TrimPrefix(header, meta.SignaturePrefix)) != want) {
			t.Fatalf("header %q accepted for secret %q; the signature is %s", header, secret, want)
		}
		if secret == "" {
			if meta.VerifySignature(secret, body, want) {
				t.Fatal("an empty app secret verified")
			}
			return
		}
		for _, good := range []string{want, meta.SignaturePrefix + strings.ToUpper(digest)} {
			if !meta.VerifySignature(secret, body, good) {
				t.Fatalf("signature %s refused", good)
			}
		}
		for _, bad := range []string{"", digest, "SHA256=" + digest, " " + want, want + " ", want[:len(want)-1]} {
			if meta.VerifySignature(secret, body, bad) {
				t.Fatalf("header %q accepted", bad)
			}
		}
		if meta.VerifySignature(secret, append(body, '\n'), want) {
			t.Fatal("the signature of a body verified another body")
		}
	})
}
