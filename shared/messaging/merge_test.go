package messaging_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The order tests draw a set of events from a seeded generator, apply it in
// many orders and check that every order ends the same, and that applying
// an event again changes nothing. A failure names its seed and trial, so it
// can be drawn again.

// trials is how many event sets each order test draws.
const trials = 400

// ordersPerTrial is how many orders of one set are applied.
const ordersPerTrial = 24

// base is the time the generated events are dated from.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// minute is a generated event's time: n minutes after base, in one of two
// locations, so that stores compare instants, not representations.
func minute(rng *rand.Rand, n int) time.Time {
	t := base.Add(time.Duration(n) * time.Minute)
	if rng.IntN(2) == 0 {
		return t.In(time.FixedZone("UTC-3", -3*3600))
	}
	return t
}

// pick is one of vs, drawn by rng.
func pick[T any](rng *rand.Rand, vs ...T) T { return vs[rng.IntN(len(vs))] }

// maybe is v half the time, else the zero value: a field an event leaves out.
func maybe[T any](rng *rand.Rand, v T) T {
	if rng.IntN(2) == 0 {
		var zero T
		return zero
	}
	return v
}

// shuffled is a fresh copy of events in an order drawn by rng; the first
// order of a trial is the events as drawn.
func shuffled[T any](rng *rand.Rand, events []T, first bool) []T {
	out := slices.Clone(events)
	if !first {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// twice is order with every event applied twice in a row.
func twice[T any](order []T) []T {
	out := make([]T, 0, 2*len(order))
	for _, e := range order {
		out = append(out, e, e)
	}
	return out
}

// seeded runs check for trials event sets, each with its own generator.
func seeded(t *testing.T, check func(t *testing.T, rng *rand.Rand)) {
	t.Helper()
	for trial := range trials {
		rng := rand.New(rand.NewPCG(uint64(trial), 0x6b61_7073_6f))
		check(t, rng)
		if t.Failed() {
			t.Fatalf("trial %d", trial)
		}
	}
}
