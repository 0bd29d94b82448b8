// Package strictjson reads a request body that must be one JSON object of a
// known shape. encoding/json alone is lenient where an API should not be: it
// takes a member in another case, keeps the last of a repeated member,
// ignores unknown members, and turns invalid UTF-8 and unpaired surrogate
// escapes into U+FFFD without a word. Here each is an *Error naming the
// member at fault, so the caller learns what to fix and nothing it did not
// mean is passed on.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind says what is wrong with a body.
type Kind int

// The kinds of Error, each with the fields it sets.
const (
	TooLarge   Kind = iota + 1 // over the limit Read was given (Limit)
	NotObject                  // not a JSON object
	Syntax                     // not valid JSON (Offset, the byte where it broke)
	Truncated                  // valid JSON so far, but it ends too soon
	Trailing                   // something after the object
	TooDeep                    // objects and arrays nested more than MaxDepth deep
	Repeated                   // a member given twice in one object
	Unknown                    // a member the target has no field for; names are exact, so another case is unknown
	BadText                    // a string, value or name, that is not valid UTF-8 or holds an unpaired surrogate escape
	Text                       // a string Options.Text refused (Problem)
	Type                       // a value of another JSON type than its field's (Want, GoType)
	OutOfRange                 // a number its field cannot hold
)

// MaxDepth bounds how deep objects and arrays nest, the body's own object
// being depth 1: far beyond any request kapso-bridge takes, well before a
// deep body costs anything.
const MaxDepth = 32

// Error is a body refused, with where and why. Its message is safe to show
// the caller: it names members, never quotes values.
type Error struct {
	Kind Kind
	// Path is the member at fault, "" for the body as a whole:
	// "text.body", "buttons[1].reply.title", `theme_config["a b"]`.
	Path   string
	Offset int64        // Syntax
	Limit  int64        // TooLarge
	Want   string       // Type: "a string", "true or false", "a number", "an array", "an object"
	GoType reflect.Type // Type: the field's Go type
	// Problem is what is wrong with the member at Path, in words ("given
	// more than once"); for Text, Options.Text's answer.
	Problem string
	Err     error // the cause, for logs
}

func (e *Error) Error() string {
	switch e.Kind {
	case TooLarge:
		return fmt.Sprintf("body larger than %d bytes", e.Limit)
	case NotObject:
		return "body must be a JSON object"
	case Syntax:
		return fmt.Sprintf("body is not valid JSON (at byte %d)", e.Offset)
	case Truncated:
		return "body is not valid JSON (it ends too soon)"
	case Trailing:
		return "body must be one JSON object"
	case Unknown:
		return fmt.Sprintf("unknown field %q", e.Path)
	}
	return member(e.Path) + ": " + e.Problem
}

func (e *Error) Unwrap() error { return e.Err }

func member(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// Read reads r whole: more than limit bytes is a TooLarge *Error, and any
// other failure is the reader's error.
func Read(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, &Error{Kind: TooLarge, Limit: limit}
	}
	return body, nil
}

// Options adjust Decode.
type Options struct {
	// Text, when set, is asked about every string of the body, names and
	// values, once it is known to be valid text: an answer other than ""
	// refuses the body with a Text error naming the member.
	Text func(s string) (problem string)
}

// Decode decodes body, exactly one JSON object, into v, a pointer to a
// struct, and refuses what encoding/json would let through: a member v's
// type does not name, in exactly that case; a member given twice; a string
// that is not valid UTF-8 or holds an unpaired surrogate escape; a value of
// another JSON type than its field's; a number its field cannot hold;
// nesting deeper than MaxDepth; anything after the object. A null leaves
// its field as it was, as in encoding/json. Every refusal is an *Error.
//
// The body is read twice: once into a plain tree that the checks walk, then
// by encoding/json into v, which has nothing left to be lenient about.
func Decode(body []byte, v any, o Options) error {
	p := parser{body: body, dec: json.NewDecoder(bytes.NewReader(body)), opts: o}
	p.dec.UseNumber()
	tok, _, err := p.token("")
	if err != nil {
		if err.Kind == Syntax || err.Kind == Truncated {
			return &Error{Kind: NotObject, Err: err}
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &Error{Kind: NotObject}
	}
	tree, err := p.object("", 1)
	if err != nil {
		return err
	}
	if _, terr := p.dec.Token(); terr != io.EOF {
		return &Error{Kind: Trailing, Err: terr}
	}
	if err := shape(tree, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if uerr := json.Unmarshal(body, v); uerr != nil {
		// The checks have seen every value; this is a bug, not the caller's.
		return &Error{Kind: Syntax, Err: fmt.Errorf("decode a checked body: %w", uerr)}
	}
	return nil
}

// parser walks the body's tokens, keeping the offset of each so that a
// string's raw bytes, which encoding/json does not show, can be checked.
type parser struct {
	body []byte
	dec  *json.Decoder
	opts Options
}

// token reads the next token; for a string it also returns its literal as
// it is in the body, quotes included.
func (p *parser) token(path string) (json.Token, []byte, *Error) {
	start := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, nil, syntaxError(err, path)
	}
	if _, ok := tok.(string); !ok {
		return tok, nil, nil
	}
	// Between the previous token and this one lie only white space and a
	// comma or colon: the literal starts at the first quote.
	raw := p.body[start:p.dec.InputOffset()]
	if i := bytes.IndexByte(raw, '"'); i > 0 {
		raw = raw[i:]
	}
	return tok, raw, nil
}

func syntaxError(err error, path string) *Error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Kind: Truncated, Path: path, Err: err}
	case errors.As(err, &se):
		return &Error{Kind: Syntax, Path: path, Offset: se.Offset, Err: err}
	}
	return &Error{Kind: Syntax, Path: path, Err: err}
}

