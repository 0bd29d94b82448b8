package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// loadOptions size the load section.
type loadOptions struct {
	Deliveries  int // signed deliveries sent to the local stack
	Concurrency int // senders at once, and workers of the capacity loops
	Invocations int // invocations of each real function binary, for its peak RSS
	SampleEvery int // every n-th delivery's lag to readable is measured
}

// loadResult is bench-results.json's "load".
type loadResult struct {
	Deliveries          int     `json:"deliveries"`
	Concurrency         int     `json:"concurrency"`
	BodyBytes           int     `json:"body_bytes"`
	Seconds             float64 `json:"seconds"`
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	Failed              int     `json:"failed"`
	// IngestMs is each delivery's POST to its 200, as the sender sees it.
	IngestMs dist `json:"ingest_latency_ms"`
	// LagMs is from a sampled delivery's POST to its message answering 200
	// at GET /v1/tenants/{t}/messages/{wamid}.
	LagMs       dist `json:"delivery_to_readable_ms"`
	LagUnseen   int  `json:"lag_samples_never_readable"`
	SampleEvery int  `json:"lag_sample_every"`
	// Readable is how many of the deliveries' messages the tenant API
	// served once the run was over.
	Readable int `json:"readable_after_run"`
	// DrainSeconds is from the first POST until the last sampled message
	// was readable.
	DrainSeconds float64  `json:"drain_seconds"`
	Capacity     capacity `json:"capacity"`
	// CPUMsPerDelivery is CPU time per delivery from the first POST until
	// the last sampled message was readable, by process: bench_process is the local
	// stack (every function's handler, the queue poller) with the senders
	// and the readers of this bench; dynamodb_local and fauxqs the services.
	CPUMsPerDelivery map[string]float64 `json:"cpu_ms_per_delivery"`
	// ItemBytes sizes the items in the tables after the run, by kind: the
	// cost model counts one write request unit a write, which holds while
	// every item is at most 1 KB.
	ItemBytes map[string]itemSize `json:"item_bytes_by_kind"`
	// VsCapacity is deliveries per second over the slower capacity loop's
	// operations per second; VsThreeCalls over what one worker making the
	// ingest's three calls in a row (two writes, one send) at the loops'
	// rates would do.
	VsCapacity   float64 `json:"deliveries_vs_slower_capacity_loop"`
	VsThreeCalls float64 `json:"deliveries_vs_three_call_bound"`
	// WritesPerSecond is the DynamoDB writes the run made (the ingest's and
	// the messages worker's, as counted per delivery and per message) over
	// DrainSeconds; WritesVsPutItem its ratio to the PutItem loop's rate.
	WritesPerSecond float64 `json:"dynamodb_writes_per_second_until_drained"`
	WritesVsPutItem float64 `json:"dynamodb_writes_vs_putitem_loop"`
	// Functions are the real function binaries run against the same local
	// services through a local Lambda Runtime API.
	Functions []functionLoad `json:"functions"`
}

type capacity struct {
	Ops                  int     `json:"ops"`
	PutItemPerSecond     float64 `json:"conditional_putitem_per_second"`
	PutItemMs            dist    `json:"conditional_putitem_ms"`
	SendMessagePerSecond float64 `json:"sendmessage_per_second"`
	SendMessageMs        dist    `json:"sendmessage_ms"`
	SendMessageBytes     int     `json:"sendmessage_bytes"`
	// CPU milliseconds per operation of each loop, by process (the bench
	// process is the client).
	PutItemCPUMs     map[string]float64 `json:"conditional_putitem_cpu_ms_per_op"`
	SendMessageCPUMs map[string]float64 `json:"sendmessage_cpu_ms_per_op"`
}

