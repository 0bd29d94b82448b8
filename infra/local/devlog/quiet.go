package devlog

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// Quiet is a writer for the local servers' output (DynamoDB Local's banner,
// fauxqs): it holds their lines back, since a person has nothing to do with
// them, until one reports a problem; from then on it passes everything on,
// starting with the lines it held. Flush shows what it held, for when the
// stack fails to start.
type Quiet struct {
	w       io.Writer
	keep    int
	mu      sync.Mutex
	partial []byte
	held    [][]byte
	loud    bool
}

// problem matches a line worth a person's attention.
var problem = regexp.MustCompile(`(?i)error|exception|fatal|severe|panic|fail`)

// NewQuiet returns a Quiet writing to w that holds at most the last keep
// lines back.
func NewQuiet(w io.Writer, keep int) *Quiet {
	return &Quiet{w: w, keep: max(keep, 1)}
}

// Write implements io.Writer.
func (q *Quiet) Write(b []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.partial = append(q.partial, b...)
	for {
		i := bytes.IndexByte(q.partial, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(nil), q.partial[:i+1]...)
		q.partial = q.partial[i+1:]
		if !q.loud && problem.Match(line) {
			q.loud = true
			q.flushLocked()
		}
		if q.loud {
			if _, err := q.w.Write(line); err != nil {
				return len(b), err
			}
			continue
		}
		q.held = append(q.held, line)
		if len(q.held) > q.keep {
			q.held = q.held[len(q.held)-q.keep:]
		}
	}
	return len(b), nil
}

// Flush writes the lines held back, after header when there are any.
func (q *Quiet) Flush(header string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.held) > 0 && header != "" {
		_, _ = io.WriteString(q.w, header+"\n")
	}
	q.flushLocked()
}

func (q *Quiet) flushLocked() {
	for _, l := range q.held {
		_, _ = q.w.Write(l)
	}
	q.held = nil
}
