package s3media_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
)

// A body of many parts is put through one part buffer: what the put
// allocates in all is far less than the body (the test runs alone, so the
// process's allocations are the put's).
func TestPutHoldsOnePartAtATime(t *testing.T) {
	o, _, _ := bucket(t)
	const size = 6 * s3media.PartSize
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := o.Put(context.Background(), "acme/1/memory", "video/mp4", newStream(size, 9), 100*media.MB); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*s3media.PartSize {
		t.Errorf("putting %d MiB allocated %d MiB, want under two parts (%d MiB)", size>>20, got>>20, 2*s3media.PartSize>>20)
	}
}
