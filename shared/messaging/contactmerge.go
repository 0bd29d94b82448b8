package messaging

import (
	"fmt"
	"slices"
	"time"
)

// ContactRecord is a contact as a store keeps it: the Contact, and the
// time of the sighting that gave it its ConversationID.
type ContactRecord struct {
	Contact
	// ConversationAt is when the sighting that named ConversationID was: a
	// sighting that arrives later but happened earlier does not replace it.
	ConversationAt time.Time
}

// seen reports whether a dated sighting ever showed c's person.
func (c ContactRecord) seen() bool { return !c.LastSeenAt.IsZero() }

// Sighted is the contact the sighting s of p on the number shows alone.
func Sighted(phoneNumberID string, p Person, s Sighting) ContactRecord {
	c := ContactRecord{Contact: Contact{PhoneNumberID: phoneNumberID, Person: p,
		LastSeenAt: utc(s.At), ConversationID: s.ConversationID}}
	if s.Inbound {
		c.LastInboundAt = utc(s.At)
	}
	if s.ConversationID != "" {
		c.ConversationAt = utc(s.At)
	}
	return c
}

// Under is p as the contact under key takes it: whole under p's own key,
// and without its BSUIDs under another, the one a merge led to: the person
// goes by other BSUIDs now, and those of p are among its previous ones. A
// sighting or preference that arrives late under an earlier BSUID thus
// never brings it back.
func (p Person) Under(key string) Person {
	if key != p.Key() {
		return p.withoutKeys()
	}
	return p
}

// Supersedes reports whether view, another view of the person stored
// holds, is at least as recent: stored was never seen, or view was seen at
// or after stored's last sighting. Its person fields then set stored's
// (MergeContact). Stores that write a sighting with a conditional update
// spell this as their condition.
func (view ContactRecord) Supersedes(stored ContactRecord) bool {
	return !stored.seen() || (view.seen() && Instant(stored.LastSeenAt) <= Instant(view.LastSeenAt))
}

// MergeContact is stored after view, another view of the same person, and
// whether it changed; a zero stored is a contact not stored yet. It is
// Store.PutContact's rule for a sighting (view is then Sighted's):
//   - the person: view's fields set stored's when view Supersedes stored,
//     else only fill what stored lacks;
//   - LastSeenAt and LastInboundAt only move forward;
//   - the conversation is the one seen last; at the same time, view's
//     when it supersedes stored;
//   - the marketing preference with the highest sequence (MergePreference);
//   - the previous BSUIDs are stored's then view's.
func MergeContact(stored, view ContactRecord) (ContactRecord, bool) {
	newer := view.Supersedes(stored)
	next := stored
	put(false, &next.PhoneNumberID, view.PhoneNumberID)
	next.Person = next.Person.merge(newer, view.Person)
	if newer && view.seen() {
		next.LastSeenAt = view.LastSeenAt.UTC()
	}
	next.LastInboundAt = later(next.LastInboundAt, view.LastInboundAt)
	if view.ConversationID != "" {
		was, at := Instant(next.ConversationAt), Instant(view.ConversationAt)
		if next.ConversationID == "" || was < at || (newer && was == at) {
			next.ConversationID, next.ConversationAt = view.ConversationID, utc(view.ConversationAt)
		}
	}
	if view.Marketing != nil {
		next.Marketing, _ = MergePreference(next.Marketing, *view.Marketing)
	}
	next.PreviousBSUIDs = previousBSUIDs("", stored.PreviousBSUIDs, view.PreviousBSUIDs)
	return next, !next.same(stored)
}

// Absorb is c after it took in other, another contact of the same person
// (a phone contact merged into a BSUID one, or the contact of a BSUID the
// person had before): MergeContact of other without its BSUIDs and
// previous BSUIDs, since c's are the person's. The one seen last gives the
// person's fields, whichever of the two it is; the marketing preference is
// the one with the highest sequence.
func Absorb(c, other ContactRecord) ContactRecord {
	other.Person, other.PreviousBSUIDs = other.Person.withoutKeys(), nil
	next, _ := MergeContact(c, other)
	return next
}

// ChangedIdentity is the contact an identity change from previousBSUID to
// current.BSUID, at at (zero when the event gave no time), leaves at
// target, the contact the current BSUID leads to (IdentityTarget); own
// says target is the current BSUID's own contact. old is the previous
// BSUID's contact (zero when there is none). The result is target after
// it took in old (Absorb), with current's fields (all of them when own: the
// change names the person as they are; else only what it lacks), the
// newest sighting, and old's previous BSUIDs, then previousBSUID, then
// target's, oldest first. Applying the same change again, even after
// others, changes nothing.
func ChangedIdentity(target, old ContactRecord, previousBSUID string, current Person, own bool, at time.Time) ContactRecord {
	next := Absorb(target, old)
	if own {
		next.Person = next.Person.merge(true, current)
	} else {
		next.Person = next.Person.merge(false, current.withoutKeys())
	}
	if !at.IsZero() && (!next.seen() || Instant(at) > Instant(next.LastSeenAt)) {
		next.LastSeenAt = at.UTC()
	}
	// What target lists already keeps its place: a change delivered again
	// after the next one changes nothing.
	earlier := slices.DeleteFunc(append(slices.Clone(old.PreviousBSUIDs), previousBSUID), func(b string) bool {
		return slices.Contains(target.PreviousBSUIDs, b)
	})
	next.PreviousBSUIDs = previousBSUIDs(next.Person.BSUID, earlier, target.PreviousBSUIDs)
	return next
}

