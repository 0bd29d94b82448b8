// Package runtimeapi is a small local implementation of the Lambda Runtime
// API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): enough
// to run a function's bootstrap on this machine, hand it events and collect
// its responses, function errors and init errors. It listens on 127.0.0.1
// only.
package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Header names of the Runtime API.
const (
	HeaderRequestID   = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMS  = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID     = "Lambda-Runtime-Trace-Id"
	// HeaderErrorType is set by runtimes on /error and /init/error posts and,
	// as a trailer, on a response whose body failed while it was streamed.
	HeaderErrorType = "Lambda-Runtime-Function-Error-Type"
	// trailerErrorBody carries the base64 error document of a failed stream.
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

const (
	prefix = "/2018-06-01/runtime"
	// MaxResponseBytes is Lambda's limit on a synchronous response.
	MaxResponseBytes = 6 << 20
	// DefaultFunctionTimeout is Lambda's default, used for the deadline header
	// when the caller's context has no deadline.
	DefaultFunctionTimeout = 3 * time.Second
)

// ErrClosed is returned by Invoke once the server is closed.
var ErrClosed = errors.New("runtime api server closed")

// Config describes the function the server stands in for.
type Config struct {
	// FunctionARN is sent with every event (Lambda-Runtime-Invoked-Function-Arn).
	FunctionARN string
}

// Server is one function's Runtime API. Events are handed out one at a time
// to the runtime's GET /next, as Lambda does.
type Server struct {
	cfg   Config
	ln    net.Listener
	srv   *http.Server
	queue chan *invocation

	mu       sync.Mutex
	inflight map[string]*invocation
	polled   bool // a GET /next was made: init is over, /init/error is refused
	initErr  *InitError

	initFailed chan struct{} // closed when the runtime posts /init/error
	closed     chan struct{}
	closeOnce  sync.Once
}

// Result is how the function answered one invocation.
type Result struct {
	RequestID string
	// Body is the response payload, or the error document for a function error.
	Body []byte
	// Err is set when the function reported an error for the invocation.
	Err *FunctionError
	// TakenAt is when the event was handed to the runtime; AnsweredAt is when
	// its response or error had been received in full.
	TakenAt, AnsweredAt time.Time
}

// FunctionError is an error document a runtime posts: errorType and errorMessage.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// InitError is what a runtime posted to /runtime/init/error.
type InitError struct {
	FunctionError
	At time.Time
}

func (e *InitError) Error() string { return "init error: " + e.FunctionError.Error() }

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time // zero: DefaultFunctionTimeout from when it is taken
	takenAt  time.Time
	done     chan Result // buffered: the handler never waits for the caller
}

// Start listens on a free port of 127.0.0.1 and serves until Close.
func Start(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the runtime api: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		ln:         ln,
		queue:      make(chan *invocation),
		inflight:   map[string]*invocation{},
		initFailed: make(chan struct{}),
		closed:     make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/invocation/next", s.next)
	mux.HandleFunc("POST "+prefix+"/invocation/{id}/response", s.response)
	mux.HandleFunc("POST "+prefix+"/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST "+prefix+"/init/error", s.initError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the host:port to put in AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, ending any long poll and any Invoke waiting.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.srv.Close()
	})
	return err
}

