// Package poll waits in tests for what the code under test gives no signal
// of: it asks again and again, for a bounded time.
package poll

import "time"

// Until asks cond at once, then every interval, until it holds or timeout
// has passed, and says whether it held; once the timeout has passed it asks
// one last time. cond runs on the caller's goroutine, so it may stop the
// test.
func Until(timeout, every time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
