// Package storetest holds one contract suite per store interface. Each runs
// against the DynamoDB adapter (in shared/dynamo's tests, on DynamoDB Local)
// and against its in-memory twin (in shared/memstore's tests), so the twin
// that worker and handler tests use behaves as the real store does.
//
// A suite takes a constructor that makes a fresh, empty store reading the
// given clock; the suite moves that clock to cross leases and expiries.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// epoch is where every suite's clock starts.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Bodies keeps bodies stored aside from their queue message: the ingest's
// sender puts them, workers get them.
type Bodies interface {
	Put(ctx context.Context, ref string, body []byte) error
	Get(ctx context.Context, ref string) ([]byte, error)
}

// Rejects keeps what workers can never apply, for an operator to list.
type Rejects interface {
	Keep(ctx context.Context, id, reason string, receivedAt time.Time, raw []byte) error
	List(ctx context.Context, day time.Time) ([]envelope.Rejected, error)
}

// run runs each case as a subtest with a fresh store and a clock at epoch.
func run[S any](t *testing.T, newStore func(t *testing.T, now func() time.Time) S,
	cases map[string]func(t *testing.T, s S, clk *testclock.Clock)) {
	runFrom(t, epoch, newStore, cases)
}

// runFrom is run with the clock at start.
func runFrom[S any](t *testing.T, start time.Time, newStore func(t *testing.T, now func() time.Time) S,
	cases map[string]func(t *testing.T, s S, clk *testclock.Clock)) {
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(start)
			c(t, newStore(t, clk.Now), clk)
		})
	}
}
