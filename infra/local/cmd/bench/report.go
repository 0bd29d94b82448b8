package main

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// benchStat is the median of one Go benchmark's runs.
type benchStat struct {
	NsPerOp     float64
	BytesPerOp  float64
	AllocsPerOp float64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads `go test -bench -benchmem` output. Names are prefixed
// with their package's last element ("webhook/BenchmarkIngest/kapso-message"),
// and repeated runs are reduced to their median.
func parseBench(out string) map[string]benchStat {
	runs := map[string][]benchStat{}
	pkg := ""
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = path.Base(strings.TrimSpace(p))
			continue
		}
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		var s benchStat
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				s.NsPerOp = v
			case "B/op":
				s.BytesPerOp = v
			case "allocs/op":
				s.AllocsPerOp = v
			}
		}
		if s.NsPerOp > 0 {
			name := pkg + "/" + m[1]
			runs[name] = append(runs[name], s)
		}
	}
	out2 := map[string]benchStat{}
	for name, rs := range runs {
		out2[name] = benchStat{
			NsPerOp:     median(rs, func(s benchStat) float64 { return s.NsPerOp }),
			BytesPerOp:  median(rs, func(s benchStat) float64 { return s.BytesPerOp }),
			AllocsPerOp: median(rs, func(s benchStat) float64 { return s.AllocsPerOp }),
		}
	}
	return out2
}

func median(rs []benchStat, f func(benchStat) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

type callCount struct {
	New       int `json:"new"`
	Duplicate int `json:"duplicate"`
	Aside     int `json:"kept_aside"`
}

var callsLine = regexp.MustCompile(`aws_calls payload=(\S+) new=(\d+) duplicate=(\d+) aside=(\d+)`)

// parseCalls reads the log lines of TestAWSCallsPerDelivery.
func parseCalls(out string) map[string]callCount {
	calls := map[string]callCount{}
	for _, m := range callsLine.FindAllStringSubmatch(out, -1) {
		var c callCount
		c.New, _ = strconv.Atoi(m[2])
		c.Duplicate, _ = strconv.Atoi(m[3])
		c.Aside, _ = strconv.Atoi(m[4])
		calls[m[1]] = c
	}
	return calls
}

var workerCallsLine = regexp.MustCompile(`aws_calls_per_event((?: \w+=[\d.]+)+)`)

// parseWorkerCalls reads the log line of TestAWSCallsPerEvent: calls per
// event by kind of event.
func parseWorkerCalls(out string) map[string]float64 {
	calls := map[string]float64{}
	m := workerCallsLine.FindStringSubmatch(out)
	if m == nil {
		return calls
	}
	for _, f := range strings.Fields(m[1]) {
		k, v, _ := strings.Cut(f, "=")
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			calls[k] = n
		}
	}
	return calls
}

// addWorkerCalls records the messages worker's calls per event and checks
// them against their targets.
func (r *Results) addWorkerCalls(calls map[string]float64) {
	r.WorkerCalls = calls
	r.Targets["aws_calls_per_message_event_max"] = targetWorkerCallsMessage
	r.Targets["aws_calls_per_status_event_max"] = targetWorkerCallsStatus
	if m, ok := calls["message"]; !ok || m > targetWorkerCallsMessage {
		r.Missed = append(r.Missed, fmt.Sprintf("messages worker: %.2f AWS calls per message event (target ≤ %d)", m, targetWorkerCallsMessage))
	}
	for _, k := range []string{"status", "next_status", "duplicate_status"} {
		if m, ok := calls[k]; !ok || m > targetWorkerCallsStatus {
			r.Missed = append(r.Missed, fmt.Sprintf("messages worker: %.2f AWS calls per %s event (target ≤ %d)", m, k, targetWorkerCallsStatus))
		}
	}
}

type peerResults struct {
	Node     string                 `json:"node"`
	Payloads map[string]peerPayload `json:"payloads"`
}

type peerPayload struct {
	Bytes                int     `json:"bytes"`
	PeerIngestNs         float64 `json:"peer_ingest_ns"`
	PeerNormalizeNs      float64 `json:"peer_normalize_ns"`
	PeerParseNormalizeNs float64 `json:"peer_parse_normalize_ns"`
}

type coldResults struct {
	Functions map[string]struct {
		BootstrapBytes     int64   `json:"bootstrap_bytes"`
		HostBootstrapBytes int64   `json:"host_bootstrap_bytes"`
		ColdStartNs        float64 `json:"cold_start_ns"`
		PeakRSSBytes       int64   `json:"peak_rss_bytes"`
		Error              string  `json:"error"`
	} `json:"functions"`
}

