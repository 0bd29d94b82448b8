package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso/rawjson"
)

// ErrMalformed marks a body that is not a JSON object. It is always wrapped;
// test with errors.Is. Callers answer 400.
var ErrMalformed = errors.New("malformed meta delivery")

// Item names.
const (
	NameMessage = "meta.message"
	NameStatus  = "meta.status"
	NameErrors  = "meta.errors"
	// NamePrefix starts the name of a change of any other field: meta.<field>.
	NamePrefix = "meta."
)

// Item is one event of a Meta delivery: a message, a status, a change-level
// errors array, or a whole change of another field.
type Item struct {
	Name          string
	PhoneNumberID string // from the change's metadata, when present
	WABAID        string // the entry id
	Payload       json.RawMessage
}

// MessageItem is the payload of a meta.message item: the message with the
// change's context, so that it can be processed alone.
type MessageItem struct {
	WABAID   string    `json:"waba_id"`
	Metadata Metadata  `json:"metadata"`
	Contacts []Contact `json:"contacts,omitempty"`
	Message  Message   `json:"message"`
}

// Sender returns the contact that sent the message: the one whose wa_id or
// user_id matches the sender, else the only contact. ok is false for a
// system message, which has no contacts.
func (m MessageItem) Sender() (c Contact, ok bool) {
	for _, c := range m.Contacts {
		if (c.WaID != "" && c.WaID == m.Message.From) ||
			(c.UserID != "" && c.UserID == m.Message.FromUserID) {
			return c, true
		}
	}
	if len(m.Contacts) == 1 {
		return m.Contacts[0], true
	}
	return Contact{}, false
}

// StatusItem is the payload of a meta.status item.
type StatusItem struct {
	WABAID   string   `json:"waba_id"`
	Metadata Metadata `json:"metadata"`
	Status   Status   `json:"status"`
}

// ErrorsItem is the payload of a meta.errors item.
type ErrorsItem struct {
	WABAID   string   `json:"waba_id"`
	Metadata Metadata `json:"metadata"`
	Errors   []Error  `json:"errors"`
}

// ChangeItem is the payload of a meta.<field> item.
type ChangeItem struct {
	WABAID string          `json:"waba_id"`
	Field  string          `json:"field"`
	Value  json.RawMessage `json:"value"`
}

// Split turns one Meta delivery into its items: one per message, one per
// status and one per errors array of each "messages" change, and one per
// change of any other field. Message, status and change bodies are passed
// through verbatim, so fields this package does not know survive.
//
// Only a body that is not a JSON object is an error. Anything inside it that
// does not have the expected shape (another "object", an entry that is not an
// object, a message that is a string…) is skipped: Meta adds shapes without
// notice, and the delivery as a whole must still be accepted.
func Split(body []byte) ([]Item, error) {
	var payload struct {
		Entry json.RawMessage `json:"entry"`
	}
	if !rawjson.IsObject(body) {
		return nil, fmt.Errorf("decode meta delivery: %w: %w", ErrMalformed, rawjson.ErrNotObject)
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, fmt.Errorf("decode meta delivery: %w: %w", ErrMalformed, err)
	}
	var items []Item
	var err error
	for _, rawEntry := range objects(payload.Entry) {
		var entry struct {
			ID      json.RawMessage `json:"id"`
			Changes json.RawMessage `json:"changes"`
		}
		if json.Unmarshal(rawEntry, &entry) != nil {
			continue
		}
		wabaID := rawjson.ID(entry.ID)
		for i, rawChange := range objects(entry.Changes) {
			if items, err = appendChange(items, wabaID, rawChange); err != nil {
				return nil, fmt.Errorf("entry %s change %d: %w", wabaID, i, err)
			}
		}
	}
	return items, nil
}

// appendChange appends the items of one change.
func appendChange(items []Item, wabaID string, rawChange json.RawMessage) ([]Item, error) {
	var change struct {
		Field json.RawMessage `json:"field"`
		Value json.RawMessage `json:"value"`
	}
	if json.Unmarshal(rawChange, &change) != nil {
		return items, nil
	}
	field := rawjson.ID(change.Field)
	if field == FieldMessages {
		more, err := appendMessagesChange(items, wabaID, change.Value)
		if err != nil || len(more) > len(items) {
			return more, err
		}
		// A messages change with no message, status or errors is kept
		// whole below, so that a new kind of content is recorded, not dropped.
	}
	if field == "" {
		field = "unknown"
	}
	value := change.Value
	if len(bytes.TrimSpace(value)) == 0 {
		value = json.RawMessage("null")
	}
	item, err := newItem(NamePrefix+field, "", wabaID, fragment{WABAID: wabaID, Field: field, Value: value})
	if err != nil {
		return items, err
	}
	return append(items, item), nil
}

