package meta

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// ErrMalformed marks a body that is not a JSON object, or an event that
// does not decode. It is always wrapped; test with errors.Is.
var ErrMalformed = errors.New("malformed meta delivery")

// Event names.
const (
	NameMessage = "meta.message"
	NameStatus  = "meta.status"
	NameErrors  = "meta.errors"
	// NamePrefix starts the name of a change of any other field: meta.<field>.
	NamePrefix = "meta."
)

// Kind says what an Event carries.
type Kind uint8

const (
	// KindMessage is one message of a "messages" change.
	KindMessage Kind = iota + 1
	// KindStatus is one status of a "messages" change.
	KindStatus
	// KindErrors is the change-level errors array of a "messages" change.
	KindErrors
	// KindChange is a whole change: of any other field, or a "messages"
	// change with no message, status or errors, kept so that a new kind of
	// content is recorded rather than dropped.
	KindChange
)

// Event is one event of a Meta delivery. Its byte fields are sub-slices of
// the body it was split from, never copies: they are valid while the body
// is, and must not be modified.
type Event struct {
	Kind          Kind
	Field         string // the change's field: "messages", "account_update", "user_id_update", ...
	WABAID        string // the entry id
	PhoneNumberID string // the change value's metadata.phone_number_id, when present
	// Metadata is the raw metadata object of the change value, or nil.
	Metadata []byte
	// Contact is, for a message, the raw contact object of its sender: the
	// contact whose wa_id is the message's from or whose user_id is its
	// from_user_id, else the only contact of the change. Nil for other
	// kinds and for messages without one (system messages have none).
	Contact []byte
	// Raw is the message object, the status object, the errors array, or
	// the change's value ("null" when the change has none).
	Raw []byte
}

// Name is the event's name: meta.message, meta.status, meta.errors or
// meta.<field>.
func (e Event) Name() string {
	switch e.Kind {
	case KindMessage:
		return NameMessage
	case KindStatus:
		return NameStatus
	case KindErrors:
		return NameErrors
	}
	return NamePrefix + e.Field
}

// Split turns one Meta delivery into its events: one per message, one per
// status and one per errors array of each "messages" change, and one per
// change of any other field. It walks the body once and cuts each event out
// of it: nothing is copied or re-encoded, so fields this package does not
// know survive, and the cost stays linear in the body however many contacts
// a change carries.
//
// Only a body that is not a JSON object is an error. Anything inside it that
// does not have the expected shape (another "object", an entry that is not an
// object, a message that is a string…) is skipped: Meta adds shapes without
// notice, and the delivery as a whole must still be accepted. Keys match as
// encoding/json matches struct fields (case-insensitively; the last of
// duplicate keys wins), as they did when the body was decoded that way.
func Split(body []byte) ([]Event, error) {
	c := rawjson.NewCursor(body)
	if !c.Object() {
		return nil, fmt.Errorf("decode meta delivery: %w: %w", ErrMalformed, rawjson.ErrNotObject)
	}
	s := splitter{events: make([]Event, 0, min(len(body)/200+1, 1000))}
	for key, ok := c.NextField(); ok; key, ok = c.NextField() {
		if string(key) != "entry" {
			c.Skip()
			continue
		}
		s.events = s.events[:0]
		if !c.Array() {
			c.Skip()
			continue
		}
		for c.NextElem() {
			if c.Object() {
				s.entry(&c)
			} else {
				c.Skip()
			}
		}
	}
	if !c.End() {
		return nil, fmt.Errorf("decode meta delivery: %w: %w", ErrMalformed, rawjson.SyntaxErr(body))
	}
	if len(s.events) == 0 {
		return nil, nil
	}
	return s.events, nil
}

// splitter holds one Split's events and the scratch lists of the change
// value being walked.
type splitter struct {
	events   []Event
	messages []messageRef
	contacts []contactRef
	byWaID   map[string]int
	byUserID map[string]int
}

type messageRef struct {
	from, fromUserID []byte
}

type contactRef struct {
	raw, waID, userID []byte
}