// Results is bench-results.json.
type Results struct {
	Machine   machine              `json:"machine"`
	Payloads  []payloadResult      `json:"payloads"`
	Functions []functionResult     `json:"functions"`
	Targets   map[string]float64   `json:"targets"`
	Missed    []string             `json:"missed"`
	Raw       map[string]benchStat `json:"go_benchmarks"`
	Calls     map[string]callCount `json:"aws_calls_by_payload"`
	// WorkerCalls are the messages worker's DynamoDB calls per event.
	WorkerCalls map[string]float64     `json:"aws_calls_per_event"`
	Peer        map[string]peerPayload `json:"peer"`
	// Load is the local stack under concurrent deliveries, and Cost the
	// AWS bill per million events computed from it; absent with -load=false.
	Load *loadResult  `json:"load,omitempty"`
	Cost *costSection `json:"cost,omitempty"`
	// Events is the events section: events per delivery, the calls they
	// add on and off the delivery path, the latency to the webhook.
	Events *eventsResult `json:"events,omitempty"`
	// Media is the media function copying a video and a document; absent
	// with -media=false.
	Media *mediaResult `json:"media,omitempty"`
}

type machine struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	CPUs   int    `json:"cpus"`
	Node   string `json:"node"`
	Count  int    `json:"count"`
	Quick  bool   `json:"quick"`
	When   string `json:"when"`
	// Load is /proc/loadavg's 1, 5 and 15 minute averages at the end of
	// the run: the machine is shared.
	Load string `json:"load_average,omitempty"`
}

type payloadResult struct {
	Name              string  `json:"name"`
	Bytes             int     `json:"bytes"`
	IngestNs          float64 `json:"ingest_ns"`
	FloorNs           float64 `json:"floor_ns"`
	IngestVsFloor     float64 `json:"ingest_vs_floor"`
	PeerIngestNs      float64 `json:"peer_ingest_ns"`
	IngestVsPeer      float64 `json:"ingest_vs_peer"`
	IngestAllocs      float64 `json:"ingest_allocs_per_delivery"`
	IngestBytes       float64 `json:"ingest_bytes_allocated_per_delivery"`
	SplitNs           float64 `json:"split_ns"`
	SplitAllocs       float64 `json:"split_allocs_per_delivery"`
	PeerNormalizeNs   float64 `json:"peer_normalize_ns,omitempty"`
	PeerParseNormNs   float64 `json:"peer_parse_normalize_ns,omitempty"`
	SplitVsPeer       float64 `json:"split_vs_peer_normalize,omitempty"`
	AWSCallsNew       int     `json:"aws_calls_new_delivery"`
	AWSCallsDuplicate int     `json:"aws_calls_duplicate"`
	AWSCallsKeptAside int     `json:"aws_calls_kept_aside"`
}

type functionResult struct {
	Name               string  `json:"name"`
	BootstrapBytes     int64   `json:"bootstrap_bytes"`
	HostBootstrapBytes int64   `json:"host_bootstrap_bytes"`
	ColdStartNs        float64 `json:"cold_start_ns"`
	// PeakRSSBytes is the process's VmHWM after its first invocation.
	PeakRSSBytes int64  `json:"peak_rss_bytes_first_invocation,omitempty"`
	Error        string `json:"error,omitempty"`
}

func splitKey(payload string) string {
	pkg := "kapso"
	if strings.HasPrefix(payload, "meta") {
		pkg = "meta"
	}
	return pkg + "/BenchmarkSplitDecode/" + payload
}