// appendMessagesChange appends one item per message, per status, and for
// the errors array of a "messages" change value.
func appendMessagesChange(items []Item, wabaID string, rawValue json.RawMessage) ([]Item, error) {
	var value struct {
		Metadata json.RawMessage `json:"metadata"`
		Contacts json.RawMessage `json:"contacts"`
		Messages json.RawMessage `json:"messages"`
		Statuses json.RawMessage `json:"statuses"`
		Errors   json.RawMessage `json:"errors"`
	}
	if !rawjson.IsObject(rawValue) || json.Unmarshal(rawValue, &value) != nil {
		return items, nil
	}
	var meta struct {
		PhoneNumberID json.RawMessage `json:"phone_number_id"`
	}
	metadata := objectOrNil(value.Metadata)
	_ = json.Unmarshal(metadata, &meta) // absent or odd metadata only loses the id
	phoneNumberID := rawjson.ID(meta.PhoneNumberID)
	contacts := arrayOrNil(value.Contacts)

	type part struct {
		name string
		f    fragment
	}
	var parts []part
	for _, m := range objects(value.Messages) {
		parts = append(parts, part{NameMessage, fragment{Contacts: contacts, Message: m}})
	}
	for _, s := range objects(value.Statuses) {
		parts = append(parts, part{NameStatus, fragment{Status: s}})
	}
	if errs := arrayOrNil(value.Errors); errs != nil {
		parts = append(parts, part{NameErrors, fragment{Errors: errs}})
	}
	for _, p := range parts {
		p.f.WABAID, p.f.Metadata = wabaID, metadata
		item, err := newItem(p.name, phoneNumberID, wabaID, p.f)
		if err != nil {
			return items, err
		}
		items = append(items, item)
	}
	return items, nil
}

// fragment is the JSON of an item payload. Its field set depends on the
// item kind; omitempty leaves out the others.
type fragment struct {
	WABAID   string          `json:"waba_id"`
	Field    string          `json:"field,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Contacts json.RawMessage `json:"contacts,omitempty"`
	Message  json.RawMessage `json:"message,omitempty"`
	Status   json.RawMessage `json:"status,omitempty"`
	Errors   json.RawMessage `json:"errors,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
}

func newItem(name, phoneNumberID, wabaID string, f fragment) (Item, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return Item{}, fmt.Errorf("encode %s item: %w", name, err)
	}
	return Item{Name: name, PhoneNumberID: phoneNumberID, WABAID: wabaID, Payload: b}, nil
}

// objects returns the elements of raw that are JSON objects, or none when
// raw is not an array.
func objects(raw json.RawMessage) []json.RawMessage {
	var elems []json.RawMessage
	if json.Unmarshal(arrayOrNil(raw), &elems) != nil {
		return nil
	}
	out := elems[:0]
	for _, e := range elems {
		if rawjson.IsObject(e) {
			out = append(out, e)
		}
	}
	return out
}

func objectOrNil(raw json.RawMessage) json.RawMessage {
	if rawjson.IsObject(raw) {
		return raw
	}
	return nil
}

func arrayOrNil(raw json.RawMessage) json.RawMessage {
	if rawjson.IsArray(raw) {
		return raw
	}
	return nil
}

// DecodeMessageItem decodes the payload of a meta.message item.
func DecodeMessageItem(raw json.RawMessage) (MessageItem, error) {
	return decode[MessageItem](raw, "message item")
}

// DecodeStatusItem decodes the payload of a meta.status item.
func DecodeStatusItem(raw json.RawMessage) (StatusItem, error) {
	return decode[StatusItem](raw, "status item")
}

// DecodeErrorsItem decodes the payload of a meta.errors item.
func DecodeErrorsItem(raw json.RawMessage) (ErrorsItem, error) {
	return decode[ErrorsItem](raw, "errors item")
}

// DecodeChangeItem decodes the payload of a meta.<field> item.
func DecodeChangeItem(raw json.RawMessage) (ChangeItem, error) {
	return decode[ChangeItem](raw, "change item")
}

func decode[T any](raw json.RawMessage, what string) (T, error) {
	v, err := rawjson.DecodeObject[T](raw)
	if err != nil {
		return v, fmt.Errorf("decode %s: %w: %w", what, ErrMalformed, err)
	}
	return v, nil
}
