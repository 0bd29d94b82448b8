package kapso

import (
	"crypto/sha256"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// signatureHexLen is the length of a hex-encoded SHA-256 digest.
const signatureHexLen = 2 * sha256.Size

// Kapso signs as Meta does (hex HMAC-SHA256 over the raw body), only
// without the "sha256=" prefix, so both checks share one implementation.

// Sign returns the X-Webhook-Signature Kapso sends for body: lowercase hex of
// HMAC-SHA256 keyed by the webhook's secret, over the raw bytes.
func Sign(secret string, body []byte) string {
	return strings.TrimPrefix(meta.Sign(secret, body), meta.SignaturePrefix)
}

// VerifySignature reports whether header is the signature of the raw body
// under secret. It follows Kapso's own verifier: exactly 64 hex characters of
// either case, no "sha256=" prefix, no surrounding whitespace, compared in
// constant time. An empty secret or header never verifies. The body must be
// the bytes as received: JSON re-serialised after decoding does not verify.
func VerifySignature(secret string, body []byte, header string) bool {
	// At exactly 64 characters the header has no room for a prefix or
	// whitespace beside the digest; the hex decoding rejects any inside it.
	return len(header) == signatureHexLen && meta.VerifySignature(secret, body, meta.SignaturePrefix+header)
}
