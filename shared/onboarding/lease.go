package onboarding

import "time"

// Lease lets one worker at a time do what must happen once: create the
// tenant's Kapso customer, register a number's webhook. A store keeps it on
// the item it guards and takes it with a conditional write whose condition is
// Free; a holder that crashes blocks the others only until Until.
type Lease struct {
	Token string
	// Until is zero when the lease was never taken or was given back.
	Until time.Time
}

// Free reports whether a new holder may take the lease at now.
func (l Lease) Free(now time.Time) bool {
	return l.Until.IsZero() || l.Until.Before(now)
}

// HeldBy reports whether token is the current holder's: only it may give the
// lease back, so a holder whose lease lapsed cannot free a successor's.
func (l Lease) HeldBy(token string) bool {
	return token != "" && l.Token == token
}

// LeaseStep is what a request does next about something created once under a
// lease.
type LeaseStep int

const (
	// LeaseDone: it is created and recorded; use it.
	LeaseDone LeaseStep = iota
	// LeaseTake: nobody holds the lease, or its holder's time ran out: take
	// it, then create.
	LeaseTake
	// LeaseWait: another holder's lease is live; wait for its result.
	LeaseWait
)

func (s LeaseStep) String() string {
	return [...]string{"done", "take", "wait"}[s]
}

func nextStep(done bool, l Lease, now time.Time) LeaseStep {
	switch {
	case done:
		return LeaseDone
	case l.Free(now):
		return LeaseTake
	}
	return LeaseWait
}

// CanMap reports whether a lookup to a tenant (from a Kapso customer, or from
// a setup link) may be written for tenantID when it already names owner ("" for
// none): a lookup is written once, and writing it again for the same tenant
// changes nothing.
func CanMap(owner, tenantID string) bool {
	return owner == "" || owner == tenantID
}
