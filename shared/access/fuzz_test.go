package access

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// FuzzTokenParse: Parse accepts exactly the secrets NewSecret makes, and
// its hash is the SHA-256 of what it accepted.
func FuzzTokenParse(f *testing.F) {
	good, _, _ := NewSecret(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	for _, s := range []string{good, "", "kb_", good + "=", good[:45] + "B", "Bearer " + good} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		if h != sha256.Sum256([]byte(s)) {
			t.Fatalf("%q: hash is not the SHA-256 of the secret", s)
		}
		raw, err := secretEncoding.DecodeString(s[len(SecretPrefix):])
		if err != nil {
			t.Fatal(err)
		}
		again, h2, err := NewSecret(bytes.NewReader(raw))
		if err != nil || again != s || h2 != h {
			t.Fatalf("%q accepted but NewSecret of its bytes is %q", s, again)
		}
	})
}
