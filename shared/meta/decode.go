package meta

import (
	"fmt"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// MessageEvent is a meta.message event, decoded.
type MessageEvent struct {
	WABAID   string   `json:"waba_id"`
	Metadata Metadata `json:"metadata"`
	// Contact is the message's sender; nil when the change named none
	// (system messages).
	Contact *Contact `json:"contact,omitempty"`
	Message Message  `json:"message"`
}

// StatusEvent is a meta.status event, decoded.
type StatusEvent struct {
	WABAID   string   `json:"waba_id"`
	Metadata Metadata `json:"metadata"`
	Status   Status   `json:"status"`
}

// DecodeMessage decodes a KindMessage event. The raw parts of its message
// (image, location, interactive…) are sub-slices of the event's Raw.
func DecodeMessage(e Event) (MessageEvent, error) {
	if e.Kind != KindMessage {
		return MessageEvent{}, kindError(e, KindMessage)
	}
	text := join(e.Metadata, e.Contact, e.Raw)
	ev := MessageEvent{WABAID: e.WABAID}
	if err := decodeMetadata(e.Metadata, text[:len(e.Metadata)], &ev.Metadata); err != nil {
		return MessageEvent{}, err
	}
	text = text[len(e.Metadata):]
	if e.Contact != nil {
		ev.Contact = new(Contact)
		d, err := decoder(e.Contact, text[:len(e.Contact)], "contact")
		if err == nil {
			readContact(&d, ev.Contact)
			err = finish(&d, "contact")
		}
		if err != nil {
			return MessageEvent{}, err
		}
	}
	d, err := decoder(e.Raw, text[len(e.Contact):], "message")
	if err == nil {
		readMessage(&d, &ev.Message)
		err = finish(&d, "message")
	}
	if err != nil {
		return MessageEvent{}, err
	}
	return ev, nil
}

// DecodeStatus decodes a KindStatus event.
func DecodeStatus(e Event) (StatusEvent, error) {
	if e.Kind != KindStatus {
		return StatusEvent{}, kindError(e, KindStatus)
	}
	text := join(e.Metadata, nil, e.Raw)
	ev := StatusEvent{WABAID: e.WABAID}
	if err := decodeMetadata(e.Metadata, text[:len(e.Metadata)], &ev.Metadata); err != nil {
		return StatusEvent{}, err
	}
	d, err := decoder(e.Raw, text[len(e.Metadata):], "status")
	if err == nil {
		ReadStatus(&d, &ev.Status)
		err = finish(&d, "status")
	}
	if err != nil {
		return StatusEvent{}, err
	}
	return ev, nil
}

// DecodeErrors decodes a KindErrors event: the errors of a change.
func DecodeErrors(e Event) ([]Error, error) {
	if e.Kind != KindErrors {
		return nil, kindError(e, KindErrors)
	}
	if !rawjson.IsArray(e.Raw) {
		return nil, fmt.Errorf("decode errors: %w: not a JSON array", ErrMalformed)
	}
	var errs []Error
	d := rawjson.NewDecoder(e.Raw)
	readErrors(&d, &errs)
	if err := finish(&d, "errors"); err != nil {
		return nil, err
	}
	return errs, nil
}

func kindError(e Event, want Kind) error {
	return fmt.Errorf("decode %s as %s: %w", e.Name(), Event{Kind: want}.Name(), ErrMalformed)
}

// join copies the parts of an event that are decoded into one string:
// decoded strings are substrings of it, so that all the strings of an event
// cost one allocation.
func join(a, b, c []byte) string {
	var s strings.Builder
	s.Grow(len(a) + len(b) + len(c))
	s.Write(a)
	s.Write(b)
	s.Write(c)
	return s.String()
}

// decoder starts decoding raw, which must be a JSON object; s holds its
// bytes.
func decoder(raw []byte, s, what string) (rawjson.Decoder, error) {
	if !rawjson.IsObject(raw) {
		return rawjson.Decoder{}, fmt.Errorf("decode %s: %w: %w", what, ErrMalformed, rawjson.ErrNotObject)
	}
	return rawjson.NewDecoderOf(raw, s), nil
}

// decodeMetadata decodes an event's metadata, when it has some, into m; s
// holds raw's bytes.
func decodeMetadata(raw []byte, s string, m *Metadata) error {
	if raw == nil {
		return nil
	}
	d, err := decoder(raw, s, "metadata")
	if err != nil {
		return err
	}
	readMetadata(&d, m)
	return finish(&d, "metadata")
}

// finish ends a decoding. On error the value decoded may be half-filled:
// callers drop it.
func finish(d *rawjson.Decoder, what string) error {
	if err := d.Finish(); err != nil {
		return fmt.Errorf("decode %s: %w: %w", what, ErrMalformed, err)
	}
	return nil
}
