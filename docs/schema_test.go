package docs_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// document is openapi.json decoded.
type document map[string]any

// at is the value at a JSON pointer ("/components/schemas/Error").
func (d document) at(pointer string) (any, bool) {
	var v any = map[string]any(d)
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
}

// resolve follows $ref (a reference's sibling description only annotates).
func (d document) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; m != nil && i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, _ := d.at(strings.TrimPrefix(ref, "#"))
		m, _ = target.(map[string]any)
	}
	return m
}

// validator checks a value against a schema of the document. It knows the
// subset of JSON Schema 2020-12 the document uses, and reports any other
// keyword rather than ignoring it, so the subset grows with the document.
type validator struct {
	doc document
	// strict: every field of an object must be documented, so that a field
	// a handler adds without documenting it fails. Used for responses.
	strict bool
}

var annotations = []string{"description", "examples", "default", "title", "deprecated", "readOnly", "writeOnly"}

func (v validator) problems(schema any, value any) []string {
	return v.check(v.doc.resolve(schema), value, "body", false)
}

// check lists where value breaks s. open skips the strict field check for
// this level: an allOf branch sees only part of the object's fields.
func (v validator) check(s map[string]any, value any, at string, open bool) []string {
	if s == nil {
		return []string{at + ": schema missing"}
	}
	var out []string
	fail := func(format string, args ...any) { out = append(out, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !slices.Contains(keywords, k) && !slices.Contains(annotations, k) {
			fail("schema keyword %q is not supported by the test", k)
		}
	}
	if ref, ok := s["$ref"]; ok {
		out = append(out, v.check(v.doc.resolve(map[string]any{"$ref": ref}), value, at, open)...)
	}
	if t, ok := s["type"]; ok && !typeIs(t, value) {
		fail("%s is not of type %v", show(value), t)
		return out
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return reflect.DeepEqual(x, value) }) {
		fail("%s is not one of %v", show(value), e)
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, value) {
		fail("%s is not %v", show(value), show(c))
	}
	for _, branch := range list(s["allOf"]) {
		out = append(out, v.check(v.doc.resolve(branch), value, at, true)...)
	}
	if branches := list(s["anyOf"]); len(branches) > 0 {
		var first []string
		matched := false
		for i, branch := range branches {
			p := v.check(v.doc.resolve(branch), value, at, open)
			matched = matched || len(p) == 0
			if i == 0 {
				first = p
			}
		}
		if !matched {
			fail("matches no branch of anyOf (first: %v)", first)
		}
	}
	// A condition only selects: it is never strict.
	loose := validator{doc: v.doc}
	if cond, ok := s["if"]; ok && len(loose.check(v.doc.resolve(cond), value, at, true)) == 0 {
		if then, ok := s["then"]; ok {
			out = append(out, v.check(v.doc.resolve(then), value, at, true)...)
		}
	}
	switch x := value.(type) {
	case string:
		if n, ok := s["maxLength"].(float64); ok && utf8.RuneCountInString(x) > int(n) {
			fail("longer than %v characters", n)
		}
		if n, ok := s["minLength"].(float64); ok && utf8.RuneCountInString(x) < int(n) {
			fail("shorter than %v characters", n)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			fail("%q does not match %s", x, p)
		}
		if f, ok := s["format"].(string); ok && !formatIs(f, x) {
			fail("%q is not a %s", x, f)
		}
	case float64:
		if n, ok := s["minimum"].(float64); ok && x < n {
			fail("%v is below %v", x, n)
		}
		if n, ok := s["maximum"].(float64); ok && x > n {
			fail("%v is above %v", x, n)
		}
	case []any:
		if n, ok := s["minItems"].(float64); ok && len(x) < int(n) {
			fail("fewer than %v items", n)
		}
		if n, ok := s["maxItems"].(float64); ok && len(x) > int(n) {
			fail("more than %v items", n)
		}
		if s["uniqueItems"] == true {
			for i := range x {
				if slices.ContainsFunc(x[:i], func(y any) bool { return reflect.DeepEqual(y, x[i]) }) {
					fail("item %d repeats an earlier one", i)
				}
			}
		}
		if c, ok := s["contains"]; ok && !slices.ContainsFunc(x, func(y any) bool {
			return len(loose.check(v.doc.resolve(c), y, at, true)) == 0
		}) {
			fail("no item matches contains")
		}
		if items, ok := s["items"]; ok {
			for i, item := range x {
				out = append(out, v.check(v.doc.resolve(items), item, fmt.Sprintf("%s[%d]", at, i), false)...)
			}
		}
	case map[string]any:
		for _, r := range list(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				fail("%q is missing", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if p, ok := props[k]; ok {
				out = append(out, v.check(v.doc.resolve(p), x[k], at+"."+k, false)...)
				continue
			}
			switch extra := s["additionalProperties"].(type) {
			case bool:
				if !extra && !open {
					fail("field %q is not allowed", k)
				}
			case map[string]any:
				out = append(out, v.check(v.doc.resolve(extra), x[k], at+"."+k, false)...)
			case nil:
				if v.strict && !open && !v.documents(s, k) {
					fail("field %q is not documented", k)
				}
			}
		}
	}
	return out
}

var keywords = []string{"$ref", "type", "enum", "const", "allOf", "anyOf", "if", "then", "maxLength", "minLength", "pattern",
	"format", "minimum", "maximum", "minItems", "maxItems", "uniqueItems", "contains", "items", "required", "properties",
	"additionalProperties"}

// documents reports whether s, or a schema it composes with allOf, names
// the field; a schema with no properties at all is a free-form object.
func (v validator) documents(s map[string]any, field string) bool {
	props, ok := s["properties"].(map[string]any)
	if _, named := props[field]; named || !ok && len(list(s["allOf"])) == 0 {
		return true
	}
	return slices.ContainsFunc(list(s["allOf"]), func(b any) bool { return v.documents(v.doc.resolve(b), field) })
}

func list(v any) []any { l, _ := v.([]any); return l }

func typeIs(t any, value any) bool {
	if ts, ok := t.([]any); ok {
		return slices.ContainsFunc(ts, func(t any) bool { return typeIs(t, value) })
	}
	switch x := value.(type) {
	case nil:
		return t == "null"
	case bool:
		return t == "boolean"
	case string:
		return t == "string"
	case float64:
		return t == "number" || t == "integer" && x == math.Trunc(x)
	case []any:
		return t == "array"
	case map[string]any:
		return t == "object"
	}
	return false
}

func formatIs(format, s string) bool {
	switch format {
	case "date-time":
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "uri":
		u, err := url.Parse(s)
		return err == nil && u.IsAbs()
	}
	return false
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