// MergePreference is the marketing preference kept when pref arrives and
// stored is kept (nil: none), and whether pref won: the highest Sequence
// wins, and an equal one keeps what is stored (KAPSO.md §4).
func MergePreference(stored *MarketingPreference, pref MarketingPreference) (*MarketingPreference, bool) {
	if stored != nil && stored.Sequence >= pref.Sequence {
		return stored, false
	}
	pref.OccurredAt = utc(pref.OccurredAt)
	return &pref, true
}

// SetPreference is stored after the marketing preference pref of p, and
// whether it changed: Store.SetMarketingPreference's rule. A preference
// that wins (MergePreference) is kept and fills what stored lacks of p; one
// that loses changes nothing.
func SetPreference(stored ContactRecord, p Person, pref MarketingPreference) (ContactRecord, bool) {
	m, won := MergePreference(stored.Marketing, pref)
	if !won {
		return stored, false
	}
	stored.Person = stored.Person.merge(false, p)
	stored.Marketing = m
	return stored, true
}

// later is the later of two times, a if they are the same instant; the
// zero time is earlier than any other.
func later(a, b time.Time) time.Time {
	if !b.IsZero() && (a.IsZero() || Instant(a) < Instant(b)) {
		return b.UTC()
	}
	return a
}

// previousBSUIDs lists the BSUIDs of lists in order, once each, without
// current ("" for none).
func previousBSUIDs(current string, lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, b := range l {
			if b != current && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// same reports whether c and d hold the same values, times compared as
// instants.
func (c ContactRecord) same(d ContactRecord) bool {
	eq := func(a, b time.Time) bool { return Instant(a) == Instant(b) && a.IsZero() == b.IsZero() }
	return c.PhoneNumberID == d.PhoneNumberID && c.Person == d.Person && slices.Equal(c.PreviousBSUIDs, d.PreviousBSUIDs) &&
		samePreference(c.Marketing, d.Marketing) && eq(c.LastSeenAt, d.LastSeenAt) && eq(c.LastInboundAt, d.LastInboundAt) &&
		c.ConversationID == d.ConversationID && eq(c.ConversationAt, d.ConversationAt)
}

func samePreference(a, b *MarketingPreference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Status == b.Status && a.Sequence == b.Sequence && a.OccurredAt.Equal(b.OccurredAt)
}

// MaxMergeHops bounds how many contact merges a write or a lookup follows.
const MaxMergeHops = 8

// FollowMerges is the key of the contact that holds the person the contact
// under key holds now: it follows the merges mergedInto reports (the key
// a contact was merged into, "" for none or no contact), stopping at a
// repeat or after MaxMergeHops.
func FollowMerges(key string, mergedInto func(key string) (string, error)) (string, error) {
	seen := map[string]bool{}
	for range MaxMergeHops {
		m, err := mergedInto(key)
		if err != nil || m == "" || seen[m] {
			return key, err
		}
		seen[key] = true
		key = m
	}
	return key, nil
}

// IdentityTarget is the contact an identity change from the previous
// BSUID's contact (previousKey) to the current one's (currentKey) writes
// to: the current BSUID's own contact, or where a later change that
// arrived first already merged it. A chain of merges that leads back to
// the previous BSUID is a person going back to an earlier BSUID: the
// current BSUID's contact is then the contact again, and revert says its
// merge is to be undone.
func IdentityTarget(previousKey, currentKey string, mergedInto func(key string) (string, error)) (target string, revert bool, err error) {
	key, seen := currentKey, map[string]bool{currentKey: true}
	for range MaxMergeHops {
		m, err := mergedInto(key)
		switch {
		case err != nil:
			return "", false, fmt.Errorf("follow the merges of %s: %w", key, err)
		case m == "":
			return key, false, nil
		case m == previousKey || seen[m]:
			return currentKey, true, nil
		}
		seen[m] = true
		key = m
	}
	return key, false, nil
}

// LinksPhone reports whether a sighting of p, written to the contact under
// key, which last took in the phone contact of linked, merges p's phone
// contact (phoneKey) into it: p is known by BSUID and phone, and that
// phone's contact is not key's and not taken in yet.
func LinksPhone(p Person, key, linked string) (phoneKey string, ok bool) {
	phoneKey = Person{Phone: p.Phone}.Key()
	return phoneKey, p.BSUID != "" && p.Phone != "" && linked != p.Phone && key != phoneKey
}
