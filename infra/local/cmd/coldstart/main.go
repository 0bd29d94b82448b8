// Command coldstart measures every Lambda function of functions/: the size
// of its bootstrap as deployed (linux/arm64, built as `make build` does) and
// as built for this machine, and its cold start here: from exec to the
// response of its first invocation, served by a local Runtime API, with AWS
// and Kapso answered by a stub on 127.0.0.1.
//
//	go run ./infra/local/cmd/coldstart [-n 5] [-out coldstart.json] [-timeout 10s] [-v]
//
// Figures are for this machine's CPU, not Lambda's: compare functions and
// builds with them, not with Lambda's Init Duration.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/runtimeapi"
)

const (
	modulePath = "github.com/kapso-bridge/kapso-bridge"
	// buildTimeout allows for a cold build cache; with a warm one builds take seconds.
	buildTimeout = 5 * time.Minute
	// maxParallelBuilds: go build is itself parallel, so a few at once fill the machine.
	maxParallelBuilds = 4
)

// lambdaTarget is what the functions are deployed as (provided.al2023, arm64).
var lambdaTarget = target{"linux", "arm64"}

type target struct{ goos, goarch string }

func (t target) String() string { return t.goos + "/" + t.goarch }

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// result is one function's figures; the JSON output holds one per function.
type result struct {
	BootstrapBytes     int64   `json:"bootstrap_bytes,omitempty"`
	HostBootstrapBytes int64   `json:"host_bootstrap_bytes,omitempty"`
	ColdStartNS        int64   `json:"cold_start_ns,omitempty"`
	ColdStartSamplesNS []int64 `json:"cold_start_samples_ns,omitempty"`
	// PeakRSSBytes is the most VmHWM (Linux) of the process after its first
	// invocation, over the rounds.
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// InitError is what the function reported (or Runtime.ExitError when it
	// exited) instead of starting.
	InitError *runtimeapi.FunctionError `json:"init_error,omitempty"`
	Error     string                    `json:"error,omitempty"`

	hostBinary string
	failed     bool
}

func (r *result) fail(err error) {
	r.failed = true
	r.Error = err.Error()
	r.ColdStartNS, r.ColdStartSamplesNS = 0, nil
	var ie *runtimeapi.InitError
	if errors.As(err, &ie) {
		r.InitError = &ie.FunctionError
	}
}

