package kapso

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// The two vectors published in KAPSO.md §2, computed independently of this code.
const (
	vector1Secret = "segredo-do-webhook"
	vector1Body   = `{"type":"whatsapp.message.received"}`
	vector1Sig    = "66f325f1396ffd7390c4feb64b1bfaea776c1e20ee72b7919618d4faea640504"
	vector2Secret = "webhook-secret"
	vector2Hex    = "7b202274657874223a20224f6cc3a120f09f8c8e222c202261223a2031207d0d0a"
	vector2Sig    = "f0988cf20f547de9fdaa8b5a31e0cbdb62162b73c52c0e90746ca691483fc026"
)

func vector2Body(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString(vector2Hex)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{ \"text\": \"Olá 🌎\", \"a\": 1 }\r\n"; string(b) != want {
		t.Fatalf("vector 2 body = %q, want %q", b, want)
	}
	return b
}

func TestSignVectors(t *testing.T) {
	if got := Sign(vector1Secret, []byte(vector1Body)); got != vector1Sig {
		t.Errorf("vector 1: Sign = %s, want %s", got, vector1Sig)
	}
	if got := Sign(vector2Secret, vector2Body(t)); got != vector2Sig {
		t.Errorf("vector 2: Sign = %s, want %s", got, vector2Sig)
	}
}

func TestVerifySignature(t *testing.T) {
	body2 := vector2Body(t)
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"vector 1", vector1Secret, []byte(vector1Body), vector1Sig, true},
		{"vector 2", vector2Secret, body2, vector2Sig, true},
		{"vector 1 uppercase hex", vector1Secret, []byte(vector1Body), strings.ToUpper(vector1Sig), true},
		{"vector 2 mixed case hex", vector2Secret, body2, strings.ToUpper(vector2Sig[:32]) + vector2Sig[32:], true},
		{"sha256= prefix", vector1Secret, []byte(vector1Body), "sha256=" + vector1Sig, false},
		{"leading space", vector1Secret, []byte(vector1Body), " " + vector1Sig, false},
		{"trailing newline", vector1Secret, []byte(vector1Body), vector1Sig + "\n", false},
		{"space inside, same length", vector1Secret, []byte(vector1Body), vector1Sig[:63] + " ", false},
		{"truncated", vector1Secret, []byte(vector1Body), vector1Sig[:62], false},
		{"non-hex, same length", vector1Secret, []byte(vector1Body), "zz" + vector1Sig[2:], false},
		{"one digit off", vector1Secret, []byte(vector1Body), vector1Sig[:63] + "5", false},
		{"wrong secret", "other-secret", []byte(vector1Body), vector1Sig, false},
		{"secrets swapped", vector2Secret, []byte(vector1Body), vector1Sig, false},
		{"empty secret", "", []byte(vector1Body), Sign("", []byte(vector1Body)), false},
		{"empty header", vector1Secret, []byte(vector1Body), "", false},
		{"body without CRLF", vector2Secret, bytes.TrimRight(body2, "\r\n"), vector2Sig, false},
		{"body with extra byte", vector1Secret, []byte(vector1Body + " "), vector1Sig, false},
		{"base64 instead of hex", vector1Secret, []byte(vector1Body), "ZvMl8Tlv/XOQxP62SxvA6nceHiDucreRlhjU+upABQQ=", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}

// A body decoded and encoded again carries the same data but not the same
// bytes, so it must not verify: verification needs the raw request body.
func TestReserialisedJSONDoesNotVerify(t *testing.T) {
	for _, v := range []struct {
		secret, sig string
		body        []byte
	}{
		{vector1Secret, vector1Sig, []byte(vector1Body)},
		{vector2Secret, vector2Sig, vector2Body(t)},
	} {
		var decoded map[string]any
		if err := json.Unmarshal(v.body, &decoded); err != nil {
			t.Fatal(err)
		}
		reencoded, err := json.MarshalIndent(decoded, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		compact, err := json.Marshal(decoded)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{reencoded, compact} {
			if bytes.Equal(b, v.body) {
				continue // identical bytes would of course verify
			}
			if VerifySignature(v.secret, b, v.sig) {
				t.Errorf("re-serialised body %q verified", b)
			}
		}
		if !VerifySignature(v.secret, v.body, v.sig) {
			t.Errorf("raw body %q did not verify", v.body)
		}
	}
}

func TestSignRoundTrip(t *testing.T) {
	for _, body := range []string{"", "{}", `{"a":"ç"}`, strings.Repeat("x", 1<<16)} {
		sig := Sign("s3cret", []byte(body))
		if len(sig) != 64 || strings.ToLower(sig) != sig {
			t.Errorf("Sign(%.10q) = %q: want 64 lowercase hex", body, sig)
		}
		if !VerifySignature("s3cret", []byte(body), sig) {
			t.Errorf("Sign(%.10q) does not verify", body)
		}
	}
}
