package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// SendPacer is the in-memory messaging.SendPacer (twin of dynamo.SendPacer): a
// count of sends per number and second.
type SendPacer struct {
	Rate    int
	Horizon int // default 3

	mu     sync.Mutex
	counts map[paceSlot]int
}

type paceSlot struct {
	number string
	second int64
}

var _ messaging.SendPacer = (*SendPacer)(nil)

// Reserve implements messaging.SendPacer.
func (p *SendPacer) Reserve(_ context.Context, phoneNumberID string, now time.Time) (time.Duration, error) {
	if p.Rate <= 0 {
		return 0, nil
	}
	horizon := p.Horizon
	if horizon <= 0 {
		horizon = 3
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts == nil {
		p.counts = map[paceSlot]int{}
	}
	first := now.Unix()
	for s := first; s < first+int64(horizon); s++ {
		k := paceSlot{phoneNumberID, s}
		if p.counts[k] < p.Rate {
			p.counts[k]++
			return max(time.Unix(s, 0).Sub(now), 0), nil
		}
	}
	return 0, messaging.ErrSlotsTaken
}
