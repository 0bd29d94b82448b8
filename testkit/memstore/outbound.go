package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// OutboundQueue is the in-memory messaging.OutboundQueue (twin of
// sqsqueue.OutboundQueue): it keeps each job with its delay, clamped as
// SQS clamps it, for a test to take.
type OutboundQueue struct {
	mu     sync.Mutex
	queued []QueuedJob
}

// QueuedJob is a job and the delay it was queued with.
type QueuedJob struct {
	Job   messaging.OutboundJob
	Delay time.Duration
}

var _ messaging.OutboundQueue = (*OutboundQueue)(nil)

// Enqueue implements messaging.OutboundQueue.
func (q *OutboundQueue) Enqueue(_ context.Context, j messaging.OutboundJob, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued = append(q.queued, QueuedJob{Job: j, Delay: min(max(delay, 0), messaging.MaxEnqueueDelay)})
	return nil
}

// Take removes and returns, in queue order, the jobs a consumer would
// have received once after has passed: those whose delay is at most after.
func (q *OutboundQueue) Take(after time.Duration) []QueuedJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out, rest []QueuedJob
	for _, j := range q.queued {
		if j.Delay <= after {
			out = append(out, j)
		} else {
			rest = append(rest, j)
		}
	}
	q.queued = rest
	return out
}
