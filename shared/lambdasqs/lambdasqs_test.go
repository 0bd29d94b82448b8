package lambdasqs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestOnlyTheFailedMessagesAreAnsweredAndAllRunAtOnce(t *testing.T) {
	var batch events.SQSEvent
	for i := range 6 {
		batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprint(i)})
	}
	var running, peak, started atomic.Int32
	var logged []string
	// Each message is held until all have started: run at once, none waits
	// long; run one at a time, each waits out the bound and peak stays 1.
	all := make(chan struct{})
	resp := Concurrently(context.Background(), batch, func(_ context.Context, m events.SQSMessage) error {
		peak.Store(max(peak.Load(), running.Add(1)))
		if started.Add(1) == int32(len(batch.Records)) {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(time.Second):
		}
		running.Add(-1)
		if m.MessageId == "1" || m.MessageId == "4" {
			return errors.New("boom")
		}
		return nil
	}, func(m events.SQSMessage, err error) { logged = append(logged, m.MessageId+": "+err.Error()) })
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if !slices.Equal(ids, []string{"1", "4"}) || !slices.Equal(logged, []string{"1: boom", "4: boom"}) {
		t.Errorf("failures %v, logged %v", ids, logged)
	}
	if peak.Load() < 2 {
		t.Errorf("at most %d messages ran at once", peak.Load())
	}
}

func TestInOrderRunsOneMessageAtATimeInBatchOrder(t *testing.T) {
	var batch events.SQSEvent
	for i := range 4 {
		batch.Records = append(batch.Records, events.SQSMessage{MessageId: fmt.Sprint(i)})
	}
	var running, peak atomic.Int32
	var order, logged []string
	resp := InOrder(context.Background(), batch, func(_ context.Context, m events.SQSMessage) error {
		peak.Store(max(peak.Load(), running.Add(1)))
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		order = append(order, m.MessageId)
		if m.MessageId == "2" {
			return errors.New("boom")
		}
		return nil
	}, func(m events.SQSMessage, err error) { logged = append(logged, m.MessageId+": "+err.Error()) })
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "2" ||
		!slices.Equal(logged, []string{"2: boom"}) {
		t.Errorf("failures %+v, logged %v", resp.BatchItemFailures, logged)
	}
	if !slices.Equal(order, []string{"0", "1", "2", "3"}) || peak.Load() != 1 {
		t.Errorf("ran %v, at most %d at once", order, peak.Load())
	}
}

func TestReceiveCountIsTheAttemptFromOne(t *testing.T) {
	for v, want := range map[string]int{"1": 1, "5": 5, "29": 29, "": 1, "0": 1, "-3": 1, "x": 1} {
		msg := events.SQSMessage{Attributes: map[string]string{"ApproximateReceiveCount": v}}
		if got := ReceiveCount(msg); got != want {
			t.Errorf("%q: %d, want %d", v, got, want)
		}
	}
	if got := ReceiveCount(events.SQSMessage{}); got != 1 {
		t.Errorf("no attributes: %d", got)
	}
}
