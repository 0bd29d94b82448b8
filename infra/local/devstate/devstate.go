// Package devstate is how the tools that work on a running make dev (make
// redrive, make reconcile, sendevent) find it: each make dev writes
// .local/dev-<PORT>.json with where its servers and queues are, and removes
// it when it stops. A tool reads the file of its PORT (8080 unless set), so
// it reaches that make dev and no other, and never looks among the
// machine's processes.
package devstate

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
)

// Queue is one of make dev's queues and its DLQ.
type Queue struct {
	URL    string `json:"url"`
	DLQURL string `json:"dlq_url"`
}

// State is what a running make dev tells its tools.
type State struct {
	PID  int    `json:"pid"`
	Port string `json:"port"`
	// URL is kapso-bridge's; SimURL the Kapso simulator's, "" when a real
	// Kapso API is configured.
	URL              string `json:"url"`
	SimURL           string `json:"sim_url,omitempty"`
	KapsoAPIBaseURL  string `json:"kapso_api_base_url"`
	KapsoMetaBaseURL string `json:"kapso_meta_base_url"`
	DynamoDBEndpoint string `json:"dynamodb_endpoint"`
	SQSEndpoint      string `json:"sqs_endpoint"`
	// Tables and Queues by their schema id (shared/schema).
	Tables    map[string]string `json:"tables"`
	Queues    map[string]Queue  `json:"queues"`
	StartedAt time.Time         `json:"started_at"`
}

// ErrNotRunning: no make dev runs with that PORT.
var ErrNotRunning = errors.New("no make dev runs")

// ErrStale: the file's make dev is gone (killed before it could remove it).
var ErrStale = errors.New("stale make dev state")

// Dir is the repository's .local folder (git-ignored), where make dev keeps
// its state files and data.
func Dir() (string, error) {
	root, err := services.FindRepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".local"), nil
}

// Path is the state file of the make dev on port.
func Path(dir, port string) string { return filepath.Join(dir, "dev-"+port+".json") }

// Write records s in dir, whole or not at all.
func Write(dir string, s State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make dev state: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("make dev state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".dev-*.json")
	if err != nil {
		return fmt.Errorf("make dev state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("make dev state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("make dev state: %w", err)
	}
	if err := os.Rename(tmp.Name(), Path(dir, s.Port)); err != nil {
		return fmt.Errorf("make dev state: %w", err)
	}
	return nil
}

// Remove deletes s's file, unless another make dev has written it since.
func Remove(dir string, s State) error {
	cur, err := read(Path(dir, s.Port))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil && cur.PID != s.PID {
		return nil
	}
	if err := os.Remove(Path(dir, s.Port)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove make dev state: %w", err)
	}
	return nil
}

// Find is the make dev running with port (8080 when ""), from its file in
// dir. A file whose process is gone is refused (ErrStale), as is none
// (ErrNotRunning); either error says which ports do have a make dev.
func Find(dir, port string) (State, error) {
	port = cmp.Or(port, "8080")
	path := Path(dir, port)
	s, err := read(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return State{}, fmt.Errorf("%w with PORT=%s (no %s): start make dev, or set PORT to the one it runs with%s",
			ErrNotRunning, port, path, others(dir, port))
	case err != nil:
		return State{}, err
	case s.Port != port:
		return State{}, fmt.Errorf("%s names PORT=%s, not %s: remove it and restart make dev", path, s.Port, port)
	case !alive(s.PID):
		return State{}, fmt.Errorf("%w: %s was left by a make dev (pid %d) that is no longer running: "+
			"no make dev runs with PORT=%s; start make dev (it replaces the file)%s", ErrStale, path, s.PID, port, others(dir, port))
	}
	return s, nil
}

// Prune removes the files of make devs that are gone.
func Prune(dir string) {
	for _, path := range files(dir) {
		if s, err := read(path); err == nil && !alive(s.PID) {
			_ = os.Remove(path)
		}
	}
}

func read(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s is not a make dev state file: %w", path, err)
	}
	return s, nil
}

func files(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "dev-*.json"))
	return paths
}

// others names the ports of the other make devs running, for an error.
func others(dir, port string) string {
	var ports []string
	for _, path := range files(dir) {
		if s, err := read(path); err == nil && s.Port != port && alive(s.PID) &&
			path == Path(dir, s.Port) {
			ports = append(ports, s.Port)
		}
	}
	if len(ports) == 0 {
		return ""
	}
	slices.Sort(ports)
	return " (make dev runs with PORT=" + strings.Join(ports, ", PORT=") + ")"
}

// alive: a process with this id exists (one of another user's counts).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
