// Command dev runs kapso-bridge on this machine: `make dev`. Against a
// real Kapso it keeps DynamoDB's data under .local/dynamodb-<PORT> across
// restarts (-reset, `make dev-reset`, deletes it); with the simulator it
// starts empty. It tells the tools where it runs in .local/dev-<PORT>.json
// (infra/local/devstate).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/devlog"
	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// servicesLogLines is how much of the local servers' output is kept to show
// if they fail to start.
const servicesLogLines = 200

// devAutoStatusDelay is how long the simulator waits before each automatic
// status of a send in make dev: long enough to see each on the app page.
const devAutoStatusDelay = 400 * time.Millisecond

func main() {
	reset := flag.Bool("reset", false, "delete the DynamoDB data make dev keeps for $PORT, and exit")
	flag.Parse()
	stopWithParent()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	settings, defaulted := stack.Resolve(os.Getenv)
	log := logger(settings, os.Stdout)
	slog.SetDefault(log)
	port := settings[config.Port.Name]
	stateDir, err := devstate.Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kapso-bridge dev:", err)
		os.Exit(1)
	}
	if *reset {
		if err := resetData(stateDir, port); err != nil {
			fmt.Fprintln(os.Stderr, "kapso-bridge dev:", err)
			os.Exit(1)
		}
		return
	}

	if len(defaulted) > 0 {
		fmt.Println("kapso-bridge dev: settings not in the environment use these defaults:")
		for _, name := range defaulted {
			fmt.Printf("  %s=%s\n", name, settings[name])
		}
	}
	servicesLog := devlog.NewQuiet(os.Stderr, servicesLogLines)
	steps := newProgress(os.Stdout)
	opts := stack.Options{Settings: settings, Log: log, ServicesLog: servicesLog, Progress: steps.step,
		// A person trying the API sees a sent text reach delivered, then
		// read, as a phone would report it; the simulator's page still moves
		// a message on by hand, and a number's own setting overrides this.
		SimAutoStatuses: []string{"delivered", "read"}, SimAutoStatusDelay: devAutoStatusDelay}
	closeExternal, err := applyExternal(&opts, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kapso-bridge dev:", err)
		os.Exit(2)
	}
	defer closeExternal()
	if opts.DynamoDBEndpoint == "" {
		opts.DynamoDBPath = keptData(stateDir, settings)
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	s, err := stack.Start(startCtx, opts)
	cancel()
	steps.done()
	if err != nil {
		if errors.Is(err, stack.ErrServices) {
			servicesLog.Flush("kapso-bridge dev: DynamoDB Local's and fauxqs's output:")
		}
		fmt.Fprintln(os.Stderr, "kapso-bridge dev:", err)
		os.Exit(1)
	}
	// The tools (make redrive, make reconcile, sendevent) find this stack
	// by PORT through its state file.
	devstate.Prune(stateDir)
	st := stateOf(s, port)
	if err := devstate.Write(stateDir, st); err != nil {
		fmt.Fprintln(os.Stderr, "kapso-bridge dev: make redrive, make reconcile and sendevent will not find this stack:", err)
	}
	fmt.Printf("kapso-bridge dev: ready in %.1f s\n", time.Since(began).Seconds())
	fmt.Print(walkthrough(s, settings, opts.DynamoDBPath))
	<-ctx.Done()
	fmt.Println("\nkapso-bridge dev: stopping")
	s.Stop()
	if err := devstate.Remove(stateDir, st); err != nil {
		fmt.Fprintln(os.Stderr, "kapso-bridge dev:", err)
	}
}

// dataDir is where make dev on port keeps DynamoDB's data.
func dataDir(stateDir, port string) string { return filepath.Join(stateDir, "dynamodb-"+port) }

// keptData is where DynamoDB Local keeps make dev's data across restarts,
// "" for in memory. Only a real Kapso keeps its side (customers, numbers,
// the webhooks registered with their secrets) across a restart: the
// simulator starts empty, so kept data would name customers and numbers it
// no longer knows, which the reconciler would mark deleted and which could
// get no new setup link.
func keptData(stateDir string, settings map[string]string) string {
	if settings[config.KapsoAPIBaseURL.Name] == "" {
		return ""
	}
	return dataDir(stateDir, settings[config.Port.Name])
}

