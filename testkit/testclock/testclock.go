// Package testclock is the settable clock tests hand to code that takes a
// Now func, so leases and expiries can be crossed without waiting.
package testclock

import (
	"sync"
	"time"
)

// Clock stands still until advanced; it is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New is a clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Running is a clock that runs with the real one, moved ahead by Advance:
// for code that also waits on real timers, whose times a test still needs
// to set apart. It is safe for concurrent use.
type Running struct {
	mu    sync.Mutex
	ahead time.Duration
}

// NewRunning is a clock reading the real time.
func NewRunning() *Running { return &Running{} }

// Now reads the clock.
func (c *Running) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

// Advance moves the clock on by d.
func (c *Running) Advance(d time.Duration) {
	c.mu.Lock()
	c.ahead += d
	c.mu.Unlock()
}
