package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// RunOutboundQueue holds an outbound queue to its contract. take returns,
// and removes, the jobs a consumer receives once after has passed.
func RunOutboundQueue(t *testing.T, newQueue func(t *testing.T) (q messaging.OutboundQueue,
	take func(t *testing.T, after time.Duration) []messaging.OutboundJob)) {
	ctx := context.Background()
	job := func(n string) messaging.OutboundJob {
		return messaging.OutboundJob{TenantID: "acme", ID: messaging.OutboundID("acme", n)}
	}
	ids := func(js []messaging.OutboundJob) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.ID)
		}
		slices.Sort(out)
		return out
	}
	t.Run("jobs come back whole, each once", func(t *testing.T) {
		q, take := newQueue(t)
		want := []messaging.OutboundJob{job("a"), job("b"), job("c")}
		for _, j := range want {
			if err := q.Enqueue(ctx, j, 0); err != nil {
				t.Fatal(err)
			}
		}
		got := take(t, 0)
		if !slices.Equal(ids(got), ids(want)) || got[0].TenantID != "acme" {
			t.Errorf("took %v, want %v", got, want)
		}
		if again := take(t, 0); len(again) != 0 {
			t.Errorf("taken again: %v", again)
		}
	})
	t.Run("a delay holds a job back; one past the longest SQS allows is queued, not refused", func(t *testing.T) {
		q, take := newQueue(t)
		for _, e := range []struct {
			job   messaging.OutboundJob
			delay time.Duration
		}{{job("now"), 0}, {job("soon"), 2 * time.Second}, {job("much later"), time.Hour}} {
			if err := q.Enqueue(ctx, e.job, e.delay); err != nil {
				t.Fatal(err)
			}
		}
		if got := ids(take(t, 0)); !slices.Equal(got, ids([]messaging.OutboundJob{job("now")})) {
			t.Errorf("at once: %v", got)
		}
		if got := ids(take(t, 3*time.Second)); !slices.Equal(got, ids([]messaging.OutboundJob{job("soon")})) {
			t.Errorf("after 3 s: %v", got)
		}
	})
}
