package erasure

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// MarkTTL is how long Guarded remembers whether a number is marked: a
// job's final sweep runs after it (SweepDelay), so what a stale "not
// marked" lets through is deleted then.
const MarkTTL = 30 * time.Second

// Guarded is a messaging.Store that drops, without an error, every write
// about a person a tombstone covers (dated at or before their erasure),
// on the numbers that had an erasure: a late webhook, a replayed delivery,
// a DLQ redrive or the reconciler's catch-up is then acknowledged and
// stores nothing. A write about someone else, or dated after the erasure,
// goes through; so does a status of an erased person's message stored
// since (ApplyStatus). A number never marked costs one read per MarkTTL.
type Guarded struct {
	messaging.Store
	Marks Marks
	Guard Guard
	// Messages reads whether a status's message is stored.
	Messages Messages
	Log      *slog.Logger
	Now      func() time.Time

	cache markCache
}

var _ messaging.Store = (*Guarded)(nil)

// Messages reads a stored message (messaging.Reader's Message).
type Messages interface {
	Message(ctx context.Context, tenantID, id string) (m messaging.StoredMessage, ok bool, err error)
}

// Check answers the outbound path whether a send's recipient was erased
// after it was asked for: reading tombstones only on numbers marked, each
// number's mark once per MarkTTL.
type Check struct {
	Marks Marks
	Guard Guard
	Now   func() time.Time

	cache markCache
}

// Erased reports whether something dated at, naming the people given, is
// erased on the tenant's number.
func (c *Check) Erased(ctx context.Context, tenantID, phoneNumberID string, at time.Time, people ...messaging.Person) (bool, error) {
	if phoneNumberID == "" {
		return false, nil
	}
	marked, err := c.cache.marked(ctx, c.Marks, now(c.Now), tenantID, phoneNumberID, false)
	if err != nil || !marked {
		return false, err
	}
	return c.Guard.Erased(ctx, tenantID, phoneNumberID, at, people...)
}

// markCache remembers for MarkTTL whether a number is marked.
type markCache struct {
	mu    sync.Mutex
	marks map[[2]string]cachedMark
}

type cachedMark struct {
	marked bool
	until  time.Time
}

func now(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}

// marked answers from the cache unless fresh is asked for.
func (c *markCache) marked(ctx context.Context, marks Marks, now time.Time, tenantID, phoneNumberID string, fresh bool) (bool, error) {
	k := [2]string{tenantID, phoneNumberID}
	c.mu.Lock()
	m, ok := c.marks[k]
	c.mu.Unlock()
	if ok && !fresh && now.Before(m.until) {
		return m.marked, nil
	}
	marked, err := marks.Marked(ctx, tenantID, phoneNumberID)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.marks == nil {
		c.marks = map[[2]string]cachedMark{}
	}
	c.marks[k] = cachedMark{marked: marked, until: now.Add(MarkTTL)}
	c.mu.Unlock()
	return marked, nil
}

// erased reports whether a write dated at about the people given is to be
// dropped.
func (g *Guarded) erased(ctx context.Context, what, tenantID, phoneNumberID string, at time.Time, people ...messaging.Person) (bool, error) {
	stones, err := g.stones(ctx, tenantID, phoneNumberID, people...)
	if err != nil || !covered(stones, at) {
		return false, err
	}
	g.dropped(what, tenantID, phoneNumberID)
	return true, nil
}

// stones are the tombstones of the people on the number; none, without a
// read, on a number never marked.
func (g *Guarded) stones(ctx context.Context, tenantID, phoneNumberID string, people ...messaging.Person) ([]Tombstone, error) {
	if phoneNumberID == "" {
		return nil, nil
	}
	// The reconciler's catch-up hands on what is not stored, an erased
	// person's messages among them, right after the erasure deleted them:
	// its writes read the number's mark afresh (they are few), so a mark
	// remembered from before the erasure lets none of them through.
	fresh := messaging.OriginOf(ctx) == messaging.OriginReconciler
	marked, err := g.cache.marked(ctx, g.Marks, now(g.Now), tenantID, phoneNumberID, fresh)
	if err != nil || !marked {
		return nil, err
	}
	return g.Guard.Of(ctx, tenantID, phoneNumberID, people...)
}

