package rawjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Decoder decodes one JSON value into Go values with code written per type,
// for the few payloads decoded on every event. It follows encoding/json's
// rules for what it decodes (see the methods), so that a type's hand-written
// decoder and json.Unmarshal agree:
//
//   - a member whose key matches no field is skipped (and validated);
//   - keys match field names case-insensitively (use Field);
//   - null leaves a string, number, bool or struct as it was, and sets a
//     pointer or slice to nil;
//   - a value of the wrong type is an error, and the result is discarded;
//   - the last of duplicate keys wins.
//
// Decoded strings share one copy of the input (made once, by NewDecoder),
// and json.RawMessage values are sub-slices of the input itself: nothing
// is copied per field.
type Decoder struct {
	Cursor
	s   string // the input, as a string: decoded strings are its substrings
	err error  // the first type error
}

// NewDecoder starts decoding b. It is a value, to be used through a
// pointer that does not escape, so that it costs no allocation.
func NewDecoder(b []byte) Decoder {
	return Decoder{Cursor: NewCursor(b), s: string(b)}
}

// NewDecoderOf is NewDecoder for a caller that already holds b's bytes as
// the string s (len(s) must be len(b)), so that several inputs can share
// one copy. Decoded strings are substrings of s.
func NewDecoderOf(b []byte, s string) Decoder {
	if len(s) != len(b) {
		s = string(b)
	}
	return Decoder{Cursor: NewCursor(b), s: s}
}

// TypeError is a JSON value of the wrong type for the Go value decoded.
type TypeError struct {
	Value  string // "string", "number", "object", "array", "bool"
	Type   string // the Go type
	Offset int
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("cannot decode JSON %s at offset %d into Go %s", e.Value, e.Offset, e.Type)
}

// mismatch records that the next value cannot be decoded into goType, and
// stops the walk.
func (d *Decoder) mismatch(goType string) {
	if d.failed {
		return
	}
	var kind string
	switch d.Peek() {
	case '"':
		kind = "string"
	case '{':
		kind = "object"
	case '[':
		kind = "array"
	case 't', 'f':
		kind = "bool"
	case 'n':
		kind = "null"
	default:
		kind = "number"
	}
	if d.Skip() == nil {
		return // a syntax error: reported as such
	}
	d.err = &TypeError{Value: kind, Type: goType, Offset: d.i}
	d.fail()
}

// Err returns the walk's first error: a *TypeError, or the syntax error.
func (d *Decoder) Err() error {
	if d.err != nil {
		return d.err
	}
	if d.failed {
		return SyntaxErr(d.b)
	}
	return nil
}

// Finish checks that only whitespace follows the decoded value and returns
// the walk's first error.
func (d *Decoder) Finish() error {
	if !d.failed && skipWS(d.b, d.i) != len(d.b) {
		d.fail()
	}
	return d.Err()
}

// Field moves to the next member of the object being decoded, like Next,
// and returns its key ready to compare with a lowercase ASCII field name.
func (d *Decoder) Field() (key []byte, ok bool) { return d.NextField() }

// Null consumes the next value and returns true when it is null.
func (d *Decoder) Null() bool {
	if d.Peek() != 'n' {
		return false
	}
	return d.Skip() != nil
}

// BeginObject enters the next value when it is an object. On null it
// returns false with no error; on any other value, false and a type error.
func (d *Decoder) BeginObject(goType string) bool {
	if d.Object() {
		return true
	}
	if !d.Null() {
		d.mismatch(goType)
	}
	return false
}

// BeginArray enters the next value when it is an array; null and other
// values as BeginObject.
func (d *Decoder) BeginArray(goType string) bool {
	if d.Array() {
		return true
	}
	if !d.Null() {
		d.mismatch(goType)
	}
	return false
}

// String decodes a string into dst; null leaves dst alone.
func (d *Decoder) String(dst *string) {
	if s, ok := d.str(); ok {
		*dst = s
	}
}

// StringPtr decodes a string into *dst, allocating it when nil; null sets
// dst to nil.
func (d *Decoder) StringPtr(dst **string) {
	if d.Null() {
		*dst = nil
		return
	}
	if s, ok := d.str(); ok {
		if *dst == nil {
			*dst = new(string)
		}
		**dst = s
	}
}

