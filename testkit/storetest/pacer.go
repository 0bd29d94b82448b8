package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// RunPacer is the contract of a messaging.SendPacer built with rate 5 and a
// 2-second horizon.
func RunPacer(t *testing.T, newPacer func(t *testing.T, rate, horizon int) messaging.SendPacer) {
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 250_000_000)
	t.Run("slots fill a second, then the next, then refuse", func(t *testing.T) {
		p := newPacer(t, 5, 2)
		var waits []time.Duration
		for range 10 {
			w, err := p.Reserve(ctx, "111", now)
			if err != nil {
				t.Fatal(err)
			}
			waits = append(waits, w)
		}
		for i, w := range waits {
			want := time.Duration(0)
			if i >= 5 {
				want = 750 * time.Millisecond // the start of the next second
			}
			if w != want {
				t.Errorf("reservation %d waits %s, want %s", i, w, want)
			}
		}
		if _, err := p.Reserve(ctx, "111", now); !errors.Is(err, messaging.ErrSlotsTaken) {
			t.Errorf("11th reservation within the horizon: %v, want ErrBusy", err)
		}
		if w, err := p.Reserve(ctx, "222", now); err != nil || w != 0 {
			t.Errorf("another number waits %s, %v: numbers must not share slots", w, err)
		}
		if w, err := p.Reserve(ctx, "111", now.Add(2*time.Second)); err != nil || w != 0 {
			t.Errorf("a later second: %s, %v", w, err)
		}
	})
	t.Run("concurrent reservations never exceed the rate", func(t *testing.T) {
		p := newPacer(t, 5, 2)
		var mu sync.Mutex
		perSecond := map[time.Duration]int{}
		busy := 0
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w, err := p.Reserve(ctx, "333", now)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, messaging.ErrSlotsTaken):
					busy++
				case err != nil:
					t.Error(err)
				default:
					perSecond[w]++
				}
			}()
		}
		wg.Wait()
		if perSecond[0] != 5 || perSecond[750*time.Millisecond] != 5 || busy != 6 {
			t.Errorf("slots %v and %d busy, want 5 + 5 and 6 busy", perSecond, busy)
		}
	})
}
