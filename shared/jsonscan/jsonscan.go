// Package jsonscan is the webhook ingest's one validating pass over a raw
// request body. It accepts exactly what json.Valid(b) && utf8.Valid(b)
// accepts, checks the top-level shape, and notes characters SQS cannot carry,
// all in a single walk over the bytes: the ingest runs it on every delivery,
// so it makes one pass instead of three and allocates only to report an error.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// Shape is what the top-level value must be.
type Shape int

const (
	Object Shape = iota // any JSON object
	Meta                // a Meta Cloud API webhook: an object whose top level has "object" (a JSON string) and "entry" (a JSON array)
	Kapso               // a Kapso webhook: an object; one whose top-level "batch" is true must have a "data" array
)

var (
	// ErrInvalid is always wrapped with the byte offset where the input
	// stops being valid, so a rejected delivery can be diagnosed from logs.
	ErrInvalid = errors.New("not valid UTF-8 JSON")
	// ErrShape is wrapped with what is missing; the body is valid JSON, so
	// the caller may still want to keep it.
	ErrShape = errors.New("not the expected JSON shape")
)

// Result is what the scan learned besides validity.
type Result struct {
	// SQSUnsafe reports that the body holds a character an SQS message body may not carry
	// (SQS allows #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF). In valid JSON the only
	// such characters are U+FFFE and U+FFFF (raw, inside strings); the caller then stores the body aside.
	SQSUnsafe bool
}

// maxDepth is encoding/json's nesting limit: deeper input is invalid there,
// so it is invalid here too.
const maxDepth = 10000

