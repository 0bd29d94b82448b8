// Package rawjsontest checks hand-written rawjson readers against
// encoding/json, for the tests of the packages that have them.
package rawjsontest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// ReadWith adapts a reader to the form Compare takes: decode raw into a
// fresh T and report the decoder's error.
func ReadWith[T any](read func(*rawjson.Decoder, *T)) func([]byte) (any, error) {
	return func(raw []byte) (any, error) {
		var v T
		d := rawjson.NewDecoder(raw)
		read(&d, &v)
		return v, d.Finish()
	}
}

// Exemplar returns a JSON value for typ with every field set to a value of
// its own (two elements per slice), so that a reader that forgets a field
// decodes it differently from encoding/json. It fails t when a field name is
// not lowercase ASCII: rawjson's key folding relies on that.
func Exemplar(t testing.TB, typ reflect.Type) string {
	t.Helper()
	seed := 0
	return exemplar(t, typ, &seed)
}

func exemplar(t testing.TB, typ reflect.Type, seed *int) string {
	*seed++
	switch {
	case typ == reflect.TypeFor[json.RawMessage]():
		return fmt.Sprintf(`{"raw":%d}`, *seed)
	case typ.Kind() == reflect.Pointer:
		return exemplar(t, typ.Elem(), seed)
	case typ.Kind() == reflect.Slice:
		return "[" + exemplar(t, typ.Elem(), seed) + "," + exemplar(t, typ.Elem(), seed) + "]"
	case typ.Kind() == reflect.String:
		return fmt.Sprintf(`"s%d"`, *seed)
	case typ.Kind() == reflect.Int, typ.Kind() == reflect.Int64:
		return fmt.Sprint(*seed)
	case typ.Kind() == reflect.Bool:
		return "true"
	case typ.Kind() == reflect.Struct:
		var members []string
		for f := range typ.Fields() {
			if f.Anonymous {
				inner := exemplar(t, f.Type, seed)
				members = append(members, inner[1:len(inner)-1])
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name != strings.ToLower(name) || strings.ContainsFunc(name, func(r rune) bool { return r >= 0x80 }) {
				t.Fatalf("%s.%s: field name %q is not lowercase ASCII", typ, f.Name, name)
			}
			members = append(members, fmt.Sprintf("%q:%s", name, exemplar(t, f.Type, seed)))
		}
		return "{" + strings.Join(members, ",") + "}"
	}
	t.Fatalf("no JSON for %s", typ)
	return ""
}

// Compare decodes raw with read and with json.Unmarshal into a new value
// of typ, and fails t unless both fail or both give equal values.
func Compare(t testing.TB, name string, read func([]byte) (any, error), typ reflect.Type, raw []byte) {
	t.Helper()
	got, gotErr := read(raw)
	p := reflect.New(typ)
	wantErr := json.Unmarshal(raw, p.Interface())
	want := p.Elem().Interface()
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s reader on %q: err %v, encoding/json err %v", name, raw, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s reader on %q:\n got %+v\nwant %+v", name, raw, got, want)
	}
}

// Inputs returns, for a type's exemplar, the inputs every reader is checked
// on: the exemplar, its keys in other cases, and odd values of every kind.
func Inputs(exemplar string) []string {
	return []string{
		exemplar,
		`{}`,
		`null`,
		upperKeys(exemplar),
		`{"ID":"a","Status":"b","FROM":"c","From_User_ID":"d","Wa_Id":"e","phone_NUMBER_id":"f","Code":1,"title":"t","Kapso":{"Status":"s"}}`,
		`{"\u0069d":"a","st\u0061tus":"b","fr\u006fm":"c","code":2,"\u017ftatus":"c"}`,
		`{"id":"a","id":"b","text":{"body":"x"},"text":{},"errors":[{"code":1,"title":"t"},{"code":2}],"errors":[{"code":3}]}`,
		`{"pricing":{"billable":true},"pricing":{"category":"c"},"pricing":null,"reaction":{"emoji":"x"},"reaction":{"emoji":null}}`,
		`{"unknown":{"deep":[1,2,{"x":null}]},"id":"a\u00e9\ud83d\ude00\n","timestamp":"\u0000"}`,
		"{\"id\":\"\xff\xfe\",\"from\":\"caf\xc3\xa9\"}",
		`{"from":null,"text":null,"errors":null,"image":null,"pricing":null,"profile":null,"code":null,"error_data":null,"kapso":null,"message":null,"conversation":null,"statuses":null}`,
		`{"errors":[],"image":[],"contacts":"x","statuses":[]}`,
		`{"id":5}`, `{"text":"hi"}`, `{"errors":{}}`, `{"code":1.5}`, `{"code":"1"}`, `{"code":99999999999999999999}`,
		`{"pricing":{"billable":"yes"}}`, `{"context":{"forwarded":1}}`, `{"profile":[]}`, `{"message":{"kapso":{"has_media":"yes"}}}`,
		`{"sequence":-0}`, `{"sequence":1e3}`, `{"minutes":7,"inactivity":{"minutes":-1}}`,
		`[]`, `[{}]`, `"x"`, `{`, `{"id":"a"} x`,
	}
}

// upperKeys turns the first letter of every key of a flat exemplar upper case.
func upperKeys(s string) string {
	var b strings.Builder
	after := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (after == '{' || after == ',') && c == '"' && i+1 < len(s) && 'a' <= s[i+1] && s[i+1] <= 'z' {
			b.WriteByte('"')
			b.WriteByte(s[i+1] - 'a' + 'A')
			i++
			after = 0
			continue
		}
		b.WriteByte(c)
		after = c
	}
	return b.String()
}
