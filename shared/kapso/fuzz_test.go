package kapso_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

func FuzzSplit(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		f.Add(s.Event, s.Body)
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		items, err := kapso.Split(header, body)
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
		for i, it := range items {
			if it.Name == "" {
				t.Fatalf("item %d has no name", i)
			}
			if !json.Valid(it.Payload) {
				t.Fatalf("item %d payload %q is not valid JSON", i, it.Payload)
			}
		}
	})
}
