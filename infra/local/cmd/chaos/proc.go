package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// bridge is the kapso-bridge dev process under test: started, killed with
// SIGKILL and started again on the same port, against the same DynamoDB
// and SQS servers.
type bridge struct {
	bin     string
	env     []string
	url     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// buildBridge builds the dev binary into dir.
func buildBridge(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "kapso-bridge-dev")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./infra/local/cmd/dev")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the dev binary: %w\n%s", err, out)
	}
	return bin, nil
}

func (b *bridge) start(ctx context.Context) error {
	log, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(b.bin)
	cmd.Env = b.env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start kapso-bridge: %w", err)
	}
	b.cmd, b.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(b.done) }()
	return b.waitHealthy(ctx, 90*time.Second)
}

func (b *bridge) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return fmt.Errorf("kapso-bridge exited while starting: see %s", b.logPath)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := c.Get(b.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("kapso-bridge not healthy after %s: see %s", limit, b.logPath)
}

// kill ends the process with SIGKILL and waits for it.
func (b *bridge) kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.done
}

// stop ends the process with SIGTERM (SIGKILL after 10 s).
func (b *bridge) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(b.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.kill()
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
