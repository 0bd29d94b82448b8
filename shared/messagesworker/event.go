package messagesworker

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// event is one event of a delivery. Its PhoneNumberID is the number of the
// verified webhook; named is the number the event itself names, if any.
// A Kapso event's payload is Payload; a Meta event's parts are in meta.
type event struct {
	envelope.Event
	named string
	meta  *meta.Event
}

// keptEvent is an event's JSON form, kept while its number has no tenant
// and for support: everything needed to apply it later.
type keptEvent struct {
	envelope.Event
	Named string     `json:"named_phone_number_id,omitempty"`
	Meta  *keptParts `json:"meta,omitempty"`
}

type keptParts struct {
	Kind          meta.Kind       `json:"kind"`
	Field         string          `json:"field,omitempty"`
	WABAID        string          `json:"waba_id,omitempty"`
	PhoneNumberID string          `json:"phone_number_id,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Contact       json.RawMessage `json:"contact,omitempty"`
	Raw           json.RawMessage `json:"raw"`
}

func (ev event) marshal() ([]byte, error) {
	k := keptEvent{Event: ev.Event, Named: ev.named}
	if m := ev.meta; m != nil {
		k.Meta = &keptParts{Kind: m.Kind, Field: m.Field, WABAID: m.WABAID, PhoneNumberID: m.PhoneNumberID,
			Metadata: m.Metadata, Contact: m.Contact, Raw: m.Raw}
	}
	return json.Marshal(k)
}

func unmarshalEvent(raw []byte) (event, error) {
	var k keptEvent
	if err := json.Unmarshal(raw, &k); err != nil {
		return event{}, err
	}
	ev := event{Event: k.Event, named: k.Named}
	if m := k.Meta; m != nil {
		ev.meta = &meta.Event{Kind: m.Kind, Field: m.Field, WABAID: m.WABAID, PhoneNumberID: m.PhoneNumberID,
			Metadata: nilIfEmpty(m.Metadata), Contact: nilIfEmpty(m.Contact), Raw: m.Raw}
	}
	return ev, nil
}

func nilIfEmpty(b json.RawMessage) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// errUnused marks an event kapso-bridge has no use for (yet): it is kept,
// not failed, so nothing is lost and the queue goes on.
type errUnused struct{ reason string }

func (e errUnused) Error() string { return e.reason }

// unusable reports whether err says the event itself is bad, so that
// retrying can never help: malformed, beyond a bound, or refused by a store
// as invalid or too large (the adapters classify those).
func unusable(err error) bool {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.TooLarge:
		return true
	}
	return errors.Is(err, kapso.ErrMalformed) || errors.Is(err, meta.ErrMalformed)
}

// limiter bounds how many functions run at once across a batch.
type limiter chan struct{}

func newLimiter(n int) limiter { return make(limiter, n) }

// each runs f(0..n-1) concurrently within the bound and joins their errors.
func (l limiter) each(n int, f func(i int) error) error {
	if n == 1 {
		l <- struct{}{}
		defer func() { <-l }()
		return f(0)
	}
	errsOut := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		l <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-l; wg.Done() }()
			errsOut[i] = f(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errsOut...); err != nil {
		return fmt.Errorf("%d events: %w", n, err)
	}
	return nil
}
