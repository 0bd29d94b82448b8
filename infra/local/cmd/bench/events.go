package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go/middleware"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo/streams"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// eventsOptions size the events section.
type eventsOptions struct {
	Deliveries  int     // steady deliveries measured in each of the two runs
	Rate        float64 // deliveries a second
	SampleEvery int     // every n-th delivery's lag to readable is measured
}

// eventsResult is bench-results.json's "events": the same signed Kapso
// message deliveries as the load section, at a steady rate, to the local
// stack twice: without the publisher (the bridge table's stream unread),
// then with it and the event webhooks POSTing to a receiver of the bench.
type eventsResult struct {
	Deliveries int     `json:"deliveries"`
	Rate       float64 `json:"rate_per_second"`
	// SentPerSecond is the rate the sender kept, with the publisher.
	SentPerSecond float64 `json:"sent_per_second"`
	Refused       int     `json:"refused"`
	// FirstDelivery are the events of a person's first message, by type;
	// PerDelivery the events per delivery of the steady run, by type, and
	// PerDeliveryTotal their sum.
	FirstDelivery    map[string]int     `json:"first_delivery_events"`
	PerDelivery      map[string]float64 `json:"events_per_delivery"`
	PerDeliveryTotal float64            `json:"events_per_delivery_total"`
	// DeliveryWrites are the DynamoDB writes of the ingest and the
	// messages worker per delivery, without and with the publisher;
	// ExtraWrites their difference (the target is 0: the stream is the
	// outbox). DeliveryCalls are all their AWS requests per delivery, by
	// operation.
	DeliveryWritesWithout float64            `json:"delivery_path_dynamodb_writes_per_delivery_without_publisher"`
	DeliveryWritesWith    float64            `json:"delivery_path_dynamodb_writes_per_delivery_with_publisher"`
	ExtraWrites           float64            `json:"delivery_path_extra_writes_per_delivery"`
	DeliveryCallsWithout  map[string]float64 `json:"delivery_path_calls_per_delivery_without_publisher"`
	DeliveryCallsWith     map[string]float64 `json:"delivery_path_calls_per_delivery_with_publisher"`
	// Events is how many distinct events the steady run made; the calls
	// off the delivery path are per event: the publisher's (BatchWriteItem
	// of the feed, PublishBatch), the feed's items and write units, the
	// SNS requests as billed, the stream batches (the publisher's
	// invocations), and the event-webhooks queue's (ReceiveMessage,
	// DeleteMessageBatch, ChangeMessageVisibility) with its receives that
	// returned events (the webhook worker's invocations).
	Events               int                 `json:"events"`
	PublisherCalls       map[string]float64  `json:"publisher_calls_per_event"`
	FeedItems            float64             `json:"feed_items_per_event"`
	FeedWRU              float64             `json:"feed_write_units_per_event"`
	FeedItemBytes        map[string]itemSize `json:"feed_item_bytes_by_type"`
	SNSBilled            float64             `json:"sns_billed_requests_per_event"`
	PublisherInvocations float64             `json:"publisher_invocations_per_event"`
	WebhookCalls         map[string]float64  `json:"webhook_queue_calls_per_event"`
	WebhookInvocations   float64             `json:"webhook_invocations_per_event"`
	// WebhookMs is each delivery's ingest 200 to its message.received at
	// the receiver; StreamMs the same 200 to its message's record handed
	// on by a stream reader of the bench with the local poller's settings
	// (the baseline: no event can leave before it); ReadableMs and
	// ReadableWithoutMs a sample's 200 to its message readable at the API,
	// with and without the publisher.
	WebhookMs         dist    `json:"ingest_200_to_webhook_ms"`
	StreamMs          dist    `json:"ingest_200_to_stream_record_ms"`
	ReadableMs        dist    `json:"ingest_200_to_readable_ms"`
	ReadableWithoutMs dist    `json:"ingest_200_to_readable_without_publisher_ms"`
	StreamPollMs      float64 `json:"stream_poll_interval_ms"`
	WebhookVsStream   float64 `json:"webhook_p99_vs_stream_p99"`
	EventsUnseen      int     `json:"deliveries_without_webhook"`
	// Duplicates are deliveries of an id the receiver had taken;
	// WebhooksRefused those it refused (a signature that did not verify,
	// or no event).
	Duplicates      int `json:"webhook_duplicates"`
	WebhooksRefused int `json:"webhooks_refused"`
}

// Targets of the events section.
const (
	targetWebhookP99Ms = 2000
	targetExtraWrites  = 0
)

// streamPollMs is the local stream reader's wait between reads of a shard
// that had nothing new: streams.Poller's default, Lambda's four reads a
// second.
const streamPollMs = 250

