package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// recorded is one webhook POST the simulator made, kept to send again.
type recorded struct {
	url    string
	header http.Header
	body   []byte
}

// wire is the simulator's HTTP transport: it counts every webhook POST and
// every distinct delivery (by idempotency key), keeps number webhooks to
// replay as duplicates, and sends a share of them twice at once, as a
// Kapso retry racing its first attempt would.
type wire struct {
	base    http.RoundTripper
	dupRate float64

	attempts   atomic.Int64
	concurrent atomic.Int64

	mu   sync.Mutex
	rng  *rand.Rand
	keys map[string]bool
	kept []recorded
}

func newWire(seed uint64, dupRate float64) *wire {
	return &wire{base: http.DefaultTransport.(*http.Transport).Clone(), dupRate: dupRate,
		rng: rand.New(rand.NewPCG(seed, 7)), keys: map[string]bool{}}
}

const keepRecorded = 4000

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	w.attempts.Add(1)
	number := strings.Contains(req.URL.Path, "/webhooks/kapso/")
	w.mu.Lock()
	w.keys[req.Header.Get("X-Idempotency-Key")] = true
	dup := false
	if number {
		r := recorded{url: req.URL.String(), header: req.Header.Clone(), body: body}
		if len(w.kept) < keepRecorded {
			w.kept = append(w.kept, r)
		} else {
			w.kept[w.rng.IntN(keepRecorded)] = r
		}
		dup = w.rng.Float64() < w.dupRate
	}
	w.mu.Unlock()
	if dup {
		w.concurrent.Add(1)
		copyReq := req.Clone(context.WithoutCancel(req.Context()))
		copyReq.Body = io.NopCloser(bytes.NewReader(body))
		go func() {
			if resp, err := w.base.RoundTrip(copyReq); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	return w.base.RoundTrip(req)
}

// distinct is how many distinct deliveries (idempotency keys) went out.
func (w *wire) distinct() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.keys)
}

// pick returns a kept number webhook to send again.
func (w *wire) pick() (recorded, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.kept) == 0 {
		return recorded{}, false
	}
	return w.kept[w.rng.IntN(len(w.kept))], true
}

// all returns every kept number webhook.
func (w *wire) all() []recorded {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]recorded(nil), w.kept...)
}
