// Package access holds who may call the /v1 API: named tokens, the scopes
// each grants, their secrets and the hashes by which they are stored, and
// the audit trail of what they wrote. A secret is shown once, when it is
// made; only its SHA-256 is ever stored.
package access

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Scope is what a token may do.
type Scope string

// The scopes. Admin implies every other.
const (
	Read    Scope = "read"    // every GET
	Send    Scope = "send"    // messages, media uploads, templates
	Onboard Scope = "onboard" // setup links
	Erase   Scope = "erase"   // erasing people and tenants
	Admin   Scope = "admin"   // everything, the audit trail included
)

// Scopes lists every scope, in a fixed order.
var Scopes = []Scope{Read, Send, Onboard, Erase, Admin}

// ParseScopes reads a comma-separated list of scopes ("read,send"): at
// least one, each known, none twice. They come back sorted as Scopes.
func ParseScopes(list string) ([]Scope, error) {
	if list == "" {
		return nil, errs.E(errs.Invalid, "scopes: name at least one of "+scopeNames(), nil)
	}
	var out []Scope
	for name := range strings.SplitSeq(list, ",") {
		s := Scope(strings.TrimSpace(name))
		if !slices.Contains(Scopes, s) {
			return nil, errs.E(errs.Invalid, fmt.Sprintf("scopes: %q is not one of %s", name, scopeNames()), nil)
		}
		if slices.Contains(out, s) {
			return nil, errs.E(errs.Invalid, fmt.Sprintf("scopes: %q given twice", s), nil)
		}
		out = append(out, s)
	}
	return sortScopes(out), nil
}

func sortScopes(s []Scope) []Scope {
	slices.SortFunc(s, func(a, b Scope) int { return slices.Index(Scopes, a) - slices.Index(Scopes, b) })
	return s
}

func scopeNames() string {
	names := make([]string, len(Scopes))
	for i, s := range Scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Token is a named grant of scopes. Several tokens may share a name, each
// with its own secret: rotating a name's secret is making a new token of
// that name, moving callers to it, then revoking the name's old ones.
type Token struct {
	Name      string
	Scopes    []Scope
	CreatedAt time.Time
	// RevokedAt is when the token stopped working; zero while it works.
	RevokedAt time.Time
}

// Revoked reports whether the token no longer works.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Allows reports whether the token, while not revoked, grants scope.
func (t Token) Allows(scope Scope) bool {
	return !t.Revoked() && (slices.Contains(t.Scopes, scope) || slices.Contains(t.Scopes, Admin))
}

// MaxNameChars bounds a token's name.
const MaxNameChars = 64

// ValidName reports whether name is 1 to MaxNameChars characters of
// A-Z a-z 0-9 . _ -, the first a letter or digit.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameChars {
		return false
	}
	for i, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// CheckToken refuses a token that cannot be stored: a bad name, no scope
// or an unknown one, no creation time.
func CheckToken(t Token) error {
	switch {
	case !ValidName(t.Name):
		return errs.E(errs.Invalid, fmt.Sprintf("name: must be 1 to %d characters of A-Z a-z 0-9 . _ -, the first a letter or digit", MaxNameChars), nil)
	case len(t.Scopes) == 0:
		return errs.E(errs.Invalid, "scopes: name at least one", nil)
	case t.CreatedAt.IsZero():
		return errs.E(errs.Invalid, "created_at: missing", nil)
	}
	for _, s := range t.Scopes {
		if !slices.Contains(Scopes, s) {
			return errs.E(errs.Invalid, fmt.Sprintf("scopes: %q is not a scope", s), nil)
		}
	}
	return nil
}

// A secret is SecretPrefix then the unpadded base64url of SecretBytes
// random bytes: 46 characters, which a scanner for leaked credentials can
// recognise by its prefix.
const (
	SecretPrefix = "kb_"
	SecretBytes  = 32
	SecretChars  = len(SecretPrefix) + (SecretBytes*8+5)/6
)

// Hash is the SHA-256 of a secret: what a token is stored and found by.
type Hash [sha256.Size]byte

// String is the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash written by String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, errs.E(errs.Invalid, "token hash: not 64 hex digits", nil)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil || strings.ToLower(s) != s {
		return Hash{}, errs.E(errs.Invalid, "token hash: not 64 lower-case hex digits", err)
	}
	return h, nil
}

// ErrMalformed is a string that is not a secret of this format.
var ErrMalformed = errors.New("not a kapso-bridge token")

var secretEncoding = base64.RawURLEncoding.Strict()

// NewSecret makes a secret from SecretBytes of random (crypto/rand.Reader)
// and returns it with its hash.
func NewSecret(random io.Reader) (string, Hash, error) {
	b := make([]byte, SecretBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", Hash{}, fmt.Errorf("make a token secret: %w", err)
	}
	secret := SecretPrefix + secretEncoding.EncodeToString(b)
	return secret, sha256.Sum256([]byte(secret)), nil
}

// Parse checks that secret has the format NewSecret makes (its length
// first, so nothing longer is read) and returns its hash.
func Parse(secret string) (Hash, error) {
	if len(secret) != SecretChars || !strings.HasPrefix(secret, SecretPrefix) {
		return Hash{}, ErrMalformed
	}
	var b [SecretBytes + 1]byte
	n, err := secretEncoding.Decode(b[:], []byte(secret[len(SecretPrefix):]))
	if err != nil || n != SecretBytes {
		return Hash{}, ErrMalformed
	}
	return sha256.Sum256([]byte(secret)), nil
}

// Store keeps the tokens, by the hash of their secret.
type Store interface {
	// CreateToken stores t under h; a hash already stored is errs.Conflict.
	CreateToken(ctx context.Context, h Hash, t Token) error
	// TokenByHash finds the token of a secret's hash, revoked or not.
	TokenByHash(ctx context.Context, h Hash) (Token, bool, error)
	// TokensByName lists the tokens of a name, oldest first; ListTokens
	// lists every token, by name, then oldest first.
	TokensByName(ctx context.Context, name string) ([]Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeTokens revokes, at at, every token of name not revoked yet
	// and says how many it revoked.
	RevokeTokens(ctx context.Context, name string, at time.Time) (int, error)
}

type contextKey struct{}

// NewContext is ctx carrying the token a request was authenticated by.
func NewContext(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, contextKey{}, t)
}

// FromContext is the token NewContext put in ctx.
func FromContext(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(contextKey{}).(Token)
	return t, ok
}
