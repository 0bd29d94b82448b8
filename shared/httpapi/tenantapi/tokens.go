package tenantapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// ConfiguredTokenName is the name of the token set as BRIDGE_API_TOKEN,
// which grants admin.
const ConfiguredTokenName = "bridge-api-token"

// How the tenant API remembers the tokens it looked up, per running
// instance: a token found is trusted for TokenCacheTTL, so a revoked one
// stops working within it; a secret not found is refused for MissCacheTTL
// without reading the store again. At most MaxCachedTokens are kept, and
// at most TokenLookupsPerSecond lookups reach the store (a burst of as many),
// so a flood of unknown secrets costs the store no more than that.
const (
	TokenCacheTTL         = 60 * time.Second
	MissCacheTTL          = 10 * time.Second
	MaxCachedTokens       = 4096
	TokenLookupsPerSecond = 20
	tokenLookupTimeout    = 2 * time.Second
)

// authenticator finds the token of a bearer secret.
type authenticator struct {
	configured [sha256.Size]byte
	// hasConfigured is false when no token is set: then none matches it.
	hasConfigured bool
	store         access.Store
	now           func() time.Time

	mu    sync.Mutex
	cache map[access.Hash]cachedToken
	// allowance is how many lookups may reach the store now, refilled at
	// TokenLookupsPerSecond up to as many.
	allowance float64
	refilled  time.Time
}

type cachedToken struct {
	token access.Token
	found bool
	until time.Time
}

func newAuthenticator(configured string, store access.Store, now func() time.Time) *authenticator {
	return &authenticator{configured: sha256.Sum256([]byte(configured)), hasConfigured: configured != "", store: store,
		now: now, cache: map[access.Hash]cachedToken{}, allowance: TokenLookupsPerSecond}
}

// isConfigured compares secret with the configured token in constant time
// over digests, so that neither its content nor its length leaks.
func (a *authenticator) isConfigured(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return a.hasConfigured && subtle.ConstantTimeCompare(a.configured[:], sum[:]) == 1
}

// configuredToken is the token BRIDGE_API_TOKEN stands for.
func configuredToken() access.Token {
	return access.Token{Name: ConfiguredTokenName, Scopes: []access.Scope{access.Admin}}
}

// lookup finds the token of a well-formed secret's hash: from the cache,
// else from the store. A store that fails or hangs, or a lookup over the
// allowance, is errs.Unavailable.
func (a *authenticator) lookup(ctx context.Context, h access.Hash) (access.Token, bool, error) {
	if a.store == nil {
		return access.Token{}, false, nil
	}
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[h]
	if hit && now.Before(c.until) {
		a.mu.Unlock()
		return c.token, c.found, nil
	}
	if !a.take(now) {
		a.mu.Unlock()
		return access.Token{}, false, &errs.Error{Code: errs.Unavailable, Message: "too many token lookups; retry",
			RetryAfter: time.Second}
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, tokenLookupTimeout)
	defer cancel()
	tok, found, err := a.store.TokenByHash(ctx, h)
	if err != nil {
		return access.Token{}, false, errs.E(errs.Unavailable, "try again", fmt.Errorf("look up the bearer token: %w", err))
	}
	ttl := TokenCacheTTL
	if !found {
		ttl = MissCacheTTL
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keep(h, cachedToken{token: tok, found: found, until: now.Add(ttl)}, now)
	return tok, found, nil
}

// take spends one lookup of the allowance, if there is one.
func (a *authenticator) take(now time.Time) bool {
	if !a.refilled.IsZero() {
		a.allowance = min(TokenLookupsPerSecond, a.allowance+now.Sub(a.refilled).Seconds()*TokenLookupsPerSecond)
	}
	a.refilled = now
	if a.allowance < 1 {
		return false
	}
	a.allowance--
	return true
}

// keep caches c under h; when the cache is full it drops what expired,
// then, if still full, any one entry.
func (a *authenticator) keep(h access.Hash, c cachedToken, now time.Time) {
	if _, ok := a.cache[h]; !ok && len(a.cache) >= MaxCachedTokens {
		for k, v := range a.cache {
			if !now.Before(v.until) {
				delete(a.cache, k)
			}
		}
		for k := range a.cache {
			if len(a.cache) < MaxCachedTokens {
				break
			}
			delete(a.cache, k)
		}
	}
	a.cache[h] = c
}
