// Package kapsosim is a Kapso simulator for tests and the local stack: the
// Platform API calls kapso-bridge makes, the Meta proxy's sends, history,
// media and WABA templates, a setup page a person can click through,
// signed project and phone-number webhooks sent with Kapso's retry
// schedule, and /_sim/ controls to drive it all. All state lives in the
// Simulator value.
package kapsosim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultRetrySchedule returns Kapso's documented schedule: the wait before
// each attempt of a webhook delivery.
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{0, 10 * time.Second, 40 * time.Second, 90 * time.Second}
}

const (
	linkLifetime = 30 * 24 * time.Hour
	maxBodyBytes = 1 << 20
	// deliveryTimeout is how long Kapso waits for a webhook's 200.
	deliveryTimeout = 10 * time.Second
)

// Webhook modes for project webhooks.
const (
	ModeNormal    = "normal"
	ModeDrop      = "drop"      // send nothing
	ModeDuplicate = "duplicate" // send each delivery twice, same idempotency key
)

// modeCopies is how many copies of a project webhook each mode sends; its
// keys are the valid modes.
var modeCopies = map[string]int{ModeNormal: 1, ModeDrop: 0, ModeDuplicate: 2}

// Options configure a Simulator.
type Options struct {
	PublicURL            string // how browsers reach the simulator, e.g. http://127.0.0.1:8090
	APIKey               string // expected X-API-Key ("" accepts any)
	ProjectWebhookURL    string // where project webhooks are sent ("" sends none)
	ProjectWebhookSecret string
	// PayloadVersion "v2" (default) sends whatsapp.phone_number.created on a
	// connection; "v1" sends whatsapp.config.created.
	PayloadVersion string
	// RetrySchedule is the wait before each delivery attempt; default
	// DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// TimeScale, when > 0, multiplies every RetrySchedule wait.
	TimeScale  float64
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// Seed makes ids and tokens repeatable; 0 picks a random seed.
	Seed uint64
	// RateLimitPerMinute, when > 0, limits Platform API calls per fixed
	// minute as Kapso does per API key; over it they answer 429.
	RateLimitPerMinute int
	// DefaultAutoStatuses are the statuses every accepted Meta proxy send
	// moves on through, as SetDefaultAutoStatuses sets them; none by default.
	DefaultAutoStatuses []string
	// AutoStatusDelay is the wait before each automatic status of a proxy
	// send (see SetAutoStatuses); 0 applies them at once.
	AutoStatusDelay time.Duration
}

// Simulator is an http.Handler standing in for Kapso.
type Simulator struct {
	opts     Options
	schedule []time.Duration
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux

	ctx    context.Context // ended by Close, stops background senders
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	// busy counts the background senders running; idle is closed while
	// there are none.
	busy       int
	idle       chan struct{}
	rng        *rand.Rand
	projectID  string
	mode       string
	customers  []*customer
	links      []*link
	numbers    []*number
	webhooks   []*Webhook
	deliveries []Delivery
	// conversations and messages of the numbers, from the message controls.
	conversations []*Conversation
	messages      []*ChatMessage
	sequence      int // Kapso's per-project message sequence, for batch_info
	// proxy is what the Meta proxy's send endpoint has done (send.go).
	proxy *proxySends
	// failed are the deliveries that exhausted their retries, oldest first.
	failed []FailedDelivery
	// numberModes holds each number's webhook mode; absent is ModeNormal.
	numberModes map[string]string
	limits      apiLimits
	stall       stall
	// media are the files people sent and uploads, with their faults (media.go).
	media *mediaState
	// templates are each WABA's message templates, oldest first
	// (templates.go); templateSeq numbers their ids.
	templates   map[string][]*Template
	templateSeq int
	// proxyCalls counts the requests each Meta proxy route received
	// (ProxyCalls).
	proxyCalls map[string]int
}

// New returns a simulator; call Close to stop its background senders.
func New(o Options) *Simulator {
	s := &Simulator{opts: o, client: o.HTTPClient, log: o.Logger, now: o.Now, mode: ModeNormal,
		numberModes: map[string]string{}, templates: map[string][]*Template{}, proxyCalls: map[string]int{}}
	if s.opts.PayloadVersion == "" {
		s.opts.PayloadVersion = "v2"
	}
	s.opts.PublicURL = strings.TrimRight(o.PublicURL, "/")
	sched := o.RetrySchedule
	if len(sched) == 0 {
		sched = DefaultRetrySchedule()
	}
	for _, d := range sched {
		if o.TimeScale > 0 {
			d = time.Duration(float64(d) * o.TimeScale)
		}
		s.schedule = append(s.schedule, d)
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: deliveryTimeout}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.projectID = s.uuid()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.idle = make(chan struct{})
	close(s.idle)
	s.routes()
	return s
}