// Top-level member states for the Meta shape; the last occurrence of a key
// wins, as it does when encoding/json decodes the body later.
const (
	missing = iota
	wrongType
	present
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// space marks JSON whitespace.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// plain marks string bytes that need no further look: ASCII from 0x20 up,
// other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

var hex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// Scan validates b in one pass. On ErrShape the Result is still filled in
// (the body is valid JSON); on ErrInvalid it is zero.
func Scan(b []byte, shape Shape) (Result, error) {
	var (
		res Result
		// Bit d is set when the container open at depth d is an object.
		// A fixed array keeps the scan iterative (no stack growth on deep
		// input) and off the heap.
		open     [maxDepth/64 + 1]uint64
		depth    int
		i        int
		u        bool
		keyStart int
		keyEnd   int
		top      byte
		object   = missing
		entry    = missing
		batch    = missing
		data     = missing
		tooDeep  bool
	)

	for i < len(b) && space[b[i]] {
		i++
	}
	if i >= len(b) {
		goto fail
	}
	top = b[i]

value:
	for i < len(b) && space[b[i]] {
		i++
	}
	if i >= len(b) {
		goto fail
	}
	switch b[i] {
	case '"':
		i, u = scanString(b, i+1)
		if i < 0 {
			i = ^i
			goto fail
		}
		if u {
			res.SQSUnsafe = true
		}
	case '{':
		depth++
		if depth > maxDepth {
			tooDeep = true
			goto fail
		}
		open[depth>>6] |= 1 << (depth & 63)
		i++
		for i < len(b) && space[b[i]] {
			i++
		}
		if i < len(b) && b[i] == '}' {
			i++
			depth--
			break
		}
		goto key
	case '[':
		depth++
		if depth > maxDepth {
			tooDeep = true
			goto fail
		}
		open[depth>>6] &^= 1 << (depth & 63)
		i++
		for i < len(b) && space[b[i]] {
			i++
		}
		if i < len(b) && b[i] == ']' {
			i++
			depth--
			break
		}
		goto value
	case 't':
		if len(b)-i < 4 || string(b[i:i+4]) != "true" {
			i = literalError(b, i, "true")
			goto fail
		}
		i += 4
	case 'f':
		if len(b)-i < 5 || string(b[i:i+5]) != "false" {
			i = literalError(b, i, "false")
			goto fail
		}
		i += 5
	case 'n':
		if len(b)-i < 4 || string(b[i:i+4]) != "null" {
			i = literalError(b, i, "null")
			goto fail
		}
		i += 4
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		i = scanNumber(b, i)
		if i < 0 {
			i = ^i
			goto fail
		}
	default:
		goto fail
	}

	// A value has ended: close containers or move to the next member.
next:
	if depth == 0 {
		goto end
	}
	for i < len(b) && space[b[i]] {
		i++
	}
	if i >= len(b) {
		goto fail
	}
	if open[depth>>6]&(1<<(depth&63)) != 0 {
		if b[i] == ',' {
			i++
			for i < len(b) && space[b[i]] {
				i++
			}
			goto key
		}
		if b[i] != '}' {
			goto fail
		}
	} else {
		if b[i] == ',' {
			i++
			goto value
		}
		if b[i] != ']' {
			goto fail
		}
	}
	i++
	depth--
	goto next

	// An object member: i is past any whitespace and must be at the key.
key:
	if i >= len(b) || b[i] != '"' {
		goto fail
	}
	keyStart = i + 1
	i, u = scanString(b, keyStart)
	if i < 0 {
		i = ^i
		goto fail
	}
	if u {
		res.SQSUnsafe = true
	}
	keyEnd = i - 1
	for i < len(b) && space[b[i]] {
		i++
	}
	if i >= len(b) || b[i] != ':' {
		goto fail
	}
	i++
	if depth == 1 && shape != Object {
		// Only the top level's keys matter, and the value's first byte
		// fixes its type, so peeking here keeps the check inside the pass.
		// If the value turns out invalid, validity is reported instead.
		switch string(b[keyStart:keyEnd]) {
		case "object":
			object = memberState(b, i, '"')
		case "entry":
			entry = memberState(b, i, '[')
		case "batch":
			batch = memberState(b, i, 't')
		case "data":
			data = memberState(b, i, '[')
		}
	}
	goto value

end:
	for i < len(b) && space[b[i]] {
		i++
	}
	if i < len(b) {
		goto fail
	}
	if top != '{' {
		return res, fmt.Errorf("%w: top level is %s, want an object", ErrShape, kind(top))
	}
	if shape == Meta {
		switch {
		case object == missing:
			return res, fmt.Errorf(`%w: no top-level "object" key`, ErrShape)
		case object == wrongType:
			return res, fmt.Errorf(`%w: "object" is not a string`, ErrShape)
		case entry == missing:
			return res, fmt.Errorf(`%w: no top-level "entry" key`, ErrShape)
		case entry == wrongType:
			return res, fmt.Errorf(`%w: "entry" is not an array`, ErrShape)
		}
	}
	if shape == Kapso && batch == present && data != present {
		return res, fmt.Errorf(`%w: a batch whose "data" is not an array`, ErrShape)
	}
	return res, nil

fail:
	return Result{}, invalidError(b, i, tooDeep)
}

// memberState reports whether the value starting at or after b[i] begins
// with want.
func memberState(b []byte, i int, want byte) int {
	for i < len(b) && space[b[i]] {
		i++
	}
	if i < len(b) && b[i] == want {
		return present
	}
	return wrongType
}

// scanString scans a string body starting just past its opening quote. It
// returns the index past the closing quote and whether the string holds a
// raw U+FFFE or U+FFFF, or ^offset of the first offending byte.
func scanString(b []byte, i int) (int, bool) {
	unsafe := false
	for {
		// Eight bytes at a time while they are all plain. Each term sets a
		// byte's top bit when that byte is special; borrows can only flag
		// bytes above the first real hit, so the lowest flagged byte is exact.
		for ; i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			m := (x | (x - 0x20*lsb) | ((x ^ '"'*lsb) - lsb) | ((x ^ '\\'*lsb) - lsb)) & msb
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return ^i, false
		}
	special:
		c := b[i]
		switch {
		case c == '"':
			return i + 1, unsafe
		case c == '\\':
			if i+1 >= len(b) {
				return ^(i + 1), false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				// Lone surrogate escapes are accepted, as encoding/json does.
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) || !hex[b[k]] {
						return ^k, false
					}
				}
				i += 6
			default:
				return ^(i + 1), false
			}
		case c < 0x20:
			return ^i, false
		case c < 0xC2:
			// A continuation byte, or the lead of an overlong 2-byte form.
			return ^i, false
		case c < 0xE0:
			if i+1 >= len(b) || b[i+1]&0xC0 != 0x80 {
				return ^i, false
			}
			i += 2
		case c < 0xF0:
			if i+2 >= len(b) {
				return ^i, false
			}
			c1, c2 := b[i+1], b[i+2]
			lo, hi := byte(0x80), byte(0xBF)
			if c == 0xE0 {
				lo = 0xA0 // overlong
			} else if c == 0xED {
				hi = 0x9F // surrogates
			}
			if c1 < lo || c1 > hi || c2&0xC0 != 0x80 {
				return ^i, false
			}
			if c == 0xEF && c1 == 0xBF && c2 >= 0xBE {
				unsafe = true // U+FFFE or U+FFFF
			}
			i += 3
		case c < 0xF5:
			if i+3 >= len(b) {
				return ^i, false
			}
			c1 := b[i+1]
			lo, hi := byte(0x80), byte(0xBF)
			if c == 0xF0 {
				lo = 0x90 // overlong
			} else if c == 0xF4 {
				hi = 0x8F // above U+10FFFF
			}
			if c1 < lo || c1 > hi || b[i+2]&0xC0 != 0x80 || b[i+3]&0xC0 != 0x80 {
				return ^i, false
			}
			i += 4
		default:
			return ^i, false
		}
	}
}

// scanNumber scans a number starting at b[i] ('-' or a digit). It returns
// the index past it, or ^offset of the first offending byte.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return ^i
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c-'1' < 9:
		i++
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
	default:
		return ^i
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i]-'0' >= 10 {
			return ^i
		}
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i]-'0' >= 10 {
			return ^i
		}
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
	}
	return i
}

// literalError returns the offset where b[i:] stops matching lit.
func literalError(b []byte, i int, lit string) int {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k
		}
	}
	return i + len(lit)
}

func invalidError(b []byte, off int, tooDeep bool) error {
	switch {
	case tooDeep:
		return fmt.Errorf("%w: offset %d: nesting deeper than %d", ErrInvalid, off, maxDepth)
	case off >= len(b):
		return fmt.Errorf("%w: offset %d: unexpected end of input", ErrInvalid, off)
	case b[off] < 0x20 || b[off] == 0x7F:
		return fmt.Errorf("%w: offset %d: unexpected control byte 0x%02x", ErrInvalid, off, b[off])
	case b[off] < utf8.RuneSelf:
		return fmt.Errorf("%w: offset %d: unexpected %q", ErrInvalid, off, b[off])
	}
	if r, size := utf8.DecodeRune(b[off:]); r != utf8.RuneError || size > 1 {
		return fmt.Errorf("%w: offset %d: unexpected %q", ErrInvalid, off, r)
	}
	return fmt.Errorf("%w: offset %d: invalid UTF-8 byte 0x%02x", ErrInvalid, off, b[off])
}

func kind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