func (g *Guarded) dropped(what, tenantID, phoneNumberID string) {
	if g.Log != nil {
		g.Log.Info("write of an erased person dropped", "what", what, "tenant_id", tenantID, "phone_number_id", phoneNumberID)
	}
}

// PutMessage implements messaging.Store.
func (g *Guarded) PutMessage(ctx context.Context, tenantID string, m messaging.Message, statuses []messaging.StatusUpdate) error {
	people := []messaging.Person{m.From, m.To}
	for _, u := range statuses {
		people = append(people, u.Recipient)
	}
	if drop, err := g.erased(ctx, "message", tenantID, m.PhoneNumberID, m.Timestamp, people...); drop || err != nil {
		return err
	}
	return g.Store.PutMessage(ctx, tenantID, m, statuses)
}

// ApplyStatus implements messaging.Store. A status to an erased person
// is dropped when their tombstone covers its date, and, whatever its date,
// when its message is not stored: a status is never new content from the
// person, and stored alone it would keep their identity with the bare
// status of a message no longer known. Its message is read only then (one
// read more, on numbers with erasures, for statuses to the erased). One
// that names no recipient cannot be told apart and is stored.
func (g *Guarded) ApplyStatus(ctx context.Context, tenantID string, u messaging.StatusUpdate) error {
	stones, err := g.stones(ctx, tenantID, u.PhoneNumberID, u.Recipient)
	switch {
	case err != nil:
		return err
	case len(stones) == 0:
		return g.Store.ApplyStatus(ctx, tenantID, u)
	case covered(stones, u.At):
		g.dropped("status", tenantID, u.PhoneNumberID)
		return nil
	}
	m, ok, err := g.Messages.Message(ctx, tenantID, u.WAMID)
	if err != nil {
		return fmt.Errorf("read message %s of a status to an erased person: %w", u.WAMID, err)
	}
	if !ok || !m.Known {
		g.dropped("status of a message not stored", tenantID, u.PhoneNumberID)
		return nil
	}
	return g.Store.ApplyStatus(ctx, tenantID, u)
}

// PutConversation implements messaging.Store.
func (g *Guarded) PutConversation(ctx context.Context, tenantID string, c messaging.Conversation) error {
	if drop, err := g.erased(ctx, "conversation", tenantID, c.PhoneNumberID, c.LastActiveAt, c.Person); drop || err != nil {
		return err
	}
	return g.Store.PutConversation(ctx, tenantID, c)
}

// PutContact implements messaging.Store.
func (g *Guarded) PutContact(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, s messaging.Sighting) error {
	if drop, err := g.erased(ctx, "contact", tenantID, phoneNumberID, s.At, p); drop || err != nil {
		return err
	}
	return g.Store.PutContact(ctx, tenantID, phoneNumberID, p, s)
}

// ChangeIdentity implements messaging.Store.
func (g *Guarded) ChangeIdentity(ctx context.Context, tenantID, phoneNumberID string, previous, current messaging.Person, at time.Time) error {
	if drop, err := g.erased(ctx, "identity change", tenantID, phoneNumberID, at, previous, current); drop || err != nil {
		return err
	}
	return g.Store.ChangeIdentity(ctx, tenantID, phoneNumberID, previous, current, at)
}

// SetMarketingPreference implements messaging.Store.
func (g *Guarded) SetMarketingPreference(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	if drop, err := g.erased(ctx, "marketing preference", tenantID, phoneNumberID, pref.OccurredAt, p); drop || err != nil {
		return err
	}
	return g.Store.SetMarketingPreference(ctx, tenantID, phoneNumberID, p, pref)
}
