package envelope_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

func TestEncodeDecodeKeepsTheBodyVerbatim(t *testing.T) {
	d := envelope.Delivery{Source: envelope.SourceMeta, Key: "meta#1#k", PhoneNumberID: "1", Event: "e\nvil",
		IdempotencyKey: "k", ReceivedAt: time.Date(2026, 11, 29, 4, 0, 0, 123, time.UTC)}
	// Whitespace, newlines and escapes in the body survive untouched.
	body := []byte("{ \"a\" :\r\n [1, 2],\n\"t\":\"Olá 🌎 \\u00e9\" }\r\n")
	msg, err := envelope.Encode(d, body)
	if err != nil {
		t.Fatal(err)
	}
	got, gotBody, err := envelope.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got != d || string(gotBody) != string(body) {
		t.Fatalf("round trip: %+v %q", got, gotBody)
	}
	if got.EventID(3) != "meta#1#k#3" {
		t.Fatalf("event id %s", got.EventID(3))
	}
}

func TestDecodeRefusesWhatIsNotADelivery(t *testing.T) {
	for _, msg := range []string{
		"",
		"not json\n{}",
		`{"source":"meta","key":"k"}`,        // no newline: no header line
		`{"source":"meta"}` + "\n{}",         // no key
		`{"key":"k"}` + "\n{}",               // no source
		`{"source":"meta","key":"k"}` + "\n", // no body and no reference
		`["source","meta"]` + "\n{}",         // header not an object
		`{"source":"meta","key":"k"} trailing` + "\n{}", // header with garbage
	} {
		if _, _, err := envelope.Decode(msg); !errors.Is(err, envelope.ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", msg, err)
		}
	}
	// A body kept aside leaves the message without one.
	d, body, err := envelope.Decode(`{"source":"meta","key":"k","received_at":"2026-11-29T04:00:00Z","body_ref":"k"}` + "\n")
	if err != nil || d.BodyRef != "k" || len(body) != 0 {
		t.Fatalf("by reference: %+v %q %v", d, body, err)
	}
}
