package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// RunClaims holds an idempotency.Store to its contract. newStore makes one
// whose accepted keys answer "done" for an hour.
func RunClaims(t *testing.T, newStore func(t *testing.T, now func() time.Time) idempotency.Store) {
	// The clock starts now, not at epoch: a claim's expiry is a TTL
	// attribute, and DynamoDB Local deletes items whose TTL has passed by
	// the wall clock, so a claim written at epoch could vanish mid-case.
	runFrom(t, time.Now().UTC().Truncate(time.Second), newStore, map[string]func(*testing.T, idempotency.Store, *testclock.Clock){
		"a claim's lifecycle":                           claimLifecycle,
		"a crashed claim is taken over after its lease": crashedClaimIsTakenOver,
		"a release lets a retry through at once":        releaseLetsARetryThrough,
		"concurrent claims have one winner":             concurrentClaimsHaveOneWinner,
	})
}

func claimLifecycle(t *testing.T, claims idempotency.Store, clk *testclock.Clock) {
	ctx := context.Background()
	lease := 10 * time.Second
	first, err := claims.Claim(ctx, "k1", "h1", lease)
	if err != nil || first.Outcome != idempotency.Claimed {
		t.Fatalf("first claim: %+v %v", first, err)
	}
	second, err := claims.Claim(ctx, "k1", "h1", lease)
	if err != nil || second.Outcome != idempotency.InFlight {
		t.Fatalf("copy during lease: %+v %v", second, err)
	}
	if second.Existing == nil || !second.Existing.LeaseUntil.After(clk.Now()) {
		t.Fatalf("in-flight result must carry the live lease: %+v", second.Existing)
	}
	other, err := claims.Claim(ctx, "k1", "h2", lease)
	if err != nil || other.Outcome != idempotency.BodyMismatch {
		t.Fatalf("other body: %+v %v", other, err)
	}
	if err := claims.Accept(ctx, first.Claim); err != nil {
		t.Fatal(err)
	}
	done, err := claims.Claim(ctx, "k1", "h1", lease)
	if err != nil || done.Outcome != idempotency.Done || done.Existing.Status != idempotency.Accepted {
		t.Fatalf("after accept: %+v %v", done, err)
	}
	// Accepted keys stay done past the lease, until their retention ends.
	clk.Advance(30 * time.Minute)
	if r, _ := claims.Claim(ctx, "k1", "h1", lease); r.Outcome != idempotency.Done {
		t.Fatalf("accepted key within retention: %v", r.Outcome)
	}
	clk.Advance(time.Hour)
	if r, _ := claims.Claim(ctx, "k1", "h1", lease); r.Outcome != idempotency.Claimed {
		t.Fatalf("accepted key past retention (ttl lag) must be claimable: %v", r.Outcome)
	}
}

// A claimer that crashes never strands its key: once the lease passes, a
// retry claims it, and the crashed claimer can no longer accept or release.
func crashedClaimIsTakenOver(t *testing.T, claims idempotency.Store, clk *testclock.Clock) {
	ctx := context.Background()
	crashed, err := claims.Claim(ctx, "k2", "h", 5*time.Second)
	if err != nil || crashed.Outcome != idempotency.Claimed {
		t.Fatalf("claim: %+v %v", crashed, err)
	}
	clk.Advance(6 * time.Second)
	retry, err := claims.Claim(ctx, "k2", "h", 5*time.Second)
	if err != nil || retry.Outcome != idempotency.Claimed {
		t.Fatalf("retry after lease: %+v %v", retry, err)
	}
	if err := claims.Accept(ctx, crashed.Claim); !errors.Is(err, idempotency.ErrLostClaim) {
		t.Fatalf("stale accept: %v", err)
	}
	if err := claims.Release(ctx, crashed.Claim); !errors.Is(err, idempotency.ErrLostClaim) {
		t.Fatalf("stale release: %v", err)
	}
	if err := claims.Accept(ctx, retry.Claim); err != nil {
		t.Fatal(err)
	}
	if err := claims.Release(ctx, retry.Claim); !errors.Is(err, idempotency.ErrLostClaim) {
		t.Fatalf("release of an accepted claim: %v", err)
	}
}

func releaseLetsARetryThrough(t *testing.T, claims idempotency.Store, _ *testclock.Clock) {
	ctx := context.Background()
	c, err := claims.Claim(ctx, "k3", "h", time.Minute)
	if err != nil || c.Outcome != idempotency.Claimed {
		t.Fatalf("claim: %+v %v", c, err)
	}
	if err := claims.Release(ctx, c.Claim); err != nil {
		t.Fatal(err)
	}
	if r, err := claims.Claim(ctx, "k3", "h", time.Minute); err != nil || r.Outcome != idempotency.Claimed {
		t.Fatalf("claim after release: %+v %v", r, err)
	}
}

func concurrentClaimsHaveOneWinner(t *testing.T, claims idempotency.Store, _ *testclock.Clock) {
	ctx := context.Background()
	const n = 8
	outcomes := make(chan idempotency.Outcome, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r, err := claims.Claim(ctx, "k4", "h", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			outcomes <- r.Outcome
		})
	}
	wg.Wait()
	close(outcomes)
	won := 0
	for o := range outcomes {
		switch o {
		case idempotency.Claimed:
			won++
		case idempotency.InFlight:
		default:
			t.Errorf("unexpected outcome %v", o)
		}
	}
	if won != 1 {
		t.Fatalf("%d claimers won, want exactly 1", won)
	}
}