// resetData deletes the data make dev on port keeps, unless it is running.
func resetData(stateDir, port string) error {
	if s, err := devstate.Find(stateDir, port); err == nil {
		return fmt.Errorf("make dev runs with PORT=%s (pid %d): stop it before resetting its data", port, s.PID)
	}
	dir := dataDir(stateDir, port)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	fmt.Printf("kapso-bridge dev: deleted %s; the next make dev with PORT=%s starts empty\n", dir, port)
	return nil
}

// stateOf is what the tools need to know of s.
func stateOf(s *stack.Stack, port string) devstate.State {
	platform, meta := s.KapsoBases()
	st := devstate.State{PID: os.Getpid(), Port: port, URL: s.URL, SimURL: s.SimURL,
		KapsoAPIBaseURL: platform, KapsoMetaBaseURL: meta,
		DynamoDBEndpoint: s.DynamoDBEndpoint, SQSEndpoint: s.SQSEndpoint,
		Tables: s.Tables, Queues: map[string]devstate.Queue{}, StartedAt: time.Now().UTC()}
	for _, q := range schema.Queues {
		st.Queues[q.ID] = devstate.Queue{URL: s.Queues[q.ID].URL, DLQURL: s.Queues[q.ID].DLQURL}
	}
	return st
}

// logger is make dev's: readable lines (devlog) at LOG_LEVEL. The Lambda
// functions log JSON through config.Env.Logger; here a person reads them.
func logger(settings map[string]string, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(settings[config.LogLevel.Name])); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(devlog.New(w, &devlog.Options{Level: level}))
}

// progress says what a start is doing, and that it is still at it when a
// step is slow (a cold JVM on a small machine can take a minute).
type progress struct {
	w    io.Writer
	mu   sync.Mutex
	cur  string
	at   time.Time
	stop chan struct{}
	once sync.Once
}

const stillEvery = 10 * time.Second

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, stop: make(chan struct{})}
	go p.remind()
	return p
}

func (p *progress) step(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.at = s, time.Now()
	fmt.Fprintf(p.w, "kapso-bridge dev: %s…\n", s)
}

func (p *progress) remind() {
	t := time.NewTicker(stillEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.cur != "" && time.Since(p.at) >= stillEvery {
				fmt.Fprintf(p.w, "kapso-bridge dev: still %s (%.0f s)\n", p.cur, time.Since(p.at).Seconds())
			}
			p.mu.Unlock()
		}
	}
}

func (p *progress) done() { p.once.Do(func() { close(p.stop) }) }

// events says where make dev tells its events: the topic, and how to
// subscribe a queue of one's own to it, on fauxqs; and the feed.
func events(topic, endpoint, token, url string) string {
	return fmt.Sprintf(`Events topic (every event, message attributes type and tenant_id): %[1]s
   a queue of yours gets them once subscribed (raw delivery: each message is one event's JSON):
   aws --endpoint-url %[2]s sqs create-queue --queue-name my-events
   aws --endpoint-url %[2]s sns subscribe --topic-arn %[1]s --protocol sqs \
     --notification-endpoint arn:aws:sqs:us-east-1:000000000000:my-events --attributes RawMessageDelivery=true
   (one tenant's only: --attributes '{"RawMessageDelivery":"true","FilterPolicy":"{\"tenant_id\":[\"acme\"]}"}'),
   then read it with sqs receive-message --message-attribute-names All; or read the feed:
   curl -s %[4]s/v1/events -H 'Authorization: Bearer %[3]s'
`, topic, endpoint, token, url)
}

