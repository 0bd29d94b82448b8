// Command bench is make bench: it measures the ingest against its floor and
// against what a TypeScript team would run instead, the workers' split
// against Kapso's own normalizeWebhook, the AWS calls of a delivery, and each
// function's size and cold start, all in one run on this machine, so every
// figure is a ratio to a baseline measured beside it. It prints a table and
// writes bench-results.json.
//
//	go run ./infra/local/cmd/bench [-count 3] [-quick] [-out bench-results.json]
//	    [-load=true] [-load-only] [-deliveries 3000] [-concurrency 16] [-invocations 1000]
//	    [-events=true] [-events-deliveries 3000] [-events-rate 100]
//	    [-media=true] [-media-only] [-media-video-bytes 16777216] [-media-document-bytes 104857600]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// Payloads are the deliveries kept in events/bench.
var payloads = []string{"kapso-message", "kapso-batch-50", "meta-mixed-50", "meta-statuses-1000"}

// Targets, as docs/performance.md states them.
const (
	targetIngestVsFloor = 1.3
	targetIngestVsPeer  = 0.75
	targetSplitVsPeer   = 0.5
	targetColdStartMS   = 100
	targetCallsNew      = 3
	targetCallsDup      = 1
	// The messages worker in the steady state: per new message event, per
	// status event.
	targetWorkerCallsMessage = 3
	targetWorkerCallsStatus  = 1
)

