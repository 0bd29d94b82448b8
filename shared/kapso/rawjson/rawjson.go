// Package rawjson reads webhook JSON leniently, one level at a time: the
// Kapso and Meta formats both gain fields and shapes without notice, so their
// readers check a value's kind before decoding it and keep the rest raw.
package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// ErrNotObject reports a value that is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// IsObject reports whether raw starts like a JSON object (leading whitespace
// allowed). It does not validate the rest.
func IsObject(raw []byte) bool { return firstByte(raw) == '{' }

// IsArray reports whether raw starts like a JSON array.
func IsArray(raw []byte) bool { return firstByte(raw) == '[' }

func firstByte(raw []byte) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// String returns raw's value when it is a JSON string, trimmed; else "".
func String(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return ""
}

// ID returns an identifier that should be a JSON string but may come as a
// number: the string trimmed, or the number's digits verbatim. Anything else
// is "".
func ID(raw json.RawMessage) string {
	if s := String(raw); s != "" {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// DecodeObject decodes raw into a T, and requires raw to be a JSON object: a
// null or an array must not pass as an empty value. On error it returns the
// zero T, never a half-decoded one.
func DecodeObject[T any](raw json.RawMessage) (T, error) {
	var v, zero T
	if !IsObject(raw) {
		return zero, ErrNotObject
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return zero, err
	}
	return v, nil
}