// eventsPhase is one run of the events section.
type eventsPhase struct {
	s        *stack.Stack
	l        *loader
	calls    *callCounter
	recv     *eventReceiver // nil without the publisher
	ds       []delivery
	at200    []time.Time
	refused  int
	seconds  float64
	readable []float64
	unseen   int
	counts   callSnapshot
	// stream: when the bench's stream reader handed each message's
	// record, and how many batches it handed in the steady run.
	streamMu      sync.Mutex
	streamAt      map[string]time.Time
	streamBatches int
	counting      atomic.Bool
	before, after map[string]int // distinct events by type around the steady run
	first         map[string]int
}

// runEvents runs the events section: the same deliveries without, then
// with, the publisher.
func runEvents(ctx context.Context, o eventsOptions, step func(string)) (*eventsResult, error) {
	step(fmt.Sprintf("events: %d deliveries at %.0f/s without the publisher", o.Deliveries, o.Rate))
	without, err := runEventsPhase(ctx, o, false)
	if err != nil {
		return nil, fmt.Errorf("events, without the publisher: %w", err)
	}
	step(fmt.Sprintf("events: %d deliveries at %.0f/s with the publisher and the event webhooks", o.Deliveries, o.Rate))
	with, err := runEventsPhase(ctx, o, true)
	if err != nil {
		return nil, fmt.Errorf("events, with the publisher: %w", err)
	}
	return summarize(o, without, with), nil
}

func runEventsPhase(ctx context.Context, o eventsOptions, publisher bool) (*eventsPhase, error) {
	p := &eventsPhase{calls: newCallCounter(), streamAt: map[string]time.Time{}}
	extra := map[string]string{}
	if publisher {
		secret, err := bridgeevents.NewSecret()
		if err != nil {
			return nil, err
		}
		if p.recv, err = startReceiver(secret); err != nil {
			return nil, err
		}
		defer p.recv.close()
		extra[config.EventsWebhookURL.Name] = p.recv.url
		extra[config.EventsWebhookSecret.Name] = secret
	}
	l, err := startLoader(ctx, stack.Options{NoPublisher: !publisher,
		AWSMiddleware: []func(*middleware.Stack) error{p.calls.middleware}}, extra, 64)
	if err != nil {
		return nil, err
	}
	p.l, p.s = l, l.s
	defer p.s.Stop()
	if publisher {
		readCtx, stopReading := context.WithCancel(ctx)
		defer stopReading()
		go p.readStream(readCtx)
	}

	// A person's first message, alone: what it makes, once the tenant's
	// connection has been told.
	if err := p.quiet(ctx, time.Minute); err != nil {
		return nil, err
	}
	first := l.delivery("first", 0)
	p.before = p.distinct()
	if st, err := l.post(ctx, first); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("first delivery: %d %v", st, err)
	}
	if err := p.await(ctx, []delivery{first}, time.Minute); err != nil {
		return nil, err
	}
	p.first = diff(p.distinct(), p.before)

	// The warm-up is sent 16 at a time, as the load section's, while the
	// services' first requests are slow; a delivery refused is sent again
	// (the same key: a duplicate makes nothing more).
	warm := l.prepare("warm", 200)
	for try := 0; ; try++ {
		_, failed := l.send(ctx, warm, 16, 0, nil)
		if failed == 0 {
			break
		}
		if try == 2 || ctx.Err() != nil {
			return nil, fmt.Errorf("warm-up: %d of %d deliveries refused", failed, len(warm))
		}
	}
	if err := p.await(ctx, warm, time.Minute); err != nil {
		return nil, err
	}

	p.ds = l.prepare("steady", o.Deliveries)
	lags := make(chan sample, len(p.ds))
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		p.readable, p.unseen, _ = l.pollLag(ctx, lags)
	}()
	p.before = p.distinct()
	p.calls.reset()
	p.streamMu.Lock()
	p.streamBatches = 0
	p.streamMu.Unlock()
	p.counting.Store(true)
	began := time.Now()
	p.at200, p.refused, err = p.sendSteady(ctx, p.ds, o.Rate, o.SampleEvery, lags)
	p.seconds = time.Since(began).Seconds()
	close(lags)
	<-polled
	if err != nil {
		return nil, err
	}
	// A delivery refused is counted (Refused) and has nothing to await.
	if err := p.await(ctx, accepted(p.ds, p.at200), 2*time.Minute); err != nil {
		return nil, err
	}
	p.counting.Store(false)
	p.counts = p.calls.snapshot()
	p.after = p.distinct()
	if publisher {
		aws := l.awsClients()
		sizes, err := itemSizesBy(ctx, aws.db, p.s.Tables[schema.Events.ID], eventType)
		if err != nil {
			return nil, err
		}
		p.recv.feedItems = sizes
	}
	return p, nil
}

