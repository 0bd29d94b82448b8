package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// The expiries of dynamo.Messages under its Retention, one per item as the
// table keeps them: a message's is set by a copy with the message's time
// and only filled by any other write, a conversation's and a contact's
// move with each newer activity, a send's is its creation plus the
// retention. Reads leave out what has expired, at the store's clock;
// ApplyRetention is the reconciler's backfill over them.

var _ messaging.RetentionBackfill = (*Messages)(nil)

// itemExpiry is an item's expires_at and the retention_days it was
// computed with.
type itemExpiry struct {
	at   time.Time
	days int
}

// Items, named as the table's keys are (without the tenant, whose
// messages they are).
func messageItem(wamid string) string       { return "MSG#" + wamid }
func conversationItem(id string) string     { return "CONV#" + id }
func outboundItem(id string) string         { return "OUT#" + id }
func contactItem(number, key string) string { return "CONTACT#" + number + "#" + key }

// contactItem is the item of the contact key leads to through merges.
func (t *tenantMessages) contactItem(number, key string) string {
	b := t.contacts[number]
	final, _ := messaging.FollowMerges(key, func(k string) (string, error) { return b[k].MergedInto, nil })
	return contactItem(number, final)
}

func (s *Messages) now() time.Time { return now(s.Now) }

// expire sets the item's expiry from at when move, else fills it; nothing
// without a retention.
func (s *Messages) expire(t *tenantMessages, item string, move bool, at time.Time) {
	if !s.Retention.Set() {
		return
	}
	if _, ok := t.exp[item]; ok && !move {
		return
	}
	t.exp[item] = itemExpiry{at: s.Retention.ExpiresAt(at, s.now()), days: s.Retention.Days}
}

// expireContacts gives the number's contacts their expiries after a
// write: moved for those seen later than before it (seen), filled for
// the others.
func (s *Messages) expireContacts(t *tenantMessages, number string, seen map[string]time.Time) {
	for k, e := range t.contacts[number] {
		before, was := seen[k]
		s.expire(t, contactItem(number, k), !was || e.LastSeenAt.After(before), e.LastSeenAt)
	}
}

// gone reports whether the item has expired.
func (s *Messages) gone(t *tenantMessages, item string) bool {
	e, ok := t.exp[item]
	return ok && messaging.Expired(e.at, s.now())
}

// ApplyRetention implements messaging.RetentionBackfill over the items in
// key order (tenant, then item); the position is the last key read.
func (s *Messages) ApplyRetention(_ context.Context, r messaging.Retention, position string, limit int) (messaging.RetentionPass, error) {
	var pass messaging.RetentionPass
	if !r.Set() {
		return pass, nil
	}
	if len(position) > 2048 {
		return pass, fmt.Errorf("apply a retention of %d days: %w", r.Days, errs.E(errs.Invalid, "invalid backfill position", nil))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	type item struct {
		key, name string
		t         *tenantMessages
		at        time.Time
	}
	var items []item
	for id, t := range s.tenants {
		add := func(name string, at time.Time) { items = append(items, item{id + "\x00" + name, name, t, at}) }
		for w, m := range t.messages {
			add(messageItem(w), m.m.Timestamp)
		}
		for c, conv := range t.convs {
			add(conversationItem(c), conv.LastActiveAt)
		}
		for o, m := range t.outbox {
			add(outboundItem(o), m.CreatedAt)
		}
		for number, b := range t.contacts {
			for k, e := range b {
				add(contactItem(number, k), e.LastSeenAt)
			}
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		if it.key <= position {
			continue
		}
		if pass.Scanned == limit {
			return pass, nil
		}
		pass.Scanned++
		pass.Next = it.key
		e, ok := it.t.exp[it.name]
		if ok && e.days == r.Days {
			continue
		}
		pass.Stale++
		if ok && messaging.Expired(e.at, now) {
			continue // never brought back
		}
		it.t.exp[it.name] = itemExpiry{at: r.ExpiresAt(it.at, now), days: r.Days}
		pass.Updated++
	}
	pass.Next = ""
	return pass, nil
}
