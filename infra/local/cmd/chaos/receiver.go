package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

// receiver is the SaaS's event webhook endpoint in a run: it verifies each
// delivery against its raw body with bridgeevents.Verify, answers a share
// of them 500 as a failing endpoint would, keeps every event it took by
// id, and can be stopped and started again on the same address.
type receiver struct {
	key      []byte
	failRate float64
	addr     string

	mu      sync.Mutex
	rng     *rand.Rand
	srv     *http.Server
	got     map[string]*receivedEvent
	last    time.Time // when an event was last taken
	counts  receiverCounts
	stopped chan struct{}
}

// receivedEvent is one event id the receiver took, and how often.
type receivedEvent struct {
	ev bridgeevents.Event
	n  int
	// sum is the first body's hash: a later delivery under the id with
	// another body counts in changed.
	sum [32]byte
}

// receiverCounts are the receiver's counters.
type receiverCounts struct {
	Attempts     int // POSTs that reached it
	Failed       int // answered 500 on purpose
	BadSignature int // refused: Verify failed
	NotEvent     int // verified, but no event, or its id not the webhook-id
	Duplicates   int // deliveries of an id already taken
	Changed      int // deliveries of an id already taken with another body
	Restarts     int
}

func newReceiver(secret string, failRate float64, seed uint64) (*receiver, error) {
	key, err := bridgeevents.Secret(secret)
	if err != nil {
		return nil, err
	}
	return &receiver{key: key, failRate: failRate, rng: rand.New(rand.NewPCG(seed, 11)),
		got: map[string]*receivedEvent{}}, nil
}

// url is where kapso-bridge POSTs the events.
func (r *receiver) url() string { return "http://" + r.addr + "/events" }

// start serves on r.addr, or on a free loopback port the first time.
func (r *receiver) start() error {
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago: a few tries cover a slow release.
	for try := 0; try < 50; try++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("event receiver: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", r.serve)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	r.mu.Lock()
	r.addr, r.srv, r.stopped = ln.Addr().String(), srv, stopped
	r.mu.Unlock()
	go func() {
		defer close(stopped)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("event receiver:", err)
		}
	}()
	return nil
}

// stop closes the listener and every connection at once, as a crash does.
func (r *receiver) stop() {
	r.mu.Lock()
	srv, stopped := r.srv, r.stopped
	r.srv = nil
	r.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-stopped
}

// restart stops the receiver and starts it again on its address after
// down.
func (r *receiver) restart(ctx context.Context, down time.Duration) error {
	r.stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	if err := r.start(); err != nil {
		return err
	}
	r.mu.Lock()
	r.counts.Restarts++
	r.mu.Unlock()
	return nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, bridgeevents.MaxEventBytes+1))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts.Attempts++
	if err != nil {
		r.counts.NotEvent++
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if bridgeevents.Verify(r.key, req.Header, body, time.Now()) != nil {
		r.counts.BadSignature++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ev, err := bridgeevents.Decode(body)
	if err != nil || ev.ID != req.Header.Get(bridgeevents.HeaderID) {
		r.counts.NotEvent++
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	if r.rng.Float64() < r.failRate {
		r.counts.Failed++
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	if e := r.got[ev.ID]; e != nil {
		e.n++
		r.counts.Duplicates++
		if e.sum != sum {
			r.counts.Changed++
		}
	} else {
		r.got[ev.ID] = &receivedEvent{ev: ev, n: 1, sum: sum}
	}
	r.last = time.Now()
	w.WriteHeader(http.StatusNoContent)
}

// snapshot is a copy of what the receiver took so far, and its counters.
func (r *receiver) snapshot() (map[string]bridgeevents.Event, receiverCounts, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]bridgeevents.Event, len(r.got))
	for id, e := range r.got {
		out[id] = e.ev
	}
	return out, r.counts, r.last
}
