package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
)

// Claims is the in-memory idempotency.Store (twin of dynamo.Claims).
type Claims struct {
	// Retention is how long an accepted key keeps answering "done" (7 days
	// when zero).
	Retention time.Duration
	Now       func() time.Time

	mu      sync.Mutex
	records map[string]idempotency.Record
}

func (c *Claims) retention() time.Duration {
	if c.Retention > 0 {
		return c.Retention
	}
	return 7 * 24 * time.Hour
}

// Claim implements idempotency.Store.
func (c *Claims) Claim(_ context.Context, key, bodyHash string, lease time.Duration) (idempotency.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := now(c.Now)
	var existing *idempotency.Record
	if r, ok := c.records[key]; ok {
		existing = &r
	}
	if outcome := idempotency.Decide(existing, bodyHash, at); outcome != idempotency.Claimed {
		return idempotency.Result{Outcome: outcome, Existing: existing}, nil
	}
	if c.records == nil {
		c.records = map[string]idempotency.Record{}
	}
	token := randomToken()
	c.records[key] = idempotency.Record{Key: key, Status: idempotency.InProgress, BodyHash: bodyHash, Token: token,
		LeaseUntil: at.Add(lease), ExpiresAt: at.Add(c.retention())}
	return idempotency.Result{Outcome: idempotency.Claimed, Claim: idempotency.Claim{Key: key, Token: token}}, nil
}

// Accept implements idempotency.Store.
func (c *Claims) Accept(_ context.Context, cl idempotency.Claim) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[cl.Key]
	if !ok || r.Token != cl.Token {
		return fmt.Errorf("accept claim %s: %w", cl.Key, idempotency.ErrLostClaim)
	}
	r.Status, r.ExpiresAt = idempotency.Accepted, now(c.Now).Add(c.retention())
	c.records[cl.Key] = r
	return nil
}

// Release implements idempotency.Store.
func (c *Claims) Release(_ context.Context, cl idempotency.Claim) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[cl.Key]
	if !ok || r.Token != cl.Token || r.Status != idempotency.InProgress {
		return fmt.Errorf("release claim %s: %w", cl.Key, idempotency.ErrLostClaim)
	}
	delete(c.records, cl.Key)
	return nil
}
