package faults

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Kinds of injected HTTP faults.
const (
	// HTTP500 and HTTP503 answer before the request is handled.
	HTTP500 = "500"
	HTTP503 = "503"
	// HTTP429 answers Too Many Requests with a short Retry-After.
	HTTP429 = "429"
	// HTTPTimeout handles the request, then holds the answer until the
	// caller gives up or Hold passes, and answers 504: the call took effect
	// but its caller cannot know.
	HTTPTimeout = "timeout"
)

// HTTP wraps a handler, failing a share Rate of the requests whose path
// starts with Prefix.
type HTTP struct {
	Next   http.Handler
	Prefix string
	Rate   float64
	// Hold bounds a timeout fault's wait (default 3 s).
	Hold time.Duration
	// RetryAfter is the 429s' Retry-After in seconds (default 1).
	RetryAfter int
	Log        io.Writer

	once   sync.Once
	mu     sync.Mutex
	rng    *rand.Rand
	counts map[string]int
	Seed   uint64
}

func (h *HTTP) draw(r *http.Request) string {
	h.once.Do(func() { h.rng = rand.New(rand.NewPCG(h.Seed, h.Seed^0x2545f4914f6cdd1d)); h.counts = map[string]int{} })
	if h.Rate <= 0 || !strings.HasPrefix(r.URL.Path, h.Prefix) {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rng.Float64() >= h.Rate {
		return ""
	}
	kind := []string{HTTP500, HTTP503, HTTP429, HTTPTimeout}[h.rng.IntN(4)]
	h.counts[kind]++
	if h.Log != nil {
		fmt.Fprintf(h.Log, "%d kapso %s %s %s\n", time.Now().UnixNano(), r.Method, r.URL.Path, kind)
	}
	return kind
}

func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch h.draw(r) {
	case HTTP500:
		http.Error(w, `{"error":"Internal server error"}`, http.StatusInternalServerError)
	case HTTP503:
		http.Error(w, `{"error":"Service unavailable"}`, http.StatusServiceUnavailable)
	case HTTP429:
		ra := h.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		w.Header().Set("Retry-After", fmt.Sprint(ra))
		http.Error(w, `{"error":"Rate limit exceeded"}`, http.StatusTooManyRequests)
	case HTTPTimeout:
		rec := httptest.NewRecorder()
		h.Next.ServeHTTP(rec, r)
		hold := h.Hold
		if hold <= 0 {
			hold = 3 * time.Second
		}
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		http.Error(w, `{"error":"Gateway timeout"}`, http.StatusGatewayTimeout)
	default:
		h.Next.ServeHTTP(w, r)
	}
}

// Counts returns the faults injected so far by kind.
func (h *HTTP) Counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.counts {
		out[k] = v
	}
	return out
}

// Total is the number of faults injected so far.
func (h *HTTP) Total() int {
	n := 0
	for _, v := range h.Counts() {
		n += v
	}
	return n
}
