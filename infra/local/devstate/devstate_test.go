package devstate

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func state(port string, pid int) State {
	return State{PID: pid, Port: port, URL: "http://127.0.0.1:" + port, SimURL: "http://127.0.0.1:1" + port,
		SQSEndpoint: "http://127.0.0.1:4" + port, Queues: map[string]Queue{"messages": {URL: "q-" + port, DLQURL: "dlq-" + port}},
		StartedAt: time.Now().UTC().Truncate(time.Second)}
}

// goneProcess is the id of a process that has exited.
func goneProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// A tool finds the make dev of its PORT and no other.
func TestFindTheMakeDevOfItsPort(t *testing.T) {
	dir := t.TempDir()
	mine := state("18080", os.Getpid())
	if err := Write(dir, mine); err != nil {
		t.Fatal(err)
	}
	got, err := Find(dir, "18080")
	if err != nil || got.SQSEndpoint != mine.SQSEndpoint || got.Queues["messages"] != mine.Queues["messages"] ||
		!got.StartedAt.Equal(mine.StartedAt) {
		t.Fatalf("found %+v, %v", got, err)
	}
	// Another PORT's file is not used: none runs on 18090.
	_, err = Find(dir, "18090")
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "PORT=18090") ||
		!strings.Contains(err.Error(), "make dev runs with PORT=18080") {
		t.Fatalf("PORT 18090: %v", err)
	}
	// No PORT is 8080.
	if _, err := Find(dir, ""); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "PORT=8080") {
		t.Fatalf("default PORT: %v", err)
	}
}

// A file left by a make dev that is gone is refused, and make dev's start
// prunes it.
func TestStaleStateIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, state("18080", goneProcess(t))); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, state("18081", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	_, err := Find(dir, "18080")
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "no longer running") ||
		!strings.Contains(err.Error(), "make dev runs with PORT=18081") {
		t.Fatalf("stale: %v", err)
	}
	Prune(dir)
	if _, err := os.Stat(Path(dir, "18080")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale file kept: %v", err)
	}
	if _, err := Find(dir, "18081"); err != nil {
		t.Errorf("a live one pruned: %v", err)
	}
}

// A file naming another PORT than its name, or not JSON, is refused.
func TestMalformedStateIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := state("18080", os.Getpid())
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(Path(dir, "18080"), Path(dir, "18082")); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "18082"); err == nil || !strings.Contains(err.Error(), "names PORT=18080") {
		t.Errorf("renamed: %v", err)
	}
	if err := os.WriteFile(Path(dir, "18083"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "18083"); err == nil || !strings.Contains(err.Error(), "not a make dev state file") {
		t.Errorf("not JSON: %v", err)
	}
}

// A make dev removes its own file on exit, not one a newer make dev of the
// same PORT wrote.
func TestRemoveOnlyItsOwn(t *testing.T) {
	dir := t.TempDir()
	old, cur := state("18080", goneProcess(t)), state("18080", os.Getpid())
	if err := Write(dir, cur); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "18080"); err != nil {
		t.Fatalf("removed another's file: %v", err)
	}
	if err := Remove(dir, cur); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "18080"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after removal: %v", err)
	}
}