// entry walks one entry object; the cursor is inside it.
func (s *splitter) entry(c *rawjson.Cursor) {
	start := len(s.events)
	var id []byte
	for key, ok := c.NextField(); ok; key, ok = c.NextField() {
		switch string(key) {
		case "id":
			id = c.Skip()
		case "changes":
			s.events = s.events[:start]
			if !c.Array() {
				c.Skip()
				continue
			}
			for c.NextElem() {
				if c.Object() {
					s.change(c)
				} else {
					c.Skip()
				}
			}
		default:
			c.Skip()
		}
	}
	if len(s.events) > start {
		// The id may follow the changes: fill it in once the entry is read.
		waba := rawjson.ID(id)
		for i := start; i < len(s.events); i++ {
			s.events[i].WABAID = waba
		}
	}
}

// change walks one change object; the cursor is inside it. The events of a
// "messages" value are cut as the value is walked, and dropped again when
// the field turns out (it may come last) to be another one.
func (s *splitter) change(c *rawjson.Cursor) {
	start := len(s.events)
	var field, value, metadata []byte
	var phoneNumberID string
	for key, ok := c.NextField(); ok; key, ok = c.NextField() {
		switch string(key) {
		case "field":
			field = c.Skip()
		case "value":
			s.events = s.events[:start]
			metadata, phoneNumberID = nil, ""
			from := c.Start()
			if c.Object() {
				metadata, phoneNumberID = s.value(c)
				value = c.Slice(from)
			} else {
				value = c.Skip()
			}
		default:
			c.Skip()
		}
	}
	name := fieldName(field)
	if name == FieldMessages && len(s.events) > start {
		return
	}
	s.events = s.events[:start]
	if name == "" {
		name = "unknown"
	}
	if value == nil {
		value = []byte("null")
	}
	s.events = append(s.events, Event{Kind: KindChange, Field: name, PhoneNumberID: phoneNumberID, Metadata: metadata, Raw: value})
}

// fieldName reads a change's field, sparing the common "messages" an
// allocation.
func fieldName(raw []byte) string {
	if string(raw) == `"`+FieldMessages+`"` {
		return FieldMessages
	}
	return rawjson.ID(raw)
}

// value walks a change value object; the cursor is inside it. It appends one
// event per message, per status and for the errors array, in that order,
// and returns the value's metadata and phone number id. Events are appended
// as they are met, and completed once the value is read: its metadata and
// contacts may come after them.
func (s *splitter) value(c *rawjson.Cursor) (metadata []byte, phoneNumberID string) {
	start := len(s.events)
	s.messages, s.contacts = s.messages[:0], s.contacts[:0]
	var pnid []byte
	for key, ok := c.NextField(); ok; key, ok = c.NextField() {
		switch string(key) {
		case "metadata":
			metadata, pnid = nil, nil
			from := c.Start()
			if !c.Object() {
				c.Skip()
				continue
			}
			for k, ok := c.NextField(); ok; k, ok = c.NextField() {
				if string(k) == "phone_number_id" {
					pnid = c.Skip()
				} else {
					c.Skip()
				}
			}
			metadata = c.Slice(from)
		case "contacts":
			s.contacts = s.contacts[:0]
			s.walkContacts(c)
		case "messages":
			s.drop(start, KindMessage)
			s.messages = s.messages[:0]
			s.walkMessages(c)
		case "statuses":
			s.drop(start, KindStatus)
			if !c.Array() {
				c.Skip()
				continue
			}
			for c.NextElem() {
				isObject := c.Peek() == '{'
				if raw := c.Skip(); isObject && raw != nil {
					s.events = append(s.events, Event{Kind: KindStatus, Raw: raw})
				}
			}
		case "errors":
			s.drop(start, KindErrors)
			if c.Peek() == '[' {
				s.events = append(s.events, Event{Kind: KindErrors, Raw: c.Skip()})
			} else {
				c.Skip()
			}
		default:
			c.Skip()
		}
	}
	if c.Failed() {
		return nil, ""
	}
	phoneNumberID = rawjson.ID(pnid)
	events := s.events[start:]
	s.indexContacts()
	m := 0
	sorted := true
	for i := range events {
		e := &events[i]
		e.Field, e.PhoneNumberID, e.Metadata = FieldMessages, phoneNumberID, metadata
		if e.Kind == KindMessage {
			e.Contact = s.sender(s.messages[m])
			m++
		}
		if i > 0 && e.Kind < events[i-1].Kind {
			sorted = false
		}
	}
	if !sorted {
		// The value listed statuses or errors before messages.
		slices.SortStableFunc(events, func(a, b Event) int { return int(a.Kind) - int(b.Kind) })
	}
	return metadata, phoneNumberID
}