// str reads a string; false on null or an error.
func (d *Decoder) str() (string, bool) {
	i := d.Start()
	if i >= len(d.b) || d.b[i] != '"' {
		if !d.Null() {
			d.mismatch("string")
		}
		return "", false
	}
	end, ascii := scanASCII(d.b, i)
	if !ascii {
		// An escape or a non-ASCII byte: the careful path.
		if end = skipString(d.b, i); end < 0 {
			d.fail()
			return "", false
		}
		d.i = end
		if content := d.b[i+1 : end-1]; bytes.IndexByte(content, '\\') >= 0 || !utf8.Valid(content) {
			return string(Unquote(d.b[i:end])), true
		}
		return d.s[i+1 : end-1], true
	}
	d.i = end
	return d.s[i+1 : end-1], true
}

// scanASCII returns the index just past the string whose opening quote is
// at b[i] and true when it is plain printable ASCII, the common case that
// decodes to its own bytes; false as soon as it is not.
func scanASCII(b []byte, i int) (int, bool) {
	i++
	for i+8 <= len(b) {
		v := binary.LittleEndian.Uint64(b[i:])
		if m := plainString(v) | v&msb; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			return i + 1, b[i] == '"'
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			return i, false
		} else if c == '"' {
			return i + 1, true
		}
	}
	return i, false
}

// Bool decodes true or false into dst; null leaves dst alone.
func (d *Decoder) Bool(dst *bool) {
	switch d.Peek() {
	case 't', 'f':
		v := d.b[d.i] == 't'
		if d.Skip() != nil {
			*dst = v
		}
	case 'n':
		d.Skip()
	default:
		d.mismatch("bool")
	}
}

// BoolPtr decodes true or false into *dst, allocating it when nil; null
// sets dst to nil.
func (d *Decoder) BoolPtr(dst **bool) {
	switch d.Peek() {
	case 't', 'f':
		v := d.b[d.i] == 't'
		if d.Skip() == nil {
			return
		}
		if *dst == nil {
			*dst = new(bool)
		}
		**dst = v
	case 'n':
		if d.Skip() != nil {
			*dst = nil
		}
	default:
		d.mismatch("bool")
	}
}

// Int64 decodes an integer into dst; null leaves dst alone. A fraction,
// an exponent or an overflow is an error, as with encoding/json.
func (d *Decoder) Int64(dst *int64) {
	if n, ok := d.integer(64); ok {
		*dst = n
	}
}

// Int decodes an integer into dst, as Int64.
func (d *Decoder) Int(dst *int) {
	if n, ok := d.integer(strconv.IntSize); ok {
		*dst = int(n)
	}
}

// integer reads an integer of the given size; false on null or an error.
func (d *Decoder) integer(bitSize int) (int64, bool) {
	c := d.Peek()
	if c == 'n' {
		d.Skip()
		return 0, false
	}
	if c != '-' && !isDigit(c) {
		d.mismatch("int")
		return 0, false
	}
	start := d.i
	if d.Skip() == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, bitSize)
	if err != nil {
		d.err = &TypeError{Value: "number " + d.s[start:d.i], Type: "int", Offset: start}
		d.fail()
		return 0, false
	}
	return n, true
}

// Raw takes the next value as it is, null included, as json.RawMessage
// does; dst is a sub-slice of the input.
func (d *Decoder) Raw(dst *json.RawMessage) {
	if raw := d.Skip(); raw != nil {
		*dst = raw
	}
}

// Strings decodes an array of strings into dst.
func (d *Decoder) Strings(dst *[]string) {
	if d.Null() {
		*dst = nil
		return
	}
	if !d.BeginArray("[]string") {
		return
	}
	s := *dst
	n := 0
	for d.NextElem() {
		s = Grow(s, n)
		d.String(&s[n])
		n++
	}
	*dst = Trim(s, n)
}

// Grow makes s[n] addressable for decoding the n-th element of an array
// into, reusing the element already there as encoding/json does.
func Grow[T any](s []T, n int) []T {
	if n < cap(s) {
		return s[:n+1]
	}
	var zero T
	return append(s, zero)
}

// Trim returns s once n elements were decoded: its first n elements, and
// an empty non-nil slice for an empty array, as encoding/json does.
func Trim[T any](s []T, n int) []T {
	if n == 0 {
		return []T{}
	}
	return s[:n]
}

// Ptr readies the pointer *p for decoding the next value into it: on null
// it sets *p to nil and returns false; otherwise it allocates *p when nil,
// as encoding/json does, and returns true.
func Ptr[T any](d *Decoder, p **T) bool {
	if d.Null() {
		*p = nil
		return false
	}
	if *p == nil {
		*p = new(T)
	}
	return true
}
