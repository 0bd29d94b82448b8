package tenantapi

import "testing"

func TestBearerToken(t *testing.T) {
	cases := map[string]struct {
		token string
		ok    bool
	}{
		"Bearer abc": {"abc", true},
		"bearer abc": {"abc", true},
		"BEARER abc": {"abc", true},
		"Bearer ":    {"", false},
		"Bearer":     {"", false},
		"Basic abc":  {"", false},
		"":           {"", false},
		"abc":        {"", false},
	}
	for header, want := range cases {
		if got, ok := bearerToken(header); got != want.token || ok != want.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", header, got, ok, want.token, want.ok)
		}
	}
}
