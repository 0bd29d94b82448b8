package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

// startStack runs the same stack as make dev, on random loopback ports.
func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := stack.Resolve(func(k string) string {
		if k == config.ReconcileEvery.Name {
			return "2s"
		}
		return ""
	})
	base := "http://" + ln.Addr().String()
	settings[config.PublicBaseURL.Name] = base
	settings[config.AppSuccessURL.Name] = base + "/app/connected"
	settings[config.AppFailureURL.Name] = base + "/app/failed"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Settings: settings, Listener: ln, SimListener: sln,
		SimRetrySchedule: []time.Duration{0, 200 * time.Millisecond, 800 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
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

// A person opens a created link in a real browser, finishes the simulator's
// signup page, lands on the app page, and the tenant ends connected with its
// number's webhook registered.
func TestBrowserSignupEndsConnected(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Fatal("chromium is not installed: make test installs it (scripts/ensure-chromium.sh)")
	}
	s := startStack(t)
	status, body := api(t, s, http.MethodPost, "/v1/tenants/acme/setup-links", `{"tenant_name":"Acme Inc"}`)
	if status != http.StatusCreated {
		t.Fatalf("create link: %d %v", status, body)
	}
	link := body["setup_link"].(map[string]any)
	linkURL := link["url"].(string)

	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

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
	deadline := time.Now().Add(60 * time.Second)
	for {
		done, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => {
			const s = document.getElementById("tenant-status"), w = document.querySelector("td.webhook");
			return !!(s && w && s.textContent === "connected" && w.textContent === "registered");
		})()`))
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			dumpState(t, s)
			t.Fatalf("app page never showed the tenant connected (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Stop the refresh so the reads below see one page.
	if err := chromedp.Do(bctx, chromedp.Navigate(landed)); err != nil {
		t.Fatal(err)
	}
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
