// Package erasure is the erasure domain: erasing one person from one
// tenant's number (the right to erasure), as a job that survives crashes,
// and the tombstone that keeps what was erased from coming back. It owns
// the job's states and steps, the tombstone's keyed hash, and the
// interfaces of what keeps jobs and tombstones and of what deletes.
//
// A person on a number is known by a phone, a current BSUID and previous
// BSUIDs (messaging.Contact): an erasure takes all of them, resolved
// through the stored contact, so a message stored under any one of them
// goes.
package erasure

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// State is where an erasure job stands: pending → erasing → done.
type State string

const (
	// Pending: the job and its tombstones are stored, nothing is deleted yet.
	Pending State = "pending"
	// Erasing: deletion has begun; Job.Position says where it goes on.
	Erasing State = "erasing"
	// Done: every step ran, the final sweep included. It is final.
	Done State = "done"
)

// Open reports whether the job still has work to do.
func (s State) Open() bool { return s == Pending || s == Erasing }

// Step is one kind of deletion. A step deletes by pages and goes on from a
// cursor, so a crash repeats at most one page, which deletes nothing more
// the second time.
type Step string

// The steps, in the order a round runs them. Media objects go with their
// message (object first, item second), so no object outlives the only
// record of its key; conversations after their messages, for the same
// reason; the contact last, since the other steps find the person through
// the identities the job holds, not through the contact.
const (
	// StepMessages: every message to or from the person (inbound and
	// outbound items with their statuses, the outbound OUT# items of sends
	// to them, payloads kept aside) and each one's media object.
	StepMessages Step = "messages"
	// StepConversations: the person's conversation items, their aliases
	// and index entries.
	StepConversations Step = "conversations"
	// StepPending: events kept for the number before it connected that
	// name the person.
	StepPending Step = "pending"
	// StepFeed: the feed events that carry the person's messages or name
	// their conversations.
	StepFeed Step = "feed"
	// StepContacts: the contact items of every identity.
	StepContacts Step = "contacts"
)

// Steps is the order of a round.
var Steps = []Step{StepMessages, StepConversations, StepPending, StepFeed, StepContacts}

// Rounds is how many times a job runs every step: once at once, and once
// more after SweepDelay, the final sweep. A worker that read the number
// before its erasure marker was written may store a message of the person
// until its cache expires; the sweep deletes it.
const Rounds = 2

// SweepDelay is how long after the request the final sweep waits: the
// messages worker caches a number's record 30 s, plus a margin for a
// worker's call in flight.
const SweepDelay = 2 * time.Minute

// Identities are every name the person has on the number: the phone
// (Meta's wa_id digits) and BSUIDs, current first, then previous ones.
type Identities struct {
	Phone  string   `json:"phone,omitempty"`
	BSUIDs []string `json:"bsuids,omitempty"`
	// Conversations are the ids of the person's conversations a job
	// found (up to MaxConversations): their messages' status events name
	// the conversation, not the person (a send's id, a WAMID).
	Conversations []string `json:"conversations,omitempty"`
}

// MaxConversations bounds the conversation ids a job remembers.
const MaxConversations = 1000

// Found is i with the conversation ids given remembered too.
func (i Identities) Found(conversations []string) Identities {
	for _, c := range conversations {
		if c != "" && !slices.Contains(i.Conversations, c) && len(i.Conversations) < MaxConversations {
			i.Conversations = append(slices.Clip(i.Conversations), c)
		}
	}
	return i
}

// IdentitiesOf is every identity of c, the contact as it is now.
func IdentitiesOf(c messaging.Contact) Identities {
	var ids Identities
	ids.Phone = c.Person.Phone
	if c.Person.BSUID != "" {
		ids.BSUIDs = append(ids.BSUIDs, c.Person.BSUID)
	}
	for _, b := range c.PreviousBSUIDs {
		if b != "" && !slices.Contains(ids.BSUIDs, b) {
			ids.BSUIDs = append(ids.BSUIDs, b)
		}
	}
	return ids
}

// Keys are the person keys (messaging.Person.Key) of every identity: the
// keys contacts, and tombstones, are stored under.
func (i Identities) Keys() []string {
	var out []string
	for _, b := range i.BSUIDs {
		out = append(out, messaging.Person{BSUID: b}.Key())
	}
	if i.Phone != "" {
		out = append(out, messaging.Person{Phone: i.Phone}.Key())
	}
	return out
}

// Names reports whether p is this person: p's BSUID, parent BSUID or
// phone is one of the identities.
func (i Identities) Names(p messaging.Person) bool {
	switch {
	case p.BSUID != "" && slices.Contains(i.BSUIDs, p.BSUID):
		return true
	case p.ParentBSUID != "" && slices.Contains(i.BSUIDs, p.ParentBSUID):
		return true
	}
	return p.Phone != "" && p.Phone == i.Phone
}

// Empty reports whether no identity is known.
func (i Identities) Empty() bool { return i.Phone == "" && len(i.BSUIDs) == 0 }

// Progress counts what a job deleted, by kind.
type Progress struct {
	Messages      int `json:"messages"`
	MediaObjects  int `json:"media_objects"`
	Conversations int `json:"conversations"`
	PendingEvents int `json:"pending_events"`
	FeedEvents    int `json:"feed_events"`
	Contacts      int `json:"contacts"`
}