func main() {
	count := flag.Int("count", 3, "runs of each Go benchmark; the median is reported")
	quick := flag.Bool("quick", false, "a smoke run: few iterations, figures not meaningful")
	out := flag.String("out", "bench-results.json", "where to write the results")
	var lo loadOptions
	load := flag.Bool("load", true, "run the load section: the local stack under concurrent signed deliveries")
	loadOnly := flag.Bool("load-only", false, "run the load section and the AWS call counts only")
	flag.IntVar(&lo.Deliveries, "deliveries", 3000, "load: signed deliveries to send")
	flag.IntVar(&lo.Concurrency, "concurrency", 16, "load: senders at once, and workers of the capacity loops")
	flag.IntVar(&lo.Invocations, "invocations", 1000, "load: invocations of the ingest and messages binaries")
	flag.IntVar(&lo.SampleEvery, "sample-every", 10, "load: measure every n-th delivery's lag to readable")
	eo := eventsOptions{SampleEvery: 10}
	evs := flag.Bool("events", true, "run the events section: the delivery path without and with the publisher, the webhooks' latency")
	flag.IntVar(&eo.Deliveries, "events-deliveries", 3000, "events: deliveries at a steady rate, in each of its two runs")
	flag.Float64Var(&eo.Rate, "events-rate", 100, "events: deliveries a second")
	withMedia := flag.Bool("media", true, "run the media section: the media function binary copying a video and a document")
	mediaOnly := flag.Bool("media-only", false, "run the media section only")
	video := flag.Int64("media-video-bytes", 0, "media: the video's size (default 16 MB, Meta's limit; quick: 9 MiB)")
	document := flag.Int64("media-document-bytes", 0, "media: the document's size (default 100 MB, Meta's limit; quick: 1 MiB)")
	flag.Parse()
	if !*evs || eo.Rate <= 0 {
		eo.Deliveries = 0
	}
	if !*load {
		lo.Deliveries = 0
	}
	if *quick {
		lo.Deliveries, lo.Invocations = min(lo.Deliveries, 300), min(lo.Invocations, 100)
		eo.Deliveries = min(eo.Deliveries, 300)
	}
	var mo mediaOptions
	if *withMedia || *mediaOnly {
		mo.Files = mediaFiles(*quick)
		for i, size := range []int64{*video, *document} {
			if size > 0 {
				mo.Files[i].Bytes = size
			}
		}
	}
	if *mediaOnly {
		if err := runMediaOnly(mo, *out, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*count, *quick, *loadOnly, lo, eo, mo, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(count int, quick, loadOnly bool, lo loadOptions, eo eventsOptions, mo mediaOptions, out string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	benchtime := "1s"
	if quick {
		count, benchtime = 1, "20x"
	}
	tmp, err := os.MkdirTemp("", "kapso-bridge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	step := func(what string) { fmt.Fprintf(os.Stderr, "bench: %s...\n", what) }
	if loadOnly {
		return runLoadOnly(ctx, lo, eo, out, w, step)
	}
	step("ingest and its floor")
	ingest, err := goBench(ctx, count, benchtime, "^(BenchmarkIngest|BenchmarkIngestFloor)$", "./shared/httpapi/webhook/")
	if err != nil {
		return err
	}
	step("split and decode in the workers")
	split, err := goBench(ctx, count, benchtime, "^BenchmarkSplitDecode$", "./shared/meta/", "./shared/kapso/")
	if err != nil {
		return err
	}
	step("AWS calls against DynamoDB Local and the local SQS server")
	calls, err := awsCalls(ctx)
	if err != nil {
		return err
	}
	perEvent, err := workerCalls(ctx)
	if err != nil {
		return err
	}
	step("the TypeScript peer")
	peerFile := filepath.Join(tmp, "peer.json")
	peerArgs := []string{"scripts/bench/peer.mjs", "--out", peerFile}
	if quick {
		peerArgs = append(peerArgs, "--quick")
	}
	if err := command(ctx, os.Stderr, "node", peerArgs...); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	var peer peerResults
	if err := readJSON(peerFile, &peer); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	step("function sizes and cold starts")
	coldFile := filepath.Join(tmp, "coldstart.json")
	n := "5"
	if quick {
		n = "1"
	}
	if err := command(ctx, os.Stderr, "go", "run", "./infra/local/cmd/coldstart", "-n", n, "-out", coldFile); err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	var cold coldResults
	if err := readJSON(coldFile, &cold); err != nil {
		return fmt.Errorf("cold start: %w", err)
	}

	res := assemble(ingest, split, calls, peer, cold)
	res.addWorkerCalls(perEvent)
	if lo.Deliveries > 0 {
		if err := res.addLoad(ctx, lo, step); err != nil {
			return err
		}
	}
	if eo.Deliveries > 0 {
		if err := res.addEvents(ctx, eo, step); err != nil {
			return err
		}
	}
	if len(mo.Files) > 0 {
		if err := res.addMedia(ctx, mo, step); err != nil {
			return err
		}
	}
	res.Machine = machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Node: peer.Node,
		Count: count, Quick: quick, Load: loadAverage(), When: time.Now().UTC().Format(time.RFC3339)}
	printTable(w, res)
	return write(res, out, w)
}

// runLoadOnly is -load-only: the load and events sections and the cost
// model, with the AWS call counts it is computed from.
func runLoadOnly(ctx context.Context, lo loadOptions, eo eventsOptions, out string, w io.Writer, step func(string)) error {
	if lo.Deliveries <= 0 {
		return errors.New("-load-only with -load=false: nothing to run")
	}
	step("AWS calls against DynamoDB Local and the local SQS server")
	calls, err := awsCalls(ctx)
	if err != nil {
		return err
	}
	perEvent, err := workerCalls(ctx)
	if err != nil {
		return err
	}
	res := Results{Calls: calls, Targets: map[string]float64{}, Missed: []string{}}
	res.addWorkerCalls(perEvent)
	if err := res.addLoad(ctx, lo, step); err != nil {
		return err
	}
	if eo.Deliveries > 0 {
		if err := res.addEvents(ctx, eo, step); err != nil {
			return err
		}
	}
	return writeSection(res, func(w io.Writer, r Results) {
		printLoad(w, r)
		printEvents(w, r)
	}, out, w)
}

// runMediaOnly is -media-only: the media section alone.
func runMediaOnly(mo mediaOptions, out string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res := Results{Targets: map[string]float64{}, Missed: []string{}}
	if err := res.addMedia(ctx, mo, func(what string) { fmt.Fprintf(os.Stderr, "bench: %s...\n", what) }); err != nil {
		return err
	}
	return writeSection(res, printMedia, out, w)
}

// writeSection ends a run of one section: the machine, its table, the
// targets missed, the results file.
func writeSection(res Results, print func(io.Writer, Results), out string, w io.Writer) error {
	res.Machine = machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Load: loadAverage(),
		When: time.Now().UTC().Format(time.RFC3339)}
	print(w, res)
	for _, m := range res.Missed {
		fmt.Fprintln(w, "missed:", m)
	}
	return write(res, out, w)
}

func write(res Results, out string, w io.Writer) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nwritten to %s\n", out)
	if len(res.Missed) > 0 {
		fmt.Fprintf(w, "%d targets missed (see \"missed\")\n", len(res.Missed))
	}
	return nil
}

// goBench runs Go benchmarks and returns their medians by name.
func goBench(ctx context.Context, count int, benchtime, pattern string, pkgs ...string) (map[string]benchStat, error) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-benchmem",
		"-count", fmt.Sprint(count), "-benchtime", benchtime}, pkgs...)
	var buf bytes.Buffer
	if err := command(ctx, io.MultiWriter(&buf, os.Stderr), "go", args...); err != nil {
		return nil, fmt.Errorf("go %v: %w", args, err)
	}
	stats := parseBench(buf.String())
	if len(stats) == 0 {
		return nil, errors.New("benchmarks printed no result")
	}
	return stats, nil
}

// awsCalls runs the test that counts a delivery's AWS requests.
func awsCalls(ctx context.Context) (map[string]callCount, error) {
	var buf bytes.Buffer
	if err := command(ctx, &buf, "go", "test", "-count=1", "-v", "-run", "^TestAWSCallsPerDelivery$", "./shared/httpapi/webhook/"); err != nil {
		os.Stderr.Write(buf.Bytes())
		return nil, fmt.Errorf("count AWS calls: %w", err)
	}
	calls := parseCalls(buf.String())
	if len(calls) == 0 {
		return nil, errors.New("the AWS call test printed no count")
	}
	return calls, nil
}

// workerCalls runs the test that counts the messages worker's DynamoDB
// requests per event.
func workerCalls(ctx context.Context) (map[string]float64, error) {
	var buf bytes.Buffer
	if err := command(ctx, &buf, "go", "test", "-count=1", "-v", "-run", "^TestAWSCallsPerEvent$", "./shared/messagesworker/"); err != nil {
		os.Stderr.Write(buf.Bytes())
		return nil, fmt.Errorf("count the worker's AWS calls: %w", err)
	}
	calls := parseWorkerCalls(buf.String())
	if len(calls) == 0 {
		return nil, errors.New("the worker's AWS call test printed no count")
	}
	return calls, nil
}

func command(ctx context.Context, stdout io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	return cmd.Run()
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