func assemble(ingest, split map[string]benchStat, calls map[string]callCount, peer peerResults, cold coldResults) Results {
	raw := map[string]benchStat{}
	for k, v := range ingest {
		raw[k] = v
	}
	for k, v := range split {
		raw[k] = v
	}
	r := Results{Raw: raw, Calls: calls, Peer: peer.Payloads, Missed: []string{}, Targets: map[string]float64{
		"ingest_vs_floor_max": targetIngestVsFloor, "ingest_vs_peer_max": targetIngestVsPeer,
		"split_vs_peer_normalize_max": targetSplitVsPeer, "cold_start_ms_max": targetColdStartMS,
		"aws_calls_new": targetCallsNew, "aws_calls_duplicate": targetCallsDup,
	}}
	miss := func(format string, args ...any) { r.Missed = append(r.Missed, fmt.Sprintf(format, args...)) }
	ratio := func(a, b float64) float64 {
		if a == 0 || b == 0 {
			return 0
		}
		return a / b
	}
	for _, p := range payloads {
		in := ingest["webhook/BenchmarkIngest/"+p]
		fl := ingest["webhook/BenchmarkIngestFloor/"+p]
		sp := split[splitKey(p)]
		pp := peer.Payloads[p]
		c := calls[p]
		pr := payloadResult{Name: p, Bytes: pp.Bytes, IngestNs: in.NsPerOp, FloorNs: fl.NsPerOp,
			IngestVsFloor: ratio(in.NsPerOp, fl.NsPerOp), PeerIngestNs: pp.PeerIngestNs,
			IngestVsPeer: ratio(in.NsPerOp, pp.PeerIngestNs), IngestAllocs: in.AllocsPerOp, IngestBytes: in.BytesPerOp,
			SplitNs: sp.NsPerOp, SplitAllocs: sp.AllocsPerOp, PeerNormalizeNs: pp.PeerNormalizeNs,
			PeerParseNormNs: pp.PeerParseNormalizeNs, SplitVsPeer: ratio(sp.NsPerOp, pp.PeerNormalizeNs),
			AWSCallsNew: c.New, AWSCallsDuplicate: c.Duplicate, AWSCallsKeptAside: c.Aside}
		switch {
		case pr.IngestVsFloor == 0:
			miss("%s: no ingest or floor figure", p)
		case pr.IngestVsFloor > targetIngestVsFloor:
			miss("%s: ingest %.2f× its floor (target ≤ %.2f)", p, pr.IngestVsFloor, targetIngestVsFloor)
		}
		switch {
		case pr.IngestVsPeer == 0:
			miss("%s: no peer figure", p)
		case pr.IngestVsPeer > targetIngestVsPeer:
			miss("%s: ingest %.2f× the TypeScript peer (target ≤ %.2f)", p, pr.IngestVsPeer, targetIngestVsPeer)
		}
		if strings.HasPrefix(p, "meta") {
			switch {
			case pr.SplitVsPeer == 0:
				miss("%s: no split or normalizeWebhook figure", p)
			case pr.SplitVsPeer > targetSplitVsPeer:
				miss("%s: split %.2f× normalizeWebhook (target ≤ %.2f)", p, pr.SplitVsPeer, targetSplitVsPeer)
			}
		}
		if c.New != targetCallsNew || c.Duplicate != targetCallsDup {
			miss("%s: %d AWS calls per new delivery, %d per duplicate (target %d and %d)", p, c.New, c.Duplicate,
				targetCallsNew, targetCallsDup)
		}
		r.Payloads = append(r.Payloads, pr)
	}
	names := make([]string, 0, len(cold.Functions))
	for n := range cold.Functions {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := cold.Functions[n]
		r.Functions = append(r.Functions, functionResult{Name: n, BootstrapBytes: f.BootstrapBytes,
			HostBootstrapBytes: f.HostBootstrapBytes, ColdStartNs: f.ColdStartNs, PeakRSSBytes: f.PeakRSSBytes, Error: f.Error})
		switch {
		case f.Error != "" || f.ColdStartNs == 0:
			miss("%s: no cold start figure (%s)", n, f.Error)
		case f.ColdStartNs/1e6 > targetColdStartMS:
			miss("%s: cold start %.0f ms (target < %d ms)", n, f.ColdStartNs/1e6, targetColdStartMS)
		}
	}
	return r
}

func printTable(w io.Writer, r Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "payload\tbytes\tingest µs\tfloor µs\t×floor\tTS peer µs\t×peer\tallocs\tsplit µs\tnormalize µs\t×normalize\tAWS calls new/dup/aside\t")
	for _, p := range r.Payloads {
		norm, normRatio := "-", "-"
		if p.PeerNormalizeNs > 0 {
			norm, normRatio = us(p.PeerNormalizeNs), fmt.Sprintf("%.2f", p.SplitVsPeer)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2f\t%s\t%.2f\t%.0f\t%s\t%s\t%s\t%d/%d/%d\t\n", p.Name, p.Bytes, us(p.IngestNs),
			us(p.FloorNs), p.IngestVsFloor, us(p.PeerIngestNs), p.IngestVsPeer, p.IngestAllocs, us(p.SplitNs), norm,
			normRatio, p.AWSCallsNew, p.AWSCallsDuplicate, p.AWSCallsKeptAside)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "function\tbootstrap MiB (arm64)\thost MiB\tcold start ms\tpeak RSS MiB, 1st invocation\t")
	for _, f := range r.Functions {
		cold := fmt.Sprintf("%.1f", f.ColdStartNs/1e6)
		if f.Error != "" {
			cold = "error: " + f.Error
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%.1f\t\n", f.Name, float64(f.BootstrapBytes)/(1<<20),
			float64(f.HostBootstrapBytes)/(1<<20), cold, float64(f.PeakRSSBytes)/(1<<20))
	}
	_ = tw.Flush()
	if len(r.WorkerCalls) > 0 {
		keys := make([]string, 0, len(r.WorkerCalls))
		for k := range r.WorkerCalls {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprint(w, "\nmessages worker, AWS calls per event:")
		for _, k := range keys {
			fmt.Fprintf(w, " %s %.2f", k, r.WorkerCalls[k])
		}
		fmt.Fprintln(w)
	}
	printLoad(w, r)
	printEvents(w, r)
	printMedia(w, r)
	for _, m := range r.Missed {
		fmt.Fprintln(w, "missed:", m)
	}
}

func us(ns float64) string {
	if ns == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", ns/1e3)
}