type functionLoad struct {
	Name        string  `json:"name"`
	Invocations int     `json:"invocations"`
	Events      int     `json:"events"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
	DurationMs  dist    `json:"duration_ms"`
	BilledMs    float64 `json:"mean_billed_ms"`
	EventsPerIn float64 `json:"events_per_invocation"`
}

const loadTenant = "bench"

// runLoad starts the local stack and puts it under load; see docs/performance.md.
func runLoad(ctx context.Context, o loadOptions, step func(string)) (*loadResult, *costInputs, error) {
	step("load: starting the local stack and connecting a tenant through the simulator")
	l, err := startLoader(ctx, stack.Options{}, nil, 4*o.Concurrency)
	if err != nil {
		return nil, nil, err
	}
	defer l.s.Stop()

	res := &loadResult{Deliveries: o.Deliveries, Concurrency: o.Concurrency, BodyBytes: len(l.delivery("warm", 0).body),
		SampleEvery: o.SampleEvery}
	step("load: warming up")
	warm := l.prepare("warm", 200)
	l.send(ctx, warm, o.Concurrency, 0, nil)
	if n := l.readable(ctx, warm, o.Concurrency, time.Minute); n != len(warm) {
		return nil, nil, fmt.Errorf("load: %d of %d warm-up messages readable", n, len(warm))
	}

	step(fmt.Sprintf("load: %d deliveries, %d at a time", o.Deliveries, o.Concurrency))
	ds := l.prepare("load", o.Deliveries)
	lags := make(chan sample, o.Deliveries)
	var lag []float64
	var unseen int
	var lastReadable time.Time
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		lag, unseen, lastReadable = l.pollLag(ctx, lags)
	}()
	cpu0 := sampleCPU()
	began := time.Now()
	lat, failed := l.send(ctx, ds, o.Concurrency, o.SampleEvery, lags)
	res.Seconds = time.Since(began).Seconds()
	close(lags)
	<-polled
	res.DeliveriesPerSecond = float64(o.Deliveries) / res.Seconds
	res.Failed, res.IngestMs, res.LagMs, res.LagUnseen = failed, distOf(lat), distOf(lag), unseen
	// The last sample is among the last deliveries sent: once it is
	// readable, the queue has drained. Then every message is checked.
	res.CPUMsPerDelivery = cpuPer(cpu0, sampleCPU(), o.Deliveries)
	if !lastReadable.IsZero() {
		res.DrainSeconds = lastReadable.Sub(began).Seconds()
	}
	res.Readable = l.readable(ctx, ds, o.Concurrency, 2*time.Minute)

	aws := l.awsClients()
	res.ItemBytes = map[string]itemSize{}
	for id, t := range l.s.Tables {
		// The feed's items are sized by the events section, by type, with
		// the write units each takes.
		if id == schema.Events.ID {
			continue
		}
		sizes, err := itemSizes(ctx, aws.db, t)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range sizes {
			res.ItemBytes[k] = v
		}
	}

	step("load: capacity of DynamoDB Local and fauxqs at the same concurrency")
	msg, err := envelope.Encode(envelope.Delivery{Source: envelope.SourceKapsoNumber, Key: "kapso:" + l.number + ":" + ds[0].key,
		PhoneNumberID: l.number, Event: "whatsapp.message.received", IdempotencyKey: ds[0].key, ReceivedAt: time.Now().UTC()}, ds[0].body)
	if err != nil {
		return nil, nil, err
	}
	res.Capacity, err = l.capacity(ctx, aws, o, msg)
	if err != nil {
		return nil, nil, err
	}
	slower := min(res.Capacity.PutItemPerSecond, res.Capacity.SendMessagePerSecond)
	if slower > 0 {
		res.VsCapacity = res.DeliveriesPerSecond / slower
	}
	if res.Capacity.PutItemPerSecond > 0 && res.Capacity.SendMessagePerSecond > 0 {
		bound := 1 / (2/res.Capacity.PutItemPerSecond + 1/res.Capacity.SendMessagePerSecond)
		res.VsThreeCalls = res.DeliveriesPerSecond / bound
	}

	step("load: the ingest and messages worker binaries, for their peak RSS and durations")
	fns, err := l.functions(ctx, aws, o)
	if err != nil {
		return nil, nil, err
	}
	res.Functions = fns
	in := &costInputs{DeliveryBytes: res.BodyBytes, QueueMessageBytes: len(msg)}
	for _, f := range fns {
		switch f.Name {
		case "ingest":
			in.IngestBilledMs = f.BilledMs
		case "messages":
			in.WorkerBilledMs, in.WorkerBatch = f.BilledMs, f.EventsPerIn
		}
	}
	return res, in, nil
}

// startLoader starts the local stack as o has it, with extra settings
// beside the defaults and no reconciler sweep in the middle of the
// figures, connects a tenant through the simulator, and returns the loader
// of the bench's Kapso message, at most conns connections to the stack at
// once. The caller stops the stack (l.s.Stop).
func startLoader(ctx context.Context, o stack.Options, extra map[string]string, conns int) (*loader, error) {
	body, err := os.ReadFile("events/bench/kapso-message.json")
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	settings, _ := stack.Resolve(func(k string) string {
		if k == config.ReconcileEvery.Name {
			return "1h"
		}
		return ""
	})
	base := "http://" + ln.Addr().String()
	settings[config.PublicBaseURL.Name] = base
	settings[config.AppSuccessURL.Name] = base + "/app/connected"
	settings[config.AppFailureURL.Name] = base + "/app/failed"
	for k, v := range extra {
		settings[k] = v
	}
	o.Settings, o.Listener, o.SimListener = settings, ln, sln
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	s, err := stack.Start(startCtx, o)
	cancel()
	if err != nil {
		return nil, err
	}
	l := &loader{s: s, token: s.Env.Value(config.BridgeAPIToken), run: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}}
	if err := l.connect(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	l.tmpl = bytes.ReplaceAll(body, []byte(jsonField(body, "phone_number_id")), []byte(l.number))
	return l, nil
}

type loader struct {
	s      *stack.Stack
	client *http.Client
	token  string
	run    string
	number string
	hook   struct{ url, secret, version string }
	tmpl   []byte
}

type delivery struct {
	wamid, key string
	body       []byte
	sig        string
}

type sample struct {
	wamid  string
	sentAt time.Time
}

// jsonField is the string value of the first "name":"value" in b.
func jsonField(b []byte, name string) string {
	_, rest, _ := strings.Cut(string(b), `"`+name+`":"`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func (l *loader) api(ctx context.Context, method, path, body string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, l.s.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return res.StatusCode, nil
}

