// Command sendevent posts a sample delivery from events/ to a running local
// kapso-bridge, signed and labelled the way Kapso sends it, to the route the
// sample belongs to:
//
//	go run ./infra/local/cmd/sendevent -file events/kapso/whatsapp.message.received.json
//
// The route (events/manifest.json, or -route) picks the endpoint on -url
// (default the make dev running with $PORT, found through its state file,
// infra/local/devstate): project samples go to /webhooks/kapso,
// signed with the project webhook secret; number and meta samples go to
// /webhooks/kapso/{id} and /webhooks/meta/{id} of a connected number (-number,
// default the first connected number the simulator knows), signed with that
// number's webhook secret. The secret is read from the simulator's
// GET /_sim/state (-sim, default that make dev's simulator): kapso-bridge
// registered it there, so it is the secret the ingest verifies with. Signing
// here rather than through the simulator's event control keeps the body
// byte for byte, works for meta samples and bodies that are not JSON, and
// honours -event and -key.
//
// The sample's phone_number_id is rewritten to the number sent for, else the
// trust rule refuses the events, and a project sample's customer can be
// rewritten with -customer (or follows -number), else it names a customer no
// tenant owns and is only kept aside.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/infra/local/devstate"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

const (
	// defaultSecret is make dev's project webhook secret.
	defaultSecret = "dev-project-webhook-secret"
	secretEnv     = "KAPSO_PROJECT_WEBHOOK_SECRET"
	// requestTimeout is above Kapso's own 10 s limit, so a slow answer is
	// seen rather than cut short.
	requestTimeout = 15 * time.Second
	maxShownBody   = 64 << 10
)

func main() {
	stateDir, _ := devstate.Dir() // outside the repository only -url and -sim work; run says so
	if err := run(os.Args[1:], os.Getenv, stateDir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sendevent:", err)
		os.Exit(1)
	}
}

// options is what the flags ask for.
type options struct {
	file, url, sim, route, number, customer, secret, key string
	event                                                *string // nil: take it from the manifest
	secretGiven                                          bool
	// simErr says why there is no simulator to ask when sim is "".
	simErr error
}

const usage = "usage: sendevent -file <sample> [-url U] [-sim S] [-route project|number|meta] [-number ID] [-customer ID] [-secret S] [-event E] [-key K]"

func parseFlags(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("sendevent", flag.ContinueOnError)
	var o options
	var event string
	fs.StringVar(&o.file, "file", "", "sample body to send (required), e.g. events/kapso/whatsapp.message.received.json")
	fs.StringVar(&o.url, "url", "", "kapso-bridge's base URL (default: the make dev running with $PORT); a URL with a path is the endpoint itself")
	fs.StringVar(&o.sim, "sim", "", "the Kapso simulator, asked for numbers, secrets and customers (default: that make dev's)")
	fs.StringVar(&o.route, "route", "", "project, number or meta (default the sample's route in events/manifest.json)")
	fs.StringVar(&o.number, "number", "", "phone_number_id to send for (default the first connected number the simulator knows)")
	fs.StringVar(&o.customer, "customer", "", "project samples: the Kapso customer id to put in the sample")
	fs.StringVar(&o.secret, "secret", "", "signing secret (default: project $"+secretEnv+", else "+defaultSecret+"; number and meta: the number's webhook secret)")
	fs.StringVar(&event, "event", "", `X-Webhook-Event (default from events/manifest.json; "" sends none)`)
	fs.StringVar(&o.key, "key", "", "X-Idempotency-Key (default a random UUID)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.file == "" || fs.NArg() > 0 {
		return o, errors.New(usage)
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "event":
			o.event = &event
		case "secret":
			o.secretGiven = true
		}
	})
	switch o.route {
	case "", events.RouteProject, events.RouteNumber, events.RouteMeta:
	default:
		return o, fmt.Errorf("-route %q: want project, number or meta", o.route)
	}
	return o, nil
}

// plan is what will be sent, and what to tell the person about it.
type plan struct {
	target, route, event, secret string
	body                         []byte
	notes                        []string // said before sending
	warnings                     []string
	tenant                       string // the tenant the delivery is for, "" when unknown
	orphan                       bool   // a project event no tenant will own
}

func run(args []string, getenv func(string) string, stateDir string, out io.Writer) error {
	o, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(o.file)
	if err != nil {
		return fmt.Errorf("read sample: %w", err)
	}
	p, err := prepare(&o, body, getenv, stateDir)
	if err != nil {
		return err
	}
	if o.key == "" {
		if o.key, err = newUUID(); err != nil {
			return err
		}
	}
	for _, w := range p.warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	fmt.Fprintf(out, "POST %s\n", p.target)
	fmt.Fprintf(out, "  sample %s, route %s, event %q, key %s\n", o.file, p.route, p.event, o.key)
	for _, n := range p.notes {
		fmt.Fprintln(out, " ", n)
	}
	status, answer, err := post(p, o.key)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s\n", status, bytes.TrimSpace(answer))
	fmt.Fprintln(out, lookAt(o, p, status))
	return nil
}

