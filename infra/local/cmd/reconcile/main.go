// Command reconcile runs one reconciler pass in the running local stack
// (make dev) and prints its summary: make reconcile.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reconcile:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	base := fs.String("url", "http://127.0.0.1:"+port, "the local stack (make dev)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*base, "/")+stack.ReconcilePath, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is make dev running at %s? %w", *base, err)
	}
	defer res.Body.Close()
	var answer struct {
		Report map[string]any `json:"report"`
		Error  string         `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
		return fmt.Errorf("%s answered %s, not a reconciler report: %w", *base, res.Status, err)
	}
	b, _ := json.MarshalIndent(answer.Report, "", "  ")
	fmt.Fprintf(out, "one reconciler pass at %s:\n%s\n", *base, b)
	if answer.Error != "" {
		return fmt.Errorf("the pass reported: %s", answer.Error)
	}
	return nil
}
