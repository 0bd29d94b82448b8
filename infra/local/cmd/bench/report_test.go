package main

import (
	"strings"
	"testing"
)

const sampleBench = `goos: linux
goarch: amd64
pkg: github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook
BenchmarkIngest/kapso-message-2         	    3000	    300000 ns/op	   5.33 MB/s	   20000 B/op	     200 allocs/op
BenchmarkIngest/kapso-message-2         	    3000	    100000 ns/op	   5.33 MB/s	   10000 B/op	     100 allocs/op
BenchmarkIngest/kapso-message-2         	    3000	    200000 ns/op	   5.33 MB/s	   30000 B/op	     300 allocs/op
BenchmarkIngestFloor/kapso-message-2    	    3000	    150000 ns/op
pkg: github.com/kapso-bridge/kapso-bridge/shared/meta
BenchmarkSplitDecode/meta-mixed-50-2    	    5000	     40000 ns/op	   10 allocs/op
PASS
`

func TestParseBenchTakesMediansPerPackage(t *testing.T) {
	got := parseBench(sampleBench)
	in := got["webhook/BenchmarkIngest/kapso-message"]
	if in.NsPerOp != 200000 || in.BytesPerOp != 20000 || in.AllocsPerOp != 200 {
		t.Fatalf("ingest median %+v", in)
	}
	if got["webhook/BenchmarkIngestFloor/kapso-message"].NsPerOp != 150000 {
		t.Fatalf("floor %+v", got)
	}
	if s := got["meta/BenchmarkSplitDecode/meta-mixed-50"]; s.NsPerOp != 40000 || s.AllocsPerOp != 10 {
		t.Fatalf("split %+v", s)
	}
	if len(got) != 3 {
		t.Fatalf("%d benchmarks parsed: %v", len(got), got)
	}
}

func TestParseCallsReadsEachPayloadsCount(t *testing.T) {
	out := `=== RUN   TestAWSCallsPerDelivery/kapso-message
    bench_test.go:190: aws_calls payload=kapso-message new=3 duplicate=1 aside=4
=== RUN   TestAWSCallsPerDelivery/meta-mixed-50
    bench_test.go:190: aws_calls payload=meta-mixed-50 new=5 duplicate=2 aside=6
--- PASS: TestAWSCallsPerDelivery (1.00s)
    --- PASS: TestAWSCallsPerDelivery/kapso-message (0.50s)
    --- PASS: TestAWSCallsPerDelivery/meta-mixed-50 (0.50s)
`
	got := parseCalls(out)
	if got["kapso-message"] != (callCount{3, 1, 4}) || got["meta-mixed-50"] != (callCount{5, 2, 6}) {
		t.Fatalf("calls %+v", got)
	}
}

func TestWorkerCallsAreParsedAndChecked(t *testing.T) {
	out := `=== RUN   TestAWSCallsPerEvent
    calls_test.go:57: aws_calls_per_event message=3.00 duplicate_message=4.90 status=1.00 next_status=1.50 duplicate_status=1.00
--- PASS: TestAWSCallsPerEvent (1.72s)
`
	got := parseWorkerCalls(out)
	if len(got) != 5 || got["message"] != 3 || got["duplicate_message"] != 4.9 || got["next_status"] != 1.5 {
		t.Fatalf("calls %v", got)
	}
	r := Results{Targets: map[string]float64{}}
	r.addWorkerCalls(got)
	if len(r.Missed) != 1 || !strings.Contains(r.Missed[0], "1.50 AWS calls per next_status") {
		t.Fatalf("missed %v", r.Missed)
	}
	r = Results{Targets: map[string]float64{}}
	r.addWorkerCalls(map[string]float64{})
	if len(r.Missed) != 4 {
		t.Fatalf("no counts, missed %v", r.Missed)
	}
}

func TestAssembleFlagsEveryMissedTarget(t *testing.T) {
	ingest := map[string]benchStat{
		"webhook/BenchmarkIngest/meta-mixed-50":      {NsPerOp: 2000},
		"webhook/BenchmarkIngestFloor/meta-mixed-50": {NsPerOp: 1000},
	}
	split := map[string]benchStat{"meta/BenchmarkSplitDecode/meta-mixed-50": {NsPerOp: 900}}
	peer := peerResults{Payloads: map[string]peerPayload{"meta-mixed-50": {PeerIngestNs: 2500, PeerNormalizeNs: 1000}}}
	r := assemble(ingest, split, map[string]callCount{"meta-mixed-50": {3, 1, 4}}, peer, coldResults{})
	missed := strings.Join(r.Missed, "\n")
	for _, want := range []string{"meta-mixed-50: ingest 2.00× its floor", "meta-mixed-50: ingest 0.80× the TypeScript peer",
		"meta-mixed-50: split 0.90× normalizeWebhook", "kapso-message: no ingest or floor figure"} {
		if !strings.Contains(missed, want) {
			t.Errorf("missing %q in:\n%s", want, missed)
		}
	}
	if strings.Contains(missed, "meta-mixed-50: 3 AWS calls") {
		t.Error("a met call target was reported missed")
	}
}