// InitError is the init error the runtime posted, if any.
func (s *Server) InitError() *InitError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// Invoke hands payload to the runtime's next GET /next and waits for its
// answer. A function error is a Result with Err set, not an error; an init
// error is returned as *InitError. ctx bounds the whole wait, and its
// deadline, when it has one, is the function's deadline.
func (s *Server) Invoke(ctx context.Context, payload []byte) (Result, error) {
	inv := &invocation{id: requestID(), payload: payload, done: make(chan Result, 1)}
	inv.deadline, _ = ctx.Deadline()
	select {
	case s.queue <- inv:
	case <-s.initFailed:
		return Result{}, s.InitError()
	case <-s.closed:
		return Result{}, ErrClosed
	case <-ctx.Done():
		return Result{}, fmt.Errorf("invocation %s: runtime never asked for it: %w", inv.id, context.Cause(ctx))
	}
	defer func() {
		s.mu.Lock()
		delete(s.inflight, inv.id)
		s.mu.Unlock()
	}()
	select {
	case res := <-inv.done:
		return res, nil
	case <-s.initFailed:
		return Result{}, s.InitError()
	case <-s.closed:
		return Result{}, ErrClosed
	case <-ctx.Done():
		return Result{}, fmt.Errorf("invocation %s: no answer: %w", inv.id, context.Cause(ctx))
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.polled = true
	s.mu.Unlock()
	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-r.Context().Done():
		return
	case <-s.closed:
		writeError(w, http.StatusServiceUnavailable, "Runtime.Closed", "the runtime api is shutting down")
		return
	}
	inv.takenAt = time.Now()
	if inv.deadline.IsZero() {
		inv.deadline = inv.takenAt.Add(DefaultFunctionTimeout)
	}
	// Registered before the event is written, so an answer cannot beat it.
	s.mu.Lock()
	s.inflight[inv.id] = inv
	s.mu.Unlock()
	h := w.Header()
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadlineMS, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(HeaderFunctionARN, s.cfg.FunctionARN)
	h.Set(HeaderTraceID, traceID())
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// take removes an in-flight invocation, so each is answered once.
func (s *Server) take(id string) *invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.inflight[id]
	delete(s.inflight, id)
	return inv
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxResponseBytes))
	answered := time.Now()
	inv := s.take(r.PathValue("id"))
	if inv == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already answered request id")
		return
	}
	res := Result{RequestID: inv.id, Body: body, TakenAt: inv.takenAt, AnsweredAt: answered}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		res.Err = &FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("response larger than %d bytes", MaxResponseBytes)}
		inv.done <- res
		writeError(w, http.StatusRequestEntityTooLarge, res.Err.Type, res.Err.Message)
		return
	case err != nil:
		res.Err = &FunctionError{Type: "Runtime.TruncatedResponse", Message: "read response: " + err.Error()}
	case r.Trailer.Get(HeaderErrorType) != "":
		// The body failed while it was streamed; the runtime says why in trailers.
		res.Err = trailerError(r.Trailer)
	}
	inv.done <- res
	accepted(w)
}

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxResponseBytes))
	answered := time.Now()
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidErrorDocument", "read error document: "+err.Error())
		return
	}
	inv := s.take(r.PathValue("id"))
	if inv == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already answered request id")
		return
	}
	fe := parseError(r.Header, body)
	inv.done <- Result{RequestID: inv.id, Body: body, Err: &fe, TakenAt: inv.takenAt, AnsweredAt: answered}
	accepted(w)
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxResponseBytes))
	at := time.Now()
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidErrorDocument", "read error document: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.polled || s.initErr != nil {
		// As Lambda: init is over once the runtime asked for an event.
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "init error after init")
		return
	}
	s.initErr = &InitError{FunctionError: parseError(r.Header, body), At: at}
	close(s.initFailed)
	accepted(w)
}

func parseError(h http.Header, body []byte) FunctionError {
	var fe FunctionError
	if json.Unmarshal(body, &fe) != nil || (fe.Type == "" && fe.Message == "") {
		fe = FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = h.Get(HeaderErrorType)
	}
	return fe
}

func trailerError(t http.Header) *FunctionError {
	fe := FunctionError{Type: t.Get(HeaderErrorType), Message: "response stream failed"}
	if b, err := base64.StdEncoding.DecodeString(t.Get(trailerErrorBody)); err == nil {
		var doc FunctionError
		if json.Unmarshal(b, &doc) == nil && doc.Message != "" {
			fe.Message = doc.Message
		}
	}
	return &fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(FunctionError{Type: typ, Message: msg}) // two strings always marshal
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requestID is a random UUID, the shape of Lambda's request ids.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// traceID is an X-Ray trace header, not sampled, so nothing is expected to
// send segments anywhere.
func traceID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