type report struct {
	GOOS      string             `json:"goos"`
	GOARCH    string             `json:"goarch"`
	N         int                `json:"n"`
	Functions map[string]*result `json:"functions"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 5, "cold starts per function; the median is reported")
	out := fs.String("out", "", "also write the figures as JSON to this file")
	timeout := fs.Duration("timeout", 10*time.Second, "longest wait for a function's first answer")
	verbose := fs.Bool("v", false, "log every request the AWS stub answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || fs.NArg() > 0 {
		return errors.New("usage: coldstart [-n runs>=1] [-out file.json] [-timeout 10s] [-v]")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// An interrupt still runs the deferred kills and clean-up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	names, err := functionDirs(root)
	if err != nil {
		return err
	}
	stub, err := startAWSStub(log)
	if err != nil {
		return err
	}
	defer stub.Close()
	vals := settings(stub.URL)
	if err := checkTable(names, vals); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return fmt.Errorf("make the build directory: %w", err)
	}
	defer os.RemoveAll(work)

	results := map[string]*result{}
	for _, name := range names {
		results[name] = &result{}
	}
	host := target{runtime.GOOS, runtime.GOARCH}
	began := time.Now()
	if err := buildAll(ctx, root, work, names, host, results); err != nil {
		return err
	}
	log.Info("built", "functions", len(names), "targets", []string{lambdaTarget.String(), host.String()},
		"took", time.Since(began).Round(time.Millisecond))

	awsDir := filepath.Join(work, "aws")
	if err := emptyAWSFiles(awsDir); err != nil {
		return err
	}
	began = time.Now()
	// Rounds go through every function in turn, so a noisy moment of the
	// machine spreads over all of them rather than skewing one.
	for round := range *n {
		for _, name := range names {
			r := results[name]
			if r.failed {
				continue
			}
			env := lambdaEnv(name, functions[name], vals, stub.URL, awsDir, filepath.Dir(r.hostBinary))
			d, rss, err := coldStart(ctx, name, functions[name], r.hostBinary, env, *timeout)
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", context.Cause(ctx))
			}
			if err != nil {
				log.Error("cold start failed", "function", name, "round", round+1, "err", err)
				r.fail(err)
				continue
			}
			r.ColdStartSamplesNS = append(r.ColdStartSamplesNS, d.Nanoseconds())
			r.PeakRSSBytes = max(r.PeakRSSBytes, rss)
		}
	}
	for _, r := range results {
		if !r.failed {
			r.ColdStartNS = median(r.ColdStartSamplesNS)
		}
	}
	log.Info("measured", "runs", *n*len(names), "took", time.Since(began).Round(time.Millisecond))

	rep := report{GOOS: host.goos, GOARCH: host.goarch, N: *n, Functions: results}
	if err := printTable(stdout, rep, names, host); err != nil {
		return err
	}
	if *out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encode the report: %w", err)
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	var failed []string
	for _, name := range names {
		if results[name].failed {
			failed = append(failed, name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("not measured: %s", strings.Join(failed, ", "))
	}
	return nil
}

// moduleRoot is the nearest directory at or above the working directory
// whose go.mod is this module's (infra/cdk has a go.mod of its own).
func moduleRoot() (string, error) {
	start, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the working directory: %w", err)
	}
	for dir := start; ; {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleLine(b) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s at or above %s: run from the repository", modulePath, start)
		}
		dir = parent
	}
}

func moduleLine(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// functionDirs lists functions/, sorted.
func functionDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no functions in %s", filepath.Join(root, "functions"))
	}
	return names, nil
}

// buildAll builds every function for Lambda and for this machine. A function
// that does not build is marked failed and the others go on.
func buildAll(ctx context.Context, root, work string, names []string, host target, results map[string]*result) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("find the go command: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, buildTimeout, fmt.Errorf("builds took longer than %v", buildTimeout))
	defer cancel()
	targets := []target{lambdaTarget}
	if host != lambdaTarget {
		targets = append(targets, host)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelBuilds)
	for _, name := range names {
		for _, t := range targets {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				bin := filepath.Join(work, t.goos+"-"+t.goarch, name, "bootstrap")
				size, err := build(ctx, goBin, root, name, t, bin)
				mu.Lock()
				defer mu.Unlock()
				r := results[name]
				if err != nil {
					if !r.failed { // the first build error is enough
						r.fail(err)
					}
					return
				}
				if t == lambdaTarget {
					r.BootstrapBytes = size
				}
				if t == host {
					r.HostBootstrapBytes, r.hostBinary = size, bin
				}
			})
		}
	}
	wg.Wait()
	return context.Cause(ctx)
}

// build runs the Makefile's build of one function for t and returns the
// binary's size.
func build(ctx context.Context, goBin, root, name string, t target, bin string) (int64, error) {
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-tags", "lambda.norpc", "-trimpath",
		"-ldflags=-s -w -buildid=", "-o", bin, "./functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build %s for %s: %w: %s", name, t, err, strings.TrimSpace(string(out)))
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", bin, err)
	}
	return fi.Size(), nil
}

// emptyAWSFiles makes empty shared config and credentials files, so the SDK
// reads neither this machine's ~/.aws nor anything else.
func emptyAWSFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			return fmt.Errorf("write empty aws %s: %w", f, err)
		}
	}
	return nil
}

// lambdaEnv is the whole environment of a function process: what Lambda
// sets, AWS pointed at the stub, and the function's own settings. Nothing
// is inherited from this process.
func lambdaEnv(name string, f function, vals map[string]string, stubURL, awsDir, taskRoot string) []string {
	fn := "kapso-bridge-" + name
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + fn,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + eventTime.Format("2006/01/02") + "/[$LATEST]coldstart",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"_HANDLER=bootstrap",
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		// Static dummy credentials: the SDK signs with them and looks no further.
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN=coldstart",
		"AWS_ENDPOINT_URL=" + stubURL,
		"AWS_CONFIG_FILE=" + filepath.Join(awsDir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(awsDir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for _, k := range f.env {
		env = append(env, k+"="+vals[k])
	}
	return env
}

func functionARN(name string) string {
	return "arn:aws:lambda:" + region + ":" + accountID + ":function:kapso-bridge-" + name
}

// coldStart execs binary, sends the function's first event through a fresh
// Runtime API and returns the time from just before exec to the arrival of
// the response, and the process's peak RSS once it answered. The process is
// killed before it returns, whatever happened.
func coldStart(ctx context.Context, name string, f function, binary string, env []string, timeout time.Duration) (time.Duration, int64, error) {
	api, err := runtimeapi.Start(runtimeapi.Config{FunctionARN: functionARN(name)})
	if err != nil {
		return 0, 0, err
	}
	defer api.Close()
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("no answer within %v", timeout))
	defer cancel()

	output := &tail{max: 16 << 10}
	cmd := exec.Command(binary)
	cmd.Dir = filepath.Dir(binary)
	cmd.Env = append(env, "AWS_LAMBDA_RUNTIME_API="+api.Addr())
	cmd.Stdout, cmd.Stderr = output, output
	cmd.WaitDelay = time.Second
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start %s: %w", binary, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()

	type answer struct {
		res runtimeapi.Result
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := api.Invoke(ctx, f.event)
		answered <- answer{res, err}
	}()
	judge := func(a answer) (time.Duration, error) {
		var ie *runtimeapi.InitError
		switch {
		case errors.As(a.err, &ie):
			return 0, a.err
		case a.err != nil:
			return 0, fmt.Errorf("first invocation: %w; last output: %s", a.err, output.lastLine())
		case a.res.Err != nil:
			return 0, fmt.Errorf("first invocation failed: %w", a.res.Err)
		}
		if err := f.check(a.res.Body); err != nil {
			return 0, fmt.Errorf("first invocation: %w", err)
		}
		return a.res.AnsweredAt.Sub(started), nil
	}
	select {
	case a := <-answered:
		d, err := judge(a)
		return d, peakRSS(cmd.Process.Pid), err
	case <-exited:
		select {
		case a := <-answered:
			d, err := judge(a)
			return d, 0, err
		default:
		}
		if ie := api.InitError(); ie != nil {
			return 0, 0, ie
		}
		// What Lambda reports for a runtime that exits during init.
		return 0, 0, &runtimeapi.InitError{FunctionError: runtimeapi.FunctionError{Type: "Runtime.ExitError",
			Message: fmt.Sprintf("%v before its first answer; last output: %s", waitErr, output.lastLine())}}
	}
}

// peakRSS is a live process's VmHWM in bytes, from /proc; 0 where there is none.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// tail keeps the end of a process's output, to show why it failed.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "(none)"
	}
	return excerpt([]byte(s))
}

func excerpt(b []byte) string {
	const limit = 400
	s := strings.TrimSpace(string(b))
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

func median(samples []int64) int64 {
	s := slices.Clone(samples)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w io.Writer, rep report, names []string, host target) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "function\tbootstrap %s\thost %s\tcold start (median of %d)\tpeak RSS\n", lambdaTarget, host, rep.N)
	mib := func(n int64) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	}
	for _, name := range names {
		r := rep.Functions[name]
		cold := fmt.Sprintf("%.2f ms", float64(r.ColdStartNS)/1e6)
		switch {
		case r.InitError != nil:
			cold = "init error"
		case r.failed:
			cold = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, mib(r.BootstrapBytes), mib(r.HostBootstrapBytes), cold, mib(r.PeakRSSBytes))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the table: %w", err)
	}
	for _, name := range names {
		if r := rep.Functions[name]; r.failed {
			fmt.Fprintf(w, "%s: %s\n", name, r.Error)
		}
	}
	return nil
}