// Close stops background webhook senders and waits for them.
func (s *Simulator) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// startLocked counts a background sender about to start; s.mu is held.
func (s *Simulator) startLocked() {
	if s.busy == 0 {
		s.idle = make(chan struct{})
	}
	s.busy++
	s.wg.Add(1)
}

// finish counts a background sender done.
func (s *Simulator) finish() {
	s.mu.Lock()
	if s.busy--; s.busy == 0 {
		close(s.idle)
	}
	s.mu.Unlock()
	s.wg.Done()
}

// WaitIdle returns once no background sender runs: every webhook delivery
// has been made with its retries, and every automatic status set; so a test
// knows nothing more is on its way from the simulator. Work started after
// it returns is not waited for.
func (s *Simulator) WaitIdle(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the simulator's background senders: %w", ctx.Err())
	}
}

func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Simulator) routes() {
	m := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.authed(h)) }
	api("POST /platform/v1/customers", s.createCustomer)
	api("GET /platform/v1/customers", s.listCustomers)
	api("POST /platform/v1/customers/{customer_id}/setup_links", s.createLink)
	api("GET /platform/v1/customers/{customer_id}/setup_links", s.listLinks)
	api("PATCH /platform/v1/customers/{customer_id}/setup_links/{id}", s.updateLink)
	api("GET /platform/v1/whatsapp/phone_numbers", s.listNumbers)
	api("GET /platform/v1/whatsapp/phone_numbers/{phone_number_id}", s.getNumber)
	api("GET /platform/v1/whatsapp/phone_numbers/{phone_number_id}/webhooks", s.listWebhooks)
	api("POST /platform/v1/whatsapp/phone_numbers/{phone_number_id}/webhooks", s.createWebhook)
	api("PATCH /platform/v1/whatsapp/phone_numbers/{phone_number_id}/webhooks/{webhook_id}", s.updateWebhook)
	api("DELETE /platform/v1/whatsapp/phone_numbers/{phone_number_id}/webhooks/{webhook_id}", s.deleteWebhook)
	api("GET /platform/v1/whatsapp/messages", s.listMessages)
	api("GET /platform/v1/whatsapp/conversations", s.listConversations)
	api("GET /platform/v1/webhook_deliveries", s.listFailedDeliveries)
	proxy := func(pattern, route string, h http.HandlerFunc) { m.Handle(pattern, s.counted(route, s.authed(h))) }
	proxy("POST /meta/whatsapp/{version}/{phone_number_id}/messages", RouteSend, s.proxySend)
	proxy("GET /meta/whatsapp/{version}/{phone_number_id}/messages", RouteMessageHistory, s.historyMessages)
	proxy("GET /meta/whatsapp/{version}/{phone_number_id}/conversations", RouteConversationHistory, s.historyConversations)
	proxy("POST /meta/whatsapp/{version}/{phone_number_id}/media", RouteMediaUpload, s.mediaUpload)
	proxy("GET /meta/whatsapp/{version}/{media_id}", RouteMediaMetadata, s.mediaMetadata)
	proxy("GET /meta/whatsapp/media_file", RouteMediaDownload, s.mediaByToken(true))
	proxy("GET /meta/whatsapp/media/{media_id}", RouteMediaDownload, s.mediaByID)
	m.Handle("GET /meta/whatsapp/media_download", s.counted(RouteMediaDownload, s.mediaByToken(false)))
	proxy("GET /meta/whatsapp/{version}/{waba_id}/message_templates", RouteListTemplates, s.listTemplates)
	proxy("POST /meta/whatsapp/{version}/{waba_id}/message_templates", RouteCreateTemplate, s.createTemplate)
	api("/platform/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})

	m.HandleFunc("GET /setup/{token}", s.setupPage)
	m.HandleFunc("POST /setup/{token}/complete", s.setupComplete)
	m.HandleFunc("POST /setup/{token}/fail", s.setupFail)

	m.HandleFunc("POST /_sim/links/{id}/complete", s.ctlComplete)
	m.HandleFunc("POST /_sim/links/{id}/fail", s.ctlFail)
	m.HandleFunc("POST /_sim/webhooks/mode", s.ctlMode)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/events", s.ctlNumberEvent)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/messages", s.ctlInbound)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/outbound", s.ctlOutbound)
	m.HandleFunc("POST /_sim/messages/{wamid}/status", s.ctlStatus)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/change", s.ctlChangeNumber)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/health", s.ctlNumberHealth)
	m.HandleFunc("POST /_sim/project/events", s.ctlProjectEvent)
	m.HandleFunc("GET /_sim/deliveries", s.ctlDeliveries)
	m.HandleFunc("GET /_sim/failed_deliveries", s.ctlFailedDeliveries)
	m.HandleFunc("POST /_sim/deliveries/{key}/replay", s.ctlReplay)
	m.HandleFunc("POST /_sim/ratelimit", s.ctlRateLimit)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/webhooks/mode", s.ctlNumberWebhookMode)
	m.HandleFunc("POST /_sim/numbers/{phone_number_id}/webhooks/state", s.ctlWebhookState)
	m.HandleFunc("POST /_sim/setup_links/stall", s.ctlStall)
	m.HandleFunc("POST /_sim/send/faults", s.ctlSendFaults)
	m.HandleFunc("POST /_sim/send/auto_statuses", s.ctlAutoStatuses)
	m.HandleFunc("GET /_sim/send", s.ctlSendState)
	m.HandleFunc("POST /_sim/media/faults", s.ctlMediaFaults)
	m.HandleFunc("GET /_sim/media", s.ctlMediaState)
	m.HandleFunc("GET /_sim/templates/{waba_id}", s.ctlTemplates)
	m.HandleFunc("POST /_sim/templates/{waba_id}/{name}/{language}", s.ctlTemplate)
	m.HandleFunc("GET /_sim/state", s.ctlState)
	m.HandleFunc("GET /{$}", s.homePage)
	s.mux = m
}