// connect signs the tenant up as a person would, and finds the webhook
// registered for its number.
func (l *loader) connect(ctx context.Context) error {
	var link struct {
		SetupLink struct {
			ID string `json:"id"`
		} `json:"setup_link"`
	}
	if st, err := l.api(ctx, http.MethodPost, "/v1/tenants/"+loadTenant+"/setup-links", `{"tenant_name":"Bench"}`, &link); err != nil || st != http.StatusCreated {
		return fmt.Errorf("load: create a setup link: %d %v", st, err)
	}
	redirect, number, err := l.s.Sim.CompleteLink(link.SetupLink.ID, "dedicated")
	if err != nil {
		return err
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(redirect)
	if err != nil {
		return err
	}
	res.Body.Close()
	l.number = number
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, h := range l.s.Sim.Webhooks(number) {
			if h.Active && h.Kind == "kapso" {
				l.hook.url, l.hook.secret, l.hook.version = h.URL, h.SecretKey, h.PayloadVersion
			}
		}
		var conn struct {
			Status string `json:"status"`
		}
		if _, err := l.api(ctx, http.MethodGet, "/v1/tenants/"+loadTenant+"/connection", "", &conn); err == nil &&
			conn.Status == "connected" && l.hook.url != "" {
			return nil
		}
	}
	return errors.New("load: the tenant never connected with a registered webhook")
}

