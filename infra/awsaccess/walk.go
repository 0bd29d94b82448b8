package awsaccess

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
)

// Use is one adapter found in a built value, with what its holder can call.
type Use struct {
	// Path is where it was found: "*lifecycle.Worker.Store", or
	// "….Queue.Bodies" for an adapter that another one calls.
	Path    string
	Adapter *Adapter
	// Value is the adapter's struct, which holds its table's name.
	Value reflect.Value
	// Holder is the struct whose field holds the adapter: its consumer, or
	// the adapter calling it. A queue's URL is the consumer's.
	Holder reflect.Value
	// Methods are the adapter methods the holder can call: those of the
	// field's interface type, those the calling adapter calls, or, for a
	// field of the adapter's own type, all its exported methods.
	Methods []string
	// Ops are the AWS operations of Methods.
	Ops []Op
}

// Func is a function value found in the walk. Reflection cannot see what a
// closure captured, so an adapter behind one is out of Walk's sight.
type Func struct{ Path, Name string }

// Found is what Walk found.
type Found struct {
	Uses  []Use
	Funcs []Func
}

// Walk follows every pointer, interface, struct field, slice and map
// reachable from v and reports each adapter of as it holds and each
// function value. It does not look inside an adapter, except to follow the
// calls the adapter makes through its own interface fields.
func Walk(v any, as Adapters) (Found, error) {
	w := &walker{as: as, seen: map[visit]bool{}}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return Found{}, fmt.Errorf("walk: nil value")
	}
	w.walk(rv, rv.Type().String(), reflect.Value{})
	sort.Slice(w.found.Uses, func(i, j int) bool { return w.found.Uses[i].Path < w.found.Uses[j].Path })
	sort.Slice(w.found.Funcs, func(i, j int) bool { return w.found.Funcs[i].Path < w.found.Funcs[j].Path })
	if len(w.problems) > 0 {
		return w.found, fmt.Errorf("walk: %s", strings.Join(w.problems, "; "))
	}
	return w.found, nil
}

type visit struct {
	ptr uintptr
	typ reflect.Type
}

type walker struct {
	as       Adapters
	seen     map[visit]bool
	found    Found
	problems []string
}

func (w *walker) adapterOf(t reflect.Type) *Adapter {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return w.as[t.PkgPath()+"."+t.Name()]
}

func (w *walker) walk(v reflect.Value, path string, holder reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if a := w.adapterOf(e.Type()); a != nil {
			w.use(a, e, methodNames(v.Type()), path, holder)
			return
		}
		w.walk(e, path, holder)
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if a := w.adapterOf(v.Type()); a != nil {
			w.use(a, v, methodNames(v.Type()), path, holder)
			return
		}
		if w.once(v) {
			w.walk(v.Elem(), path, holder)
		}
	case reflect.Struct:
		if a := w.adapterOf(v.Type()); a != nil {
			w.use(a, v, methodNames(reflect.PointerTo(v.Type())), path, holder)
			return
		}
		for i := range v.NumField() {
			w.walk(v.Field(i), path+"."+v.Type().Field(i).Name, v)
		}
	case reflect.Slice, reflect.Array:
		if !mayHold(v.Type().Elem()) || v.Kind() == reflect.Slice && (v.IsNil() || !w.once(v)) {
			return
		}
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), holder)
		}
	case reflect.Map:
		if v.IsNil() || !mayHold(v.Type().Key()) && !mayHold(v.Type().Elem()) || !w.once(v) {
			return
		}
		for it := v.MapRange(); it.Next(); {
			key := "…"
			if it.Key().Kind() == reflect.String {
				key = fmt.Sprintf("%q", it.Key().String())
			}
			w.walk(it.Key(), path+"[key]", holder)
			w.walk(it.Value(), path+"["+key+"]", holder)
		}
	case reflect.Func:
		if !v.IsNil() {
			name := "?"
			if f := runtime.FuncForPC(v.Pointer()); f != nil {
				name = f.Name()
			}
			w.found.Funcs = append(w.found.Funcs, Func{Path: path, Name: name})
		}
	}
}

// once reports whether v's pointer is met for the first time, so cycles
// and shared values are walked once.
func (w *walker) once(v reflect.Value) bool {
	k := visit{v.Pointer(), v.Type()}
	if w.seen[k] {
		return false
	}
	w.seen[k] = true
	return true
}

// use records adapter a, held at path as v, of which the holder can call
// methods, then follows the calls those methods make through a's interface
// fields to the adapters (or other values) in them.
func (w *walker) use(a *Adapter, v reflect.Value, methods []string, path string, holder reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	u := Use{Path: path, Adapter: a, Value: v, Holder: holder, Methods: methods}
	inner := map[string][]string{}
	for _, name := range methods {
		m, ok := a.Methods[name]
		if !ok {
			w.problems = append(w.problems, fmt.Sprintf("%s: %s has no method %s in its source", path, a, name))
			continue
		}
		for _, op := range m.Ops {
			if !slices.Contains(u.Ops, op) {
				u.Ops = append(u.Ops, op)
			}
		}
		for _, c := range m.Calls {
			if !slices.Contains(inner[c.Field], c.Method) {
				inner[c.Field] = append(inner[c.Field], c.Method)
			}
		}
	}
	sort.Slice(u.Ops, func(i, j int) bool { return u.Ops[i].String() < u.Ops[j].String() })
	w.found.Uses = append(w.found.Uses, u)
	for _, field := range sortedKeys(inner) {
		f := v.FieldByName(field)
		if !f.IsValid() || f.Kind() != reflect.Interface {
			w.problems = append(w.problems, fmt.Sprintf("%s: %s has no interface field %s", path, a, field))
			continue
		}
		if f.IsNil() {
			continue
		}
		e := f.Elem()
		if in := w.adapterOf(e.Type()); in != nil {
			slices.Sort(inner[field])
			w.use(in, e, inner[field], path+"."+field, v)
			continue
		}
		w.walk(e, path+"."+field, v)
	}
}

// methodNames lists an interface type's methods, or a concrete type's
// exported ones.
func methodNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumMethod())
	for i := range t.NumMethod() {
		names = append(names, t.Method(i).Name)
	}
	slices.Sort(names)
	return names
}

// mayHold reports whether a value of type t can reach an adapter or a
// function: a byte slice cannot.
func mayHold(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return mayHold(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if mayHold(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Func:
		return true
	}
	return false
}
