package envelope_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
)

// FuzzDecode reads random queue messages: Decode never panics, refuses
// with ErrMalformed, and what it accepts encodes back to a message that
// decodes to the same header and the same body bytes.
func FuzzDecode(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 11, 29, 4, 0, 0, 123, time.UTC)
	for i, s := range samples {
		if len(s.Body) >= 8<<10 {
			continue
		}
		d := envelope.Delivery{Source: envelope.SourceKapsoNumber, Key: "kapso_number#1#" + s.Path,
			PhoneNumberID: "1", Event: s.Event, IdempotencyKey: s.Path, ReceivedAt: at}
		if i%3 == 0 {
			d.BodyRef = "body#" + s.Path
		}
		msg, err := envelope.Encode(d, s.Body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	d, body := envelope.NumberConnected("106540352242922", at)
	msg, _ := envelope.Encode(d, body)
	f.Add(msg)
	f.Add(`{"source":"meta","key":"k","body_ref":"r"}` + "\n")
	f.Add(`{"source":"meta","key":"k"}` + "\n")
	f.Add(`{"source":"meta","key":"k","received_at":"not a time"}` + "\n{}")
	f.Add(`{"source":"meta","key":"k","key":"","received_at":null}` + "\n\n")
	f.Add(`null` + "\n{}")
	f.Add("{}")
	f.Fuzz(func(t *testing.T, msg string) {
		if len(msg) > 1<<20 {
			t.Skip()
		}
		d, body, err := envelope.Decode(msg)
		if err != nil {
			if !errors.Is(err, envelope.ErrMalformed) {
				t.Fatalf("Decode(%q): %v is not ErrMalformed", msg, err)
			}
			return
		}
		if d.Key == "" || d.Source == "" || (d.BodyRef == "" && len(body) == 0) {
			t.Fatalf("Decode(%q) accepted %+v with body %q", msg, d, body)
		}
		_, rest, _ := strings.Cut(msg, "\n")
		if string(body) != rest {
			t.Fatalf("body %q is not the bytes after the header %q", body, rest)
		}
		again, err := envelope.Encode(d, body)
		if err != nil {
			t.Fatalf("Encode of a decoded header: %v", err)
		}
		d2, body2, err := envelope.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v\n%q", err, again)
		}
		if string(body2) != string(body) || !sameDelivery(d, d2) {
			t.Fatalf("round trip changed the message:\n%+v %q\n%+v %q", d, body, d2, body2)
		}
	})
}

func sameDelivery(a, b envelope.Delivery) bool {
	ta, tb := a.ReceivedAt, b.ReceivedAt
	a.ReceivedAt, b.ReceivedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}
