package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/jsonscan"
)

// want is the expected outcome for one shape.
type want int

const (
	ok want = iota
	invalid
	badShape
)

func (w want) String() string {
	return [...]string{"ok", "ErrInvalid", "ErrShape"}[w]
}

type scanCase struct {
	name   string
	in     string
	object want // for jsonscan.Object
	meta   want // for jsonscan.Meta
	sqs    bool
}

const metaMin = `{"object":"whatsapp_business_account","entry":[]}`

var cases = []scanCase{
	// Objects and whitespace.
	{"empty object", `{}`, ok, badShape, false},
	{"spaced object", " \t\r\n{ \t\r\n} \t\r\n", ok, badShape, false},
	{"members", `{"a":1,"b":[1,2,{"c":null}],"d":true,"e":false,"f":"x","g":{}}`, ok, badShape, false},
	{"spaced members", "{ \"a\" : 1 ,\n \"b\" :\t[ 1 , 2 ] }", ok, badShape, false},
	{"nested arrays", `{"a":[[[[]]],[[],[{}]]]}`, ok, badShape, false},

	// Top-level values that are valid JSON but not objects.
	{"top array", `[]`, badShape, badShape, false},
	{"top array spaced", ` [1, "a"] `, badShape, badShape, false},
	{"top string", `"x"`, badShape, badShape, false},
	{"top number", `-1.5e3`, badShape, badShape, false},
	{"top true", `true`, badShape, badShape, false},
	{"top false", `false`, badShape, badShape, false},
	{"top null", ` null `, badShape, badShape, false},

	// Numbers.
	{"numbers", `{"n":[0,-0,1,-1,10,1.5,-1.5e10,1e5,1E+5,1e-5,0.0,0e0,-0.0E-0,123456789012345678901234567890]}`, ok, badShape, false},
	{"leading zero", `{"n":01}`, invalid, invalid, false},
	{"double zero", `{"n":00}`, invalid, invalid, false},
	{"negative leading zero", `{"n":-01}`, invalid, invalid, false},
	{"plus sign", `{"n":+1}`, invalid, invalid, false},
	{"no int part", `{"n":.5}`, invalid, invalid, false},
	{"no fraction", `{"n":1.}`, invalid, invalid, false},
	{"fraction then exp", `{"n":1.e5}`, invalid, invalid, false},
	{"empty exponent", `{"n":1e}`, invalid, invalid, false},
	{"signed empty exponent", `{"n":1e+}`, invalid, invalid, false},
	{"lone minus", `{"n":-}`, invalid, invalid, false},
	{"double minus", `{"n":--1}`, invalid, invalid, false},
	{"minus letter", `{"n":-a}`, invalid, invalid, false},
	{"hex", `{"n":0x10}`, invalid, invalid, false},
	{"NaN", `{"n":NaN}`, invalid, invalid, false},
	{"Infinity", `{"n":Infinity}`, invalid, invalid, false},
	{"number at end", `1`, badShape, badShape, false},
	{"minus at end", `-`, invalid, invalid, false},
	{"dot at end", `1.`, invalid, invalid, false},
	{"exp at end", `1e`, invalid, invalid, false},
	{"exp sign at end", `1e-`, invalid, invalid, false},

	// Literals.
	{"short true", `{"a":tru}`, invalid, invalid, false},
	{"long true", `{"a":truex}`, invalid, invalid, false},
	{"capital true", `{"a":True}`, invalid, invalid, false},
	{"short false", `{"a":fals}`, invalid, invalid, false},
	{"short null", `{"a":nul}`, invalid, invalid, false},
	{"long null", `{"a":nulll}`, invalid, invalid, false},
	{"truncated true", `tr`, invalid, invalid, false},
	{"truncated null", `nul`, invalid, invalid, false},

	// Strings and escapes.
	{"escapes", `{"s":"\"\\\/\b\f\n\r\t\u00e9\uD83C\uDF0E\u0000"}`, ok, badShape, false},
	{"every hex digit", `{"s":"\u0123\u4567\u89ab\ucdef\uABCD\uEF00"}`, ok, badShape, false},
	{"lone surrogate escapes", `{"s":"\ud800 \udfff \uDC00\uD800"}`, ok, badShape, false},
	{"escape in key", `{"\n\u0041":1}`, ok, badShape, false},
	{"bad escape", `{"s":"\x"}`, invalid, invalid, false},
	{"single quote escape", `{"s":"\'"}`, invalid, invalid, false},
	{"capital U escape", `{"s":"\U0041"}`, invalid, invalid, false},
	{"short u escape", `{"s":"\u12"}`, invalid, invalid, false},
	{"non-hex u escape", `{"s":"\u12g4"}`, invalid, invalid, false},
	{"u escape at end", `{"s":"\u00`, invalid, invalid, false},
	{"backslash at end", `{"s":"\`, invalid, invalid, false},
	{"escaped closing quote", `{"s":"\"}`, invalid, invalid, false},
	{"unterminated string", `{"s":"abc`, invalid, invalid, false},
	{"unterminated long string", `{"s":"abcdefghijklmnopqrstuvwxyz`, invalid, invalid, false},
	{"unterminated key", `{"abc`, invalid, invalid, false},
	{"raw control", "{\"s\":\"a\x01b\"}", invalid, invalid, false},
	{"raw NUL", "{\"s\":\"\x00\"}", invalid, invalid, false},
	{"raw tab", "{\"s\":\"a\tb\"}", invalid, invalid, false},
	{"raw newline", "{\"s\":\"a\nb\"}", invalid, invalid, false},
	{"raw control after 8 plain", "{\"s\":\"abcdefghij\x1fk\"}", invalid, invalid, false},
	{"raw DEL", "{\"s\":\"a\x7fb\"}", ok, badShape, false},
	{"long plain string", `{"s":"` + strings.Repeat("abcdefg ", 40) + `"}`, ok, badShape, false},
	{"quote at every offset", `{"a":"","ab":"x","abc":"xy","abcd":"xyz","abcde":"xyzw","abcdef":"12345678"}`, ok, badShape, false},

	// UTF-8 inside strings.
	{"two three four bytes", `{"text":"Olá 🌎"}`, ok, badShape, false},
	{"three byte", `{"s":"€ 日本語 ☃"}`, ok, badShape, false},
	{"edges", "{\"s\":\"\u0080\u07ff\u0800\ud7ff\ue000\ufffd\U00010000\U0010ffff\"}", ok, badShape, false},
	{"non-ASCII key", `{"chave-é":"🌎"}`, ok, badShape, false},
	{"bare continuation", "{\"s\":\"\x80\"}", invalid, invalid, false},
	{"0xff", "{\"s\":\"\xff\"}", invalid, invalid, false},
	{"0xfe", "{\"s\":\"\xfe\"}", invalid, invalid, false},
	{"overlong slash 2 bytes", "{\"s\":\"\xc0\xaf\"}", invalid, invalid, false},
	{"overlong C1", "{\"s\":\"\xc1\xbf\"}", invalid, invalid, false},
	{"overlong 3 bytes", "{\"s\":\"\xe0\x80\xaf\"}", invalid, invalid, false},
	{"overlong 4 bytes", "{\"s\":\"\xf0\x80\x80\xaf\"}", invalid, invalid, false},
	{"surrogate D800", "{\"s\":\"\xed\xa0\x80\"}", invalid, invalid, false},
	{"surrogate DFFF", "{\"s\":\"\xed\xbf\xbf\"}", invalid, invalid, false},
	{"above 10FFFF", "{\"s\":\"\xf4\x90\x80\x80\"}", invalid, invalid, false},
	{"F5 lead", "{\"s\":\"\xf5\x80\x80\x80\"}", invalid, invalid, false},
	{"truncated 2 bytes", "{\"s\":\"\xc3\"}", invalid, invalid, false},
	{"truncated 3 bytes", "{\"s\":\"\xe2\x82\"}", invalid, invalid, false},
	{"truncated 4 bytes", "{\"s\":\"\xf0\x9f\x8c\"}", invalid, invalid, false},
	{"2 bytes at end", "{\"s\":\"\xc3", invalid, invalid, false},
	{"4 bytes at end", "{\"s\":\"\xf0\x9f\x8c", invalid, invalid, false},
	{"bad second byte", "{\"s\":\"\xe2\x28\xa1\"}", invalid, invalid, false},
	{"bad third byte", "{\"s\":\"\xe2\x82\x28\"}", invalid, invalid, false},
	{"bad fourth byte", "{\"s\":\"\xf0\x9f\x8c\x28\"}", invalid, invalid, false},
	{"invalid UTF-8 in key", "{\"\xff\":1}", invalid, invalid, false},

	// SQS-unsafe characters.
	{"raw U+FFFE", "{\"s\":\"a\xef\xbf\xbe\"}", ok, badShape, true},
	{"raw U+FFFF", "{\"s\":\"\xef\xbf\xbfb\"}", ok, badShape, true},
	{"raw U+FFFF in key", "{\"\xef\xbf\xbf\":1}", ok, badShape, true},
	{"raw U+FFFF in Meta", `{"object":"whatsapp_business_account","entry":[{"t":"` + "\xef\xbf\xbf" + `"}]}`, ok, ok, true},
	{"escaped U+FFFF", `{"s":"\uffff\uFFFE"}`, ok, badShape, false},
	{"raw U+FFFD", "{\"s\":\"\xef\xbf\xbd\"}", ok, badShape, false},
	{"raw U+FFEF", "{\"s\":\"\xef\xbf\xaf\"}", ok, badShape, false},

	// Bytes outside strings.
	{"empty", ``, invalid, invalid, false},
	{"only space", " \n\t\r", invalid, invalid, false},
	{"BOM", "\xef\xbb\xbf{}", invalid, invalid, false},
	{"non-ASCII outside string", `{é}`, invalid, invalid, false},
	{"invalid byte after value", "{}\xff", invalid, invalid, false},
	{"NUL after value", "{}\x00", invalid, invalid, false},
	{"vertical tab", "\v{}", invalid, invalid, false},
	{"form feed", "{}\f", invalid, invalid, false},
	{"NBSP", "{}\u00a0", invalid, invalid, false},
	{"comment", `{} // x`, invalid, invalid, false},

	// Structure.
	{"open brace", `{`, invalid, invalid, false},
	{"close brace", `}`, invalid, invalid, false},
	{"open bracket", `[`, invalid, invalid, false},
	{"key only", `{"a"}`, invalid, invalid, false},
	{"key colon", `{"a":}`, invalid, invalid, false},
	{"key colon at end", `{"a":`, invalid, invalid, false},
	{"key at end", `{"a"`, invalid, invalid, false},
	{"trailing comma object", `{"a":1,}`, invalid, invalid, false},
	{"trailing comma array", `{"a":[1,]}`, invalid, invalid, false},
	{"leading comma array", `{"a":[,1]}`, invalid, invalid, false},
	{"lone comma object", `{,}`, invalid, invalid, false},
	{"missing colon", `{"a" 1}`, invalid, invalid, false},
	{"double colon", `{"a"::1}`, invalid, invalid, false},
	{"number key", `{1:2}`, invalid, invalid, false},
	{"single quotes", `{'a':1}`, invalid, invalid, false},
	{"bare key", `{a:1}`, invalid, invalid, false},
	{"missing comma", `{"a":[1 2]}`, invalid, invalid, false},
	{"missing comma members", `{"a":1 "b":2}`, invalid, invalid, false},
	{"two values", `{} {}`, invalid, invalid, false},
	{"trailing garbage", `{}x`, invalid, invalid, false},
	{"extra close", `{}]`, invalid, invalid, false},
	{"mismatched array", `{"a":[}`, invalid, invalid, false},
	{"mismatched object", `{"a":{]}`, invalid, invalid, false},
	{"mismatched top", `[}`, invalid, invalid, false},
	{"unclosed nested", `{"a":{"b":[1]}`, invalid, invalid, false},

	// Meta shape.
	{"meta minimal", metaMin, ok, ok, false},
	{"meta spaced", " {\n \"entry\" : [ { } ] ,\t\"object\" : \"\" \n} ", ok, ok, false},
	{"meta among others", `{"a":{"object":1},"object":"x","b":[{"entry":2}],"entry":[1],"c":"entry"}`, ok, ok, false},
	{"meta no object", `{"entry":[]}`, ok, badShape, false},
	{"meta no entry", `{"object":"x"}`, ok, badShape, false},
	{"meta object not string", `{"object":1,"entry":[]}`, ok, badShape, false},
	{"meta object is array", `{"object":["x"],"entry":[]}`, ok, badShape, false},
	{"meta object null", `{"object":null,"entry":[]}`, ok, badShape, false},
	{"meta entry object", `{"object":"x","entry":{}}`, ok, badShape, false},
	{"meta entry null", `{"object":"x","entry":null}`, ok, badShape, false},
	{"meta entry string", `{"object":"x","entry":"[]"}`, ok, badShape, false},
	{"meta keys nested only", `{"a":{"object":"x","entry":[]}}`, ok, badShape, false},
	{"meta keys in array", `[{"object":"x","entry":[]}]`, badShape, badShape, false},
	{"meta escaped key", `{"\u006fbject":"x","entry":[]}`, ok, badShape, false},
	{"meta escaped slash key", `{"object":"x","entr\/y":[]}`, ok, badShape, false},
	{"meta key case", `{"Object":"x","entry":[]}`, ok, badShape, false},
	{"meta key prefix", `{"objects":"x","entry":[]}`, ok, badShape, false},
	{"meta key shorter", `{"objec":"x","entry":[]}`, ok, badShape, false},
	{"meta duplicate last string", `{"object":1,"object":"x","entry":[]}`, ok, ok, false},
	{"meta duplicate last number", `{"object":"x","entry":[],"object":1}`, ok, badShape, false},
	{"meta duplicate entry last null", `{"object":"x","entry":[],"entry":null}`, ok, badShape, false},
	{"meta key as value", `{"x":"object","y":"entry"}`, ok, badShape, false},

	// Invalid JSON wins over a wrong shape.
	{"invalid array", `[1,]`, invalid, invalid, false},
	{"invalid meta member", `{"object":1,}`, invalid, invalid, false},
	{"invalid meta entry", `{"object":"x","entry":[}`, invalid, invalid, false},
	{"invalid meta object value", `{"object":"x,"entry":[]}`, invalid, invalid, false},
	{"invalid after meta", metaMin + `,`, invalid, invalid, false},
	{"invalid UTF-8 in meta", "{\"object\":\"\xff\",\"entry\":[]}", invalid, invalid, false},
}

// deep returns an object nesting depth containers: arrays, or objects when obj.
func deep(depth int, obj bool) string {
	if obj {
		return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
	}
	return `{"a":` + strings.Repeat(`[`, depth-1) + strings.Repeat(`]`, depth-1) + `}`
}

func init() {
	cases = append(cases,
		scanCase{"depth 10000 arrays", deep(10000, false), ok, badShape, false},
		scanCase{"depth 10001 arrays", deep(10001, false), invalid, invalid, false},
		scanCase{"depth 10000 objects", deep(10000, true), ok, badShape, false},
		scanCase{"depth 10001 objects", deep(10001, true), invalid, invalid, false},
		scanCase{"depth 10000 top arrays", strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000), badShape, badShape, false},
		scanCase{"depth 10001 top arrays", strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001), invalid, invalid, false},
		scanCase{"depth 1e6 unclosed", strings.Repeat(`[`, 1_000_000), invalid, invalid, false},
		scanCase{"depth 1e6 closed", strings.Repeat(`{"a":[`, 500_000) + strings.Repeat(`]}`, 500_000), invalid, invalid, false},
	)
}