// delivery i of a phase: a unique WAMID of the original's length, signed
// with the number's secret.
func (l *loader) delivery(phase string, i int) delivery {
	orig := jsonField(l.tmpl, "id")
	id := fmt.Sprintf("wamid.%s%s%08d", phase, l.run, i)
	if pad := len(orig) - len(id); pad > 0 {
		id += strings.Repeat("A", pad)
	}
	b := bytes.Replace(l.tmpl, []byte(`"id":"`+orig+`"`), []byte(`"id":"`+id+`"`), 1)
	return delivery{wamid: id, key: fmt.Sprintf("%s-%s-%08d", phase, l.run, i), body: b, sig: kapso.Sign(l.hook.secret, b)}
}

func (l *loader) prepare(phase string, n int) []delivery {
	ds := make([]delivery, n)
	for i := range ds {
		ds[i] = l.delivery(phase, i)
	}
	return ds
}

func (l *loader) post(ctx context.Context, d delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.hook.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Event", "whatsapp.message.received")
	req.Header.Set("X-Webhook-Signature", d.sig)
	req.Header.Set("X-Idempotency-Key", d.key)
	req.Header.Set("X-Webhook-Payload-Version", l.hook.version)
	res, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// send posts every delivery with c senders and returns each one's latency
// in ms and how many did not get a 200. Every sampleEvery-th accepted one
// goes to lags.
func (l *loader) send(ctx context.Context, ds []delivery, c, sampleEvery int, lags chan<- sample) ([]float64, int) {
	lat := make([]float64, len(ds))
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ds) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				st, err := l.post(ctx, ds[i])
				lat[i] = float64(time.Since(t).Microseconds()) / 1e3
				if err != nil || st != http.StatusOK {
					failed.Add(1)
					continue
				}
				if lags != nil && sampleEvery > 0 && i%sampleEvery == 0 {
					lags <- sample{ds[i].wamid, t}
				}
			}
		})
	}
	wg.Wait()
	return lat, int(failed.Load())
}

func (l *loader) isReadable(ctx context.Context, wamid string) bool {
	st, err := l.api(ctx, http.MethodGet, "/v1/tenants/"+loadTenant+"/messages/"+url.PathEscape(wamid), "", nil)
	return err == nil && st == http.StatusOK
}

// pollLag follows the samples in the order they were sent: it asks for
// the oldest pending one every lagPoll, and once that one is readable goes
// straight on to the next. One light reader, so the polling does not become
// the load; lags are exact to within lagPoll plus one GET. It gives up two
// minutes after the last sample arrives, and returns when the last one it
// saw readable was.
func (l *loader) pollLag(ctx context.Context, in <-chan sample) (lag []float64, unseen int, last time.Time) {
	const lagPoll = 20 * time.Millisecond
	var pending []sample
	open := true
	var deadline time.Time
	for open || len(pending) > 0 {
		for drained := false; open && !drained; {
			select {
			case smp, ok := <-in:
				if !ok {
					open, deadline = false, time.Now().Add(2*time.Minute)
					break
				}
				pending = append(pending, smp)
			default:
				drained = true
			}
		}
		if !open && (time.Now().After(deadline) || ctx.Err() != nil) {
			return lag, len(pending), last
		}
		for len(pending) > 0 && l.isReadable(ctx, pending[0].wamid) {
			last = time.Now()
			lag = append(lag, float64(last.Sub(pending[0].sentAt).Microseconds())/1e3)
			pending = pending[1:]
		}
		time.Sleep(lagPoll)
	}
	return lag, 0, last
}

// readable waits until every delivery's message is readable, or for at
// most wait, and returns how many are.
func (l *loader) readable(ctx context.Context, ds []delivery, c int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	var n atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ds) {
					return
				}
				for !l.isReadable(ctx, ds[i].wamid) {
					if time.Now().After(deadline) || ctx.Err() != nil {
						goto nextOne
					}
					time.Sleep(20 * time.Millisecond)
				}
				n.Add(1)
			nextOne:
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}

