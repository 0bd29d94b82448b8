package meta

import (
	"fmt"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// benchPayload is one of the deliveries make bench measures (events/bench).
func benchPayload(tb testing.TB, name string) []byte {
	tb.Helper()
	s, err := events.Lookup("bench/" + name + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	return s.Body
}

// BenchmarkSplitDecode splits one delivery and decodes every event into its
// typed form: all a worker does before its own logic.
func BenchmarkSplitDecode(b *testing.B) {
	for _, name := range []string{"meta-mixed-50", "meta-statuses-1000"} {
		body := benchPayload(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := splitDecode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func splitDecode(body []byte) error {
	events, err := Split(body)
	if err != nil {
		return err
	}
	for _, e := range events {
		switch e.Kind {
		case KindMessage:
			_, err = DecodeMessage(e)
		case KindStatus:
			_, err = DecodeStatus(e)
		case KindErrors:
			_, err = DecodeErrors(e)
		default:
			// A change's value has no typed form: its consumer reads Raw.
			if !rawjson.Valid(e.Raw) {
				err = fmt.Errorf("%s: %w", e.Name(), ErrMalformed)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSplit is the walk alone, without decoding the events.
func BenchmarkSplit(b *testing.B) {
	for _, name := range []string{"meta-mixed-50", "meta-statuses-1000"} {
		body := benchPayload(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Split(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