// accepted are the deliveries of ds that got their 200.
func accepted(ds []delivery, at200 []time.Time) []delivery {
	var out []delivery
	for i, d := range ds {
		if !at200[i].IsZero() {
			out = append(out, d)
		}
	}
	return out
}

// sendSteady posts ds at rate a second, each at its own time whatever the
// ones before took, and returns when each got its 200 (zero for one that
// did not) and how many did not. Every sampleEvery-th goes to lags.
func (p *eventsPhase) sendSteady(ctx context.Context, ds []delivery, rate float64, sampleEvery int, lags chan<- sample) ([]time.Time, int, error) {
	at := make([]time.Time, len(ds))
	var refused atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, 256)
	began := time.Now()
	for i := range ds {
		due := began.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			t := time.Now()
			st, err := p.l.post(ctx, ds[i])
			if err != nil || st != http.StatusOK {
				refused.Add(1)
				return
			}
			at[i] = time.Now()
			if lags != nil && sampleEvery > 0 && i%sampleEvery == 0 {
				lags <- sample{ds[i].wamid, t}
			}
		})
	}
	wg.Wait()
	return at, int(refused.Load()), ctx.Err()
}

// await waits until every delivery's message is readable and the delivery
// path wrote nothing for a moment (a message is readable before its
// worker's last write) and, with the publisher, its message.received has
// come and the receiver took nothing new for a moment, so what a delivery
// makes is all counted, in both runs alike.
func (p *eventsPhase) await(ctx context.Context, ds []delivery, wait time.Duration) error {
	if n := p.l.readable(ctx, ds, 16, wait); n != len(ds) {
		return fmt.Errorf("%d of %d messages readable", n, len(ds))
	}
	deadline := time.Now().Add(wait)
	for prev := -1; ; {
		n := p.calls.writesBy(byDelivery)
		if n == prev {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the delivery path still writing after %s", wait)
		}
		prev = n
		time.Sleep(2 * time.Second)
	}
	if p.recv == nil {
		return nil
	}
	for {
		missing := 0
		for _, d := range ds {
			if _, ok := p.recv.arrival(d.wamid); !ok {
				missing++
			}
		}
		if missing == 0 && time.Since(p.recv.lastAt()) > 2*time.Second {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d message.received events never came", missing, len(ds))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quiet waits, with the publisher, until the receiver has taken an event
// and nothing new for a moment.
func (p *eventsPhase) quiet(ctx context.Context, wait time.Duration) error {
	if p.recv == nil {
		return nil
	}
	deadline := time.Now().Add(wait)
	for {
		if last := p.recv.lastAt(); !last.IsZero() && time.Since(last) > 2*time.Second {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the receiver took no event, or never stopped, in %s", wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *eventsPhase) distinct() map[string]int {
	if p.recv == nil {
		return map[string]int{}
	}
	return p.recv.byType()
}

// readStream reads the bridge table's stream as the local stack's reader
// does (streams.Poller with its defaults) and notes when each message's
// first record was handed on, and how many batches it handed.
func (p *eventsPhase) readStream(ctx context.Context) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(p.s.DynamoDBEndpoint) })
	st := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(p.s.DynamoDBEndpoint) })
	prefix := "MSG#" + loadTenant + "#"
	r := &streams.Poller{DB: db, Streams: st, Table: p.s.Tables[schema.Bridge.ID],
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: func(_ context.Context, b events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			now := time.Now()
			p.streamMu.Lock()
			defer p.streamMu.Unlock()
			if p.counting.Load() {
				p.streamBatches++
			}
			for _, rec := range b.Records {
				pk := rec.Change.Keys[schema.AttrPK]
				if pk.DataType() != events.DataTypeString {
					continue
				}
				if w, ok := strings.CutPrefix(pk.String(), prefix); ok {
					if _, seen := p.streamAt[w]; !seen {
						p.streamAt[w] = now
					}
				}
			}
			return events.DynamoDBEventResponse{}, nil
		}}
	r.Run(ctx)
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// perDelivery is each operation's count over n.
func perDelivery(ops map[string]int, n int) map[string]float64 {
	out := map[string]float64{}
	for op, v := range ops {
		out[op] = float64(v) / float64(max(n, 1))
	}
	return out
}

func summarize(o eventsOptions, without, with *eventsPhase) *eventsResult {
	n := len(accepted(with.ds, with.at200))
	nWithout := len(accepted(without.ds, without.at200))
	r := &eventsResult{Deliveries: len(with.ds), Rate: o.Rate, SentPerSecond: float64(len(with.ds)) / with.seconds, Refused: without.refused + with.refused,
		FirstDelivery: with.first, PerDelivery: map[string]float64{}, StreamPollMs: streamPollMs,
		DeliveryWritesWithout: float64(without.counts.Writes[byDelivery]) / float64(max(nWithout, 1)),
		DeliveryWritesWith:    float64(with.counts.Writes[byDelivery]) / float64(max(n, 1)),
		DeliveryCallsWithout:  perDelivery(without.counts.Calls[byDelivery], nWithout),
		DeliveryCallsWith:     perDelivery(with.counts.Calls[byDelivery], n),
		ReadableMs:            distOf(with.readable), ReadableWithoutMs: distOf(without.readable)}
	r.ExtraWrites = r.DeliveryWritesWith - r.DeliveryWritesWithout
	made := diff(with.after, with.before)
	for typ, k := range made {
		r.PerDelivery[typ] = float64(k) / float64(max(n, 1))
		r.PerDeliveryTotal += r.PerDelivery[typ]
		r.Events += k
	}
	ev := max(r.Events, 1)
	r.PublisherCalls = perDelivery(with.counts.Calls[byPublisher], ev)
	r.WebhookCalls = perDelivery(with.counts.Calls[byWebhooks], ev)
	r.FeedItems = float64(with.counts.FeedItems) / float64(ev)
	r.FeedItemBytes = with.recv.feedItems
	// Each item written takes a write unit per KB or part of one: the mean
	// over the feed's items.
	var items, units int
	for _, sz := range r.FeedItemBytes {
		items, units = items+sz.Count, units+sz.WriteUnits
	}
	if items > 0 {
		r.FeedWRU = r.FeedItems * float64(units) / float64(items)
	}
	r.SNSBilled = float64(with.counts.SNSBilled) / float64(ev)
	with.streamMu.Lock()
	r.PublisherInvocations = float64(with.streamBatches) / float64(ev)
	var webhook, stream []float64
	for i, d := range with.ds {
		if with.at200[i].IsZero() {
			continue
		}
		if t, ok := with.streamAt[d.wamid]; ok {
			stream = append(stream, ms(t.Sub(with.at200[i])))
		}
		if t, ok := with.recv.arrival(d.wamid); ok {
			webhook = append(webhook, ms(t.Sub(with.at200[i])))
		} else {
			r.EventsUnseen++
		}
	}
	with.streamMu.Unlock()
	r.WebhookInvocations = float64(with.counts.Batches) / float64(ev)
	r.WebhookMs, r.StreamMs = distOf(webhook), distOf(stream)
	if r.StreamMs.P99 > 0 {
		r.WebhookVsStream = r.WebhookMs.P99 / r.StreamMs.P99
	}
	r.Duplicates, r.WebhooksRefused = with.recv.duplicates()
	return r
}

// eventType is a feed item's kind: its event's type.
func eventType(it map[string]types.AttributeValue) string {
	if t, ok := it["type"].(*types.AttributeValueMemberS); ok {
		return t.Value
	}
	return "?"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// eventReceiver is the SaaS's webhook endpoint for the bench: it verifies
// every delivery against its raw body, notes when each message's
// message.received first came, and counts the distinct events by type.
type eventReceiver struct {
	url       string
	key       []byte
	srv       *http.Server
	mu        sync.Mutex
	seen      map[string]string    // event id → type
	received  map[string]time.Time // WAMID → first message.received
	last      time.Time
	dups      int
	bad       int
	feedItems map[string]itemSize
}

func startReceiver(secret string) (*eventReceiver, error) {
	key, err := bridgeevents.Secret(secret)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &eventReceiver{url: "http://" + ln.Addr().String() + "/events", key: key, seen: map[string]string{},
		received: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /events", r.serve)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bench: event receiver:", err)
		}
	}()
	return r, nil
}

func (r *eventReceiver) close() { _ = r.srv.Close() }

func (r *eventReceiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(req.Body, bridgeevents.MaxEventBytes))
	var ev bridgeevents.Event
	if err == nil {
		if err = bridgeevents.Verify(r.key, req.Header, body, now); err == nil {
			ev, err = bridgeevents.Decode(body)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad++
		http.Error(w, "refused", http.StatusBadRequest)
		return
	}
	if _, ok := r.seen[ev.ID]; ok {
		r.dups++
	} else {
		r.seen[ev.ID] = ev.Type
	}
	if w, ok := strings.CutPrefix(ev.Subject, "message:"); ok && ev.Type == bridgeevents.MessageReceived {
		if _, ok := r.received[w]; !ok {
			r.received[w] = now
		}
	}
	r.last = now
	w.WriteHeader(http.StatusNoContent)
}

func (r *eventReceiver) arrival(wamid string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.received[wamid]
	return t, ok
}

func (r *eventReceiver) lastAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *eventReceiver) byType() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, typ := range r.seen {
		out[typ]++
	}
	return out
}

// duplicates are the deliveries of an id already taken, and those
// refused.
func (r *eventReceiver) duplicates() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dups, r.bad
}
