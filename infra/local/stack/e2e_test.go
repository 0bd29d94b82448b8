package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
	"github.com/kapso-bridge/kapso-bridge/testkit/testclock"
)

// startStack runs the same stack as make dev, on random loopback ports.
func startStack(t *testing.T) *stack.Stack { return startStackEvery(t, "2s") }

// startStackEvery is startStack with the reconciler's period.
func startStackEvery(t *testing.T, every string) *stack.Stack {
	t.Helper()
	s := launchStack(t, every)
	t.Cleanup(s.Stop)
	return s
}

// launchStack starts a stack on loopback ports; the caller stops it.
func launchStack(t *testing.T, every string) *stack.Stack {
	t.Helper()
	return launchStackWith(t, map[string]string{config.ReconcileEvery.Name: every})
}

// launchStackWith is launchStack with the settings set gives in place of
// their dev defaults, and the options each of with changes.
func launchStackWith(t *testing.T, set map[string]string, with ...func(*stack.Options)) *stack.Stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return launchStackOn(t, ln, set, with...)
}

// launchStackOn is launchStackWith serving kapso-bridge on ln.
func launchStackOn(t *testing.T, ln net.Listener, set map[string]string, with ...func(*stack.Options)) *stack.Stack {
	t.Helper()
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := stack.Resolve(func(k string) string { return set[k] })
	base := "http://" + ln.Addr().String()
	settings[config.PublicBaseURL.Name] = base
	settings[config.AppSuccessURL.Name] = base + "/app/connected"
	settings[config.AppFailureURL.Name] = base + "/app/failed"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := stack.Options{Settings: settings, Listener: ln, SimListener: sln,
		SimRetrySchedule: []time.Duration{0, 200 * time.Millisecond, 800 * time.Millisecond},
		SendCallTimeout:  2 * time.Second}
	for _, f := range with {
		f(&o)
	}
	s, err := stack.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func api(t *testing.T, s *stack.Stack, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Env.Value(config.BridgeAPIToken))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// newBrowser starts a headless Chromium for one test.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Fatal("chromium is not installed: make test installs it (scripts/ensure-chromium.sh)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	bctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	return bctx
}