// findStack takes -url and -sim, unless given, from the make dev running
// with port. Without one, -url is required and the simulator is not asked.
func (o *options) findStack(stateDir, port string) error {
	if o.url != "" && o.sim != "" {
		return nil
	}
	st, err := devstate.State{}, errors.New("cannot find make dev outside the kapso-bridge repository")
	if stateDir != "" {
		st, err = devstate.Find(stateDir, port)
	}
	switch {
	case err != nil && o.url == "":
		return fmt.Errorf("%w; or give -url", err)
	case err != nil:
		o.simErr = err
	default:
		o.url = cmp.Or(o.url, st.URL)
		o.sim = cmp.Or(o.sim, st.SimURL)
		if o.sim == "" {
			o.simErr = fmt.Errorf("the make dev with PORT=%s runs no simulator (KAPSO_API_BASE_URL is set)", st.Port)
		}
	}
	return nil
}

// prepare picks the route, target, secret and body, and fills in o the
// make dev it goes to.
func prepare(o *options, body []byte, getenv func(string) string, stateDir string) (plan, error) {
	p := plan{body: body}
	sample, listed, err := lookup(o.file)
	if err != nil {
		return p, err
	}
	switch {
	case o.event != nil:
		p.event = *o.event
	case listed:
		p.event = sample.Event
	default:
		return p, fmt.Errorf("%s is not in events/manifest.json: pass -event (and -route)", o.file)
	}
	p.route = cmp.Or(o.route, sample.Route, events.RouteProject)
	if p.route == events.RouteBad {
		// Any Kapso route must refuse it; the project one needs no number.
		p.route = events.RouteProject
		p.notes = append(p.notes, "a malformed sample: kapso-bridge should answer 400")
	}
	if err := o.findStack(stateDir, getenv(config.Port.Name)); err != nil {
		return p, err
	}
	base, endpoint, err := splitURL(o.url)
	if err != nil {
		return p, err
	}
	if p.route == events.RouteProject {
		return prepareProject(*o, p, base, endpoint, getenv)
	}
	return prepareNumber(*o, p, base, endpoint)
}

func prepareProject(o options, p plan, base, endpoint string, getenv func(string) string) (plan, error) {
	p.target = cmp.Or(endpoint, routes.ProjectWebhookURL(base))
	p.secret = o.secret
	switch {
	case o.secretGiven:
		p.notes = append(p.notes, "signed with -secret")
	case getenv(secretEnv) != "":
		p.secret = getenv(secretEnv)
		p.notes = append(p.notes, "signed with $"+secretEnv)
	default:
		p.secret = defaultSecret
		p.notes = append(p.notes, "signed with make dev's project webhook secret")
	}
	ids := idsIn(p.body)
	st, stErr := o.simState()
	customer := o.customer
	if o.number != "" {
		p.body = rewrite(p.body, ids.numbers, o.number)
		if len(ids.numbers) > 0 {
			p.notes = append(p.notes, "phone_number_id set to "+o.number)
		}
		if stErr == nil && customer == "" {
			if n, ok := st.number(o.number); ok {
				customer = n.CustomerID
			}
		}
	}
	if customer != "" {
		if len(ids.customers) == 0 {
			p.warnings = append(p.warnings, "the sample names no customer: -customer changes nothing")
		} else {
			p.body = rewrite(p.body, ids.customers, customer)
			p.notes = append(p.notes, "customer set to "+customer)
		}
	}
	named := customer
	if named == "" && len(ids.customers) > 0 {
		named = ids.customers[0]
	}
	if named == "" {
		return p, nil
	}
	if stErr != nil {
		p.warnings = append(p.warnings, fmt.Sprintf("cannot tell whether a tenant owns customer %s (%v)", named, stErr))
		return p, nil
	}
	if c, ok := st.customer(named); ok {
		p.tenant = c.tenant()
		return p, nil
	}
	p.orphan = true
	w := fmt.Sprintf("no tenant owns customer %s (the simulator does not know it): kapso-bridge answers 200, "+
		"keeps the event aside as an orphan and changes no tenant. To aim it at a tenant, pass -number <phone_number_id> "+
		"(its customer follows) or -customer <id>", named)
	if known := st.customerList(); known != "" {
		w += "; customers the simulator knows: " + known
	}
	p.warnings = append(p.warnings, w)
	return p, nil
}