// drop removes the events of one kind cut from the value being walked, when
// the value repeats a key: the last one wins.
func (s *splitter) drop(start int, kind Kind) {
	if len(s.events) == start {
		return
	}
	kept := slices.DeleteFunc(s.events[start:], func(e Event) bool { return e.Kind == kind })
	s.events = s.events[:start+len(kept)]
}

// walkContacts reads a contacts array: each contact object's bytes and the
// two ids a message's sender is matched on.
func (s *splitter) walkContacts(c *rawjson.Cursor) {
	if !c.Array() {
		c.Skip()
		return
	}
	for c.NextElem() {
		from := c.Start()
		if !c.Object() {
			c.Skip()
			continue
		}
		var ct contactRef
		ct.waID, ct.userID = twoStrings(c, "wa_id", "user_id")
		ct.raw = c.Slice(from)
		s.contacts = append(s.contacts, ct)
	}
}

// walkMessages reads a messages array: each message object's bytes and its
// sender's ids.
func (s *splitter) walkMessages(c *rawjson.Cursor) {
	if !c.Array() {
		c.Skip()
		return
	}
	for c.NextElem() {
		from := c.Start()
		if !c.Object() {
			c.Skip()
			continue
		}
		var m messageRef
		m.from, m.fromUserID = twoStrings(c, "from", "from_user_id")
		s.messages = append(s.messages, m)
		s.events = append(s.events, Event{Kind: KindMessage, Raw: c.Slice(from)})
	}
}

// twoStrings reads the members of the object c has entered and returns
// the string values of the keys a and b (the last of duplicates wins).
func twoStrings(c *rawjson.Cursor, a, b string) (va, vb []byte) {
	for k, ok := c.NextField(); ok; k, ok = c.NextField() {
		switch string(k) {
		case a:
			va = stringValue(c.Skip())
		case b:
			vb = stringValue(c.Skip())
		default:
			c.Skip()
		}
	}
	return va, vb
}

// stringValue returns the decoded content of raw when it is a JSON string,
// else nil: an id of another type matches nothing.
func stringValue(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	return rawjson.Unquote(raw)
}

// indexThreshold is the number of contacts above which senders are looked
// up in maps rather than by scanning: Meta batches up to 1000 updates, and
// a scan per message would make a large change quadratic again.
const indexThreshold = 32

// indexContacts builds the lookup maps of a large contacts list, each id
// mapping to the first contact that has it.
func (s *splitter) indexContacts() {
	if len(s.contacts) <= indexThreshold || len(s.messages) == 0 {
		return
	}
	if s.byWaID == nil {
		s.byWaID, s.byUserID = make(map[string]int, len(s.contacts)), make(map[string]int, len(s.contacts))
	} else {
		clear(s.byWaID)
		clear(s.byUserID)
	}
	for i, ct := range s.contacts {
		if _, seen := s.byWaID[string(ct.waID)]; !seen && len(ct.waID) > 0 {
			s.byWaID[string(ct.waID)] = i
		}
		if _, seen := s.byUserID[string(ct.userID)]; !seen && len(ct.userID) > 0 {
			s.byUserID[string(ct.userID)] = i
		}
	}
}

// sender returns the contact object of m's sender: the first contact whose
// wa_id is m's from or whose user_id is m's from_user_id, else the only
// contact, else nil.
func (s *splitter) sender(m messageRef) []byte {
	if len(s.contacts) > indexThreshold {
		best := -1
		if i, ok := s.byWaID[string(m.from)]; ok && len(m.from) > 0 {
			best = i
		}
		if i, ok := s.byUserID[string(m.fromUserID)]; ok && len(m.fromUserID) > 0 && (best < 0 || i < best) {
			best = i
		}
		if best >= 0 {
			return s.contacts[best].raw
		}
		return nil
	}
	for _, ct := range s.contacts {
		if len(ct.waID) > 0 && bytes.Equal(ct.waID, m.from) || len(ct.userID) > 0 && bytes.Equal(ct.userID, m.fromUserID) {
			return ct.raw
		}
	}
	if len(s.contacts) == 1 {
		return s.contacts[0].raw
	}
	return nil
}
