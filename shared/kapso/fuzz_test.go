package kapso_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// referenceSplit is Split written with encoding/json maps, the way the
// package split deliveries before it walked bytes. FuzzSplit holds Split to
// it.
func referenceSplit(header string, body []byte) ([]kapso.Item, bool) {
	object := func(b []byte) (map[string]json.RawMessage, bool) {
		var m map[string]json.RawMessage
		return m, rawjson.IsObject(b) && json.Unmarshal(b, &m) == nil
	}
	pnid := func(f map[string]json.RawMessage) string {
		if id := rawjson.ID(f["phone_number_id"]); id != "" {
			return id
		}
		for _, parent := range []string{"conversation", "whatsapp_config"} {
			if nested, ok := object(f[parent]); ok {
				if id := rawjson.ID(nested["phone_number_id"]); id != "" {
					return id
				}
			}
		}
		return ""
	}
	first := func(values ...string) string {
		for _, v := range values {
			if v != "" {
				return v
			}
		}
		return kapso.EventUnknown
	}
	top, ok := object(body)
	if !ok {
		return nil, false
	}
	header = strings.TrimSpace(header)
	if string(top["batch"]) == "true" {
		name := first(rawjson.String(top["type"]), rawjson.String(top["event"]), header)
		var elems []json.RawMessage
		if !rawjson.IsArray(top["data"]) || json.Unmarshal(top["data"], &elems) != nil {
			return nil, false
		}
		items := []kapso.Item{}
		for _, e := range elems {
			f, ok := object(e)
			if !ok {
				return nil, false
			}
			items = append(items, kapso.Item{Name: name, PhoneNumberID: pnid(f), Payload: e})
		}
		return items, true
	}
	event := rawjson.String(top["event"])
	name := first(event, header, rawjson.String(top["type"]))
	if data, ok := object(top["data"]); ok && event != "" {
		return []kapso.Item{{Name: name, PhoneNumberID: pnid(data), Payload: top["data"]}}, true
	}
	return []kapso.Item{{Name: name, PhoneNumberID: pnid(top), Payload: body}}, true
}

// FuzzSplit checks that Split never panics, fails exactly where the
// map-based reference fails, agrees with it on every item, and cuts every
// payload out of the body.
func FuzzSplit(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if len(s.Body) < 8<<10 {
			f.Add(s.Event, s.Body)
		}
	}
	f.Add("", []byte(`{"data":[{"conversation":{"phone_number_id":1}},{"whatsapp_config":{"phone_number_id":"2"}}],"batch":true,"type":"t"}`))
	f.Add(" x ", []byte(`{"event":"e","data":{"phone_number_id":" 3 "},"data":{"conversation":{}},"phone_number_id":4}`))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		items, err := kapso.Split(header, body)
		want, ok := referenceSplit(header, body)
		if (err == nil) != ok {
			t.Fatalf("Split(%q, %q) err %v; the reference accepts it: %v", header, body, err, ok)
		}
		if err != nil {
			if !errors.Is(err, kapso.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if items != nil {
				t.Fatal("items returned with an error")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("invalid JSON %q accepted", body)
		}
		if len(items) != len(want) {
			t.Fatalf("Split(%q, %q): %d items, want %d", header, body, len(items), len(want))
		}
		for i, it := range items {
			if it.Name == "" {
				t.Fatalf("item %d has no name", i)
			}
			if !json.Valid(it.Payload) {
				t.Fatalf("item %d payload %q is not valid JSON", i, it.Payload)
			}
			if !within(body, it.Payload) {
				t.Fatalf("item %d payload %q is not a sub-slice of the body", i, it.Payload)
			}
			if w := want[i]; it.Name != w.Name || it.PhoneNumberID != w.PhoneNumberID || !bytes.Equal(it.Payload, w.Payload) {
				t.Fatalf("Split(%q, %q) item %d:\n got %+v\nwant %+v", header, body, i, it, w)
			}
		}
	})
}

// within reports whether sub is a slice of body's own memory, not merely
// equal bytes.
func within(body, sub []byte) bool {
	if len(sub) == 0 {
		return false
	}
	for i := 0; i+len(sub) <= len(body); i++ {
		if &body[i] == &sub[0] {
			return true
		}
	}
	return false
}