func prepareNumber(o options, p plan, base, endpoint string) (plan, error) {
	number, secret := o.number, o.secret
	if number == "" || !o.secretGiven {
		st, err := o.simState()
		if err != nil {
			return p, fmt.Errorf("a %s sample is sent for a connected number, signed with its webhook secret, "+
				"both read from the simulator: %w (or pass -number and -secret)", p.route, err)
		}
		n, h, err := st.pick(number)
		if err != nil {
			return p, err
		}
		number = n.PhoneNumberID
		p.tenant = st.tenantOf(n)
		if !o.secretGiven {
			secret = h.SecretKey
		}
		who := "number " + number
		if p.tenant != "" {
			who += " of tenant " + p.tenant
		}
		p.notes = append(p.notes, who)
	}
	if o.secretGiven {
		if len(p.notes) == 0 {
			p.notes = append(p.notes, "number "+number)
		}
		p.notes = append(p.notes, "signed with -secret")
	} else {
		p.notes = append(p.notes, "signed with the number's webhook secret (as registered at the simulator)")
	}
	p.secret = secret
	ids := idsIn(p.body)
	p.body = rewrite(p.body, ids.numbers, number)
	if slices.ContainsFunc(ids.numbers, func(s string) bool { return s != number }) {
		p.notes = append(p.notes, "phone_number_id set to "+number)
	}
	path := routes.NumberWebhookURL(base, number)
	if p.route == events.RouteMeta {
		path = strings.Replace(routes.URLPattern(base, routes.MetaWebhook), "{"+routes.PhoneNumberID+"}", number, 1)
	}
	p.target = cmp.Or(endpoint, path)
	return p, nil
}

// splitURL returns -url as a base URL, or as the endpoint itself when it
// has a path.
func splitURL(raw string) (base, endpoint string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", fmt.Errorf("-url %q: want a URL such as http://127.0.0.1:8080", raw)
	}
	base = u.Scheme + "://" + u.Host
	if strings.Trim(u.Path, "/") != "" {
		endpoint = raw
	}
	return base, endpoint, nil
}

