package messaging

import "time"

// ContactBook holds the contacts of one number by person key (Person.Key),
// for a store that reads and writes them in one step, such as an in-memory
// one: the functions below apply Store's contact writes to it whole. A
// store that cannot takes the same steps with conditional writes.
type ContactBook interface {
	Entry(key string) (ContactEntry, bool)
	SetEntry(key string, e ContactEntry)
}

// ContactMap is a ContactBook in memory.
type ContactMap map[string]ContactEntry

// Entry implements ContactBook.
func (m ContactMap) Entry(key string) (ContactEntry, bool) {
	e, ok := m[key]
	return e, ok
}

// SetEntry implements ContactBook.
func (m ContactMap) SetEntry(key string, e ContactEntry) { m[key] = e }

// ContactEntry is a contact as a ContactBook keeps it.
type ContactEntry struct {
	ContactRecord
	// MergedInto is the key of the contact this one was merged into, ""
	// while it holds the person.
	MergedInto string
	// PhoneLinked is the phone whose contact this one last took in.
	PhoneLinked string
}

// mergedInto reads b's merge pointers, for FollowMerges and IdentityTarget.
func mergedInto(b ContactBook) func(key string) (string, error) {
	return func(key string) (string, error) {
		e, _ := b.Entry(key)
		return e.MergedInto, nil
	}
}

// entry is the contact under key, a new one of the number when there is none.
func entry(b ContactBook, phoneNumberID, key string) ContactEntry {
	if e, ok := b.Entry(key); ok {
		return e
	}
	return ContactEntry{ContactRecord: ContactRecord{Contact: Contact{PhoneNumberID: phoneNumberID}}}
}

// SightContact is Store.PutContact: the sighting merges into the contact
// p's key leads to (MergeContact, p as Person.Under says), which takes in
// p's phone contact when the sighting links it (LinksPhone, Absorb).
func SightContact(b ContactBook, phoneNumberID string, p Person, s Sighting) {
	key, _ := FollowMerges(p.Key(), mergedInto(b))
	e := entry(b, phoneNumberID, key)
	e.ContactRecord, _ = MergeContact(e.ContactRecord, Sighted(phoneNumberID, p.Under(key), s))
	if phoneKey, ok := LinksPhone(p, key, e.PhoneLinked); ok {
		old := entry(b, phoneNumberID, phoneKey)
		e.ContactRecord = Absorb(e.ContactRecord, old.ContactRecord)
		e.PhoneLinked = p.Phone
		old.MergedInto = key
		b.SetEntry(phoneKey, old)
	}
	b.SetEntry(key, e)
}

// PreferContact is Store.SetMarketingPreference: SetPreference at the
// contact p's key leads to.
func PreferContact(b ContactBook, phoneNumberID string, p Person, pref MarketingPreference) {
	key, _ := FollowMerges(p.Key(), mergedInto(b))
	e := entry(b, phoneNumberID, key)
	var changed bool
	if e.ContactRecord, changed = SetPreference(e.ContactRecord, p.Under(key), pref); changed {
		b.SetEntry(key, e)
	}
}

// ChangeContactIdentity is Store.ChangeIdentity: ChangedIdentity at the
// contact IdentityTarget names, and the previous BSUID's contact merged
// into it. A change to the same BSUID is a sighting at at.
func ChangeContactIdentity(b ContactBook, phoneNumberID string, previous, current Person, at time.Time) {
	if previous.BSUID == current.BSUID {
		SightContact(b, phoneNumberID, current, Sighting{At: at})
		return
	}
	oldKey, curKey := previous.Key(), current.Key()
	targetKey, revert, _ := IdentityTarget(oldKey, curKey, mergedInto(b))
	old := entry(b, phoneNumberID, oldKey)
	target := entry(b, phoneNumberID, targetKey)
	target.ContactRecord = ChangedIdentity(target.ContactRecord, old.ContactRecord, previous.BSUID, current, targetKey == curKey, at)
	if revert {
		target.MergedInto = ""
	}
	old.MergedInto = targetKey
	b.SetEntry(targetKey, target)
	b.SetEntry(oldKey, old)
}

// LookupContact is the contact the contact under key leads to.
func LookupContact(b ContactBook, key string) (Contact, bool) {
	key, _ = FollowMerges(key, mergedInto(b))
	e, ok := b.Entry(key)
	return e.Contact, ok
}
