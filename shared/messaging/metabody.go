package messaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// metaSendBody is Meta's Cloud API message object; field order is the
// order of the bytes.
type metaSendBody struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to,omitempty"`
	Recipient        string `json:"recipient,omitempty"`
	Type             string `json:"type"`
	OutContent
}

// MetaMessage is the Meta Cloud API message object for the request, the
// body Kapso's proxy forwards to Meta. A BSUID recipient goes in
// "recipient" instead of "to". The bytes are deterministic: the same
// request, however its JSON was laid out, always gives the same body.
func (r OutboundRequest) MetaMessage() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	n := r.normalised()
	return marshalCanonical(metaSendBody{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               n.To,
		Recipient:        n.Recipient,
		Type:             n.Type,
		OutContent:       n.OutContent,
	})
}

// Fingerprint is a stable hash of the normalised request, for telling a
// retry with the same idempotency key and the same body from one with a
// different body: JSON key order and white space do not change it, a
// changed value does. It is "sha256:" and 64 hex digits.
func (r OutboundRequest) Fingerprint() string {
	b, err := marshalCanonical(r.normalised())
	if err != nil && r.Template != nil {
		// Only components that are not JSON get here; hash them as text.
		n := r.normalised()
		n.Template.Components, _ = json.Marshal(string(n.Template.Components))
		b, _ = marshalCanonical(n)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normalised is the request with its equivalent forms made one: the
// leading + of to dropped, reply buttons typed, template components in
// canonical JSON (keys sorted, no white space). Nested values are copied
// where they change, so r is left as it was.
func (r OutboundRequest) normalised() OutboundRequest {
	r.To = strings.TrimPrefix(r.To, "+")
	if r.Interactive != nil && r.Interactive.Action != nil && len(r.Interactive.Action.Buttons) > 0 {
		in := *r.Interactive
		a := *in.Action
		a.Buttons = slices.Clone(a.Buttons)
		for i := range a.Buttons {
			if a.Buttons[i].Type == "" {
				a.Buttons[i].Type = "reply"
			}
		}
		in.Action = &a
		r.Interactive = &in
	}
	if r.Template != nil && len(r.Template.Components) > 0 {
		t := *r.Template
		if c, err := canonicalJSON(t.Components); err == nil {
			t.Components = c
		}
		r.Template = &t
	}
	return r
}

// canonicalJSON rewrites a JSON value with object keys sorted and no
// insignificant white space; numbers keep their text.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return marshalCanonical(v)
}

// marshalCanonical is json.Marshal without HTML escaping: struct fields in
// declaration order, map keys sorted, so equal values give equal bytes.
func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
