package bridgeevents

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers of a delivery to the SaaS's webhook URL
// (https://www.standardwebhooks.com): the event's id, the time of this
// attempt, and the signatures.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret: whsec_ then the base64 of the
// key's bytes.
const SecretPrefix = "whsec_"

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock: older or newer is refused as a possible replay.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrBadSecret     = errors.New("not a signing secret (whsec_ and the base64 of at least 24 bytes)")
	ErrNoSignature   = errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	ErrBadTimestamp  = errors.New("webhook-timestamp is not a Unix time, or is more than 5 minutes from now")
	ErrBadSignature  = errors.New("no webhook-signature matches")
	errSecretTooWeak = fmt.Errorf("%w: shorter than 24 bytes", ErrBadSecret)
)

// minSecretBytes is the shortest key Secret accepts.
const minSecretBytes = 24

// Secret decodes a signing secret, whsec_ and the base64 of its key (the
// prefix may be left out).
func Secret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSecret, err)
	}
	if len(key) < minSecretBytes {
		return nil, errSecretTooWeak
	}
	return key, nil
}

// NewSecret makes a signing secret of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a signing secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Sign is the webhook-signature of body sent under id at ts: "v1," and the
// base64 of the HMAC-SHA256, keyed by the secret's key, of
// "<id>.<ts Unix seconds>.<body>".
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body))
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery's headers against its raw body, as received,
// with the secret's key: the timestamp within Tolerance of now, and one of
// the space-separated v1 signatures the body's (others are ignored, so a
// secret can be rotated while both are valid). Decode the body only after.
func Verify(key []byte, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrNoSignature
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(unix, 0)); d > Tolerance || d < -Tolerance {
		return ErrBadTimestamp
	}
	want := mac(key, id, unix, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
