package erasure

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// A tombstone says a person was erased from a number at a time: nothing
// of theirs dated at or before it may be stored again. It must not keep
// what it stands for, so it holds no phone or BSUID, only a keyed hash of
// one (Hasher): the table alone, a backup or an export of it, cannot tell
// whose it is, nor be checked against a list of phone numbers (which a
// plain hash could, the phone space being small). Whoever holds the key
// and the table can test a phone they already know; that is what the
// bridge itself must do to drop a late message.
type Tombstone struct {
	TenantID      string
	PhoneNumberID string
	// Hash is Hasher.Person of one identity.
	Hash     string
	ErasedAt time.Time
	JobID    string
}

// Covers reports whether something dated at is erased by t: dated at or
// before the erasure. Something without a date (zero) is covered: it
// cannot show it came after.
func (t Tombstone) Covers(at time.Time) bool {
	return at.IsZero() || !at.After(t.ErasedAt)
}

// MinKeyBytes is the shortest hash key Hasher takes.
const MinKeyBytes = 32

// Hasher hashes a person's identity for a tombstone: HMAC-SHA256 under a
// key of the deployment, over the tenant, the number and the person key,
// so the same person has unrelated hashes on two numbers.
type Hasher struct{ key []byte }

// ErrShortKey is a hash key shorter than MinKeyBytes.
var ErrShortKey = errors.New("erasure hash key shorter than 32 bytes")

// NewHasher hashes under key, which must hold at least MinKeyBytes.
func NewHasher(key []byte) (Hasher, error) {
	if len(key) < MinKeyBytes {
		return Hasher{}, ErrShortKey
	}
	return Hasher{key: append([]byte(nil), key...)}, nil
}

// Person is the hash of the person key (messaging.Person.Key) on the
// tenant's number, in hex.
func (h Hasher) Person(tenantID, phoneNumberID, personKey string) string {
	m := hmac.New(sha256.New, h.key)
	for _, part := range []string{tenantID, phoneNumberID, personKey} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Hashes are the hashes of every identity in ids.
func (h Hasher) Hashes(tenantID, phoneNumberID string, ids Identities) []string {
	keys := ids.Keys()
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, h.Person(tenantID, phoneNumberID, k))
	}
	return out
}

// personKeys are the person keys p can be named by: its BSUID, its
// parent BSUID and its phone.
func personKeys(p messaging.Person) []string {
	var out []string
	if p.BSUID != "" {
		out = append(out, messaging.Person{BSUID: p.BSUID}.Key())
	}
	if p.ParentBSUID != "" {
		out = append(out, messaging.Person{BSUID: p.ParentBSUID}.Key())
	}
	if p.Phone != "" {
		out = append(out, messaging.Person{Phone: p.Phone}.Key())
	}
	return out
}

// Guard decides whether something about a person may be stored on a
// number: not when a tombstone of any of their identities covers its
// date. The writers (the messages worker, the outbound path, the media
// worker, the reconciler) ask it only for numbers with erasures (Marked),
// so a number without one costs no read.
type Guard struct {
	Hasher     Hasher
	Tombstones Tombstones
}

// Erased reports whether something dated at, naming the people given
// (a message's sender and recipient, a status's recipient), is erased on
// the tenant's number: then it is dropped, not stored.
func (g Guard) Erased(ctx context.Context, tenantID, phoneNumberID string, at time.Time, people ...messaging.Person) (bool, error) {
	stones, err := g.Of(ctx, tenantID, phoneNumberID, people...)
	return covered(stones, at), err
}

// Of are the tombstones of the people given on the tenant's number, those
// stored: none when nobody named was ever erased there.
func (g Guard) Of(ctx context.Context, tenantID, phoneNumberID string, people ...messaging.Person) ([]Tombstone, error) {
	var hashes []string
	for _, p := range people {
		for _, k := range personKeys(p) {
			hashes = append(hashes, g.Hasher.Person(tenantID, phoneNumberID, k))
		}
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	stones, err := g.Tombstones.Tombstones(ctx, tenantID, phoneNumberID, hashes)
	if err != nil {
		return nil, fmt.Errorf("read tombstones on %s: %w", phoneNumberID, err)
	}
	return stones, nil
}

// covered reports whether one of stones covers at.
func covered(stones []Tombstone, at time.Time) bool {
	for _, t := range stones {
		if t.Covers(at) {
			return true
		}
	}
	return false
}
