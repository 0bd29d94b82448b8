package webhook

import (
	"context"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

type countingSource struct {
	secrets map[string]string
	reads   int
}

func (s *countingSource) Secret(_ context.Context, id string) (string, error) {
	s.reads++
	if v, ok := s.secrets[id]; ok {
		return v, nil
	}
	return "", errs.E(errs.NotFound, "no secret", nil)
}

func TestSecretCacheRefreshIsRateLimitedPerNumber(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	src := &countingSource{secrets: map[string]string{"1": "old"}}
	c := &SecretCache{Source: src, TTL: time.Minute, NegativeTTL: time.Second, MinRefresh: 5 * time.Second,
		Now: func() time.Time { return now }}

	if s, err := c.Secret(ctx, "1"); s != "old" || err != nil || src.reads != 1 {
		t.Fatalf("first read: %q %v reads=%d", s, err, src.reads)
	}
	if _, _ = c.Secret(ctx, "1"); src.reads != 1 {
		t.Fatalf("cached read went to the source: reads=%d", src.reads)
	}
	// Bad signatures right after a read must not each cost a read.
	for range 10 {
		if _, changed, _ := c.Refresh(ctx, "1"); changed {
			t.Fatal("refresh within MinRefresh reported a change")
		}
	}
	if src.reads != 1 {
		t.Fatalf("refreshes within MinRefresh read the source %d times", src.reads-1)
	}
	src.secrets["1"] = "rotated"
	now = now.Add(6 * time.Second)
	if s, changed, err := c.Refresh(ctx, "1"); s != "rotated" || !changed || err != nil {
		t.Fatalf("refresh after MinRefresh: %q changed=%v %v", s, changed, err)
	}
	if _, err := c.Secret(ctx, "2"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("unknown number: %v", err)
	}
	reads := src.reads
	if _, err := c.Secret(ctx, "2"); errs.CodeOf(err) != errs.NotFound || src.reads != reads {
		t.Fatalf("unknown number not cached: %v reads=%d", err, src.reads-reads)
	}
}
