package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
	"github.com/kapso-bridge/kapso-bridge/testkit/rawjsontest"
)

// readers pairs each hand-written reader with the type it fills.
var readers = []struct {
	name string
	read func(raw []byte) (any, error)
	typ  reflect.Type
}{
	{"Message", rawjsontest.ReadWith(readMessage), reflect.TypeFor[Message]()},
	{"Status", rawjsontest.ReadWith(ReadStatus), reflect.TypeFor[Status]()},
	{"Contact", rawjsontest.ReadWith(readContact), reflect.TypeFor[Contact]()},
	{"Metadata", rawjsontest.ReadWith(readMetadata), reflect.TypeFor[Metadata]()},
	{"Error", rawjsontest.ReadWith(readError), reflect.TypeFor[Error]()},
	{"[]Error", rawjsontest.ReadWith(readErrors), reflect.TypeFor[[]Error]()},
}

func TestReadersMatchEncodingJSON(t *testing.T) {
	for _, r := range readers {
		for _, in := range rawjsontest.Inputs(rawjsontest.Exemplar(t, r.typ)) {
			rawjsontest.Compare(t, r.name, r.read, r.typ, []byte(in))
		}
	}
}

// FuzzReaders holds the hand-written readers to json.Unmarshal's results.
func FuzzReaders(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if evs, err := Split(s.Body); err == nil && len(s.Body) < 8<<10 {
			for _, e := range evs {
				f.Add(e.Raw)
				f.Add(e.Contact)
			}
		}
	}
	for _, r := range readers {
		for _, in := range rawjsontest.Inputs(rawjsontest.Exemplar(f, r.typ)) {
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, r := range readers {
			rawjsontest.Compare(t, r.name, r.read, r.typ, raw)
		}
	})
}

// referenceSplit is Split written with encoding/json, the way the package
// split deliveries before it walked bytes: decode each level into raw
// members, keep objects, cut events. FuzzSplit holds Split to it.
func referenceSplit(body []byte) ([]Event, error) {
	var payload struct {
		Entry json.RawMessage `json:"entry"`
	}
	if !rawjson.IsObject(body) {
		return nil, ErrMalformed
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return nil, ErrMalformed
	}
	var out []Event
	for _, rawEntry := range refObjects(payload.Entry) {
		var entry struct {
			ID      json.RawMessage `json:"id"`
			Changes json.RawMessage `json:"changes"`
		}
		_ = json.Unmarshal(rawEntry, &entry)
		waba := rawjson.ID(entry.ID)
		for _, rawChange := range refObjects(entry.Changes) {
			var change struct {
				Field json.RawMessage `json:"field"`
				Value json.RawMessage `json:"value"`
			}
			_ = json.Unmarshal(rawChange, &change)
			field := rawjson.ID(change.Field)
			var value struct {
				Metadata json.RawMessage `json:"metadata"`
				Contacts json.RawMessage `json:"contacts"`
				Messages json.RawMessage `json:"messages"`
				Statuses json.RawMessage `json:"statuses"`
				Errors   json.RawMessage `json:"errors"`
			}
			var metadata []byte
			var pnid string
			if rawjson.IsObject(change.Value) {
				_ = json.Unmarshal(change.Value, &value)
				if rawjson.IsObject(value.Metadata) {
					metadata = value.Metadata
					var m struct {
						PhoneNumberID json.RawMessage `json:"phone_number_id"`
					}
					_ = json.Unmarshal(metadata, &m)
					pnid = rawjson.ID(m.PhoneNumberID)
				}
			}
			var evs []Event
			if field == FieldMessages && rawjson.IsObject(change.Value) {
				contacts := refObjects(value.Contacts)
				for _, m := range refObjects(value.Messages) {
					evs = append(evs, Event{Kind: KindMessage, Raw: m, Contact: refSender(contacts, m)})
				}
				for _, s := range refObjects(value.Statuses) {
					evs = append(evs, Event{Kind: KindStatus, Raw: s})
				}
				if rawjson.IsArray(value.Errors) {
					evs = append(evs, Event{Kind: KindErrors, Raw: value.Errors})
				}
			}
			if len(evs) == 0 {
				if field == "" {
					field = "unknown"
				}
				v := []byte(change.Value)
				if len(v) == 0 {
					v = []byte("null")
				}
				evs = []Event{{Kind: KindChange, Raw: v}}
			}
			for _, e := range evs {
				e.Field, e.WABAID, e.PhoneNumberID, e.Metadata = field, waba, pnid, metadata
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func refObjects(raw json.RawMessage) []json.RawMessage {
	var elems []json.RawMessage
	if !rawjson.IsArray(raw) || json.Unmarshal(raw, &elems) != nil {
		return nil
	}
	var out []json.RawMessage
	for _, e := range elems {
		if rawjson.IsObject(e) {
			out = append(out, e)
		}
	}
	return out
}

func refSender(contacts []json.RawMessage, message []byte) []byte {
	str := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	var m struct {
		From       json.RawMessage `json:"from"`
		FromUserID json.RawMessage `json:"from_user_id"`
	}
	_ = json.Unmarshal(message, &m)
	from, fromUser := str(m.From), str(m.FromUserID)
	for _, c := range contacts {
		var ct struct {
			WaID   json.RawMessage `json:"wa_id"`
			UserID json.RawMessage `json:"user_id"`
		}
		_ = json.Unmarshal(c, &ct)
		if wa, user := str(ct.WaID), str(ct.UserID); wa != "" && wa == from || user != "" && user == fromUser {
			return c
		}
	}
	if len(contacts) == 1 {
		return contacts[0]
	}
	return nil
}

// FuzzSplit checks that Split never panics, fails exactly on bodies that
// are not JSON objects, returns events that are valid JSON cut out of the
// body, and agrees with referenceSplit on every event.
func FuzzSplit(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if len(s.Body) < 8<<10 {
			f.Add(s.Body)
		}
	}
	f.Add([]byte(`{"entry":[{"changes":[{"value":{"statuses":[{}],"Messages":[{"from":"1"}],"contacts":[{"wa_id":"1"},{}],"errors":[]},"field":"messages"}],"id":7}]}`))
	f.Add(statusesPayload(3))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Split(body)
		want, wantErr := referenceSplit(body)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Split(%q) err %v, want err %v", body, err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) || got != nil {
				t.Fatalf("events %v, err %v", got, err)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("Split(%q): %d events, want %d", body, len(got), len(want))
		}
		for i, e := range got {
			checkEvent(t, body, e)
			w := want[i]
			if e.Kind != w.Kind || e.Field != w.Field || e.WABAID != w.WABAID || e.PhoneNumberID != w.PhoneNumberID ||
				!bytes.Equal(e.Raw, w.Raw) || !bytes.Equal(e.Metadata, w.Metadata) || !bytes.Equal(e.Contact, w.Contact) ||
				(e.Metadata == nil) != (w.Metadata == nil) || (e.Contact == nil) != (w.Contact == nil) {
				t.Fatalf("Split(%q) event %d:\n got %+v\nwant %+v", body, i, e, w)
			}
		}
	})
}
