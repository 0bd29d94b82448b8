package messaging

// MergeConversation is the conversation stored after the event c, and
// whether it differs from stored; a zero stored is a conversation not
// stored yet. It is Store.PutConversation's rule: the event with the later
// LastActiveAt sets the fields it gives, and with them the status; an
// older one only fills what stored lacks. At the same LastActiveAt the
// event wins unless it is active and stored ended: an ended conversation
// stays ended, whichever of the two came first. InactiveSince is the latest
// one any event gave (see Conversation.Inactive).
func MergeConversation(stored, c Conversation) (Conversation, bool) {
	newer := c.Supersedes(stored)
	next := stored
	put(false, &next.ID, c.ID)
	put(newer, &next.PhoneNumberID, c.PhoneNumberID)
	next.Person = next.Person.merge(newer, c.Person)
	put(newer, &next.Status, c.Status)
	put(newer, &next.InactivityMinutes, c.InactivityMinutes)
	if newer && !c.LastActiveAt.IsZero() {
		next.LastActiveAt = c.LastActiveAt.UTC()
	}
	// The latest report of inactivity counts, whatever the event's age.
	if !c.InactiveSince.IsZero() && (next.InactiveSince.IsZero() || Instant(c.InactiveSince) > Instant(next.InactiveSince)) {
		next.InactiveSince = c.InactiveSince.UTC()
	}
	return next, !next.same(stored)
}

// Supersedes reports whether the event c is at least as recent as the
// stored conversation: its fields then set the stored ones (see
// MergeConversation). Stores that write with a conditional update spell
// this as their condition.
func (c Conversation) Supersedes(stored Conversation) bool {
	at, was := Instant(c.LastActiveAt), Instant(stored.LastActiveAt)
	return was < at || (was == at && (c.Status != ConversationActive || stored.Status != ConversationEnded))
}

// same reports whether c and d hold the same values, times compared as
// instants.
func (c Conversation) same(d Conversation) bool {
	t, q := d.LastActiveAt, d.InactiveSince
	d.LastActiveAt, d.InactiveSince = c.LastActiveAt, c.InactiveSince
	return c == d && c.LastActiveAt.Equal(t) && c.InactiveSince.Equal(q)
}

// View is c as the Reader lists it: with its person's contact as it is
// now (ok: the person has one), else with the person c names.
func (c Conversation) View(contact Contact, ok bool) ConversationView {
	if !ok {
		contact = Contact{PhoneNumberID: c.PhoneNumberID, Person: c.Person}
	}
	return ConversationView{Conversation: c, Contact: contact}
}
