package messaging

import (
	"cmp"
	"slices"
	"time"
)

// Delivery is an outbound message's delivery state: what the worker stores
// next to (or, before the message arrives, instead of) the message. It is a
// function of the set of statuses merged into it, never of their order:
// Kapso and Meta deliver statuses in any order and more than once.
//
// The rule, from weakest to strongest: sent < delivered < failed < read.
//   - A status only moves forward, so a late sent or delivered never
//     replaces a later status, and never replaces failed: failed keeps its
//     error.
//   - A read after failed wins, but Error stays set and failed stays in the
//     history. A read receipt is the person's device saying the message is
//     on screen, a fact no failure can undo (the failure was of an attempt
//     that a retry then got through). Keeping "failed" would tell the
//     tenant to send again a message the person has already read, and
//     kapso-bridge never sends twice.
//
// A status for a message not stored yet is merged into an empty Delivery
// and kept; the message, when it arrives, is stored with that Delivery and
// its own statuses are merged in: the result is the same either way.
type Delivery struct {
	WAMID  string
	Status Status    // "" until a status is merged
	At     time.Time // when Status was first reached; zero when unknown
	// Error is the error of the earliest failure, kept even once a read
	// wins.
	Error *StatusError
	// History is every distinct status, in time order. The same status at
	// the same time is one entry; a status with no time is dropped once
	// the same status arrives with one.
	History []StatusEntry
}

// StatusEntry is one status in a Delivery's history.
type StatusEntry struct {
	Status Status
	At     time.Time
	Error  *StatusError
}

// Rank orders statuses for the merge (sent < delivered < failed < read);
// 0 is not a delivery status. Stores that guard the current status with a
// conditional write compare it.
func (s Status) Rank() int {
	switch s {
	case Sent:
		return 1
	case Delivered:
		return 2
	case Failed:
		return 3
	case Read:
		return 4
	}
	return 0
}

// Merge applies a status update to a message's delivery state. It returns
// the next state and whether anything changed; an update for another
// message, or with an unknown status, changes nothing. cur is not modified.
func Merge(cur Delivery, u StatusUpdate) (next Delivery, changed bool) {
	if u.Status.Rank() == 0 || u.WAMID == "" || (cur.WAMID != "" && cur.WAMID != u.WAMID) {
		return cur, false
	}
	e := StatusEntry{Status: u.Status, At: u.At, Error: u.Error}
	if e.Status != Failed {
		e.Error = nil // only a failure carries a cause
	}
	h, changed := add(cur.History, e)
	if !changed {
		return cur, false
	}
	next = Delivery{WAMID: u.WAMID, History: h}
	for _, x := range h {
		if x.Status.Rank() > next.Status.Rank() {
			next.Status, next.At = x.Status, x.At
		}
		if next.Error == nil && x.Error != nil {
			next.Error = x.Error
		}
	}
	// The earliest time the winning status was reached; zero-time entries
	// sort first, so prefer a known time.
	for _, x := range h {
		if x.Status == next.Status && !x.At.IsZero() {
			next.At = x.At
			break
		}
	}
	return next, true
}

// add returns history with e added, deduplicated and in canonical order,
// and whether it differs from history. history is not modified.
func add(history []StatusEntry, e StatusEntry) ([]StatusEntry, bool) {
	for i, x := range history {
		if x.Status != e.Status {
			continue
		}
		switch {
		case x.At.Equal(e.At):
			// Same status, same time: one entry. Of two versions keep the
			// one with the smaller error, whichever came first.
			if compareEntries(e, x) >= 0 {
				return history, false
			}
			h := slices.Clone(history)
			h[i] = e
			return h, true
		case e.At.IsZero():
			return history, false // already known with a time
		case x.At.IsZero():
			h := slices.Delete(slices.Clone(history), i, i+1)
			return add(h, e)
		}
	}
	h := append(slices.Clone(history), e)
	slices.SortFunc(h, compareEntries)
	return h, true
}

// compareEntries is the canonical order: time, then rank, then error. Any
// error sorts before none, so a same-time duplicate keeps its cause.
func compareEntries(a, b StatusEntry) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Status.Rank(), b.Status.Rank()); c != 0 {
		return c
	}
	switch {
	case a.Error == nil && b.Error == nil:
		return 0
	case a.Error == nil:
		return 1
	case b.Error == nil:
		return -1
	}
	ea, eb := *a.Error, *b.Error
	return cmp.Or(
		cmp.Compare(ea.Code, eb.Code),
		cmp.Compare(ea.Title, eb.Title),
		cmp.Compare(ea.Message, eb.Message),
		cmp.Compare(ea.Details, eb.Details),
	)
}
