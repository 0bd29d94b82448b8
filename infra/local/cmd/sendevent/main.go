// Command sendevent posts a sample delivery to a running local kapso-bridge,
// signed and labelled the way Kapso sends it:
//
//	go run ./infra/local/cmd/sendevent -file events/kapso/whatsapp.phone_number.created.json
//
// The body is sent byte for byte, signed with the project webhook secret
// (flag, else $KAPSO_PROJECT_WEBHOOK_SECRET, else the local stack's default).
// X-Webhook-Event defaults to the sample's entry in events/manifest.json.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
)

const (
	defaultURL    = "http://127.0.0.1:8080/webhooks/kapso"
	defaultSecret = "dev-project-webhook-secret"
	secretEnv     = "KAPSO_PROJECT_WEBHOOK_SECRET"
	// requestTimeout is above Kapso's own 10 s limit, so a slow answer is
	// seen rather than cut short.
	requestTimeout = 15 * time.Second
	maxShownBody   = 64 << 10
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sendevent:", err)
		os.Exit(1)
	}
}

// options is what the flags ask for.
type options struct {
	file, url, secret, key string
	event                  *string // nil: take it from the manifest
}

func parseFlags(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("sendevent", flag.ContinueOnError)
	var o options
	var event string
	fs.StringVar(&o.file, "file", "", "sample body to send (required), e.g. events/kapso/whatsapp.message.received.json")
	fs.StringVar(&o.url, "url", defaultURL, "webhook endpoint")
	fs.StringVar(&o.secret, "secret", "", "signing secret (default $"+secretEnv+", else "+defaultSecret+")")
	fs.StringVar(&event, "event", "", `X-Webhook-Event (default from events/manifest.json; "" sends none)`)
	fs.StringVar(&o.key, "key", "", "X-Idempotency-Key (default a random UUID)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.file == "" || fs.NArg() > 0 {
		return o, errors.New("usage: sendevent -file <sample> [-url U] [-secret S] [-event E] [-key K]")
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "event" {
			o.event = &event
		}
	})
	if o.secret == "" {
		o.secret = getenv(secretEnv)
	}
	if o.secret == "" {
		o.secret = defaultSecret
	}
	return o, nil
}

func run(args []string, getenv func(string) string, out io.Writer) error {
	o, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(o.file)
	if err != nil {
		return fmt.Errorf("read sample: %w", err)
	}
	event, err := eventFor(o)
	if err != nil {
		return err
	}
	if o.key == "" {
		if o.key, err = newUUID(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Signature", kapso.Sign(o.secret, body))
	req.Header.Set("X-Idempotency-Key", o.key)
	if event != "" {
		req.Header.Set("X-Webhook-Event", event)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", o.url, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxShownBody))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	fmt.Fprintf(out, "%s (event %q, key %s)\n%s\n", resp.Status, event, o.key, answer)
	return nil
}

// eventFor returns the event header to send: the flag when given, else the
// manifest's entry for the file.
func eventFor(o options) (string, error) {
	if o.event != nil {
		return *o.event, nil
	}
	samples, err := events.Manifest()
	if err != nil {
		return "", err
	}
	path := filepath.ToSlash(filepath.Clean(o.file))
	for _, s := range samples {
		if path == s.Path || strings.HasSuffix(path, "/"+s.Path) {
			return s.Event, nil
		}
	}
	return "", fmt.Errorf("%s is not in events/manifest.json: pass -event", o.file)
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