// Add is p with q's counts added.
func (p Progress) Add(q Progress) Progress {
	p.Messages += q.Messages
	p.MediaObjects += q.MediaObjects
	p.Conversations += q.Conversations
	p.PendingEvents += q.PendingEvents
	p.FeedEvents += q.FeedEvents
	p.Contacts += q.Contacts
	return p
}

// Total is every count added up.
func (p Progress) Total() int {
	return p.Messages + p.MediaObjects + p.Conversations + p.PendingEvents + p.FeedEvents + p.Contacts
}

// Position is where a job goes on: the round (1, then the final sweep 2),
// the step and the step's cursor ("" for its start).
type Position struct {
	Round  int    `json:"round"`
	Step   Step   `json:"step"`
	Cursor string `json:"cursor,omitempty"`
}

// Job is one erasure of one person from one tenant's number.
type Job struct {
	ID            string
	TenantID      string
	PhoneNumberID string
	// Person is the tombstone hash of the person's first identity: two
	// requests for the same person while a job is open find the same job.
	Person     string
	Identities Identities
	// RequestedAt is the erasure's time: anything of the person dated at
	// or before it is erased, and stays so.
	RequestedAt time.Time
	// RequestedBy is the name of the API token that asked for it.
	RequestedBy string
	State       State
	Progress    Progress
	Position    Position
	UpdatedAt   time.Time
	// DoneAt is when the final sweep ended; zero until Done.
	DoneAt time.Time
}

// MaxIdentities bounds the identities one job erases (a phone and its
// BSUIDs): each has its tombstone, written with the job at once.
const MaxIdentities = 32

// MaxIDLength bounds a job id in a path.
const MaxIDLength = 64

// IDPrefix starts every job id.
const IDPrefix = "era_"

// ValidID reports whether id can be a job id: IDPrefix, then 1 to 60
// lowercase letters or digits.
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, IDPrefix)
	if !ok || rest == "" || len(id) > MaxIDLength {
		return false
	}
	return strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// NewJob is a pending job to erase the person ids names from the tenant's
// number, requested at now; person is the hash Hasher.Person gives.
func NewJob(id, tenantID, phoneNumberID, person string, ids Identities, now time.Time) (Job, error) {
	switch {
	case !ValidID(id):
		return Job{}, errs.E(errs.Invalid, "erasure id malformed", nil)
	case tenantID == "" || phoneNumberID == "" || person == "":
		return Job{}, errs.E(errs.Invalid, "erasure without tenant, number or person", nil)
	case ids.Empty():
		return Job{}, errs.E(errs.Invalid, "erasure of nobody", nil)
	case len(ids.Keys()) > MaxIdentities:
		return Job{}, errs.E(errs.Invalid, "erasure of too many identities", nil)
	case now.IsZero():
		return Job{}, errs.E(errs.Invalid, "erasure without time", nil)
	}
	now = now.UTC()
	return Job{
		ID: id, TenantID: tenantID, PhoneNumberID: phoneNumberID, Person: person,
		Identities: ids, RequestedAt: now, State: Pending,
		Position:  Position{Round: 1, Step: Steps[0]},
		UpdatedAt: now,
	}, nil
}

// SweepAt is when the job's final sweep may start.
func (j Job) SweepAt() time.Time { return j.RequestedAt.Add(SweepDelay) }

// Waiting reports whether the job is open but must wait until SweepAt
// before it goes on.
func (j Job) Waiting(now time.Time) bool {
	return j.State.Open() && j.Position.Round >= Rounds && now.Before(j.SweepAt())
}

// Advanced is j after one page of its current step: counts added, and the
// position moved to next, or, when the step is finished, to the next
// step, the next round, or Done.
func (j Job) Advanced(counts Progress, next string, finished bool, now time.Time) Job {
	j.Progress = j.Progress.Add(counts)
	j.UpdatedAt = now.UTC()
	if j.State == Pending {
		j.State = Erasing
	}
	if !finished {
		j.Position.Cursor = next
		return j
	}
	i := slices.Index(Steps, j.Position.Step)
	switch {
	case i >= 0 && i+1 < len(Steps):
		j.Position = Position{Round: j.Position.Round, Step: Steps[i+1]}
	case j.Position.Round < Rounds:
		j.Position = Position{Round: j.Position.Round + 1, Step: Steps[0]}
	default:
		// Done, the job forgets whom it erased: only the hash stays.
		j.State, j.DoneAt = Done, now.UTC()
		j.Position = Position{Round: j.Position.Round}
		j.Identities = Identities{}
	}
	return j
}

// Check reports whether j, as read from a store, is one this package
// makes: a known state, and an open job at a known step.
func (j Job) Check() error {
	switch {
	case !ValidID(j.ID) || j.TenantID == "" || j.PhoneNumberID == "":
		return fmt.Errorf("erasure %q: no id, tenant or number", j.ID)
	case j.State != Pending && j.State != Erasing && j.State != Done:
		return fmt.Errorf("erasure %s: unknown state %q", j.ID, j.State)
	case j.State.Open() && (!slices.Contains(Steps, j.Position.Step) || j.Position.Round < 1 || j.Position.Round > Rounds):
		return fmt.Errorf("erasure %s: unknown position %+v", j.ID, j.Position)
	}
	return nil
}
