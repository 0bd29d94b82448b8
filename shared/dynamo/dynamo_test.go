package dynamo_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/awstest"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
)

func TestMain(m *testing.M) { awstest.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClaims(t *testing.T) (*dynamo.Claims, *clock) {
	names := awstest.Tables(t)
	clk := &clock{t: time.Now()}
	return &dynamo.Claims{DB: awstest.DynamoDB(t), Table: awstest.Idempotency(names), Now: clk.Now, Retention: time.Hour}, clk
}

func TestClaimLifecycle(t *testing.T) {
	ctx := context.Background()
	claims, clk := newClaims(t)
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
func TestCrashedClaimIsTakenOverAfterLease(t *testing.T) {
	ctx := context.Background()
	claims, clk := newClaims(t)
	crashed, _ := claims.Claim(ctx, "k2", "h", 5*time.Second)
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
}

func TestReleaseLetsARetryThroughAtOnce(t *testing.T) {
	ctx := context.Background()
	claims, _ := newClaims(t)
	c, _ := claims.Claim(ctx, "k3", "h", time.Minute)
	if err := claims.Release(ctx, c.Claim); err != nil {
		t.Fatal(err)
	}
	if r, err := claims.Claim(ctx, "k3", "h", time.Minute); err != nil || r.Outcome != idempotency.Claimed {
		t.Fatalf("claim after release: %+v %v", r, err)
	}
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	ctx := context.Background()
	claims, _ := newClaims(t)
	const n = 8
	outcomes := make(chan idempotency.Outcome, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := claims.Claim(ctx, "k4", "h", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			outcomes <- r.Outcome
		}()
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

func TestPayloadsRoundTripAcrossChunks(t *testing.T) {
	ctx := context.Background()
	names := awstest.Tables(t)
	p := &dynamo.Payloads{DB: awstest.DynamoDB(t), Table: awstest.Idempotency(names)}
	body := bytes.Repeat([]byte("0123456789abcdef"), 70_000) // ~1.1 MB: 4 chunks
	if err := p.Put(ctx, "ref-1", body); err != nil {
		t.Fatal(err)
	}
	got, err := p.Get(ctx, "ref-1")
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("round trip: len %d err %v", len(got), err)
	}
	if _, err := p.Get(ctx, "missing"); !errors.Is(err, dynamo.ErrPayloadNotFound) {
		t.Fatalf("missing payload: %v", err)
	}
}

func TestWebhookSecrets(t *testing.T) {
	ctx := context.Background()
	names := awstest.Tables(t)
	s := &dynamo.WebhookSecrets{DB: awstest.DynamoDB(t), Table: awstest.Bridge(names)}
	if _, err := s.Secret(ctx, "111"); !errors.Is(err, dynamo.ErrNoSecret) {
		t.Fatalf("unknown number: %v", err)
	}
	if err := s.PutSecret(ctx, "111", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Secret(ctx, "111"); err != nil || got != "s3cret" {
		t.Fatalf("secret = %q, %v", got, err)
	}
}
