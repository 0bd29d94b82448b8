// Command chaos is make chaos: a fault-injecting run of kapso-bridge's local
// stack. It starts DynamoDB Local and fauxqs, runs the Kapso simulator in
// its own process (this one) with faults on its Platform API, starts the
// kapso-bridge dev binary as a child with faults injected into its DynamoDB
// and SQS calls, drives tenants and their traffic through the simulator
// (and Meta-format deliveries of its own), kills the child with SIGKILL and
// starts it again mid-run, lets the reconciler run, and checks from the read
// API alone that every message is stored once with its final status, that
// every tenant is where it should be and that every dead letter is
// explained. Every event goes to a webhook receiver of this process that
// fails a share of deliveries and is restarted mid-run; each stored change
// must reach it under one event id, none without its change, and the feed
// must hold the same ids. Some of the persons' messages carry media, fetched
// while the simulator's media answers fail, expire or lie about their
// sha256: each one's copy must be stored with the simulator's bytes (read
// back through its presigned URL and hashed), or failed for an injected
// wrong sha256; kapso-bridge's media worker copies them (should nothing
// drain the media queue, this process runs the worker on it). Mid-traffic
// it erases two people and offboards a tenant; once the reconciler
// finished both, everything kept that names them is sent again and
// redriven, and nothing erased may be read again. It prints its counters
// as "name value" lines and exits 1 on a mismatch.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg := defaultConfig()
	flag.IntVar(&cfg.Deliveries, "deliveries", cfg.Deliveries, "webhook deliveries to make, at least")
	flag.IntVar(&cfg.Tenants, "tenants", cfg.Tenants, "tenants")
	flag.Float64Var(&cfg.FaultRate, "fault-rate", cfg.FaultRate, "share of DynamoDB, SQS and Kapso API calls failed")
	flag.IntVar(&cfg.Kills, "kills", cfg.Kills, "times kapso-bridge is killed with SIGKILL and started again")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random choice (0: from the clock)")
	flag.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "the whole run's limit")
	flag.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "traffic sent at once")
	flag.Float64Var(&cfg.ReceiverFailRate, "receiver-fail-rate", cfg.ReceiverFailRate,
		"share of event webhook deliveries the receiver answers 500")
	flag.IntVar(&cfg.ReceiverRestarts, "receiver-restarts", cfg.ReceiverRestarts,
		"times the event receiver is stopped and started again")
	flag.BoolVar(&cfg.Verbose, "v", false, "print progress")
	flag.Parse()
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Progress = io.Discard
	if cfg.Verbose {
		cfg.Progress = os.Stderr
	}
	fmt.Fprintf(os.Stderr, "chaos: seed %d, %d deliveries, %d tenants, fault rate %.3f, %d kills; "+
		"event receiver failing %.3f, %d restarts\n", cfg.Seed, cfg.Deliveries, cfg.Tenants, cfg.FaultRate, cfg.Kills,
		cfg.ReceiverFailRate, cfg.ReceiverRestarts)
	res, err := run(ctx, cfg)
	res.print(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !res.ok() {
		fmt.Fprintln(os.Stderr, "chaos: mismatches found; details above and in", res.Dir)
		os.Exit(1)
	}
}