type awsClients struct {
	db *dynamodb.Client
	q  *sqs.Client
}

func (l *loader) awsClients() awsClients {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	return awsClients{
		db: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(l.s.Services.DynamoDBEndpoint) }),
		q:  sqsqueue.NewClient(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(l.s.Services.SQSEndpoint) }),
	}
}

// loop runs op n times with c workers and returns ops per second and each
// op's latency; the first error stops it.
func loop(ctx context.Context, n, c int, op func(ctx context.Context, i int) error) (float64, []float64, error) {
	lat := make([]float64, n)
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	began := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := op(ctx, i); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
				lat[i] = float64(time.Since(t).Microseconds()) / 1e3
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(began).Seconds(), lat, first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// capacity runs a conditional PutItem loop (the claim's shape, on the
// idempotency table) and a SendMessage loop (the queue message of one
// delivery, on a queue of its own) at the load's concurrency.
func (l *loader) capacity(ctx context.Context, c awsClients, o loadOptions, msg string) (capacity, error) {
	table := l.s.Tables[schema.Idempotency.ID]
	put := func(phase string) func(context.Context, int) error {
		return func(ctx context.Context, i int) error {
			now := time.Now()
			_, err := c.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(table),
				Item: map[string]types.AttributeValue{
					schema.AttrPK:  &types.AttributeValueMemberS{Value: fmt.Sprintf("capacity#%s#%s#%d", l.run, phase, i)},
					"status":       &types.AttributeValueMemberS{Value: "in_progress"},
					"body_hash":    &types.AttributeValueMemberS{Value: strings.Repeat("ab", 32)},
					"token":        &types.AttributeValueMemberS{Value: "8c1f6c1e-5b8a-4c55-9a0e-2f0d7f3b9c11"},
					"lease_until":  &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(time.Minute).UnixMilli())},
					schema.AttrTTL: &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(72 * time.Hour).Unix())},
				},
				ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
				ExpressionAttributeNames: map[string]string{"#pk": schema.AttrPK},
			})
			return err
		}
	}
	q, err := c.q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kb-bench-capacity-" + l.run)})
	if err != nil {
		return capacity{}, err
	}
	send := func(ctx context.Context, _ int) error {
		_, err := c.q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(msg)})
		return err
	}
	cp := capacity{Ops: o.Deliveries, SendMessageBytes: len(msg)}
	if _, _, err := loop(ctx, 200, o.Concurrency, put("warm")); err != nil {
		return cp, fmt.Errorf("capacity: PutItem: %w", err)
	}
	cpu0 := sampleCPU()
	rate, lat, err := loop(ctx, o.Deliveries, o.Concurrency, put("load"))
	cp.PutItemCPUMs = cpuPer(cpu0, sampleCPU(), o.Deliveries)
	if err != nil {
		return cp, fmt.Errorf("capacity: PutItem: %w", err)
	}
	cp.PutItemPerSecond, cp.PutItemMs = rate, distOf(lat)
	if _, _, err := loop(ctx, 200, o.Concurrency, func(ctx context.Context, i int) error { return send(ctx, i) }); err != nil {
		return cp, fmt.Errorf("capacity: SendMessage: %w", err)
	}
	cpu0 = sampleCPU()
	rate, lat, err = loop(ctx, o.Deliveries, o.Concurrency, func(ctx context.Context, i int) error { return send(ctx, i) })
	cp.SendMessageCPUMs = cpuPer(cpu0, sampleCPU(), o.Deliveries)
	if err != nil {
		return cp, fmt.Errorf("capacity: SendMessage: %w", err)
	}
	cp.SendMessagePerSecond, cp.SendMessageMs = rate, distOf(lat)
	_, _ = c.q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
	return cp, nil
}
