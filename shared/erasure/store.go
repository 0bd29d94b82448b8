package erasure

import (
	"bytes"
	"context"
	"errors"
)

// Jobs keeps erasure jobs and their tombstones.
type Jobs interface {
	// Open stores j with one tombstone per identity (stones) and marks the
	// number as having erasures (Marks), in one write, unless a job for j.Person
	// on the number is open: then it stores nothing and answers that job,
	// created false. A tombstone already stored keeps the later ErasedAt.
	Open(ctx context.Context, j Job, stones []Tombstone) (job Job, created bool, err error)
	// Job is the tenant's job id; ok is false when the tenant has none.
	Job(ctx context.Context, tenantID, id string) (j Job, ok bool, err error)
	// Save stores j, conditional on the stored job being at prev: a
	// runner that lost a race gets ErrMoved and stops.
	Save(ctx context.Context, j Job, prev Position) error
	// Unfinished lists up to limit open jobs of every tenant, oldest
	// request first, after the cursor after ("" for the first page); next
	// is "" after the last.
	Unfinished(ctx context.Context, after string, limit int) (jobs []Job, next string, err error)
}

// Marks says which numbers ever had an erasure, so that the writers read
// tombstones for those numbers only.
type Marks interface {
	// Marked reports whether a job was ever opened on the tenant's number.
	Marked(ctx context.Context, tenantID, phoneNumberID string) (bool, error)
}

// ErrMoved is a Save whose job is no longer where its runner read it.
var ErrMoved = errors.New("erasure moved meanwhile")

// Tombstones reads tombstones.
type Tombstones interface {
	// Tombstones are the tenant number's tombstones of the hashes given,
	// those stored.
	Tombstones(ctx context.Context, tenantID, phoneNumberID string, hashes []string) ([]Tombstone, error)
}

// Page is what one page of a step deleted, and where the step goes on.
type Page struct {
	Counts Progress
	// Next is the cursor of the step's next page; unused once Finished.
	Next string
	// Finished: the step has nothing more to delete.
	Finished bool
	// Conversations are the person's conversations the page went through,
	// remembered by the job for the feed step.
	Conversations []string
}

// Eraser deletes what a job erases, one page of one step at a time. A page
// deletes at most limit items of its kind, and deleting what is already
// gone is no error: a page run twice deletes nothing more.
type Eraser interface {
	Erase(ctx context.Context, j Job, step Step, cursor string, limit int) (Page, error)
}

// Objects is the media bucket, for deleting the person's media.
type Objects interface {
	// Delete removes key; a missing key is no error.
	Delete(ctx context.Context, key string) error
}

// NamedIn reports whether raw, a stored event's JSON, names the person: it
// holds one of their BSUIDs, their phone (digits, or with a leading "+"),
// or one of their conversations' ids, as a whole JSON string. A kept event or a told one is matched so,
// without decoding each of its many shapes.
func (i Identities) NamedIn(raw []byte) bool {
	var quoted []string
	for _, b := range i.BSUIDs {
		quoted = append(quoted, `"`+b+`"`)
	}
	if i.Phone != "" {
		quoted = append(quoted, `"`+i.Phone+`"`, `"+`+i.Phone+`"`)
	}
	for _, c := range i.Conversations {
		quoted = append(quoted, `"`+c+`"`)
	}
	for _, q := range quoted {
		if bytes.Contains(raw, []byte(q)) {
			return true
		}
	}
	return false
}