func (s *Simulator) authed(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.limits.calls++
		s.mu.Unlock()
		if s.opts.APIKey != "" && r.Header.Get("X-API-Key") != s.opts.APIKey {
			writeError(w, http.StatusUnauthorized, "Invalid API key")
			return
		}
		if !s.admit(w) {
			return
		}
		s.log.Debug("kapsosim api", "method", r.Method, "path", r.URL.Path)
		h(w, r)
	})
}

// Meta proxy routes, as ProxyCalls counts the requests they receive.
const (
	RouteSend = "send"
	// RouteTemplateSend counts the sends of type template among those of
	// RouteSend that were let in (a right API key, not rate limited).
	RouteTemplateSend        = "template_send"
	RouteMessageHistory      = "message_history"
	RouteConversationHistory = "conversation_history"
	RouteMediaUpload         = "media_upload"
	RouteMediaMetadata       = "media_metadata"
	RouteMediaDownload       = "media_download"
	RouteListTemplates       = "list_templates"
	RouteCreateTemplate      = "create_template"
)

// counted counts each request of route before h sees it.
func (s *Simulator) counted(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.countProxyCall(route)
		h.ServeHTTP(w, r)
	})
}

func (s *Simulator) countProxyCall(route string) {
	s.mu.Lock()
	s.proxyCalls[route]++
	s.mu.Unlock()
}

// ProxyCalls returns how many requests the Meta proxy route (Route…)
// has received, those refused included (a wrong API key, a rate limit, a
// Meta error): a test that a send never reached Kapso asserts that
// ProxyCalls(RouteSend) did not move.
func (s *Simulator) ProxyCalls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proxyCalls[route]
}

// --- helpers shared by the handlers ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readJSON decodes a size-limited JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// readResource decodes a body in Kapso's resource envelope, {"<name>": {...}}.
// A missing resource is a 400 when required, else the zero T.
func readResource[T any](w http.ResponseWriter, r *http.Request, name string, required bool) (T, bool) {
	var v T
	var env map[string]json.RawMessage
	if !readJSON(w, r, &env) {
		return v, false
	}
	raw, ok := env[name]
	if !ok || string(raw) == "null" {
		if required {
			writeError(w, http.StatusBadRequest, "param is missing or the value is empty: "+name)
		}
		return v, !required
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid "+name+": "+err.Error())
		return v, false
	}
	return v, true
}

// uuid returns a version-4 UUID from the simulator's generator; callers hold
// s.mu or are in New.
func (s *Simulator) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// digits returns n random decimal digits, the first not zero; callers hold s.mu.
func (s *Simulator) digits(n int) string {
	var b strings.Builder
	b.WriteByte(byte('1' + s.rng.IntN(9)))
	for range n - 1 {
		b.WriteByte(byte('0' + s.rng.IntN(10)))
	}
	return b.String()
}

// Errors of the Go controls.
var (
	ErrNotFound     = errors.New("not found")
	ErrLinkUnusable = errors.New("setup link cannot be used")
	ErrInvalid      = errors.New("invalid")
	ErrNoWebhook    = errors.New("no active webhook for that number and event")
	ErrClosed       = errors.New("simulator closed")
)
