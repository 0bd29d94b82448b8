package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"

// echoBinary is testdata/echo built once for the package's tests.
var echoBinary string

// echoResponse is what testdata/echo answers.
type echoResponse struct {
	Echo        string `json:"echo"`
	RequestID   string `json:"request_id"`
	FunctionARN string `json:"function_arn"`
	DeadlineMS  int64  `json:"deadline_ms"`
	TraceID     string `json:"trace_id"`
}

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "runtimeapi-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		echoBinary = filepath.Join(dir, "bootstrap")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", echoBinary, "./testdata/echo")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build testdata/echo: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// runEcho starts the echo function against s and kills it when the test ends.
func runEcho(t *testing.T, s *Server, env ...string) {
	t.Helper()
	cmd := exec.Command(echoBinary)
	cmd.Env = append([]string{"AWS_LAMBDA_RUNTIME_API=" + s.Addr()}, env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start echo: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := Start(Config{FunctionARN: testARN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRoundTripAndFunctionError(t *testing.T) {
	s := startServer(t)
	runEcho(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()

	res, err := s.Invoke(ctx, []byte(`{"echo":"olá"}`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if res.Err != nil {
		t.Fatalf("function error: %v", res.Err)
	}
	var got echoResponse
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("response %q: %v", res.Body, err)
	}
	want := echoResponse{Echo: "olá", RequestID: res.RequestID, FunctionARN: testARN, DeadlineMS: deadline.UnixMilli()}
	if got.TraceID == "" || !strings.HasPrefix(got.TraceID, "Root=1-") {
		t.Errorf("trace id %q", got.TraceID)
	}
	got.TraceID = ""
	if got != want {
		t.Errorf("response %+v, want %+v", got, want)
	}
	if res.TakenAt.IsZero() || res.AnsweredAt.Before(res.TakenAt) {
		t.Errorf("taken %v answered %v", res.TakenAt, res.AnsweredAt)
	}

	// The same process takes the next event; a handler error comes back on /error.
	res, err = s.Invoke(ctx, []byte(`{"fail":"boom"}`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if res.Err == nil || res.Err.Message != "boom" || res.Err.Type != "errorString" {
		t.Fatalf("want the handler's error, got %+v (body %s)", res.Err, res.Body)
	}

	// And it goes on answering after an error.
	res, err = s.Invoke(ctx, []byte(`{"echo":"again"}`))
	if err != nil || res.Err != nil || !strings.Contains(string(res.Body), `"echo":"again"`) {
		t.Fatalf("after an error: %v %v %s", err, res.Err, res.Body)
	}
}

func TestInitError(t *testing.T) {
	s := startServer(t)
	runEcho(t, s, "ECHO_INIT_ERROR=no config")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Invoke(ctx, []byte(`{}`))
	var ie *InitError
	if !errors.As(err, &ie) {
		t.Fatalf("want an init error, got %v", err)
	}
	if ie.Type != "Echo.InitFailed" || ie.Message != "no config" {
		t.Fatalf("init error %+v", ie)
	}
	if s.InitError() != ie {
		t.Fatalf("InitError() %v", s.InitError())
	}
}

func TestInvokeWithoutRuntimeTimesOut(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Invoke(ctx, []byte(`{}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
}

func TestUnknownRequestIDIsRefused(t *testing.T) {
	s := startServer(t)
	res, err := http.Post("http://"+s.Addr()+prefix+"/invocation/nope/response", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestInitErrorAfterInitIsRefused(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _ = s.Invoke(ctx, []byte(`{}`)) }()
	next, err := http.Get("http://" + s.Addr() + prefix + "/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	_ = next.Body.Close()
	res, err := http.Post("http://"+s.Addr()+prefix+"/init/error", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", res.StatusCode)
	}
}
