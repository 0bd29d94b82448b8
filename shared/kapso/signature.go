package kapso

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// signatureHexLen is the length of a hex-encoded SHA-256 digest.
const signatureHexLen = 2 * sha256.Size

// Sign returns the X-Webhook-Signature Kapso sends for body: lowercase hex of
// HMAC-SHA256 keyed by the webhook's secret, over the raw bytes.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is the signature of the raw body
// under secret. It follows Kapso's own verifier: exactly 64 hex characters of
// either case, no "sha256=" prefix, no surrounding whitespace, compared in
// constant time. The body must be the bytes as received: JSON re-serialised
// after decoding does not verify.
func VerifySignature(secret string, body []byte, header string) bool {
	if secret == "" || len(header) != signatureHexLen {
		return false
	}
	// hex.DecodeString rejects anything but hex digits, so a prefix or
	// whitespace inside the 64 characters fails here too.
	got, err := hex.DecodeString(header)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
