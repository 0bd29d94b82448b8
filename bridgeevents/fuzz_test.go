package bridgeevents

import (
	"encoding/json"
	"testing"
)

// Whatever the bytes, Decode either refuses them as no event or answers an
// event with an id, a type and object data that its Record reads.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(statusEvent))
	f.Add([]byte(`{"id":"evt_2","type":"message.received","tenant_id":"acme","data":{"tenant_id":"acme","message":{"id":"wamid.1","known":true,"statuses":[]}}}`))
	f.Add([]byte(`{"id":"evt_3","type":"contact.changed","data":{"change":"identity","contact":{"business_scoped_user_id":"US.1"}}}`))
	f.Add([]byte(`{"id":"evt_4","type":"tenant.status_changed","data":{"needs_attention":["failed"]}}`))
	f.Add([]byte(`{"id":"evt_5","type":"template.status_changed","data":{"name":"order_shipped","status":"REJECTED"}}`))
	f.Add([]byte(`{"id":"x","type":"y","data":{}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Decode(body)
		if err != nil {
			return
		}
		if e.ID == "" || e.Type == "" || !json.Valid(e.Data) {
			t.Fatalf("decoded an event without id, type or valid data: %+v", e)
		}
		if _, err := e.Record(); err != nil {
			t.Fatalf("Decode accepted what Record refuses: %v", err)
		}
	})
}
