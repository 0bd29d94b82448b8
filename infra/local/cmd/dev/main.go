// Command dev runs kapso-bridge on this machine: `make dev`.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
)

func main() {
	stopWithParent()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	settings, defaulted := stack.Resolve(os.Getenv)
	log := config.Env(func(k string) string { return settings[k] }).Logger("local")
	slog.SetDefault(log)

	if len(defaulted) > 0 {
		fmt.Println("kapso-bridge dev: settings not in the environment use these defaults:")
		for _, name := range defaulted {
			fmt.Printf("  %s=%s\n", name, settings[name])
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	s, err := stack.Start(startCtx, stack.Options{Settings: settings, Log: log, ServicesLog: os.Stderr})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kapso-bridge dev:", err)
		os.Exit(1)
	}
	fmt.Print(walkthrough(s, settings))
	<-ctx.Done()
	fmt.Println("\nkapso-bridge dev: stopping")
	s.Stop()
}

func walkthrough(s *stack.Stack, v map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nkapso-bridge is running at %s (GET /healthz)\n", s.URL)
	if s.SimURL != "" {
		fmt.Fprintf(&b, "Kapso simulator at %s (state: %s/_sim/state)\n", s.SimURL, s.SimURL)
	} else {
		fmt.Fprintf(&b, "Kapso Platform API: %s\n", v[config.KapsoAPIBaseURL.Name])
	}
	fmt.Fprintf(&b, `
1. Create a setup link for tenant acme:
   curl -s -X POST %[1]s/v1/tenants/acme/setup-links -H 'Authorization: Bearer %[2]s' -d '{"tenant_name":"Acme"}'
2. Open the "url" it returns in a browser and finish the signup (dedicated or coexistence), or fail it.
3. You land on the app page, which shows the tenant's connection; or ask the API:
   curl -s %[1]s/v1/tenants/acme/connection -H 'Authorization: Bearer %[2]s'
4. Make a person write to the connected number: the simulator's page (%[3]s/) has the forms, or
   curl -s -X POST %[3]s/_sim/numbers/<phone_number_id>/messages -d '{"text":"Oi!"}'
   The app page's inbox shows it within seconds; or ask the API:
   curl -s %[1]s/v1/tenants/acme/conversations -H 'Authorization: Bearer %[2]s'
5. Send a sample webhook: go run ./infra/local/cmd/sendevent -file events/kapso/whatsapp.phone_number.created.json

Ctrl-C stops everything.
`, s.URL, v[config.BridgeAPIToken.Name], cmp.Or(s.SimURL, "<the simulator, with make dev's default Kapso>"))
	return b.String()
}
