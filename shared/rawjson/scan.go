package rawjson

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// MaxDepth is the deepest nesting of arrays and objects accepted, the same
// limit as encoding/json, so that both agree on what is valid.
const MaxDepth = 10000

// Valid reports whether b is one valid JSON value with optional surrounding
// whitespace. It accepts exactly what encoding/json.Valid accepts (invalid
// UTF-8 inside strings included), and is several times faster.
func Valid(b []byte) bool {
	i := skipValue(b, skipWS(b, 0), 0)
	return i >= 0 && skipWS(b, i) == len(b)
}

// SyntaxErr explains why b is not valid JSON. It is the slow path, called
// once a scan has failed, so it simply asks encoding/json.
func SyntaxErr(b []byte) error {
	if err := json.Unmarshal(b, new(json.RawMessage)); err != nil {
		return err
	}
	return &json.SyntaxError{Offset: int64(len(b))}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainString returns a mask with the high bit set in each of the 8 bytes of
// v that ends a plain run of string bytes (a quote, a backslash, a control
// character); the lowest set bit is exact, higher ones may be spurious.
func plainString(v uint64) uint64 {
	q := v ^ (lsb * '"')
	bs := v ^ (lsb * '\\')
	return ((q-lsb)&^q | (bs-lsb)&^bs | (v-lsb*0x20)&^v) & msb
}

// skipWS returns the index of the first byte at or after i that is not JSON
// whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string whose opening quote is
// at b[i], or -1 when the string is invalid or unterminated.
func skipString(b []byte, i int) int {
	i++
	for {
		// Eight bytes at a time while none of them needs a look, then
		// byte by byte for the tail.
		for i+8 <= len(b) {
			if m := plainString(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
		default:
			return -1 // a control character
		}
		// An escape: \" \\ \/ \b \f \n \r \t or \uXXXX.
		if i+1 >= len(b) {
			return -1
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
				return -1
			}
			i += 6
		default:
			return -1
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipNumber returns the index just past the number that starts at b[i], or
// -1. What follows the number is the caller's to check.
func skipNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}

func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// skipValue returns the index just past the value that starts at b[i] (no
// leading whitespace), or -1 when it is invalid. depth is the nesting of the
// containers around it.
func skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		return skipString(b, i)
	case '{':
		return skipObject(b, i, depth+1)
	case '[':
		return skipArray(b, i, depth+1)
	case 't':
		return skipLiteral(b, i, "true")
	case 'f':
		return skipLiteral(b, i, "false")
	case 'n':
		return skipLiteral(b, i, "null")
	default:
		if c == '-' || isDigit(c) {
			return skipNumber(b, i)
		}
		return -1
	}
}

func skipObject(b []byte, i, depth int) int {
	if depth > MaxDepth {
		return -1
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i = skipString(b, i); i < 0 {
			return -1
		}
		if i < len(b) && b[i] != ':' {
			i = skipWS(b, i)
		}
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i++
		if i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		if i = skipValue(b, i, depth); i < 0 {
			return -1
		}
		if i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func skipArray(b []byte, i, depth int) int {
	if depth > MaxDepth {
		return -1
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i = skipValue(b, i, depth); i < 0 {
			return -1
		}
		if i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// Cursor walks one JSON text from its start, validating every byte it
// passes, skipped values included. Its methods stop at the first syntax
// error and latch it: check Failed (or the result of End) once at the end.
//
// A walk enters the containers it cares about (Object, Array, with Next and
// NextElem), and Skips the rest, taking each skipped value's bytes as a
// sub-slice of the input.
type Cursor struct {
	b      []byte
	i      int
	depth  int
	first  bool // the container just entered has had no member yet
	failed bool
	// foldKey is set by Next when the key it returned has an escape, an
	// uppercase letter or a non-ASCII byte, and so needs FieldKey.
	foldKey bool
}

// NewCursor starts a walk of b.
func NewCursor(b []byte) Cursor { return Cursor{b: b} }

// Failed reports whether the walk met invalid JSON.
func (c *Cursor) Failed() bool { return c.failed }

func (c *Cursor) fail() {
	c.failed = true
	c.i = len(c.b)
}

// Peek returns the first byte of the next value, after whitespace, without
// consuming it: '{', '[', '"', 't', 'f', 'n', '-' or a digit; 0 at the end
// or after a failure.
func (c *Cursor) Peek() byte {
	c.i = skipWS(c.b, c.i)
	if c.i >= len(c.b) || c.failed {
		return 0
	}
	return c.b[c.i]
}

// Start skips whitespace and returns the position where the next value
// starts, for Slice once the value has been walked.
func (c *Cursor) Start() int {
	c.i = skipWS(c.b, c.i)
	return c.i
}

// Slice returns the input from start to the current position: the bytes of
// a value walked since Start. Its capacity ends with it, so that appending
// to it cannot overwrite what follows.
func (c *Cursor) Slice(start int) []byte {
	if c.failed {
		return nil
	}
	return c.b[start:c.i:c.i]
}

// Skip passes over the next value and returns its bytes, or nil on a
// syntax error.
func (c *Cursor) Skip() []byte {
	start := skipWS(c.b, c.i)
	end := skipValue(c.b, start, c.depth)
	if end < 0 || c.failed {
		c.fail()
		return nil
	}
	c.i = end
	return c.b[start:end:end]
}

// Object enters the next value when it is an object and reports whether it
// did; any other value is left unread.
func (c *Cursor) Object() bool { return c.enter('{') }

// Array enters the next value when it is an array.
func (c *Cursor) Array() bool { return c.enter('[') }

func (c *Cursor) enter(open byte) bool {
	if c.Peek() != open {
		return false
	}
	c.depth++
	if c.depth > MaxDepth {
		c.fail()
		return false
	}
	c.i++
	c.first = true
	return true
}

// Next moves to the next member of the object being walked and returns its
// key as written between the quotes (see Key and FieldKey to compare it);
// the cursor is then on the member's value, which the caller must read or
// Skip. It returns false past the closing brace, or on a syntax error.
func (c *Cursor) Next() (key []byte, ok bool) {
	if !c.more('}') {
		return nil, false
	}
	b := c.b
	i := c.i
	if i >= len(b) || b[i] != '"' {
		c.fail()
		return nil, false
	}
	// Keys are short and mostly lowercase ASCII: scan them byte by byte,
	// noting on the way whether they need folding.
	end := i + 1
	for end < len(b) && plainKeyByte[b[end]] {
		end++
	}
	c.foldKey = false
	if end >= len(b) || b[end] != '"' {
		c.foldKey = true
		if end = skipString(b, i); end < 0 {
			c.fail()
			return nil, false
		}
		end--
	}
	key = b[i+1 : end]
	i = end + 1
	if i < len(b) && b[i] != ':' {
		i = skipWS(b, i)
	}
	if i >= len(b) || b[i] != ':' {
		c.fail()
		return nil, false
	}
	c.i = i + 1
	return key, true
}

// NextKey is Next with the key in the form Key returns, for walks that read
// objects the way encoding/json fills maps.
func (c *Cursor) NextKey() (key []byte, ok bool) {
	key, ok = c.Next()
	if c.foldKey {
		key = Key(key)
	}
	return key, ok
}

// NextField is Next with the key in the form FieldKey returns, for walks
// that read objects the way encoding/json fills structs.
func (c *Cursor) NextField() (key []byte, ok bool) {
	key, ok = c.Next()
	if c.foldKey {
		key = FieldKey(key)
	}
	return key, ok
}

// plainKeyByte tells the bytes a key can hold and still be compared as it
// is written.
var plainKeyByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\' && (c < 'A' || c > 'Z') && c < 0x80
	}
	return t
}()

// NextElem moves to the next element of the array being walked; the caller
// must read or Skip it. It returns false past the closing bracket.
func (c *Cursor) NextElem() bool {
	return c.more(']')
}

// more consumes the comma before a member or element, or the closing
// bracket, and reports whether a member or element follows.
func (c *Cursor) more(closing byte) bool {
	if c.failed {
		return false
	}
	i := skipWS(c.b, c.i)
	if i >= len(c.b) {
		c.fail()
		return false
	}
	first := c.first
	c.first = false
	switch ch := c.b[i]; {
	case ch == closing:
		c.i = i + 1
		c.depth--
		return false
	case first:
		c.i = i
		return true
	case ch == ',':
		c.i = skipWS(c.b, i+1)
		return true
	default:
		c.fail()
		return false
	}
}

// End reports whether the walk succeeded and only whitespace remains.
func (c *Cursor) End() bool {
	return !c.failed && skipWS(c.b, c.i) == len(c.b)
}
