package access

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

func TestNewSecretParses(t *testing.T) {
	seen := map[Hash]bool{}
	for range 100 {
		secret, h, err := NewSecret(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(secret) != 46 || !strings.HasPrefix(secret, "kb_") {
			t.Fatalf("secret %q", secret)
		}
		got, err := Parse(secret)
		if err != nil || got != h || got != sha256.Sum256([]byte(secret)) {
			t.Fatalf("parse %q: %x %v, want %x", secret, got, err, h)
		}
		if seen[h] {
			t.Fatal("two secrets alike")
		}
		seen[h] = true
	}
	if _, _, err := NewSecret(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("a short random source made a secret")
	}
}

func TestParseRefuses(t *testing.T) {
	good, _, _ := NewSecret(bytes.NewReader(bytes.Repeat([]byte{0xfb}, 32)))
	for name, s := range map[string]string{
		"empty":         "",
		"prefix only":   "kb_",
		"other prefix":  "kc_" + good[3:],
		"upper prefix":  "KB_" + good[3:],
		"one short":     good[:45],
		"one long":      good + "A",
		"padding":       good[:45] + "=",
		"standard b64":  good[:10] + "+" + good[11:],
		"space":         good[:10] + " " + good[11:],
		"trailing bits": good[:45] + "B", // the last char carries 2 unused bits
		"legacy token":  "dev-bridge-token",
		"much too long": strings.Repeat("a", 1<<20),
	} {
		if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Parse(good); err != nil {
		t.Errorf("good: %v", err)
	}
}

func TestScopes(t *testing.T) {
	got, err := ParseScopes("send, read")
	if err != nil || !slices.Equal(got, []Scope{Read, Send}) {
		t.Errorf("parse: %v %v", got, err)
	}
	for _, bad := range []string{"", "read,", "read,read", "write", "READ"} {
		if _, err := ParseScopes(bad); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
	tok := Token{Name: "ci", Scopes: []Scope{Read, Send}}
	for s, want := range map[Scope]bool{Read: true, Send: true, Onboard: false, Erase: false, Admin: false} {
		if tok.Allows(s) != want {
			t.Errorf("read,send allows %s: %v", s, !want)
		}
	}
	admin := Token{Name: "ops", Scopes: []Scope{Admin}}
	for _, s := range Scopes {
		if !admin.Allows(s) {
			t.Errorf("admin does not allow %s", s)
		}
	}
	admin.RevokedAt = time.Unix(1, 0)
	if admin.Allows(Read) {
		t.Error("a revoked token allows read")
	}
}

func TestCheckToken(t *testing.T) {
	now := time.Unix(1, 0)
	good := Token{Name: "ci-2.a_b", Scopes: []Scope{Read}, CreatedAt: now}
	if err := CheckToken(good); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]Token{
		"no name":       {Scopes: []Scope{Read}, CreatedAt: now},
		"leading dash":  {Name: "-ci", Scopes: []Scope{Read}, CreatedAt: now},
		"hash in name":  {Name: "ci#1", Scopes: []Scope{Read}, CreatedAt: now},
		"long name":     {Name: strings.Repeat("a", 65), Scopes: []Scope{Read}, CreatedAt: now},
		"no scope":      {Name: "ci", CreatedAt: now},
		"unknown scope": {Name: "ci", Scopes: []Scope{"root"}, CreatedAt: now},
		"no time":       {Name: "ci", Scopes: []Scope{Read}},
	} {
		if err := CheckToken(tok); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHashRoundTrip(t *testing.T) {
	_, h, _ := NewSecret(rand.Reader)
	got, err := ParseHash(h.String())
	if err != nil || got != h {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", strings.ToUpper(h.String()), h.String()[:63], h.String() + "0", strings.Repeat("g", 64)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