func outcome(err error) want {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, jsonscan.ErrInvalid):
		return invalid
	case errors.Is(err, jsonscan.ErrShape):
		return badShape
	}
	return -1
}

func TestScan(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(c.in)
			// Keep the table honest: validity must match the reference.
			if ref := json.Valid(b) && utf8.Valid(b); ref != (c.object != invalid) {
				t.Fatalf("table says valid=%v, json.Valid && utf8.Valid = %v", c.object != invalid, ref)
			}
			for _, sc := range []struct {
				shape jsonscan.Shape
				want  want
			}{{jsonscan.Object, c.object}, {jsonscan.Meta, c.meta}} {
				res, err := jsonscan.Scan(b, sc.shape)
				if got := outcome(err); got != sc.want {
					t.Errorf("shape %d: got %v (%v), want %v", sc.shape, got, err, sc.want)
				}
				wantSQS := c.sqs && sc.want != invalid
				if res.SQSUnsafe != wantSQS {
					t.Errorf("shape %d: SQSUnsafe = %v, want %v", sc.shape, res.SQSUnsafe, wantSQS)
				}
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	for _, c := range []struct {
		in    string
		shape jsonscan.Shape
		want  string
	}{
		{``, jsonscan.Object, "not valid UTF-8 JSON: offset 0: unexpected end of input"},
		{`{"a":1,}`, jsonscan.Object, "offset 7: unexpected '}'"},
		{`{}x`, jsonscan.Object, "offset 2: unexpected 'x'"},
		{"{\"a\":\"b\x01\"}", jsonscan.Object, "offset 7: unexpected control byte 0x01"},
		{"{\"a\":\"abcdefghi\xed\xa0\x80\"}", jsonscan.Object, "offset 15: invalid UTF-8 byte 0xed"},
		{`{"a":tru}`, jsonscan.Object, "offset 8: unexpected '}'"},
		{`{"a":01}`, jsonscan.Object, "offset 6: unexpected '1'"},
		{`{"a":"\u12x4"}`, jsonscan.Object, "offset 10: unexpected 'x'"},
		{`{é}`, jsonscan.Object, "offset 1: unexpected 'é'"},
		{deep(10001, false), jsonscan.Object, "offset 10004: nesting deeper than 10000"},
		{`[1]`, jsonscan.Object, "not the expected JSON shape: top level is an array, want an object"},
		{`"x"`, jsonscan.Object, "top level is a string, want an object"},
		{`{}`, jsonscan.Meta, `no top-level "object" key`},
		{`{"object":1}`, jsonscan.Meta, `"object" is not a string`},
		{`{"object":"x"}`, jsonscan.Meta, `no top-level "entry" key`},
		{`{"object":"x","entry":{}}`, jsonscan.Meta, `"entry" is not an array`},
		{`{"batch":true,"data":{}}`, jsonscan.Kapso, `a batch whose "data" is not an array`},
		{`{"batch":true}`, jsonscan.Kapso, `a batch whose "data" is not an array`},
		{`[{"batch":true,"data":[]}]`, jsonscan.Kapso, `top level is an array, want an object`},
	} {
		_, err := jsonscan.Scan([]byte(c.in), c.shape)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Scan(%.40q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func TestSamples(t *testing.T) {
	samples := sampleFiles(t)
	for name, b := range samples {
		res, errObject := jsonscan.Scan(b, jsonscan.Object)
		_, errMeta := jsonscan.Scan(b, jsonscan.Meta)
		_, errKapso := jsonscan.Scan(b, jsonscan.Kapso)
		dir := filepath.Base(filepath.Dir(name))
		switch {
		case dir == "bad":
			// Some are valid JSON objects of no webhook's shape.
			ref := referenceOf(t, b)
			if (errObject == nil) != (ref.valid && ref.object) {
				t.Errorf("%s: Object: %v, reference %+v", name, errObject, ref)
			}
			if errKapso == nil {
				t.Errorf("%s: a bad sample passed as Kapso", name)
			}
		case dir == "kapso" && errKapso != nil:
			t.Errorf("%s: Kapso: %v", name, errKapso)
		case errObject != nil:
			t.Errorf("%s: %v", name, errObject)
		case dir == "meta" && errMeta != nil:
			t.Errorf("%s: Meta: %v", name, errMeta)
		case dir == "kapso" && errMeta == nil:
			t.Errorf("%s: a Kapso body passed as Meta", name)
		}
		if res.SQSUnsafe {
			t.Errorf("%s: SQSUnsafe", name)
		}
	}
}

// sampleFiles reads every sample delivery under the repository's events/.
func sampleFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "events", "*", "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no samples under events/: %v", err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[p] = b
	}
	return out
}

func TestAllocs(t *testing.T) {
	body := metaBody(50, 50, 50)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := jsonscan.Scan(body, jsonscan.Meta); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocs per Scan, want 0", n)
	}
}

// reference is what encoding/json says about b.
type reference struct {
	valid  bool
	object bool // the top level is an object
	meta   bool // and has "object" as a string and "entry" as an array
	kapso  bool // and is not a batch ("batch": true) without a "data" array
	sqs    bool
}

func referenceOf(tb testing.TB, b []byte) reference {
	var r reference
	r.valid = json.Valid(b) && utf8.Valid(b)
	if !r.valid {
		return r
	}
	// In valid UTF-8 these sequences can only be the characters themselves.
	r.sqs = bytes.Contains(b, []byte("\uFFFE")) || bytes.Contains(b, []byte("\uFFFF"))
	r.object = bytes.TrimLeft(b, " \t\r\n")[0] == '{'
	if !r.object {
		return r
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("json.Unmarshal of a valid object: %v", err)
	}
	r.meta = isMeta(m["object"], m["entry"])

	// Scan matches keys on their raw bytes, while Unmarshal unescapes them;
	// walk the members with their raw keys too, and require both to agree
	// whenever no escape could tell them apart.
	raw := rawMembers(tb, b)
	rawMeta := isMeta(raw["object"], raw["entry"])
	r.kapso = !isBatchWithoutData(raw["batch"], raw["data"])
	if !bytes.Contains(b, []byte(`\`)) && rawMeta != r.meta {
		tb.Fatalf("references disagree: map %v, raw keys %v", r.meta, rawMeta)
	}
	r.meta = rawMeta
	return r
}

func isBatchWithoutData(batch, data json.RawMessage) bool {
	return string(batch) == "true" && !(len(data) > 0 && data[0] == '[')
}

func isMeta(object, entry json.RawMessage) bool {
	return len(object) > 0 && object[0] == '"' && len(entry) > 0 && entry[0] == '['
}

// rawMembers decodes the top-level members of a valid object, keyed by the
// key's bytes between its quotes; the last occurrence of a key wins.
func rawMembers(tb testing.TB, b []byte) map[string]json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		tb.Fatal(err)
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		before := dec.InputOffset()
		if _, err := dec.Token(); err != nil {
			tb.Fatal(err)
		}
		// Only whitespace and a comma can precede the key's opening quote.
		seg := b[before:dec.InputOffset()]
		key := seg[bytes.IndexByte(seg, '"')+1 : len(seg)-1]
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			tb.Fatal(err)
		}
		m[string(key)] = v
	}
	return m
}

func FuzzScan(f *testing.F) {
	for _, c := range cases {
		if len(c.in) < 4096 {
			f.Add([]byte(c.in))
		}
	}
	for _, b := range sampleFiles(f) {
		f.Add(b)
	}
	f.Add(kapsoEvent(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		ref := referenceOf(t, b)
		for _, shape := range []jsonscan.Shape{jsonscan.Object, jsonscan.Meta, jsonscan.Kapso} {
			want := ok
			switch {
			case !ref.valid:
				want = invalid
			case !ref.object, shape == jsonscan.Meta && !ref.meta, shape == jsonscan.Kapso && !ref.kapso:
				want = badShape
			}
			res, err := jsonscan.Scan(b, shape)
			if got := outcome(err); got != want {
				t.Fatalf("shape %d: got %v (%v), want %v", shape, got, err, want)
			}
			if res.SQSUnsafe != ref.sqs {
				t.Fatalf("shape %d: SQSUnsafe = %v, want %v", shape, res.SQSUnsafe, ref.sqs)
			}
		}
	})
}
