package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The small chaos run of make test: about 1,000 deliveries to 10 tenants
// with faults at 5% and one SIGKILL of kapso-bridge, every event POSTed to
// a receiver that fails 5% of them and restarts once, checked from the
// read API, the receiver and the feed. make chaos runs the full one.
func TestSmallChaosRun(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes about four minutes")
	}
	for _, tool := range []string{"java", "node", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: the chaos run needs DynamoDB Local, fauxqs and the go tool", tool)
		}
	}
	cfg := defaultConfig()
	// An erasure's final sweep comes two minutes after its request, past
	// the end of the traffic, and what the deletions took is sent again and
	// settled: the run takes four to six minutes on two busy cores.
	cfg.Deliveries, cfg.Tenants, cfg.Kills, cfg.Seed, cfg.Timeout = 1000, 10, 1, 7, 7*time.Minute
	cfg.TimeScale, cfg.FinalReconciles = 0.03, 1
	var progress bytes.Buffer
	cfg.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	t.Cleanup(func() {
		if !t.Failed() && res.Dir != "" {
			_ = os.RemoveAll(res.Dir) // logs are kept only for a failure
		}
	})
	var out strings.Builder
	res.print(&out)
	t.Logf("counters:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	if !res.ok() {
		t.Fatalf("mismatches (see %s/mismatches.txt and dlq.txt)\nprogress:\n%s", res.Dir, progress.String())
	}
	if res.Deliveries < cfg.Deliveries || res.Restarts != cfg.Kills || res.FaultsInjected == 0 || res.Messages == 0 ||
		res.Sends == 0 || res.SentByKapso == 0 || res.Media == 0 {
		t.Errorf("the run was not what it should be: %d deliveries, %d restarts, %d faults, %d messages checked, "+
			"%d sends (%d taken by Kapso), %d media", res.Deliveries, res.Restarts, res.FaultsInjected, res.Messages, res.Sends,
			res.SentByKapso, res.Media)
	}
	if res.Erasures != 2 || res.ErasuresDone != 2 || res.Offboarded != 1 || res.TenantDeletedEvents != 1 ||
		res.ErasedBack != 0 || res.OffboardedBack != 0 || res.ErasedMediaBack != 0 {
		t.Errorf("the deletions were not what they should be: %d erasures (%d done), %d offboarded (%d tenant.deleted); "+
			"back: %d erased, %d offboarded, %d media", res.Erasures, res.ErasuresDone, res.Offboarded,
			res.TenantDeletedEvents, res.ErasedBack, res.OffboardedBack, res.ErasedMediaBack)
	}
	if res.EventsReceived < res.Messages || res.EventsFailedOnPurpose == 0 || res.ReceiverRestarts != cfg.ReceiverRestarts {
		t.Errorf("the event receiver's run was not what it should be: %d events for %d messages checked, %d failed on "+
			"purpose, %d restarts", res.EventsReceived, res.Messages, res.EventsFailedOnPurpose, res.ReceiverRestarts)
	}
}
