package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// SecretSource finds a phone number's webhook secret.
type SecretSource interface {
	Secret(ctx context.Context, phoneNumberID string) (string, error)
}

// ErrUnknownNumber: no secret is known for the number. A SecretSource says
// so with any error whose errs code is NotFound.
var ErrUnknownNumber = errs.E(errs.Unauthorized, "unknown phone number", nil)

// SecretCache keeps secrets briefly in memory: a busy number's deliveries
// then cost no read, and a rotated secret is picked up within TTL (sooner:
// a failed verification refetches once).
type SecretCache struct {
	Source      SecretSource
	TTL         time.Duration
	NegativeTTL time.Duration
	Now         func() time.Time

	mu      sync.Mutex
	entries map[string]cachedSecret
}

type cachedSecret struct {
	secret  string
	missing bool
	until   time.Time
}

func (c *SecretCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Secret returns the cached secret or reads it; fresh bypasses the cache.
func (c *SecretCache) Secret(ctx context.Context, phoneNumberID string, fresh bool) (string, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[phoneNumberID]
	c.mu.Unlock()
	if ok && !fresh && now.Before(e.until) {
		if e.missing {
			return "", ErrUnknownNumber
		}
		return e.secret, nil
	}
	secret, err := c.Source.Secret(ctx, phoneNumberID)
	switch {
	case err != nil && errs.CodeOf(err) == errs.NotFound:
		c.put(phoneNumberID, cachedSecret{missing: true, until: now.Add(c.NegativeTTL)})
		return "", ErrUnknownNumber
	case err != nil:
		return "", err
	}
	c.put(phoneNumberID, cachedSecret{secret: secret, until: now.Add(c.TTL)})
	return secret, nil
}

func (c *SecretCache) put(id string, e cachedSecret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedSecret{}
	}
	// Bounded: numbers are few per deployment, but junk ids must not grow it forever.
	if len(c.entries) >= 10_000 {
		clear(c.entries)
	}
	c.entries[id] = e
}
