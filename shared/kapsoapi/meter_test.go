package kapsoapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

func okNumber(w http.ResponseWriter, r *http.Request) {
	reply(w, 200, `{"data":{"phone_number_id":"123"}}`)
}

func TestMeterBudgetStopsTheCallAfterIt(t *testing.T) {
	c, calls := newCountingClient(t, okNumber)
	m := NewMeter(MeterOptions{Budget: 2})
	ctx := WithMeter(context.Background(), m)
	for i := range 2 {
		if _, err := c.GetPhoneNumber(ctx, "123"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !m.Spent() {
		t.Error("Spent() = false after the budget's calls")
	}
	_, err := c.GetPhoneNumber(ctx, "123")
	if !errors.Is(err, ErrBudgetSpent) || errors.Is(err, ErrUnavailable) || !errs.Is(err, errs.BudgetSpent) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 2 || m.Stats().Calls != 2 {
		t.Errorf("sent %d, counted %d, want 2", calls.Load(), m.Stats().Calls)
	}
	// Without the meter the client is not limited.
	if _, err := c.GetPhoneNumber(context.Background(), "123"); err != nil {
		t.Fatal(err)
	}
}

func TestMeterCountsRetriesAndPages(t *testing.T) {
	var n atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			reply(w, 503, `{"error":"down"}`)
			return
		}
		okNumber(w, r)
	})
	m := NewMeter(MeterOptions{Budget: 3})
	ctx := WithMeter(context.Background(), m)
	if _, err := c.GetPhoneNumber(ctx, "123"); err != nil {
		t.Fatal(err)
	}
	if !m.Spent() || m.Stats().Calls != 3 {
		t.Fatalf("after two retries: spent %v, stats %+v", m.Spent(), m.Stats())
	}

	// A retry the budget does not allow ends the call with ErrBudgetSpent.
	n.Store(0)
	m = NewMeter(MeterOptions{Budget: 2})
	_, err := c.GetPhoneNumber(WithMeter(context.Background(), m), "123")
	if !errors.Is(err, ErrBudgetSpent) || n.Load() != 2 {
		t.Fatalf("err %v after %d requests", err, n.Load())
	}

	pages, pc := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, `{"data":[{"id":"w"}],"meta":{"page":1,"per_page":1,"total_pages":10,"total_count":10}}`)
	})
	m = NewMeter(MeterOptions{Budget: 3})
	_, err = pages.ListWebhooks(WithMeter(context.Background(), m), "123")
	if !errors.Is(err, ErrBudgetSpent) || pc.Load() != 3 {
		t.Fatalf("pages: err %v after %d requests", err, pc.Load())
	}
}

func TestMeterMakesLaterCallsWaitOutA429(t *testing.T) {
	var n atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			reply(w, 429, `{"error":"Rate limit exceeded"}`)
			return
		}
		okNumber(w, r)
	})
	m := NewMeter(MeterOptions{})
	ctx, cancel := context.WithTimeout(WithMeter(context.Background(), m), 5*time.Second)
	defer cancel()
	start := time.Now()
	first := make(chan error, 1)
	go func() {
		_, err := c.GetPhoneNumber(ctx, "123")
		first <- err
	}()
	if !poll.Until(2*time.Second, 5*time.Millisecond, func() bool { return m.Stats().RateLimited > 0 }) {
		t.Fatal("no 429 seen")
	}
	if _, err := c.GetPhoneNumber(ctx, "123"); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("second call done after %v, before Retry-After", d)
	}
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("first call retried after %v, before Retry-After", d)
	}
	st := m.Stats()
	if st.RateLimited != 1 || st.Waits < 1 || st.Waited < 800*time.Millisecond || st.Calls != 3 || n.Load() != 3 {
		t.Errorf("stats %+v, requests %d", st, n.Load())
	}
}

func TestMeterReturnsRateLimitWhenTheWaitDoesNotFit(t *testing.T) {
	for name, header := range map[string]string{"Retry-After: 60": "60", "no Retry-After": ""} {
		t.Run(name, func(t *testing.T) {
			c, calls := newCountingClient(t, func(w http.ResponseWriter, r *http.Request) {
				if header != "" {
					w.Header().Set("Retry-After", header)
				}
				reply(w, 429, `{"error":"Rate limit exceeded"}`)
			})
			m := NewMeter(MeterOptions{})
			ctx, cancel := context.WithTimeout(WithMeter(context.Background(), m), 2*time.Second)
			defer cancel()
			start := time.Now()
			if _, err := c.GetPhoneNumber(ctx, "123"); !errs.Is(err, errs.RateLimited) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			// A later call under the same meter is refused without a request.
			_, err := c.ListWebhooks(ctx, "123")
			var apiErr *APIError
			if !errors.As(err, &apiErr) || !errs.Is(err, errs.RateLimited) || apiErr.Op != "list webhooks" ||
				apiErr.RetryAfter < 55*time.Second || apiErr.RetryAfter > time.Minute {
				t.Fatalf("later call: %#v", err)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("took %v: waited although the wait did not fit the deadline", d)
			}
			if calls.Load() != 1 {
				t.Errorf("requests = %d, want 1", calls.Load())
			}
			if st := m.Stats(); st.RateLimited != 1 || st.Waits != 0 || st.Calls != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestMeterPacesAttempts(t *testing.T) {
	const interval = 150 * time.Millisecond
	var mu sync.Mutex
	var arrivals []time.Time
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		okNumber(w, r)
	})
	m := NewMeter(MeterOptions{Interval: interval})
	ctx := WithMeter(context.Background(), m)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := c.GetPhoneNumber(ctx, "123"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	if len(arrivals) != 3 {
		t.Fatalf("%d requests", len(arrivals))
	}
	// Some slack: the client paces starts, the server sees arrivals.
	for i := 1; i < 3; i++ {
		if d := arrivals[i].Sub(arrivals[i-1]); d < interval-30*time.Millisecond {
			t.Errorf("requests %d and %d %v apart", i-1, i, d)
		}
	}
	if st := m.Stats(); st.Calls != 3 || st.Paced < 3*interval-50*time.Millisecond {
		// The waits are interval and 2·interval.
		t.Errorf("stats %+v", st)
	}
}

func TestMeterPacingBeyondDeadlineIsUnavailable(t *testing.T) {
	c, calls := newCountingClient(t, okNumber)
	m := NewMeter(MeterOptions{Interval: time.Minute, Budget: 5})
	ctx, cancel := context.WithTimeout(WithMeter(context.Background(), m), time.Second)
	defer cancel()
	if _, err := c.GetPhoneNumber(ctx, "123"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.GetPhoneNumber(ctx, "123")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBudgetSpent) || time.Since(start) > 200*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	if calls.Load() != 1 || m.Stats().Calls != 1 || m.Spent() {
		t.Errorf("requests %d, stats %+v", calls.Load(), m.Stats())
	}
}
