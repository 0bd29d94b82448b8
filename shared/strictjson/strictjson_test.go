package strictjson_test

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"

	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
)

type inner struct {
	Name string   `json:"name"`
	N    *float64 `json:"n,omitempty"`
}

type Embedded struct {
	E string `json:"e,omitempty"`
}

// target has a field of each kind Decode takes.
type target struct {
	S   string            `json:"s,omitempty"`
	B   *bool             `json:"b,omitempty"`
	F   float64           `json:"f,omitempty"`
	I   int8              `json:"i,omitempty"`
	L   []string          `json:"l,omitempty"`
	M   map[string]string `json:"m,omitempty"`
	O   *inner            `json:"o,omitempty"`
	Os  []inner           `json:"os,omitempty"`
	Raw json.RawMessage   `json:"raw,omitempty"`
	Any any               `json:"any,omitempty"`
	Embedded
}

func TestDecodeTakes(t *testing.T) {
	yes, n := true, 2.5
	for _, c := range []struct {
		name, body string
		want       target
	}{
		{"empty object", `{}`, target{}},
		{"white space around", " \r\n\t{ \"s\" : \"x\" }\n ", target{S: "x"}},
		{"every kind", `{"s":"Olá 🌎","b":true,"f":-1.5e3,"i":-128,"l":["a","b"],"m":{"x y":"z","":""},` +
			`"o":{"name":"n","n":2.5},"os":[{"name":"a"}],"raw":[{"a":[1,{"b":null}]}],"any":{"k":[true]},"e":"embedded"}`,
			target{S: "Olá 🌎", B: &yes, F: -1500, I: -128, L: []string{"a", "b"}, M: map[string]string{"x y": "z", "": ""},
				O: &inner{Name: "n", N: &n}, Os: []inner{{Name: "a"}}, Raw: json.RawMessage(`[{"a":[1,{"b":null}]}]`),
				Any: map[string]any{"k": []any{true}}, Embedded: Embedded{E: "embedded"}}},
		{"nulls leave fields unset", `{"s":null,"b":null,"o":null,"l":null,"m":null}`, target{}},
		{"a null raw value is kept", `{"raw":null}`, target{Raw: json.RawMessage("null")}},
		{"a surrogate pair", `{"s":"\ud83e\udd56"}`, target{S: "🥖"}},
		{"an escaped backslash before u", `{"s":"\\ud800"}`, target{S: `\ud800`}},
		{"escapes of every kind", `{"s":"\"\\\/\b\f\n\r\t\u00e9"}`, target{S: "\"\\/\b\f\n\r\té"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got target
			if err := strictjson.Decode([]byte(c.body), &got, strictjson.Options{}); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	nested := func(depth int) string { // the body's object holds depth-1 levels of arrays
		return `{"raw":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
	}
	for _, c := range []struct {
		name, body string
		kind       strictjson.Kind
		path       string
		message    string
	}{
		{"null", `null`, strictjson.NotObject, "", "body must be a JSON object"},
		{"an array", `[{"s":"x"}]`, strictjson.NotObject, "", "body must be a JSON object"},
		{"a string", `"x"`, strictjson.NotObject, "", "body must be a JSON object"},
		{"a number", ` 42 `, strictjson.NotObject, "", "body must be a JSON object"},
		{"nothing", ``, strictjson.NotObject, "", "body must be a JSON object"},
		{"not JSON", `s=x`, strictjson.NotObject, "", "body must be a JSON object"},
		{"a value missing", `{"s":}`, strictjson.Syntax, "s", "body is not valid JSON (at byte 6)"},
		{"a colon missing", `{"s" "x"}`, strictjson.Syntax, "s", "body is not valid JSON"},
		{"a trailing comma", `{"s":"x",}`, strictjson.Syntax, "", "body is not valid JSON"},
		{"a raw control character", "{\"s\":\"a\x01\"}", strictjson.Syntax, "s", "body is not valid JSON"},
		{"unfinished", `{"s":"x"`, strictjson.Truncated, "", "body is not valid JSON (it ends too soon)"},
		{"unfinished inside", `{"o":{"name":"a"}`, strictjson.Truncated, "", "it ends too soon"},
		{"two objects", `{} {}`, strictjson.Trailing, "", "body must be one JSON object"},
		{"something after", `{"s":"x"} x`, strictjson.Trailing, "", "body must be one JSON object"},
		{"too deep", nested(strictjson.MaxDepth + 1), strictjson.TooDeep, "raw" + strings.Repeat("[0]", strictjson.MaxDepth-1), "nests too deeply"},
		{"repeated", `{"s":"a","s":"b"}`, strictjson.Repeated, "s", "s: given more than once"},
		{"repeated inside", `{"o":{"name":"a","name":"b"}}`, strictjson.Repeated, "o.name", "o.name: given more than once"},
		{"repeated in raw", `{"raw":[{"a":1,"a":1}]}`, strictjson.Repeated, "raw[0].a", "given more than once"},
		{"repeated in a map", `{"m":{"k":"1","k":"1"}}`, strictjson.Repeated, "m.k", "given more than once"},
		{"another case", `{"S":"x"}`, strictjson.Unknown, "S", `unknown field "S"`},
		{"unknown inside", `{"o":{"name":"a","nmae":"b"}}`, strictjson.Unknown, "o.nmae", `unknown field "o.nmae"`},
		{"unknown with a space", `{"x y":1}`, strictjson.Unknown, `["x y"]`, `unknown field "[\"x y\"]"`},
		{"invalid UTF-8", "{\"s\":\"Caf\xe9\"}", strictjson.BadText, "s", "s: must be valid UTF-8, without unpaired surrogate escapes"},
		{"invalid UTF-8 in a name", "{\"m\":{\"\xff\":\"x\"}}", strictjson.BadText, "m[\"\ufffd\"]", "must be valid UTF-8"},
		{"a lone high surrogate", `{"s":"a\ud800b"}`, strictjson.BadText, "s", "must be valid UTF-8"},
		{"a lone high surrogate at the end", `{"s":"\ud800"}`, strictjson.BadText, "s", "must be valid UTF-8"},
		{"a lone low surrogate", `{"s":"\udc00"}`, strictjson.BadText, "s", "must be valid UTF-8"},
		{"reversed surrogates", `{"s":"\udc00\ud800"}`, strictjson.BadText, "s", "must be valid UTF-8"},
		{"a high surrogate before a letter", `{"s":"\ud800\u0041"}`, strictjson.BadText, "s", "must be valid UTF-8"},
		{"two high surrogates", `{"s":"\ud800\ud800"}`, strictjson.BadText, "s", "must be valid UTF-8"},
		{"a lone surrogate in raw", `{"raw":{"a":["\uDBFF"]}}`, strictjson.BadText, "raw.a[0]", "must be valid UTF-8"},
		{"a lone surrogate in a name", `{"m":{"\ud800":"x"}}`, strictjson.BadText, "m[\"\ufffd\"]", "must be valid UTF-8"},
		{"a number for a string", `{"s":1}`, strictjson.Type, "s", "s: must be a string"},
		{"a string for a bool", `{"b":"yes"}`, strictjson.Type, "b", "b: must be true or false"},
		{"a string for a number", `{"f":"1"}`, strictjson.Type, "f", "f: must be a number"},
		{"a string for an array", `{"l":"x"}`, strictjson.Type, "l", "l: must be an array"},
		{"a number in an array", `{"l":["a",1]}`, strictjson.Type, "l[1]", "l[1]: must be a string"},
		{"an array for a map", `{"m":[]}`, strictjson.Type, "m", "m: must be an object"},
		{"a number for an object", `{"o":1}`, strictjson.Type, "o", "o: must be an object"},
		{"a wrong type deep", `{"os":[{"name":"a"},{"name":2}]}`, strictjson.Type, "os[1].name", "os[1].name: must be a string"},
		{"a float too large", `{"f":1e400}`, strictjson.OutOfRange, "f", "f: is out of range"},
		{"an int too large", `{"i":128}`, strictjson.OutOfRange, "i", "i: is out of range"},
		{"a fraction for an int", `{"i":1.5}`, strictjson.OutOfRange, "i", "i: is out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got target
			err := strictjson.Decode([]byte(c.body), &got, strictjson.Options{})
			var e *strictjson.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode = %v, want a *strictjson.Error", err)
			}
			if e.Kind != c.kind || e.Path != c.path || !strings.Contains(e.Error(), c.message) {
				t.Errorf("kind %d, path %q, %q; want %d, %q, %q", e.Kind, e.Path, e.Error(), c.kind, c.path, c.message)
			}
		})
	}
	// At the limit, the nesting is taken.
	var got target
	if err := strictjson.Decode([]byte(nested(strictjson.MaxDepth)), &got, strictjson.Options{}); err != nil {
		t.Errorf("nesting of %d: %v", strictjson.MaxDepth, err)
	}
}

// The type error names the field's Go type too, for callers that word it so.
func TestTypeErrorGoType(t *testing.T) {
	var got target
	err := strictjson.Decode([]byte(`{"b":"yes"}`), &got, strictjson.Options{})
	var e *strictjson.Error
	if !errors.As(err, &e) || e.GoType != reflect.TypeFor[bool]() || e.Want != "true or false" {
		t.Fatalf("Decode = %#v", err)
	}
}

// Options.Text sees every string, names and values, decoded, and its
// answer names the member.
func TestTextCheck(t *testing.T) {
	var seen []string
	noNUL := func(s string) string {
		seen = append(seen, s)
		if strings.ContainsRune(s, 0) {
			return "must not contain NUL"
		}
		return ""
	}
	for body, path := range map[string]string{
		`{"s":"a\u0000"}`:                         "s",
		`{"os":[{"name":"x"},{"name":"\u0000"}]}`: "os[1].name",
		`{"raw":{"k":["\u0000"]}}`:                "raw.k[0]",
		`{"m":{"\u0000":"x"}}`:                    `m["\x00"]`,
	} {
		var got target
		err := strictjson.Decode([]byte(body), &got, strictjson.Options{Text: noNUL})
		var e *strictjson.Error
		if !errors.As(err, &e) || e.Kind != strictjson.Text || e.Path != path || e.Error() != e.Path+": must not contain NUL" {
			t.Errorf("%s: %v", body, err)
		}
	}
	seen = nil
	var got target
	if err := strictjson.Decode([]byte(`{"s":"\u00e9","m":{"k":"v"}}`), &got, strictjson.Options{Text: noNUL}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"s", "é", "m", "k", "v"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("Text saw %q, want %q", seen, want)
	}
}

func TestJoin(t *testing.T) {
	for _, c := range []struct{ path, key, want string }{
		{"", "a", "a"},
		{"a", "b", "a.b"},
		{"a[0]", "b_c-d", "a[0].b_c-d"},
		{"a", "b c", `a["b c"]`},
		{"", "", `[""]`},
		{"a", "x.y", `a["x.y"]`},
		{"a", "x\x00", `a["x\x00"]`},
		{"a", "é", `a["é"]`},
	} {
		if got := strictjson.Join(c.path, c.key); got != c.want {
			t.Errorf("Join(%q, %q) = %q, want %q", c.path, c.key, got, c.want)
		}
	}
}

func TestRead(t *testing.T) {
	body, err := strictjson.Read(strings.NewReader(strings.Repeat("a", 10)), 10)
	if err != nil || len(body) != 10 {
		t.Fatalf("at the limit: %d bytes, %v", len(body), err)
	}
	_, err = strictjson.Read(strings.NewReader(strings.Repeat("a", 11)), 10)
	var e *strictjson.Error
	if !errors.As(err, &e) || e.Kind != strictjson.TooLarge || e.Error() != "body larger than 10 bytes" {
		t.Fatalf("over the limit: %v", err)
	}
	broken := errors.New("connection reset")
	if _, err := strictjson.Read(iotest.ErrReader(broken), 10); !errors.Is(err, broken) {
		t.Fatalf("a failing reader: %v", err)
	}
	if _, err := strictjson.Read(io.LimitReader(strings.NewReader("{}"), 2), 10); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecode holds Decode to its promise on any bytes: what it takes is
// valid UTF-8 JSON that encoding/json decodes to the same value, and that
// survives a round trip; what it refuses is an *Error whose message holds no
// control character, whatever the body held.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"s":"x","b":true,"f":1.5,"i":-3,"l":["a"],"m":{"k":"v"},"o":{"name":"n","n":1},"os":[{"name":"a"}],"raw":[1,{"a":null}],"any":[{}],"e":"x"}`,
		`{"s":"\ud83e\udd56"}`, `{"s":"\ud800"}`, `{"s":"\udc00\ud800"}`, `{"s":"\\ud800"}`, "{\"s\":\"\xff\"}",
		`{"S":"x"}`, `{"s":"a","s":"b"}`, `{"m":{"\u0000":"x"}}`, `{"raw":[[[[[[[[[[]]]]]]]]]]}`, `{"f":1e400}`, `{"i":300}`,
		`{} {}`, `null`, `[]`, `{"s":`, `{"o":{"name":1}}`, `{"s":"a\u0000b"}`, " {\"s\" :\n\"x\"} ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got target
		err := strictjson.Decode(body, &got, strictjson.Options{})
		if err != nil {
			var e *strictjson.Error
			if !errors.As(err, &e) || e.Kind < strictjson.TooLarge || e.Kind > strictjson.OutOfRange {
				t.Fatalf("Decode(%q) = %#v, want a *strictjson.Error", body, err)
			}
			msg := err.Error()
			if msg == "" || !utf8.ValidString(msg) || strings.ContainsFunc(msg, unicode.IsControl) {
				t.Fatalf("Decode(%q): message %q", body, msg)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("Decode took %q", body)
		}
		var std target
		if err := json.Unmarshal(body, &std); err != nil || !reflect.DeepEqual(std, got) {
			t.Fatalf("Decode(%q) = %+v, encoding/json %+v (%v)", body, got, std, err)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back target
		if err := strictjson.Decode(again, &back, strictjson.Options{}); err != nil || !reflect.DeepEqual(back, normal(t, got)) {
			t.Fatalf("round trip of %q through %s: %+v, %v", body, again, back, err)
		}
	})
}

// normal is v as encoding/json gives it back after a round trip: raw JSON
// compacted.
func normal(t *testing.T, v target) target {
	t.Helper()
	b, _ := json.Marshal(v)
	var out target
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
