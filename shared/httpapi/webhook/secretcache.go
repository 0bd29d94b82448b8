package webhook

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// SecretSource finds a phone number's webhook secret. A number with no
// secret is an error whose errs code is NotFound.
type SecretSource interface {
	Secret(ctx context.Context, phoneNumberID string) (string, error)
}

// SecretCache keeps secrets briefly in memory, so a busy number's deliveries
// cost no read. A signature that fails against a cached secret may mean the
// secret was rotated: Refresh rereads it, but at most once per MinRefresh per
// number, so bad signatures cannot turn every request into a read.
type SecretCache struct {
	Source      SecretSource
	TTL         time.Duration
	NegativeTTL time.Duration
	// MinRefresh is the least time between two reads of one number's secret
	// (default 5 s).
	MinRefresh time.Duration
	Now        func() time.Time

	mu      sync.Mutex
	entries map[string]cachedSecret
}

type cachedSecret struct {
	secret  string
	missing bool
	// offboarded: the number's tenant is being offboarded.
	offboarded bool
	fetched    time.Time
}

// maxCachedNumbers bounds the cache: numbers are few per deployment, but
// junk ids must not grow it forever.
const maxCachedNumbers = 10_000

func (c *SecretCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Secret returns the number's secret, from the cache while it is fresh.
func (c *SecretCache) Secret(ctx context.Context, phoneNumberID string) (string, error) {
	now := c.now()
	if e, ok := c.get(phoneNumberID); ok {
		ttl := c.TTL
		if e.missing {
			ttl = c.NegativeTTL
		}
		if now.Sub(e.fetched) < ttl {
			return e.result()
		}
	}
	return c.fetch(ctx, phoneNumberID, now)
}

// Refresh rereads the secret unless it was read within MinRefresh; changed
// says whether the result differs from what was cached.
func (c *SecretCache) Refresh(ctx context.Context, phoneNumberID string) (secret string, changed bool, err error) {
	now := c.now()
	min := c.MinRefresh
	if min <= 0 {
		min = 5 * time.Second
	}
	old, ok := c.get(phoneNumberID)
	if ok && now.Sub(old.fetched) < min {
		secret, err = old.result()
		return secret, false, err
	}
	secret, err = c.fetch(ctx, phoneNumberID, now)
	return secret, !ok || secret != old.secret, err
}

func (e cachedSecret) result() (string, error) {
	if e.offboarded {
		return "", onboarding.ErrNumberOffboarded
	}
	if e.missing {
		return "", errs.E(errs.NotFound, "unknown phone number", nil)
	}
	return e.secret, nil
}

func (c *SecretCache) fetch(ctx context.Context, phoneNumberID string, now time.Time) (string, error) {
	secret, err := c.Source.Secret(ctx, phoneNumberID)
	if errors.Is(err, onboarding.ErrNumberOffboarded) {
		c.put(phoneNumberID, cachedSecret{offboarded: true, fetched: now})
		return "", err
	}
	if err != nil {
		if errs.CodeOf(err) != errs.NotFound {
			return "", err
		}
		c.put(phoneNumberID, cachedSecret{missing: true, fetched: now})
		return "", err
	}
	c.put(phoneNumberID, cachedSecret{secret: secret, fetched: now})
	return secret, nil
}

func (c *SecretCache) get(id string) (cachedSecret, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	return e, ok
}

func (c *SecretCache) put(id string, e cachedSecret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedSecret{}
	}
	if len(c.entries) >= maxCachedNumbers {
		clear(c.entries)
	}
	c.entries[id] = e
}
