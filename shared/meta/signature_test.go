package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// Computed once with an independent HMAC implementation.
const (
	fixedSecret = "meta-app-secret"
	fixedBody   = `{"object":"whatsapp_business_account","entry":[]}`
	fixedHeader = "sha256=ee9f05f989bc0aa2693d85691a477f8b8403933cde7959a1c5c6be7ea85e8d3d"
)

func expected(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestSignFixedVector(t *testing.T) {
	if got := Sign(fixedSecret, []byte(fixedBody)); got != fixedHeader {
		t.Errorf("Sign = %s, want %s", got, fixedHeader)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1"}]}` + "\n")
	good := expected("app-secret", body)
	digest := strings.TrimPrefix(good, "sha256=")
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"fixed vector", fixedSecret, []byte(fixedBody), fixedHeader, true},
		{"computed", "app-secret", body, good, true},
		{"uppercase hex", "app-secret", body, "sha256=" + strings.ToUpper(digest), true},
		{"no prefix", "app-secret", body, digest, false},
		{"uppercase prefix", "app-secret", body, "SHA256=" + digest, false},
		{"sha1 prefix", "app-secret", body, "sha1=" + digest, false},
		{"space after prefix", "app-secret", body, "sha256= " + digest, false},
		{"trailing space", "app-secret", body, good + " ", false},
		{"truncated", "app-secret", body, good[:len(good)-1], false},
		{"non-hex", "app-secret", body, "sha256=" + "g" + digest[1:], false},
		{"wrong secret", "other", body, good, false},
		{"body changed", "app-secret", body[:len(body)-1], good, false},
		{"empty secret", "", body, expected("", body), false},
		{"empty header", "app-secret", body, "", false},
		{"prefix only", "app-secret", body, "sha256=", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSignMatchesIndependentHMAC(t *testing.T) {
	for _, body := range []string{"", "{}", "olá 🌎\r\n"} {
		if got, want := Sign("s", []byte(body)), expected("s", []byte(body)); got != want {
			t.Errorf("Sign(%q) = %s, want %s", body, got, want)
		}
	}
}
