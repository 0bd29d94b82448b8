// Package rawjson reads webhook JSON leniently and fast: the Kapso and Meta
// formats both gain fields and shapes without notice, so their readers check
// a value's kind before decoding it and keep the rest raw. A Cursor walks a
// body once, validating it, and cuts values out of it without copying; a
// Decoder fills Go values field by field with encoding/json's rules.
package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
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
	raw = trimWS(raw)
	if len(raw) < 2 || raw[0] != '"' || skipString(raw, 0) != len(raw) {
		return ""
	}
	return strings.TrimSpace(string(Unquote(raw)))
}

// ID returns an identifier that should be a JSON string but may come as a
// number: the string trimmed, or the number's digits verbatim. Anything else
// is "".
func ID(raw json.RawMessage) string {
	if s := String(raw); s != "" {
		return s
	}
	raw = trimWS(raw)
	if len(raw) > 0 && (raw[0] == '-' || isDigit(raw[0])) && skipNumber(raw, 0) == len(raw) {
		return string(raw)
	}
	return ""
}

// trimWS trims JSON whitespace, and only that, from both ends of raw.
func trimWS(raw []byte) []byte {
	raw = raw[skipWS(raw, 0):]
	for len(raw) > 0 {
		switch raw[len(raw)-1] {
		case ' ', '\t', '\n', '\r':
			raw = raw[:len(raw)-1]
			continue
		}
		break
	}
	return raw
}

// Unquote returns the content of the valid JSON string raw (quotes
// included) as encoding/json decodes it: escapes resolved, invalid UTF-8
// replaced by U+FFFD. A string with neither is returned as a sub-slice of
// raw, without copying.
func Unquote(raw []byte) []byte {
	content := raw[1 : len(raw)-1]
	if bytes.IndexByte(content, '\\') < 0 && utf8.Valid(content) {
		return content
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return []byte(s)
}

// Key returns an object key as written between its quotes, with escapes
// resolved: what a map[string]T decoding would use.
func Key(key []byte) []byte {
	if bytes.IndexByte(key, '\\') < 0 && utf8.Valid(key) {
		return key
	}
	return Unquote(quote(key))
}

func quote(key []byte) []byte {
	q := make([]byte, 0, len(key)+2)
	q = append(q, '"')
	q = append(q, key...)
	return append(q, '"')
}

// foldKey is FieldKey's slow path: encoding/json matches a key to a field
// name when both fold to the same runes, each rune r folding to
// unicode.ToUpper(unicode.ToLower(r)). Field names here are lowercase ASCII,
// so the key is folded to lowercase; a rune that does not fold to ASCII
// (most of them) can match no field and is kept as it folds.
func foldKey(key []byte) []byte {
	key = Key(key)
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		i += n
		r = unicode.ToUpper(unicode.ToLower(r))
		if r < utf8.RuneSelf {
			r = unicode.ToLower(r)
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// FieldKey returns an object key in the form that matches a lowercase
// ASCII struct field name the way encoding/json does: escapes resolved,
// then case-folded (so "From" and "FROM" match "from"). Keys that need
// neither, the usual case, are returned as they are.
func FieldKey(key []byte) []byte {
	for _, c := range key {
		if c >= utf8.RuneSelf || c == '\\' || 'A' <= c && c <= 'Z' {
			return foldKey(key)
		}
	}
	return key
}