func post(p plan, key string) (string, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target, bytes.NewReader(p.body))
	if err != nil {
		return "", nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Signature", kapso.Sign(p.secret, p.body))
	req.Header.Set("X-Idempotency-Key", key)
	if p.event != "" {
		req.Header.Set("X-Webhook-Event", p.event)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("post %s: %w (is make dev running? PORT and -url choose where)", p.target, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxShownBody))
	if err != nil {
		return "", nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.Status, answer, nil
}

// lookAt says where the delivery's effect shows.
func lookAt(o options, p plan, status string) string {
	base, _, _ := splitURL(o.url)
	page := ""
	if p.tenant != "" {
		page = base + "/app/connected?tenant_id=" + url.QueryEscape(p.tenant)
	}
	switch {
	case !strings.HasPrefix(status, "200"):
		hint := "kapso-bridge refused it: make dev's log says why"
		if strings.HasPrefix(status, "401") {
			hint += " (401: the signature did not verify: for a number, kapso-bridge holds no secret for it or another one)"
		}
		return hint
	case p.orphan:
		return `Look at make dev's log: "event for a Kapso customer no tenant owns; kept aside". No page changes.`
	case page != "" && p.route == events.RouteProject:
		return "Look at the tenant's connection on the app page, " + page + ", and make dev's log."
	case page != "":
		return "Look at the tenant's inbox on the app page, " + page + ", and make dev's log."
	}
	return "Look at make dev's log: the ingest's \"delivery accepted\", then the worker's lines."
}

// lookup finds the manifest entry of file.
func lookup(file string) (events.Sample, bool, error) {
	samples, err := events.Manifest()
	if err != nil {
		return events.Sample{}, false, err
	}
	path := filepath.ToSlash(filepath.Clean(file))
	for _, s := range samples {
		if path == s.Path || strings.HasSuffix(path, "/"+s.Path) {
			return s, true, nil
		}
	}
	return events.Sample{}, false, nil
}

// sampleIDs are the phone numbers and customers a sample names.
type sampleIDs struct{ numbers, customers []string }

// idsIn reads the ids from the body: every phone_number_id, and a
// customer's id wherever one is named (customer.id, customer_id).
func idsIn(body []byte) sampleIDs {
	var v any
	var ids sampleIDs
	if json.Unmarshal(body, &v) != nil {
		return ids
	}
	add := func(list *[]string, s any) {
		if str, ok := s.(string); ok && str != "" && !slices.Contains(*list, str) {
			*list = append(*list, str)
		}
	}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				switch k {
				case "phone_number_id":
					add(&ids.numbers, x)
				case "customer_id", "kapso_customer_id":
					add(&ids.customers, x)
				case "customer":
					if c, ok := x.(map[string]any); ok {
						add(&ids.customers, c["id"])
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	slices.Sort(ids.numbers)
	slices.Sort(ids.customers)
	return ids
}

// rewrite replaces each of olds, as a JSON string, with to, leaving every
// other byte as it was.
func rewrite(body []byte, olds []string, to string) []byte {
	quoted, _ := json.Marshal(to)
	for _, old := range olds {
		q, _ := json.Marshal(old)
		body = bytes.ReplaceAll(body, q, quoted)
	}
	return body
}

// simState is the part of the simulator's GET /_sim/state read here.
type simState struct {
	Customers []simCustomer `json:"customers"`
	Numbers   []simNumber   `json:"phone_numbers"`
	Webhooks  []simWebhook  `json:"webhooks"`
}

type simCustomer struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	ExternalID *string `json:"external_customer_id"`
}

// tenant is the tenant that created the customer: kapso-bridge creates each
// tenant's customer with the tenant id as its external id.
func (c simCustomer) tenant() string {
	if c.ExternalID == nil {
		return ""
	}
	return *c.ExternalID
}

type simNumber struct {
	PhoneNumberID string `json:"phone_number_id"`
	CustomerID    string `json:"customer_id"`
	Status        string `json:"status"`
}

type simWebhook struct {
	PhoneNumberID string `json:"phone_number_id"`
	SecretKey     string `json:"secret_key"`
	Kind          string `json:"kind"`
	Active        bool   `json:"active"`
}

// simState reads the simulator's state, if there is a simulator.
func (o *options) simState() (simState, error) {
	if o.sim == "" {
		return simState{}, o.simErr
	}
	return readState(o.sim)
}

func readState(simURL string) (simState, error) {
	var st simState
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := strings.TrimRight(simURL, "/") + "/_sim/state"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return st, fmt.Errorf("read the simulator's state: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("no simulator at %s: %w (-sim chooses where)", simURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET %s: %w", u, err)
	}
	return st, nil
}

func (st simState) number(id string) (simNumber, bool) {
	for _, n := range st.Numbers {
		if n.PhoneNumberID == id {
			return n, true
		}
	}
	return simNumber{}, false
}

func (st simState) customer(id string) (simCustomer, bool) {
	for _, c := range st.Customers {
		if c.ID == id {
			return c, true
		}
	}
	return simCustomer{}, false
}

func (st simState) tenantOf(n simNumber) string {
	c, _ := st.customer(n.CustomerID)
	return c.tenant()
}

// webhook is the number's active kapso-kind webhook: the one the simulator
// signs its deliveries for the number with.
func (st simState) webhook(id string) (simWebhook, bool) {
	for _, h := range st.Webhooks {
		if h.PhoneNumberID == id && h.Active && h.Kind == "kapso" && h.SecretKey != "" {
			return h, true
		}
	}
	return simWebhook{}, false
}

// pick returns the number asked for, or the first connected one, with the
// webhook whose secret signs for it.
func (st simState) pick(id string) (simNumber, simWebhook, error) {
	if id != "" {
		n, ok := st.number(id)
		if !ok {
			return n, simWebhook{}, fmt.Errorf("the simulator knows no number %s%s", id, st.numberList())
		}
		h, ok := st.webhook(id)
		if !ok {
			return n, h, fmt.Errorf("number %s has no webhook registered by kapso-bridge yet, so no secret to sign with", id)
		}
		return n, h, nil
	}
	// A connected number first; else one that still receives (restricted,
	// flagged): Kapso still delivers its messages.
	for _, want := range []func(string) bool{
		func(s string) bool { return s == "CONNECTED" },
		func(s string) bool { return s == "RESTRICTED" || s == "RATE_LIMITED" || s == "FLAGGED" },
	} {
		for _, n := range st.Numbers {
			if h, ok := st.webhook(n.PhoneNumberID); ok && want(n.Status) {
				return n, h, nil
			}
		}
	}
	return simNumber{}, simWebhook{}, errors.New("the simulator has no connected number with a registered webhook: " +
		"connect a tenant first (README, Local stack), or pass -number and -secret")
}

func (st simState) numberList() string {
	var ids []string
	for _, n := range st.Numbers {
		ids = append(ids, n.PhoneNumberID+" ("+n.Status+")")
	}
	if len(ids) == 0 {
		return ""
	}
	return "; it knows " + strings.Join(ids, ", ")
}

func (st simState) customerList() string {
	var cs []string
	for _, c := range st.Customers {
		s := c.ID
		if t := c.tenant(); t != "" {
			s += " (tenant " + t + ")"
		}
		cs = append(cs, s)
	}
	return strings.Join(cs, ", ")
}

// newUUID returns a random (version 4) UUID, the form of Kapso's keys.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("idempotency key: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}
