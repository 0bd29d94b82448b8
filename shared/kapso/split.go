package kapso

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// ErrMalformed marks a delivery whose body cannot be read as Kapso events:
// not JSON, not a JSON object, or a batch whose data is not an array of
// objects. It is always wrapped; test with errors.Is. Callers answer 400.
var ErrMalformed = errors.New("malformed kapso delivery")

// Item is one event of a delivery.
type Item struct {
	// Name is the event name: the name the signed body carries (a batch's
	// type, a wrapper's or workflow event's event) when it has one, else the
	// X-Webhook-Event header, else EventUnknown.
	Name string
	// PhoneNumberID is the number the event is about, when the payload says.
	PhoneNumberID string
	// Payload is the event's own v2 payload: a batch element, the data of a
	// legacy wrapper, or the whole body.
	Payload json.RawMessage
}

// Split turns one delivery into its events. It accepts the three shapes
// Kapso sends:
//
//   - a bare v2 payload: one item, named by the header;
//   - the legacy {"event": ..., "data": {...}} wrapper: one item, the data;
//   - a batch {"type": ..., "batch": true, "data": [...]}: one item per
//     element (none for an empty array).
//
// A name in the body wins over the X-Webhook-Event header when both are
// present and differ: the signature covers the body only, so a signed body
// replayed under another header keeps its own name; the header names only
// what the body leaves unnamed (a bare payload). Workflow events carry
// "event" without a "data" object and are not wrappers. Unknown names are
// returned as they are.
//
// Split walks the body once, validating it, and cuts each payload out of it:
// an item's Payload is a sub-slice of body, not a copy. Keys match exactly,
// the last of duplicate keys winning, as when the body was decoded into maps.
func Split(eventHeader string, body []byte) ([]Item, error) {
	c := rawjson.NewCursor(body)
	if !c.Object() {
		return nil, fmt.Errorf("decode delivery: %w: %w", ErrMalformed, rawjson.ErrNotObject)
	}
	var (
		top                numberRef // the body as a bare payload
		batch, event, kind []byte
		data               []byte
		dataKind           byte
		wrapped            numberRef // data, as a legacy wrapper's payload
		elems              []Item    // data's elements, as a batch's payloads
		badElem            = -1      // the first element that is not an object
	)
	for key, ok := c.NextKey(); ok; key, ok = c.NextKey() {
		if top.member(&c, key) {
			continue
		}
		switch string(key) {
		case "batch":
			batch = c.Skip()
		case "event":
			event = c.Skip()
		case "type":
			kind = c.Skip()
		case "data":
			// Whether data is a batch, a wrapped payload or neither is
			// known only once the whole body is read: read it as both.
			from := c.Start()
			dataKind, wrapped, elems, badElem = c.Peek(), numberRef{}, elems[:0], -1
			switch {
			case c.Array():
				if elems == nil {
					// Kapso batches up to 100 events of about 1.5 KB.
					elems = make([]Item, 0, min(len(body)/1024+1, 100))
				}
				for i := 0; c.NextElem(); i++ {
					start := c.Start()
					if !c.Object() {
						c.Skip()
						if badElem < 0 {
							badElem = i
						}
						continue
					}
					var n numberRef
					n.object(&c)
					elems = append(elems, Item{PhoneNumberID: n.id(), Payload: c.Slice(start)})
				}
			case c.Object():
				wrapped.object(&c)
			default:
				c.Skip()
			}
			data = c.Slice(from)
		default:
			c.Skip()
		}
	}
	if !c.End() {
		return nil, fmt.Errorf("decode delivery: %w: %w", ErrMalformed, rawjson.SyntaxErr(body))
	}
	header := strings.TrimSpace(eventHeader)

	if string(batch) == "true" {
		name := firstNonEmpty(rawjson.String(kind), rawjson.String(event), header)
		if dataKind != '[' {
			return nil, fmt.Errorf("decode batch: %w: data is not an array", ErrMalformed)
		}
		if badElem >= 0 {
			return nil, fmt.Errorf("decode batch item %d: %w: %w", badElem, ErrMalformed, rawjson.ErrNotObject)
		}
		if elems == nil {
			return []Item{}, nil
		}
		for i := range elems {
			elems[i].Name = name
		}
		return elems, nil
	}

	ev := rawjson.String(event)
	if ev != "" && dataKind == '{' {
		// Legacy wrapper: the event is the data object, named by the body.
		return []Item{{Name: ev, PhoneNumberID: wrapped.id(), Payload: data}}, nil
	}
	name := firstNonEmpty(ev, header, rawjson.String(kind))
	return []Item{{Name: name, PhoneNumberID: top.id(), Payload: body}}, nil
}

// numberRef holds the places Kapso's payloads put the number an event is
// about, in the order they are looked at.
type numberRef struct {
	own, conversation, config []byte
}

// object reads a payload object's members; the cursor is inside it.
func (n *numberRef) object(c *rawjson.Cursor) {
	for key, ok := c.NextKey(); ok; key, ok = c.NextKey() {
		if !n.member(c, key) {
			c.Skip()
		}
	}
}

// member reads the value of key when it is one of the places, and reports
// whether it was; otherwise the value is left unread.
func (n *numberRef) member(c *rawjson.Cursor, key []byte) bool {
	switch string(key) {
	case "phone_number_id":
		n.own = c.Skip()
	case "conversation":
		n.conversation = nestedID(c)
	case "whatsapp_config":
		n.config = nestedID(c)
	default:
		return false
	}
	return true
}

// nestedID reads an object's phone_number_id; nil when the value is not an
// object or has none.
func nestedID(c *rawjson.Cursor) []byte {
	if !c.Object() {
		c.Skip()
		return nil
	}
	var id []byte
	for key, ok := c.NextKey(); ok; key, ok = c.NextKey() {
		if string(key) == "phone_number_id" {
			id = c.Skip()
		} else {
			c.Skip()
		}
	}
	return id
}

// id is the number: the payload's own phone_number_id, else its
// conversation's, else its whatsapp_config's.
func (n numberRef) id() string {
	if id := rawjson.ID(n.own); id != "" {
		return id
	}
	if id := rawjson.ID(n.conversation); id != "" {
		return id
	}
	return rawjson.ID(n.config)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return EventUnknown
}
