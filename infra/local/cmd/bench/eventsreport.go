package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// addEvents runs the events section, checks it against its targets and
// prices a million events from it.
func (r *Results) addEvents(ctx context.Context, eo eventsOptions, step func(string)) error {
	ev, err := runEvents(ctx, eo, step)
	if err != nil {
		return err
	}
	r.Events = ev
	r.checkEvents()
	in := eventCostInputs{FeedWRU: ev.FeedWRU, SNSBilled: ev.SNSBilled, PublisherInvocations: ev.PublisherInvocations,
		WebhookInvocations: ev.WebhookInvocations}
	for _, n := range ev.WebhookCalls {
		in.WebhookQueueRequests += n
	}
	if r.Cost == nil {
		r.Cost = &costSection{Prices: prices()}
	}
	r.Cost.EventInputs = &in
	r.Cost.Models = append(r.Cost.Models, eventCost(in))
	return nil
}

// checkEvents records the events section's targets and any it missed.
func (r *Results) checkEvents() {
	ev := r.Events
	r.Targets["events_webhook_p99_ms_max"] = targetWebhookP99Ms
	r.Targets["events_delivery_path_extra_writes_max"] = targetExtraWrites
	r.Targets["events_message_received_per_delivery"] = 1
	miss := func(format string, args ...any) { r.Missed = append(r.Missed, fmt.Sprintf(format, args...)) }
	if ev.WebhookMs.N == 0 || ev.WebhookMs.P99 > targetWebhookP99Ms {
		miss("events: ingest 200 to webhook p99 %.0f ms over %d deliveries (target < %d ms)", ev.WebhookMs.P99,
			ev.WebhookMs.N, targetWebhookP99Ms)
	}
	if ev.ExtraWrites > targetExtraWrites {
		miss("events: %.3f more DynamoDB writes per delivery on the delivery path with the publisher (%.3f against %.3f; target %d)",
			ev.ExtraWrites, ev.DeliveryWritesWith, ev.DeliveryWritesWithout, targetExtraWrites)
	}
	if got := ev.PerDelivery["message.received"]; got != 1 {
		miss("events: %.3f message.received per delivery (want 1)", got)
	}
	if ev.Refused > 0 || ev.EventsUnseen > 0 || ev.WebhooksRefused > 0 {
		miss("events: %d deliveries refused, %d without their webhook, %d webhooks refused by the receiver",
			ev.Refused, ev.EventsUnseen, ev.WebhooksRefused)
	}
}

// opsLine lists counts by operation, sorted: "PutItem 2.00, UpdateItem 3.00".
func opsLine(ops map[string]float64) string {
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, ops[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func printEvents(w io.Writer, r Results) {
	ev := r.Events
	if ev == nil {
		return
	}
	fmt.Fprintf(w, "\nevents: %d signed deliveries at %.0f/s (kept %.1f/s), the local stack without then with the publisher\n",
		ev.Deliveries, ev.Rate, ev.SentPerSecond)
	types := make([]string, 0, len(ev.PerDelivery))
	for k := range ev.PerDelivery {
		types = append(types, k)
	}
	slices.Sort(types)
	fmt.Fprintf(w, "events per delivery: %.3f (", ev.PerDeliveryTotal)
	for i, k := range types {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s %.3f", k, ev.PerDelivery[k])
	}
	fmt.Fprint(w, "); a person's first message:")
	firsts := make([]string, 0, len(ev.FirstDelivery))
	for k := range ev.FirstDelivery {
		firsts = append(firsts, k)
	}
	slices.Sort(firsts)
	for _, k := range firsts {
		fmt.Fprintf(w, " %s %d", k, ev.FirstDelivery[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "delivery path (ingest + messages worker), DynamoDB writes per delivery: %.3f without the publisher, %.3f with it: %+.3f\n",
		ev.DeliveryWritesWithout, ev.DeliveryWritesWith, ev.ExtraWrites)
	fmt.Fprintf(w, "  calls per delivery without: %s\n  calls per delivery with:    %s\n",
		opsLine(ev.DeliveryCallsWithout), opsLine(ev.DeliveryCallsWith))
	fmt.Fprintf(w, "publisher, per event (%d events): %s; feed items %.2f, write units %.2f; SNS requests billed %.3f; invocations %.3f\n",
		ev.Events, opsLine(ev.PublisherCalls), ev.FeedItems, ev.FeedWRU, ev.SNSBilled, ev.PublisherInvocations)
	fmt.Fprintf(w, "event-webhooks queue, per event: %s; invocations %.3f; duplicates at the receiver %d\n",
		opsLine(ev.WebhookCalls), ev.WebhookInvocations, ev.Duplicates)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "from the ingest's 200 to\tp50 ms\tp99 ms\tmax ms\tn\t")
	for _, l := range []struct {
		what string
		d    dist
	}{
		{"the message.received at the receiver", ev.WebhookMs},
		{fmt.Sprintf("the message's stream record, read every %.0f ms", ev.StreamPollMs), ev.StreamMs},
		{"the message readable, with the publisher", ev.ReadableMs},
		{"the message readable, without it", ev.ReadableWithoutMs},
	} {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%d\t\n", l.what, l.d.P50, l.d.P99, l.d.Max, l.d.N)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "webhook p99 ÷ stream record p99: %.2f\n", ev.WebhookVsStream)
}
