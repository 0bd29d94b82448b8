package kapso

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed marks a delivery whose body cannot be read as Kapso events:
// not JSON, not a JSON object, or a batch whose data is not an array of
// objects. It is always wrapped; test with errors.Is. Callers answer 400.
var ErrMalformed = errors.New("malformed kapso delivery")

// Item is one event of a delivery.
type Item struct {
	// Name is the event name: the X-Webhook-Event header when present, else
	// the name the body carries, else EventUnknown.
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
// The header wins over a name in the body when both are present and differ,
// because the header is what Kapso sends next to the signature and is what
// the webhook was registered for. Workflow events carry "event" without a
// "data" object and are not wrappers. Unknown names are returned as they are.
func Split(eventHeader string, body []byte) ([]Item, error) {
	var top map[string]json.RawMessage
	if err := decodeObject(body, &top); err != nil {
		return nil, fmt.Errorf("decode delivery: %w", err)
	}
	header := strings.TrimSpace(eventHeader)

	if isTrue(top["batch"]) {
		return splitBatch(header, top)
	}

	name := firstNonEmpty(header, stringField(top, "event"), stringField(top, "type"))
	payload := json.RawMessage(body)
	fields := top
	if data, ok := top["data"]; ok && isObject(data) && stringField(top, "event") != "" {
		// Legacy wrapper: the event is the data object.
		payload = data
		fields = nil
		if err := json.Unmarshal(data, &fields); err != nil {
			return nil, fmt.Errorf("decode legacy data: %w: %w", ErrMalformed, err)
		}
	}
	return []Item{{Name: name, PhoneNumberID: phoneNumberID(fields), Payload: payload}}, nil
}

func splitBatch(header string, top map[string]json.RawMessage) ([]Item, error) {
	name := firstNonEmpty(header, stringField(top, "type"), stringField(top, "event"))
	var elems []json.RawMessage
	data := bytes.TrimSpace(top["data"])
	if len(data) == 0 || data[0] != '[' {
		return nil, fmt.Errorf("decode batch: %w: data is not an array", ErrMalformed)
	}
	if err := json.Unmarshal(data, &elems); err != nil {
		return nil, fmt.Errorf("decode batch: %w: %w", ErrMalformed, err)
	}
	items := make([]Item, 0, len(elems))
	for i, elem := range elems {
		var fields map[string]json.RawMessage
		if err := decodeObject(elem, &fields); err != nil {
			return nil, fmt.Errorf("decode batch item %d: %w", i, err)
		}
		items = append(items, Item{Name: name, PhoneNumberID: phoneNumberID(fields), Payload: elem})
	}
	return items, nil
}

// decodeObject decodes b into dst and requires it to be a JSON object; a
// JSON null, array or scalar is malformed here.
func decodeObject(b []byte, dst *map[string]json.RawMessage) error {
	if !isObject(b) {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// phoneNumberID finds the number an event is about, in the places Kapso's
// payloads put it.
func phoneNumberID(fields map[string]json.RawMessage) string {
	if id := idField(fields, "phone_number_id"); id != "" {
		return id
	}
	for _, parent := range [...]string{"conversation", "whatsapp_config"} {
		var nested map[string]json.RawMessage
		if raw, ok := fields[parent]; ok && isObject(raw) && json.Unmarshal(raw, &nested) == nil {
			if id := idField(nested, "phone_number_id"); id != "" {
				return id
			}
		}
	}
	return ""
}

// idField reads an identifier that should be a string but is accepted as a
// JSON number too, keeping its digits verbatim.
func idField(fields map[string]json.RawMessage, key string) string {
	if s := stringField(fields, key); s != "" {
		return s
	}
	var n json.Number
	if raw, ok := fields[key]; ok && json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// stringField returns fields[key] when it is a JSON string, else "".
func stringField(fields map[string]json.RawMessage, key string) string {
	var s string
	if raw, ok := fields[key]; ok && json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return ""
}

func isTrue(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "true"
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return EventUnknown
}
