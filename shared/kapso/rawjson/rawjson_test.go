package rawjson

import (
	"encoding/json"
	"errors"
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

func TestDecodeObject(t *testing.T) {
	type T struct {
		A string `json:"a"`
		B int    `json:"b"`
	}
	tests := []struct {
		raw     string
		want    T
		wantErr bool
		notObj  bool
	}{
		{raw: `{"a":"x","b":2,"c":[]}`, want: T{A: "x", B: 2}},
		{raw: `{"a":null}`, want: T{}},
		{raw: `{"a":"x","b":"two"}`, wantErr: true}, // half-decoded is dropped
		{raw: `{"a":`, wantErr: true},
		{raw: `null`, wantErr: true, notObj: true},
		{raw: `[]`, wantErr: true, notObj: true},
		{raw: ``, wantErr: true, notObj: true},
	}
	for _, tt := range tests {
		got, err := DecodeObject[T](json.RawMessage(tt.raw))
		if (err != nil) != tt.wantErr || errors.Is(err, ErrNotObject) != tt.notObj || got != tt.want {
			t.Errorf("DecodeObject(%s) = %+v, %v", tt.raw, got, err)
		}
	}
}
