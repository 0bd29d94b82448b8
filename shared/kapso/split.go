package kapso

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/kapso/rawjson"
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

	event := stringField(top, "event")
	name := firstNonEmpty(header, event, stringField(top, "type"))
	payload, fields := json.RawMessage(body), top
	if data := top["data"]; event != "" && rawjson.IsObject(data) {
		// Legacy wrapper: the event is the data object.
		payload = data
		if err := decodeObject(data, &fields); err != nil {
			return nil, fmt.Errorf("decode legacy data: %w", err)
		}
	}
	return []Item{{Name: name, PhoneNumberID: phoneNumberID(fields), Payload: payload}}, nil
}

func splitBatch(header string, top map[string]json.RawMessage) ([]Item, error) {
	name := firstNonEmpty(header, stringField(top, "type"), stringField(top, "event"))
	var elems []json.RawMessage
	if !rawjson.IsArray(top["data"]) {
		return nil, fmt.Errorf("decode batch: %w: data is not an array", ErrMalformed)
	}
	if err := json.Unmarshal(top["data"], &elems); err != nil {
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
	fields, err := rawjson.DecodeObject[map[string]json.RawMessage](b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	*dst = fields
	return nil
}

// phoneNumberID finds the number an event is about, in the places Kapso's
// payloads put it.
func phoneNumberID(fields map[string]json.RawMessage) string {
	if id := rawjson.ID(fields["phone_number_id"]); id != "" {
		return id
	}
	for _, parent := range [...]string{"conversation", "whatsapp_config"} {
		if nested, err := rawjson.DecodeObject[map[string]json.RawMessage](fields[parent]); err == nil {
			if id := rawjson.ID(nested["phone_number_id"]); id != "" {
				return id
			}
		}
	}
	return ""
}

// stringField returns fields[key] when it is a JSON string, else "".
func stringField(fields map[string]json.RawMessage, key string) string {
	return rawjson.String(fields[key])
}

func isTrue(raw json.RawMessage) bool {
	return strings.TrimSpace(string(raw)) == "true"
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return EventUnknown
}