// signUp creates a setup link for tenant, finishes its signup in the
// browser as a dedicated number, waits until the app page shows the tenant
// connected with its webhook registered, and leaves the browser on the app
// page. It returns that page's URL.
func signUp(t *testing.T, s *stack.Stack, bctx context.Context, tenant string) string {
	t.Helper()
	status, body := api(t, s, http.MethodPost, "/v1/tenants/"+tenant+"/setup-links", `{"tenant_name":"Acme Inc"}`)
	if status != http.StatusCreated {
		t.Fatalf("create link: %d %v", status, body)
	}
	linkURL := body["setup_link"].(map[string]any)["url"].(string)
	err := chromedp.Do(bctx,
		chromedp.Navigate(linkURL),
		chromedp.WaitVisible(chromedp.ID("connect-dedicated")),
		chromedp.Click(chromedp.ID("connect-dedicated")),
		chromedp.WaitVisible(chromedp.ID("tenant-status")),
	)
	if err != nil {
		dumpState(t, s)
		t.Fatalf("browser: %v", err)
	}
	landed, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	// The app page refreshes itself until kapso-bridge has the proof; a
	// check that lands during a reload is simply tried again.
	if !poll.Until(60*time.Second, 200*time.Millisecond, func() bool {
		var done bool
		done, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => {
			const s = document.getElementById("tenant-status"), w = document.querySelector("td.webhook");
			return !!(s && w && s.textContent === "connected" && w.textContent === "registered");
		})()`))
		return err == nil && done
	}) {
		dumpState(t, s)
		t.Fatalf("app page never showed the tenant connected (last error %v)", err)
	}
	// Load it once more: the page is settled now, no reload under the reads.
	if err := chromedp.Do(bctx, chromedp.Navigate(landed)); err != nil {
		t.Fatal(err)
	}
	return landed
}

// signUpNumber is signUp answering the number the tenant connected.
func signUpNumber(t *testing.T, s *stack.Stack, bctx context.Context, tenant string) string {
	t.Helper()
	signUp(t, s, bctx, tenant)
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/"+tenant+"/connection", "")
	return conn["phone_numbers"].([]any)[0].(map[string]any)["phone_number_id"].(string)
}

// A person opens a created link in a real browser, finishes the simulator's
// signup page, lands on the app page, and the tenant ends connected with its
// number's webhook registered.
func TestBrowserSignupEndsConnected(t *testing.T) {
	bctx := newBrowser(t, 90*time.Second)
	s := startStack(t)
	landed := signUp(t, s, bctx, "acme")
	tenantStatus, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("tenant-status")))
	if err != nil {
		t.Fatal(err)
	}
	webhook, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("td.webhook")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(landed, s.URL+"/app/connected?") || !strings.Contains(landed, "tenant_id=acme") {
		t.Fatalf("landed on %s", landed)
	}
	if tenantStatus != "connected" || webhook != "registered" {
		t.Fatalf("app page shows %q / %q", tenantStatus, webhook)
	}

	status, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	if status != http.StatusOK || conn["status"] != "connected" {
		t.Fatalf("connection: %d %v", status, conn)
	}
	numbers := conn["phone_numbers"].([]any)
	if len(numbers) != 1 {
		t.Fatalf("phone numbers: %v", numbers)
	}
	number := numbers[0].(map[string]any)
	id := number["phone_number_id"].(string)
	if number["webhook_registered"] != true || number["connection_type"] != "dedicated" {
		t.Fatalf("number: %v", number)
	}
	if hooks := s.Sim.Webhooks(id); len(hooks) != 1 {
		t.Fatalf("%d webhooks registered at Kapso for %s, want 1", len(hooks), id)
	}
	// The registered webhook works: the simulator signs with the secret
	// kapso-bridge generated, and the ingest accepts it.
	msg := fmt.Sprintf(`{"message":{"id":"wamid.e2e","timestamp":"%d","type":"text","text":{"body":"hola"},"from":"5215512345678","kapso":{"direction":"inbound"}},"conversation":{"id":"conv-e2e","phone_number":"+5215512345678"},"is_new_conversation":true,"phone_number_id":"%s"}`, time.Now().Unix(), id)
	codes, err := s.Sim.SendNumberEvent(context.Background(), id, "whatsapp.message.received", []byte(msg), "")
	if err != nil || len(codes) != 1 || codes[0] != http.StatusOK {
		t.Fatalf("number webhook delivery: %v %v", codes, err)
	}
	if timeline := conn["timeline"].([]any); len(timeline) < 3 {
		t.Fatalf("timeline too short: %v", timeline)
	}
}

// sim calls a simulator control and decodes what it sent.
func sim(t *testing.T, s *stack.Stack, path string, body any) kapsosim.Sent {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(s.SimURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var sent kapsosim.Sent
	if err := json.Unmarshal(raw, &sent); err != nil || res.StatusCode != http.StatusOK ||
		fmt.Sprint(sent.Statuses) != "[200]" {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
	}
	return sent
}

// inboxState is what the app page's inbox shows.
type inboxState struct {
	Conversations []struct{ ID, Name, Phone, BSUID, Status string }
	Threads       []struct {
		Conversation string
		Messages     []struct{ WAMID, Direction, Text, Status string }
	}
}

const readInbox = `JSON.stringify((() => {
	const text = (el, sel) => (el.querySelector(sel) || {textContent: ""}).textContent.trim();
	return {
		conversations: [...document.querySelectorAll("#conversations tr.conversation")].map(tr => ({
			id: tr.dataset.id, name: text(tr, ".name"), phone: text(tr, ".phone"), bsuid: text(tr, ".bsuid"),
			status: text(tr, ".status")})),
		threads: [...document.querySelectorAll("table.thread")].map(t => ({conversation: t.dataset.conversation,
			messages: [...t.querySelectorAll("tr.msg")].map(tr => ({wamid: tr.dataset.wamid,
				direction: text(tr, ".direction"), text: text(tr, ".text"), status: text(tr, ".status")}))}))};
})())`

// A connected tenant's inbox on the app page: people write to the number
// through the simulator (by phone, by BSUID only, in a batch), the business
// sends back and WhatsApp reports delivered, read and failed; the page,
// refreshing itself, ends up showing every conversation and message with
// its status.
func TestBrowserInbox(t *testing.T) {
	bctx := newBrowser(t, 3*time.Minute)
	kapsoClock := testclock.NewRunning()
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "2s"}, func(o *stack.Options) { o.SimNow = kapsoClock.Now })
	t.Cleanup(s.Stop)

	res, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	index, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.Contains(string(index), "http-equiv") || !strings.Contains(string(index), s.SimURL) {
		t.Errorf("index: %d %s", res.StatusCode, index)
	}

	landed := signUp(t, s, bctx, "acme")
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	pnid := conn["phone_numbers"].([]any)[0].(map[string]any)["phone_number_id"].(string)
	number := "/_sim/numbers/" + pnid

	const bsuid = "BR.77210938475610293847"
	ana := sim(t, s, number+"/messages", map[string]any{"text": "Hola, ¿tienen pan hoy?", "from_phone": "+5215512345678", "name": "Ana López"})
	joao := sim(t, s, number+"/messages", map[string]any{"text": "Bom dia, vocês têm pão sem glúten?", "from_bsuid": bsuid, "name": "João"})
	// Moving Kapso's clock on gives each conversation its own second of
	// last activity.
	kapsoClock.Advance(time.Second)
	maria := sim(t, s, number+"/messages", map[string]any{"text": "Queria um bolo", "from_phone": "+16505551234", "name": "Maria Souza", "count": 3})
	kapsoClock.Advance(time.Second)
	reply := sim(t, s, number+"/outbound", map[string]any{"text": "¡Sí! Hasta las 15h.", "to_phone": "+5215512345678"})
	sim(t, s, "/_sim/messages/"+reply.WAMID+"/status", map[string]any{"status": "delivered"})
	sim(t, s, "/_sim/messages/"+reply.WAMID+"/status", map[string]any{"status": "read"})
	kapsoClock.Advance(time.Second)
	late := sim(t, s, number+"/outbound", map[string]any{"text": "Seu bolo ficou pronto!", "to_phone": "+16505551234"})
	sim(t, s, "/_sim/messages/"+late.WAMID+"/status", map[string]any{"status": "failed"})

	type row struct{ direction, text, status string }
	want := map[string][]row{ // oldest first
		ana.ConversationID:  {{"inbound", "Hola, ¿tienen pan hoy?", "received"}, {"outbound", "¡Sí! Hasta las 15h.", "read"}},
		joao.ConversationID: {{"inbound", "Bom dia, vocês têm pão sem glúten?", "received"}},
		maria.ConversationID: {{"inbound", "Queria um bolo (1/3)", "received"}, {"inbound", "Queria um bolo (2/3)", "received"},
			{"inbound", "Queria um bolo (3/3)", "received"}, {"outbound", "Seu bolo ficou pronto!", "failed (131047 Re-engagement message)"}},
	}
	wamids := map[string][]string{
		ana.ConversationID:   {ana.WAMID, reply.WAMID},
		joao.ConversationID:  {joao.WAMID},
		maria.ConversationID: append(maria.WAMIDs, late.WAMID),
	}
	// missing says what the page does not show yet, "" when it shows all.
	missing := func(in inboxState) string {
		order := []string{maria.ConversationID, ana.ConversationID, joao.ConversationID} // newest activity first
		if len(in.Conversations) != 3 {
			return fmt.Sprintf("%d conversations, want 3", len(in.Conversations))
		}
		for i, c := range in.Conversations {
			if c.ID != order[i] {
				return fmt.Sprintf("conversation %d is %s, want %s", i, c.ID, order[i])
			}
		}
		people := [][3]string{{"Maria Souza", "+16505551234", ""}, {"Ana López", "+5215512345678", ""}, {"João", "", bsuid}}
		for i, p := range people {
			c := in.Conversations[i]
			if !strings.HasPrefix(c.Name, p[0]) || c.Phone != p[1] || p[2] != "" && c.BSUID != p[2] || c.Status != "active" {
				return fmt.Sprintf("conversation %d shows %+v, want %v", i, c, p)
			}
		}
		if len(in.Threads) != 3 {
			return fmt.Sprintf("%d threads, want 3", len(in.Threads))
		}
		for _, th := range in.Threads {
			w := want[th.Conversation]
			if len(th.Messages) != len(w) {
				return fmt.Sprintf("conversation %s shows %d messages, want %d", th.Conversation, len(th.Messages), len(w))
			}
			for i, m := range th.Messages {
				if m.WAMID != wamids[th.Conversation][i] || m.Direction != w[i].direction || m.Text != w[i].text ||
					m.Status != w[i].status {
					return fmt.Sprintf("conversation %s message %d shows %+v, want %s %v", th.Conversation, i, m,
						wamids[th.Conversation][i], w[i])
				}
			}
		}
		return ""
	}

	// The page was loaded before any message: its own refresh must bring
	// them in, as the worker stores them.
	var last string
	if !poll.Until(90*time.Second, 250*time.Millisecond, func() bool {
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](readInbox))
		var in inboxState
		if err == nil {
			err = json.Unmarshal([]byte(raw), &in)
		}
		if err == nil {
			last = missing(in)
		} else {
			last = err.Error()
		}
		return last == ""
	}) {
		screenshot(t, bctx, "/tmp/inbox.png")
		dumpState(t, s)
		t.Fatalf("the inbox never showed every message: %s", last)
	}
	screenshot(t, bctx, "/tmp/inbox.png")

	// One conversation, asked for by the query parameter.
	if err := chromedp.Do(bctx, chromedp.Navigate(landed+"&conversation="+joao.ConversationID)); err != nil {
		t.Fatal(err)
	}
	raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](readInbox))
	var in inboxState
	if err == nil {
		err = json.Unmarshal([]byte(raw), &in)
	}
	if err != nil || len(in.Conversations) != 3 || len(in.Threads) != 1 || in.Threads[0].Conversation != joao.ConversationID ||
		len(in.Threads[0].Messages) != 1 || in.Threads[0].Messages[0].WAMID != joao.WAMID {
		t.Errorf("selected conversation: %s %v", raw, err)
	}

	// The simulator's page shows the same traffic from Kapso's side.
	if err := chromedp.Do(bctx, chromedp.Navigate(s.SimURL+"/")); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("number-"+pnid)))
	if err != nil || !strings.Contains(page, "Seu bolo ficou pronto!") || !strings.Contains(page, "read") {
		t.Errorf("simulator page: %q %v", page, err)
	}
	screenshot(t, bctx, "/tmp/inbox-simulator.png")
}

// The app page's send form sends from a real browser under the local
// pages' headers: the page's own script (whose refresh brings the
// conversation and its form in) and style run under its Content Security
// Policy, and the browser sees the headers that forbid framing and
// sniffing.
func TestBrowserSendFormUnderTheLocalPagesHeaders(t *testing.T) {
	bctx := newBrowser(t, 2*time.Minute)
	s := startStack(t)
	pnid := signUpNumber(t, s, bctx, "acme")
	sim(t, s, "/_sim/numbers/"+pnid+"/messages", map[string]any{"text": "Oi, tudo bem?", "from_phone": "+5215512345678", "name": "Ana"})

	const input = `form.send input[name=text]`
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(input))); err != nil {
		t.Fatalf("the inbox's refresh never brought the send form in: %v", err)
	}
	sent := s.Sim.SentByProxy()
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(input), "Olá, Ana!"),
		chromedp.Click(chromedp.CSS(`form.send button`)),
		chromedp.WaitVisible(chromedp.ID("notice")),
	); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("notice")))
	if err != nil || !strings.HasPrefix(notice, "Sent: ") {
		t.Fatalf("notice %q %v", notice, err)
	}
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool { return s.Sim.SentByProxy() == sent+1 }) {
		t.Fatalf("the Meta proxy took %d sends, want 1", s.Sim.SentByProxy()-sent)
	}

	seen, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](`fetch(location.href).then(r => ({
		csp: r.headers.get("content-security-policy") || "", nosniff: r.headers.get("x-content-type-options") || "",
		frame: r.headers.get("x-frame-options") || "",
		styled: getComputedStyle(document.body).maxWidth}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(seen["csp"], "frame-ancestors 'none'") || !strings.Contains(seen["csp"], "script-src 'nonce-") ||
		seen["nosniff"] != "nosniff" || seen["frame"] != "DENY" {
		t.Errorf("headers the browser saw: %v", seen)
	}
	if seen["styled"] != "960px" {
		t.Errorf("the page's style did not apply: max-width %q", seen["styled"])
	}
}

// screenshot saves the whole page for a person to look at.
func screenshot(t *testing.T, bctx context.Context, path string) {
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", path, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

func dumpState(t *testing.T, s *stack.Stack) {
	res, err := http.Get(s.SimURL + "/_sim/deliveries")
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Logf("simulator deliveries: %s", b)
	}
	_, conn := api(t, s, http.MethodGet, "/v1/tenants/acme/connection", "")
	b, _ := json.MarshalIndent(conn, "", " ")
	t.Logf("connection: %s", b)
}
