// Command reconcile runs one reconciler pass in the running local stack
// and prints its summary: make reconcile. The stack is the make dev
// running with $PORT (8080 unless set), found through its state file
// (infra/local/devstate); -url names another server.
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
	"text/tabwriter"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/reconcile"
)

func main() {
	stateDir, _ := devstate.Dir() // outside the repository only -url works; run says so
	if err := run(os.Args[1:], os.Getenv, stateDir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reconcile:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stateDir string, out io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	base := fs.String("url", "", "the local stack's URL (default: the make dev running with $PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		if stateDir == "" {
			return fmt.Errorf("cannot find make dev outside the kapso-bridge repository: give -url")
		}
		st, err := devstate.Find(stateDir, getenv("PORT"))
		if err != nil {
			return err
		}
		*base = st.URL
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
		Report *reconcile.Report `json:"report"`
		Error  string            `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || answer.Report == nil {
		return fmt.Errorf("%s answered %s, not a reconciler report: %v", *base, res.Status, err)
	}
	fmt.Fprintf(out, "one reconciler pass at %s\n", *base)
	printReport(out, *answer.Report)
	if answer.Error != "" {
		return fmt.Errorf("the pass reported: %s", answer.Error)
	}
	return nil
}

// printReport writes the summary as a table a person reads at a glance;
// the stack's log has it as one structured line.
func printReport(out io.Writer, r reconcile.Report) {
	if r.Skipped {
		fmt.Fprintln(out, "skipped: another run holds the lease")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tchecked\tfound\tfixed\t")
	for _, k := range []struct {
		name string
		c    reconcile.Counts
	}{
		{"tenants being deleted", r.Offboardings},
		{"redirects kept while SQS was down", r.Redirects}, {"links past their expiry", r.ExpiredLinks},
		{"tenants with an open attempt", r.OpenTenants}, {"setup links against Kapso's", r.SetupLinks},
		{"numbers missing a webhook", r.MissingWebhooks}, {"connected numbers", r.Numbers},
		{"numbers never announced", r.UnknownNumbers}, {"registered webhooks", r.Webhooks},
		{"messages (catch-up)", r.Messages}, {"conversations (catch-up)", r.Conversations},
		{"Kapso's failed deliveries", r.FailedDeliveries}, {"sends not yet accepted or failed", r.Outbound},
		{"failed media copies due", r.Media}, {"WABAs' templates (read, changed)", r.Templates},
		{"items under the message retention", r.Retention},
		{"erasures (open, advanced, done)", r.Erasures},
	} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", k.name, k.c.Checked, k.c.Found, k.c.Fixed)
	}
	tw.Flush()
	fmt.Fprintf(out, "kapso: %d calls of a budget of %d, %d rate-limited, %d waits (%d ms)\n",
		r.Kapso.Calls, r.Kapso.Budget, r.Kapso.RateLimited, r.Kapso.Waits, r.Kapso.WaitedMS)
	for _, d := range r.DLQs {
		inFlight := ""
		if d.InFlight > 0 {
			inFlight = fmt.Sprintf("%d in flight, ", d.InFlight)
		}
		fmt.Fprintf(out, "dead letters in %s: %d (%soldest %d s)\n", d.Queue, d.Depth, inFlight, d.OldestAgeSeconds)
	}
	state := "finished"
	if !r.Finished {
		state = "stopped by " + r.StoppedBy + "; the next run goes on from there"
	}
	fmt.Fprintf(out, "errors: %d; %s in %d ms\n", r.Errors, state, r.DurationMS)
}