// walkthrough is what make dev prints once ready; dbPath is where
// DynamoDB Local keeps its data, "" for none of make dev's own.
func walkthrough(s *stack.Stack, v map[string]string, dbPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nkapso-bridge is running at %s (GET /healthz; %s/ links the pages, for this machine only)\n", s.URL, s.URL)
	if s.SimURL != "" {
		fmt.Fprintf(&b, "Kapso simulator at %s (state: %s/_sim/state)\n", s.SimURL, s.SimURL)
	}
	platform, meta := s.KapsoBases()
	fmt.Fprintf(&b, "Kapso Platform API: %s\nKapso Meta proxy (sends): %s\n", platform, meta)
	if s.Services != nil {
		fmt.Fprintf(&b, "DynamoDB Local at %s, SQS (fauxqs) at %s (for the AWS CLI: --endpoint-url)\n",
			s.Services.DynamoDBEndpoint, s.Services.SQSEndpoint)
	}
	if topic := s.Topics[schema.EventsTopic.ID]; topic != "" {
		fmt.Fprint(&b, events(topic, s.SQSEndpoint, v[config.BridgeAPIToken.Name], s.URL))
	}
	if bucket := s.Buckets[schema.MediaBucket.ID]; bucket != "" {
		fmt.Fprintf(&b, "Media bucket %s (S3 on fauxqs at %s, by path): the media worker copies every photo, voice note,\n"+
			"video, document and sticker a person sends into it; the API's media.url links a copy for %s\n",
			bucket, s.SQSEndpoint, cmp.Or(v[config.MediaURLTTL.Name], config.MediaURLTTL.Default))
	}
	switch {
	case dbPath != "":
		fmt.Fprintf(&b, "DynamoDB's data is kept in %s across restarts (make dev-reset deletes it); "+
			"the queues start empty each time\n", dbPath)
	case s.Services != nil:
		fmt.Fprintln(&b, "Everything is in memory, as the simulator's own state is: stopping make dev loses all data")
	}
	// The tools find this stack from PORT alone (its state file).
	var env []string
	if v[config.Port.Name] != config.Port.Default {
		env = append(env, config.Port.Name+"="+v[config.Port.Name])
	}
	sendevent := strings.Join(append(env, "go run ./infra/local/cmd/sendevent"), " ")
	mk := strings.Join(append([]string{"make"}, env...), " ")
	fmt.Fprintf(&b, `
1. Create a setup link for tenant acme:
   curl -s -X POST %[1]s/v1/tenants/acme/setup-links -H 'Authorization: Bearer %[2]s' -d '{"tenant_name":"Acme"}'
2. Open the "url" it returns in a browser and finish the signup (dedicated or coexistence), or fail it.
3. You land on the app page, which shows the tenant's connection; or ask the API:
   curl -s %[1]s/v1/tenants/acme/connection -H 'Authorization: Bearer %[2]s'
4. Make a person write to the connected number: the simulator's page (%[3]s/) has the forms, or, with
   the number's phone_number_id from the app page or the connection above:
   curl -s -X POST %[3]s/_sim/numbers/<phone_number_id>/messages -d '{"text":"Oi!"}'
   The app page's inbox shows it within seconds; or ask the API:
   curl -s %[1]s/v1/tenants/acme/conversations -H 'Authorization: Bearer %[2]s'
5. Send a sample webhook; a message sample goes to the first connected number, signed with its secret:
   %[4]s -file events/kapso/whatsapp.message.received.json
6. Reply from the number to the person of step 4 (+16505551234, who wrote within 24 hours): sent once
   through the simulator's Meta proxy, it ends read; the app page has a send form under each conversation:
   curl -s -X POST %[1]s/v1/tenants/acme/messages -H 'Authorization: Bearer %[2]s' \
     -H 'Idempotency-Key: hello-1' -d '{"to":"+16505551234","type":"text","text":{"body":"Olá!"}}'
7. Make the person send a photo (or "document", "audio", "sticker"): copied into the media bucket, it shows
   inline on the app page, and the message's media.url (GET /v1/tenants/acme/messages/<wamid>) fetches it:
   curl -s -X POST %[3]s/_sim/numbers/<phone_number_id>/messages -d '{"type":"image","text":"o bolo"}'

%[5]s reconcile runs a reconciler pass now; %[5]s redrive QUEUE=messages (lifecycle, outbound,
event-webhooks, media) moves dead letters back. They and sendevent find this stack by PORT alone. Ctrl-C stops
everything.
`, s.URL, v[config.BridgeAPIToken.Name], cmp.Or(s.SimURL, "<the simulator, with make dev's default Kapso>"), sendevent, mk)
	b.WriteString(webhooks(v, mk))
	return b.String()
}

// webhooks says where make dev POSTs its events, or how to have it do so.
func webhooks(v map[string]string, mk string) string {
	if url := v[config.EventsWebhookURL.Name]; url != "" {
		return fmt.Sprintf("Every event is POSTed to %s, signed with %s=%s (docs/events.md);\n"+
			"a failed one is tried again 5 s, 30 s, 2 min, 10 min and 1 h later, then hourly.\n",
			url, config.EventsWebhookSecret.Name, v[config.EventsWebhookSecret.Name])
	}
	return fmt.Sprintf("No events are POSTed: start make dev with %s=http://127.0.0.1:%s/events\n"+
		"and %s autoreply beside it to receive them, signed, and answer every message (docs/local.md).\n",
		config.EventsWebhookURL.Name, autoreplyPort, mk)
}

// autoreplyPort is where make autoreply listens (the Makefile's AUTOREPLY_PORT).
const autoreplyPort = "8070"
