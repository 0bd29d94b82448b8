// Package devlog is make dev's log format: one readable line per record,
//
//	07:19:18.594 INFO  fact recorded  tenant_id=acme kind=webhook_registered status_to=connected
//
// time, level, message, then key=value with no key twice (the innermost
// value wins: handlers add context with With, and a callee repeating a key
// its caller set must not print it twice). Long values are cut; a struct
// or map shows as its non-zero fields (report.numbers_checked=1). The
// Lambda functions keep their JSON logs; this is for a person at a terminal.
package devlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Options tune a Handler.
type Options struct {
	// Level is the lowest level written (default Info).
	Level slog.Leveler
	// MaxValue is the most bytes of a value shown before it is cut (default
	// 160; errors get four times as much: they are what a person reads).
	MaxValue int
	// TimeFormat formats the record's time (default 15:04:05.000, local).
	TimeFormat string
}

const defaultMaxValue = 160

// Handler is a slog.Handler writing one line per record.
type Handler struct {
	w      io.Writer
	mu     *sync.Mutex
	opts   Options
	attrs  []kv   // from WithAttrs, qualified by their groups
	prefix string // the open groups, "a.b."
}

type kv struct {
	key string
	val slog.Value
}

// New returns a Handler writing to w.
func New(w io.Writer, o *Options) *Handler {
	h := &Handler{w: w, mu: &sync.Mutex{}}
	if o != nil {
		h.opts = *o
	}
	if h.opts.Level == nil {
		h.opts.Level = slog.LevelInfo
	}
	if h.opts.MaxValue <= 0 {
		h.opts.MaxValue = defaultMaxValue
	}
	if h.opts.TimeFormat == "" {
		h.opts.TimeFormat = "15:04:05.000"
	}
	return h
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	c := *h
	c.attrs = make([]kv, len(h.attrs), len(h.attrs)+len(as))
	copy(c.attrs, h.attrs)
	for _, a := range as {
		c.attrs = flatten(c.attrs, h.prefix, a)
	}
	return &c
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	all := make([]kv, len(h.attrs), len(h.attrs)+r.NumAttrs())
	copy(all, h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		all = flatten(all, h.prefix, a)
		return true
	})
	// The innermost value of a key wins, and is shown where it came.
	last := make(map[string]int, len(all))
	for i, a := range all {
		last[a.key] = i
	}
	var b bytes.Buffer
	if !r.Time.IsZero() {
		b.WriteString(r.Time.Local().Format(h.opts.TimeFormat))
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%-5s ", r.Level.String())
	b.WriteString(oneLine(r.Message))
	if len(all) > 0 {
		b.WriteByte(' ')
	}
	for i, a := range all {
		if last[a.key] != i {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(a.key)
		b.WriteByte('=')
		b.WriteString(h.format(a.key, a.val))
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

// flatten appends a, with groups spelled into its key; empty attributes and
// empty groups are dropped, as slog's own handlers do.
func flatten(dst []kv, prefix string, a slog.Attr) []kv {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return dst
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			dst = flatten(dst, p, g)
		}
		return dst
	}
	if a.Value.Kind() == slog.KindAny {
		if fields, ok := objectFields(a.Value.Any()); ok {
			if len(fields) == 0 {
				return append(dst, kv{key: prefix + a.Key, val: slog.StringValue("{}")})
			}
			for _, f := range fields {
				dst = append(dst, kv{key: prefix + a.Key + "." + f.key, val: f.val})
			}
			return dst
		}
	}
	return append(dst, kv{key: prefix + a.Key, val: a.Value})
}

// objectFields spells a struct or map that marshals to a JSON object as
// its fields, in order, leaving out the zero ones: a report of counters
// then reads as what happened (report.numbers_checked=1).
func objectFields(x any) ([]kv, bool) {
	switch x.(type) {
	case nil, error, fmt.Stringer, []byte, json.RawMessage:
		return nil, false
	}
	b, err := json.Marshal(x)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []kv
	if !readObject(dec, "", &out) {
		return nil, false
	}
	return out, true
}

// readObject reads one JSON object from dec into out, nested objects as
// dotted keys.
func readObject(dec *json.Decoder, prefix string, out *[]kv) bool {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		switch {
		case len(raw) > 0 && raw[0] == '{':
			if !readObject(json.NewDecoder(bytes.NewReader(raw)), prefix+key+".", out) {
				return false
			}
		case string(raw) == "0" || string(raw) == "false" || string(raw) == `""` || string(raw) == "null" ||
			string(raw) == "[]" || string(raw) == "{}":
		case raw[0] == '"':
			var str string
			_ = json.Unmarshal(raw, &str)
			*out = append(*out, kv{key: prefix + key, val: slog.StringValue(str)})
		default:
			*out = append(*out, kv{key: prefix + key, val: slog.StringValue(string(raw))})
		}
	}
	_, err := dec.Token()
	return err == nil
}

// format renders a value: bare unless it has spaces (then quoted, so a
// person sees where it ends), cut when long.
func (h *Handler) format(key string, v slog.Value) string {
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	case slog.KindDuration:
		s = v.Duration().String()
	case slog.KindAny:
		s = anyString(v.Any())
	default:
		s = v.String()
	}
	limit := h.opts.MaxValue
	if key == "err" || key == "error" || strings.HasSuffix(key, ".err") {
		limit *= 4
	}
	s = cut(s, limit)
	if s == "" || s[0] == '"' || strings.ContainsFunc(s, needsQuote) {
		return strconv.Quote(s)
	}
	return s
}

func anyString(x any) string {
	switch t := x.(type) {
	case nil:
		return "<nil>"
	case error:
		return t.Error()
	case fmt.Stringer:
		return t.String()
	case []byte:
		return string(t)
	}
	if b, err := json.Marshal(x); err == nil {
		return string(b)
	}
	return fmt.Sprintf("%+v", x)
}

func needsQuote(r rune) bool {
	return r <= ' ' || r == 0x7f || r == utf8.RuneError
}

// cut keeps the first limit bytes of s, on a rune boundary, and says how
// long it was.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// oneLine keeps a message on its line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	return strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(s)
}
