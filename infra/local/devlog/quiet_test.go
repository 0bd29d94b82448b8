package devlog

import (
	"bytes"
	"fmt"
	"testing"
)

// The servers' banners are held back; a problem line brings out what was
// held, and everything after it; Flush shows what was held.
func TestQuiet(t *testing.T) {
	var out bytes.Buffer
	q := NewQuiet(&out, 2)
	fmt.Fprint(q, "[dynamodb-local] Initializing DynamoDB Local\n[dynamodb-local] Port:\t8000\n[dynamodb-local] InMem")
	fmt.Fprint(q, "ory:\ttrue\n")
	if out.Len() != 0 {
		t.Fatalf("banner shown: %q", out.String())
	}
	q.Flush("servers:")
	if out.String() != "servers:\n[dynamodb-local] Port:\t8000\n[dynamodb-local] InMemory:\ttrue\n" {
		t.Fatalf("flushed %q, want the last 2 lines", out.String())
	}
	out.Reset()
	q.Flush("servers:")
	if out.Len() != 0 {
		t.Fatalf("header with nothing held: %q", out.String())
	}
	fmt.Fprint(q, "[fauxqs] listening\n[fauxqs] Error: EADDRINUSE\n[fauxqs]     at listen\n")
	if out.String() != "[fauxqs] listening\n[fauxqs] Error: EADDRINUSE\n[fauxqs]     at listen\n" {
		t.Fatalf("after a problem: %q", out.String())
	}
}