// text checks a string the body holds, by its literal and its value.
func (p *parser) text(path, s string, raw []byte) *Error {
	if !validLiteral(raw) {
		return &Error{Kind: BadText, Path: path, Problem: "must be valid UTF-8, without unpaired surrogate escapes"}
	}
	if p.opts.Text != nil {
		if problem := p.opts.Text(s); problem != "" {
			return &Error{Kind: Text, Path: path, Problem: problem}
		}
	}
	return nil
}

// object reads the members of an object whose '{' was read: values as
// map[string]any, []any, string, json.Number, bool or nil.
func (p *parser) object(path string, depth int) (map[string]any, *Error) {
	if depth > MaxDepth {
		return nil, &Error{Kind: TooDeep, Path: path, Problem: "nests too deeply"}
	}
	obj := map[string]any{}
	for {
		tok, raw, err := p.token(path)
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return obj, nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &Error{Kind: Syntax, Path: path, Offset: p.dec.InputOffset()}
		}
		at := Join(path, key)
		if err := p.text(at, key, raw); err != nil {
			return nil, err
		}
		if _, dup := obj[key]; dup {
			return nil, &Error{Kind: Repeated, Path: at, Problem: "given more than once"}
		}
		v, err := p.value(at, depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
}

func (p *parser) value(path string, depth int) (any, *Error) {
	tok, raw, err := p.token(path)
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case string:
		if err := p.text(path, t, raw); err != nil {
			return nil, err
		}
		return t, nil
	case json.Delim:
		if t == '{' {
			return p.object(path, depth+1)
		}
		if depth+1 > MaxDepth {
			return nil, &Error{Kind: TooDeep, Path: path, Problem: "nests too deeply"}
		}
		arr := []any{}
		for i := 0; p.dec.More(); i++ {
			v, err := p.value(fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, _, err := p.token(path); err != nil {
			return nil, err
		}
		return arr, nil
	}
	return tok, nil
}

// Join is the path of member key of the object at path: "a.b" for a plain
// name, `a["b c"]` for one a dot could not carry or that is not printable
// ASCII, so a path never holds a control character.
func Join(path, key string) string {
	plain := key != "" && !strings.ContainsFunc(key, func(c rune) bool {
		return c <= ' ' || c >= 0x7f || strings.ContainsRune(`."[]\`, c)
	})
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// validLiteral reports whether a JSON string literal is valid UTF-8 and its
// \u escapes pair their surrogates.
func validLiteral(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	hex := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		c, ok := hex(i)
		switch {
		case !ok:
			i++ // a one-character escape such as \\ or \"
		case utf16.IsSurrogate(c):
			low, ok := hex(i + 6)
			if c >= 0xDC00 || !ok || low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 11
		default:
			i += 5
		}
	}
	return true
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// shape compares a value of the tree with the Go type it is to be decoded
// into. A null is taken anywhere: it leaves the field unset.
func shape(v any, t reflect.Type, path string) *Error {
	if v == nil || t == rawMessageType || t.Kind() == reflect.Interface {
		return nil
	}
	wrong := func(want string) *Error {
		return &Error{Kind: Type, Path: path, Want: want, GoType: t, Problem: "must be " + want}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shape(v, t.Elem(), path)
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrong("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrong("true or false")
		}
	case reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return wrong("a number")
		}
		if !fits(n, t) {
			return &Error{Kind: OutOfRange, Path: path, Problem: "is out of range"}
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return wrong("an array")
		}
		for i, e := range arr {
			if err := shape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return wrong("an object")
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if err := shape(obj[k], t.Elem(), Join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrong("an object")
		}
		fields := jsonFields(t)
		// Sorted, so that of several problems the same one is named each time.
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[k]
			if !ok {
				return &Error{Kind: Unknown, Path: Join(path, k), Problem: "is not a known field"}
			}
			if err := shape(obj[k], ft, Join(path, k)); err != nil {
				return err
			}
		}
	default:
		return wrong("nothing: the field's type cannot be decoded")
	}
	return nil
}

// fits reports whether a JSON number decodes into a value of kind t.
func fits(n json.Number, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(string(n), t.Bits())
		return err == nil && !reflect.Zero(t).OverflowFloat(f)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err := strconv.ParseUint(string(n), 10, t.Bits())
		return err == nil
	}
	_, err := strconv.ParseInt(string(n), 10, t.Bits())
	return err == nil
}

// jsonFields maps a struct's JSON names to the types of its fields, as
// encoding/json names them: the tag's name, else the field's; the fields of
// an untagged embedded struct are the outer object's.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			for name, ft := range jsonFields(f.Type) {
				out[name] = ft
			}
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
