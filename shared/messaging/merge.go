package messaging

import "time"

// The merges below are the rules every Store applies: each takes what is
// stored and what one event says, and returns what is stored after. They
// are written so that the events of a message, a conversation or a person
// applied in any order, or more than once, end the same. A store that reads
// before it writes calls them; one that writes with conditional updates
// spells the same rule in its conditions, and the contract suite
// (testkit/storetest) holds it to the result of these functions.

// Instant is t's place in the stores' time order: unix nanoseconds, with
// the zero time and anything before 1970 at 0, the oldest. The merges
// compare times so, and the stores keep and index them so.
func Instant(t time.Time) int64 {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return t.UnixNano()
}

// utc is t in UTC, the zero time left alone.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// put gives *dst v when v is not empty and either win or *dst is empty: the
// newer value sets a field, an older one only fills it.
func put[T comparable](win bool, dst *T, v T) {
	var zero T
	if v != zero && (win || *dst == zero) {
		*dst = v
	}
}

// putPtr is put for a pointer field; the value taken is a copy.
func putPtr[T any](win bool, dst **T, v *T) {
	if v != nil && (win || *dst == nil) {
		c := *v
		*dst = &c
	}
}

// merge is p after q, another view of the same person: q's fields set p's
// (win) or only fill what p lacks.
func (p Person) merge(win bool, q Person) Person {
	put(win, &p.BSUID, q.BSUID)
	put(win, &p.ParentBSUID, q.ParentBSUID)
	put(win, &p.Username, q.Username)
	put(win, &p.Phone, q.Phone)
	put(win, &p.Name, q.Name)
	return p
}

// withoutKeys is p without its BSUIDs.
func (p Person) withoutKeys() Person {
	p.BSUID, p.ParentBSUID = "", ""
	return p
}
