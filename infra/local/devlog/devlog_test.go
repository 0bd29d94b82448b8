package devlog

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

func newLogger(buf *bytes.Buffer, o *Options) *slog.Logger {
	return slog.New(New(buf, o))
}

// A record is one line: time, level, message, then key=value.
func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf, nil).Info("fact recorded", "tenant_id", "acme", "duplicate", false, "took", 1500*time.Millisecond)
	line := buf.String()
	re := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} INFO  fact recorded  tenant_id=acme duplicate=false took=1.5s\n$`)
	if !re.MatchString(line) {
		t.Errorf("line %q", line)
	}
	if strings.HasPrefix(line, "{") {
		t.Error("a JSON line")
	}
}

// The defect: With chains repeated keys ("tenant_id" twice in one line).
// Each key shows once, with its innermost value.
func TestNoRepeatedKeys(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, nil).With("function", "local", "tenant_id", "outer").With("queue", "lifecycle", "tenant_id", "acme")
	log.Info("fact recorded", "tenant_id", "acme", "function", "lifecycle", "kind", "webhook_registered")
	line := strings.TrimSpace(buf.String())
	for _, key := range []string{"function", "tenant_id", "queue", "kind"} {
		if n := strings.Count(line, " "+key+"="); n != 1 {
			t.Errorf("%s appears %d times in %q", key, n, line)
		}
	}
	if !strings.Contains(line, "function=lifecycle") || !strings.Contains(line, "tenant_id=acme") ||
		strings.Contains(line, "outer") {
		t.Errorf("the innermost value did not win: %q", line)
	}
}

// Groups qualify keys, so the same name in two groups is two keys.
func TestGroups(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf, nil).With("id", 1).WithGroup("req").With("id", 2).Info("m", slog.Group("b", "id", 3), "id", 4)
	line := buf.String()
	for _, want := range []string{" id=1", " req.id=4", " req.b.id=3"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "req.id=2") {
		t.Errorf("req.id repeated: %q", line)
	}
}

// Long values are cut and say how long they were; an error gets more room;
// values with spaces or quotes are quoted; messages stay on one line.
func TestValues(t *testing.T) {
	var buf bytes.Buffer
	long := strings.Repeat("x", 1000)
	newLogger(&buf, &Options{MaxValue: 20}).Warn("two\nlines", "body", long, "err", errors.New(long),
		"text", `say "hi"`, "empty", "", "report", struct {
			N, Zero int
			In      struct{ S string }
			List    []int
		}{N: 3, In: struct{ S string }{"a b"}, List: []int{1, 2}}, "é", strings.Repeat("é", 20))
	line := buf.String()
	if strings.Count(line, "\n") != 1 {
		t.Errorf("not one line: %q", line)
	}
	if !strings.Contains(line, ` body="`+strings.Repeat("x", 20)+"…(1000 bytes)\"") {
		t.Errorf("long value not cut: %q", line)
	}
	if !strings.Contains(line, ` err="`+strings.Repeat("x", 80)+"…(1000 bytes)\"") {
		t.Errorf("error not given more room: %q", line)
	}
	if !strings.Contains(line, ` text="say \"hi\""`) || !strings.Contains(line, ` empty=""`) ||
		!strings.Contains(line, ` report.N=3 report.In.S="a b" report.List=[1,2] `) || strings.Contains(line, "Zero") || !strings.Contains(line, "WARN  two ⏎ lines") {
		t.Errorf("line %q", line)
	}
	buf.Reset()
	newLogger(&buf, nil).Info("reconciled", "report", struct{ N int }{})
	if !strings.HasSuffix(buf.String(), "reconciled  report={}\n") {
		t.Errorf("an all-zero struct: %q", buf.String())
	}
	if len(line) > 400 {
		t.Errorf("line of %d bytes", len(line))
	}
	if !strings.Contains(line, ` é="`+strings.Repeat("é", 10)+`…(40 bytes)"`) {
		t.Errorf("cut inside a rune: %q", line)
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, &Options{Level: slog.LevelWarn})
	log.Info("hidden")
	log.Error("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "ERROR shown") {
		t.Errorf("%q", buf.String())
	}
}

// The handler keeps slog's contract (as far as a text line can show it).
func TestSlogContract(t *testing.T) {
	var buf bytes.Buffer
	err := slogtest.TestHandler(New(&buf, &Options{Level: slog.LevelDebug}), func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			out = append(out, parseLine(line))
		}
		return out
	})
	if err != nil {
		t.Error(err)
	}
}

// parseLine reads a line back into slogtest's shape: nested maps for groups.
func parseLine(line string) map[string]any {
	m := map[string]any{}
	head, rest, _ := strings.Cut(line, "  ")
	fields := strings.Fields(head)
	if len(fields) >= 2 && regexp.MustCompile(`^\d\d:`).MatchString(fields[0]) {
		m[slog.TimeKey] = fields[0]
		fields = fields[1:]
	}
	if len(fields) > 0 {
		m[slog.LevelKey] = fields[0]
	}
	// The message is what follows the level; slogtest's are single words.
	msg, attrs, _ := strings.Cut(rest, "  ")
	if len(fields) > 1 {
		msg, attrs = strings.Join(fields[1:], " "), rest
	}
	m[slog.MessageKey] = strings.TrimSpace(msg)
	for _, pair := range strings.Fields(attrs) {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		dst := m
		parts := strings.Split(k, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, ok := dst[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[g] = sub
			}
			dst = sub
		}
		dst[parts[len(parts)-1]] = strings.Trim(v, `"`)
	}
	return m
}
