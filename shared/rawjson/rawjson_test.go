package rawjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	tests := []struct {
		raw           string
		object, array bool
	}{
		{`{}`, true, false},
		{" \r\n\t{\"a\":1}", true, false},
		{`{`, true, false}, // a prefix check, not validation
		{`[]`, false, true},
		{` [1]`, false, true},
		{`null`, false, false},
		{`"{"`, false, false},
		{``, false, false},
		{`   `, false, false},
	}
	for _, tt := range tests {
		if got := IsObject([]byte(tt.raw)); got != tt.object {
			t.Errorf("IsObject(%q) = %v", tt.raw, got)
		}
		if got := IsArray([]byte(tt.raw)); got != tt.array {
			t.Errorf("IsArray(%q) = %v", tt.raw, got)
		}
	}
}

func TestStringAndID(t *testing.T) {
	tests := []struct {
		raw, str, id string
	}{
		{`"106540352242922"`, "106540352242922", "106540352242922"},
		{`"  padded "`, "padded", "padded"},
		{`106540352242922`, "", "106540352242922"},
		{`1.5e3`, "", "1.5e3"},
		{`""`, "", ""},
		{`null`, "", ""},
		{`true`, "", ""},
		{`{"id":"1"}`, "", ""},
		{`["1"]`, "", ""},
		{``, "", ""},
	}
	for _, tt := range tests {
		if got := String(json.RawMessage(tt.raw)); got != tt.str {
			t.Errorf("String(%s) = %q, want %q", tt.raw, got, tt.str)
		}
		if got := ID(json.RawMessage(tt.raw)); got != tt.id {
			t.Errorf("ID(%s) = %q, want %q", tt.raw, got, tt.id)
		}
	}
}

var validCases = []string{
	`{}`, `[]`, `0`, `-0`, `1.5e+3`, `-12.0E-2`, `"a"`, `"\u00e9\n\"\\\/\b\f\r\t"`, `true`, `false`, `null`,
	` {"a" : [1, {"b":null}] , "c":"d"} `, "\"\xff\xfe\"", `[[[[]]]]`, `{"":""}`,
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`,
	`tru`, `nul`, `truex`, `"abc`, `"\x"`, `"\u12g4"`, "\"\x01\"", `"\`, `{"a":1}{}`, `[1 2]`, `{"a":1 "b":2}`,
	`[1]x`, `NaN`, `"\ud800"`, "\t\n\r 1 \t", "\v1", `{"a":"b",}`, `[,]`, `{,}`,
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
	strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1),
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.40q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

// FuzzValid holds the scanner to encoding/json's idea of valid JSON.
func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
		// Walking every container and skipping every scalar accepts the
		// same inputs.
		c := NewCursor(b)
		walk(&c)
		if got := c.End(); got != json.Valid(b) {
			t.Fatalf("Cursor walk of %q = %v, encoding/json says %v", b, got, !got)
		}
	})
}

// walk enters every container of the next value and skips every scalar.
func walk(c *Cursor) {
	switch {
	case c.Object():
		for _, ok := c.Next(); ok; _, ok = c.Next() {
			walk(c)
		}
	case c.Array():
		for c.NextElem() {
			walk(c)
		}
	default:
		c.Skip()
	}
}

func TestCursorSlices(t *testing.T) {
	b := []byte(` {"a" : [1, {"b":"x"}] , "c":{"d":true}} `)
	c := NewCursor(b)
	if !c.Object() {
		t.Fatal("not an object")
	}
	var got []string
	for key, ok := c.Next(); ok; key, ok = c.Next() {
		start := c.Start()
		if string(key) == "c" && c.Object() {
			for _, ok := c.Next(); ok; _, ok = c.Next() {
				c.Skip()
			}
			got = append(got, string(key)+"="+string(c.Slice(start)))
			continue
		}
		got = append(got, string(key)+"="+string(c.Skip()))
	}
	if !c.End() || strings.Join(got, " ") != `a=[1, {"b":"x"}] c={"d":true}` {
		t.Errorf("got %q, end %v", got, c.End())
	}
}

func TestFieldKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"from", "from"},
		{"From", "from"},
		{"FROM_USER_ID", "from_user_id"},
		{`fr\u006fm`, "from"},
		{"\u017ftatus", "status"},  // ſ folds to s, as encoding/json folds it
		{"\u212aind", "kind"},      // the Kelvin sign folds to k
		{"caf\u00e9", "caf\u00c9"}, // folds, and matches no ASCII name
	}
	for _, tt := range tests {
		if got := string(FieldKey([]byte(tt.key))); got != tt.want {
			t.Errorf("FieldKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
		// encoding/json agrees.
		var v struct {
			F string `json:"from"`
			S string `json:"status"`
			K string `json:"kind"`
			U string `json:"from_user_id"`
		}
		_ = json.Unmarshal([]byte(`{"`+tt.key+`":"x"}`), &v)
		matched := map[string]bool{"from": v.F == "x", "status": v.S == "x", "kind": v.K == "x", "from_user_id": v.U == "x"}
		for name, m := range matched {
			if m != (tt.want == name) {
				t.Errorf("key %q: encoding/json matches %q: %v", tt.key, name, m)
			}
		}
	}
}
