package bridgeevents

import (
	"errors"
	"strings"
	"testing"
)

const statusEvent = `{"id":"evt_1","type":"message.status_changed","timestamp":"2026-12-07T10:00:00Z","tenant_id":"acme",` +
	`"source":"webhook","subject":"message:out_1","version":5,"data":{"tenant_id":"acme","message_id":"out_1",` +
	`"wamid":"wamid.1","phone_number_id":"111","conversation_id":"c1","status":"delivered","previous_status":"sent","error":null}}`

func TestDecodeTypesTheData(t *testing.T) {
	e, err := Decode([]byte(statusEvent))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.Record()
	if err != nil {
		t.Fatal(err)
	}
	st, ok := rec.(*MessageStatus)
	if !ok || st.MessageID != "out_1" || st.Status != "delivered" || st.PreviousStatus != "sent" || e.Version != 5 {
		t.Fatalf("decoded %+v as %T %+v", e, rec, rec)
	}
}

func TestDecodeTypesATemplatesStatus(t *testing.T) {
	e, err := Decode([]byte(`{"id":"evt_3","type":"template.status_changed","tenant_id":"acme","source":"reconciler",` +
		`"subject":"template:102290129340398:order_shipped:en_US","version":2,"data":{"tenant_id":"acme",` +
		`"business_account_id":"102290129340398","template_id":"1234","name":"order_shipped","language":"en_US",` +
		`"category":"UTILITY","status":"REJECTED","previous_status":"PENDING","reason":"INVALID_FORMAT","quality_score":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.Record()
	st, ok := rec.(*TemplateStatus)
	if err != nil || !ok || st.Name != "order_shipped" || st.Status != "REJECTED" || st.PreviousStatus != "PENDING" ||
		st.Reason != "INVALID_FORMAT" || st.BusinessAccountID != "102290129340398" {
		t.Fatalf("decoded %+v as %T %+v (%v)", e, rec, rec, err)
	}
}

func TestDecodeKeepsATypeItDoesNotKnow(t *testing.T) {
	e, err := Decode([]byte(`{"id":"evt_2","type":"flow.status_changed","tenant_id":"acme","data":{"name":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := e.Record(); rec != nil || err != nil {
		t.Fatalf("Record of an unknown type = %v, %v", rec, err)
	}
}

func TestDecodeRefusesWhatIsNoEvent(t *testing.T) {
	for name, body := range map[string]string{
		"empty":             ``,
		"not JSON":          `hello`,
		"an array":          `[1]`,
		"two values":        statusEvent + ` {}`,
		"no id":             `{"type":"message.received","data":{}}`,
		"no type":           `{"id":"evt_1","data":{}}`,
		"no data":           `{"id":"evt_1","type":"message.received"}`,
		"data not object":   `{"id":"evt_1","type":"message.received","data":[1]}`,
		"data of bad shape": `{"id":"evt_1","type":"message.received","data":{"message":"x"}}`,
		"not UTF-8":         "{\"id\":\"evt_\xff\",\"type\":\"x\",\"data\":{}}",
		"too large":         `{"id":"evt_1","type":"x","data":{"p":"` + strings.Repeat("a", MaxEventBytes) + `"}}`,
	} {
		if _, err := Decode([]byte(body)); !errors.Is(err, ErrNotEvent) {
			t.Errorf("%s: Decode = %v, want ErrNotEvent", name, err)
		}
	}
}
