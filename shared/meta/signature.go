package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignaturePrefix starts Meta's X-Hub-Signature-256 header.
const SignaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 value Meta sends for body: "sha256="
// and the lowercase hex HMAC-SHA256 of the raw bytes keyed by the app secret.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return SignaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header, an X-Hub-Signature-256 value, signs
// the raw body under appSecret. The hex may be of either case; anything else
// around it (a missing prefix, whitespace) fails. The comparison is in
// constant time.
func VerifySignature(appSecret string, body []byte, header string) bool {
	digest, ok := strings.CutPrefix(header, SignaturePrefix)
	if appSecret == "" || !ok || len(digest) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
