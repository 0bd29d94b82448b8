package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// addLoad runs the load section and prices a million events from it, with
// the AWS calls already counted in r.
func (r *Results) addLoad(ctx context.Context, lo loadOptions, step func(string)) error {
	load, in, err := runLoad(ctx, lo, step)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	r.Load = load
	in.IngestAWSCalls = r.Calls["kapso-message"].New
	in.WorkerWritesMessage, in.WorkerWritesStatus = r.WorkerCalls["message"], r.WorkerCalls["status"]
	if load.DrainSeconds > 0 {
		writes := float64(load.Deliveries) * (float64(max(in.IngestAWSCalls-1, 0)) + in.WorkerWritesMessage)
		load.WritesPerSecond = writes / load.DrainSeconds
		if load.Capacity.PutItemPerSecond > 0 {
			load.WritesVsPutItem = load.WritesPerSecond / load.Capacity.PutItemPerSecond
		}
	}
	for kind, sz := range load.ItemBytes {
		if sz.Max > 1024 {
			r.Missed = append(r.Missed, fmt.Sprintf("load: %s items reach %d bytes; the cost model counts 1 KB a write", kind, sz.Max))
		}
	}
	c := costOf(*in)
	r.Cost = &c
	if load.Failed > 0 || load.Readable != load.Deliveries || load.LagUnseen > 0 {
		r.Missed = append(r.Missed, fmt.Sprintf("load: %d deliveries refused, %d of %d messages readable, %d lag samples never readable",
			load.Failed, load.Readable, load.Deliveries, load.LagUnseen))
	}
	return nil
}

func printLoad(w io.Writer, r Results) {
	l := r.Load
	if l == nil {
		return
	}
	fmt.Fprintf(w, "\nload: %d signed deliveries of %d bytes, %d at a time, to the local stack (one process)\n",
		l.Deliveries, l.BodyBytes, l.Concurrency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "deliveries/s\tingest p50 ms\tp99 ms\tto readable p50 ms\tp99 ms\tlast sample readable after s\trefused\t")
	fmt.Fprintf(tw, "%.0f\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t%d\t\n", l.DeliveriesPerSecond, l.IngestMs.P50, l.IngestMs.P99,
		l.LagMs.P50, l.LagMs.P99, l.DrainSeconds, l.Failed)
	fmt.Fprintln(tw)
	c := l.Capacity
	fmt.Fprintln(tw, "same run, same concurrency\tops/s\tp50 ms\tp99 ms\t")
	fmt.Fprintf(tw, "conditional PutItem, DynamoDB Local\t%.0f\t%.2f\t%.2f\t\n", c.PutItemPerSecond, c.PutItemMs.P50, c.PutItemMs.P99)
	fmt.Fprintf(tw, "SendMessage %d B, fauxqs\t%.0f\t%.2f\t%.2f\t\n", c.SendMessageBytes, c.SendMessagePerSecond, c.SendMessageMs.P50, c.SendMessageMs.P99)
	_ = tw.Flush()
	fmt.Fprintf(w, "deliveries/s ÷ slower loop: %.2f (each delivery makes 3 AWS calls in a row); ÷ the three-call bound: %.2f\n",
		l.VsCapacity, l.VsThreeCalls)
	cpu := func(m map[string]float64) string {
		return fmt.Sprintf("bench process %.2f, DynamoDB Local %.2f, fauxqs %.2f", m["bench_process"], m["dynamodb_local"], m["fauxqs"])
	}
	fmt.Fprintf(w, "CPU ms per delivery until drained: %s\n", cpu(l.CPUMsPerDelivery))
	fmt.Fprintf(w, "CPU ms per conditional PutItem: %s; per SendMessage: %s\n", cpu(c.PutItemCPUMs), cpu(c.SendMessageCPUMs))
	kinds := make([]string, 0, len(l.ItemBytes))
	for k := range l.ItemBytes {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	fmt.Fprint(w, "largest item by kind, bytes:")
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %d", k, l.ItemBytes[k].Max)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "DynamoDB writes until drained (ingest's and worker's): %.0f/s, %.2f of the PutItem loop\n",
		l.WritesPerSecond, l.WritesVsPutItem)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function binary\tinvocations\tevents\tpeak RSS MiB\tduration p50 ms\tp99 ms\tmean billed ms\t")
	for _, f := range l.Functions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t\n", f.Name, f.Invocations, f.Events, float64(f.PeakRSS)/(1<<20),
			f.DurationMs.P50, f.DurationMs.P99, f.BilledMs)
	}
	_ = tw.Flush()
	if r.Cost == nil {
		return
	}
	fmt.Fprintf(w, "\ncost per million events (%s):\n", pricesAsOf)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range r.Cost.Models {
		fmt.Fprintf(tw, "%s event\tquantity\tUSD\t\n", m.Event)
		for _, ln := range m.Lines {
			fmt.Fprintf(tw, "  %s\t%.0f %s\t%.4f\t\n", ln.Item, ln.Quantity, ln.Unit, ln.USD)
		}
		fmt.Fprintf(tw, "  total\t\t%.4f\t\n", m.USD)
	}
	_ = tw.Flush()
}
