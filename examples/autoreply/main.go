// Command autoreply is the smallest SaaS backend of kapso-bridge's events:
// it takes them by webhook, verifies each delivery's signature against
// its raw body, decodes it, and answers every message a person sends to
// a tenant's number with a text, sent through the tenant API. It stands on
// the standard library and bridgeevents alone: copy it and grow it.
//
// Beside make dev (docs/local.md):
//
//	EVENTS_WEBHOOK_URL=http://127.0.0.1:8070/events make dev
//	make autoreply
//
// It listens on -listen (a loopback address), calls the API at -api, and
// takes the signing secret and the API token from EVENTS_WEBHOOK_SECRET
// and BRIDGE_API_TOKEN.
//
// A delivery is answered 2xx only once its event is handled: any other
// answer has kapso-bridge send it again later, under the same webhook-id.
// Each reply is sent under the Idempotency-Key reply-<wamid>, so an event
// delivered twice still sends one reply.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8070", "where to take the events: a loopback address (host:port)")
	api := flag.String("api", "http://127.0.0.1:8080", "kapso-bridge's base URL")
	text := flag.String("text", "Thanks for your message! We will get back to you soon.", "the reply")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *api, *text, os.Getenv, log); err != nil {
		fmt.Fprintln(os.Stderr, "autoreply:", err)
		os.Exit(1)
	}
}

func run(listen, api, text string, getenv func(string) string, log *slog.Logger) error {
	key, err := bridgeevents.Secret(getenv("EVENTS_WEBHOOK_SECRET"))
	if err != nil {
		return fmt.Errorf("EVENTS_WEBHOOK_SECRET: %w", err)
	}
	token := getenv("BRIDGE_API_TOKEN")
	if token == "" {
		return errors.New("BRIDGE_API_TOKEN is not set")
	}
	if u, err := url.Parse(api); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-api %q is not an http(s) URL", api)
	}
	host, _, err := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %q: give a loopback address, such as 127.0.0.1:8070", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	rp := &replier{key: key, api: strings.TrimSuffix(api, "/"), token: token, text: text, log: log,
		client: &http.Client{Timeout: sendTimeout}}
	mux := http.NewServeMux()
	mux.Handle("POST /events", rp)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Printf("autoreply: taking events at http://%s/events, replying through %s\n", ln.Addr(), rp.api)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sendTimeout bounds the call to the API: kapso-bridge waits 5 s for the
// answer to its delivery.
const sendTimeout = 4 * time.Second

// replier answers each message a person sends with text.
type replier struct {
	key    []byte
	api    string
	token  string
	text   string
	client *http.Client
	log    *slog.Logger
}

func (rp *replier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Verify the bytes as they came: decoding first and verifying a
	// re-encoding would fail, or worse, pass on something else.
	body, err := io.ReadAll(io.LimitReader(r.Body, bridgeevents.MaxEventBytes+1))
	if err != nil || len(body) > bridgeevents.MaxEventBytes {
		http.Error(w, "unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := bridgeevents.Verify(rp.key, r.Header, body, time.Now()); err != nil {
		rp.log.Warn("delivery refused", "err", err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ev, err := bridgeevents.Decode(body)
	if err != nil {
		rp.log.Error("signed delivery is not an event", "webhook_id", r.Header.Get(bridgeevents.HeaderID), "err", err.Error())
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	log := rp.log.With("event_id", ev.ID, "type", ev.Type, "tenant_id", ev.TenantID)
	if ev.Type != bridgeevents.MessageReceived {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rec, err := ev.Record()
	data, ok := rec.(*bridgeevents.MessageReceivedData)
	if err != nil || !ok || data.Message.MessageContent == nil || data.Message.Direction != "inbound" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status, err := rp.reply(r.Context(), ev.TenantID, data.Message)
	switch {
	case err != nil || status == http.StatusUnauthorized || status == http.StatusTooManyRequests || status >= 500:
		// Worth another try: kapso-bridge delivers the event again, and the
		// same Idempotency-Key makes it one reply.
		log.Warn("reply not sent yet", "status", status, "err", fmt.Sprint(err))
		http.Error(w, "try again", http.StatusServiceUnavailable)
	case status >= 400:
		// Refused for good (e.g. 422 outside_customer_service_window):
		// another delivery would be refused the same way.
		log.Warn("reply refused", "status", status)
		w.WriteHeader(http.StatusNoContent)
	default:
		log.Info("replied", "status", status)
		w.WriteHeader(http.StatusNoContent)
	}
}

// reply sends text to the person who wrote m, from the number they wrote
// to, and returns the API's status.
func (rp *replier) reply(ctx context.Context, tenant string, m bridgeevents.Message) (int, error) {
	send := map[string]any{"phone_number_id": m.PhoneNumberID, "type": "text", "text": map[string]string{"body": rp.text}}
	switch {
	case m.From.PhoneNumber != "":
		send["to"] = m.From.PhoneNumber
	case m.From.BusinessScopedUserID != "":
		send["recipient"] = m.From.BusinessScopedUserID
	default:
		return http.StatusUnprocessableEntity, nil
	}
	body, err := json.Marshal(send)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rp.api+"/v1/tenants/"+url.PathEscape(tenant)+"/messages",
		bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+rp.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", replyKey(m))
	res, err := rp.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}

// replyKey is the send's Idempotency-Key: reply- and the message's WAMID,
// or the WAMID's SHA-256 when it would not fit the key's 255 characters.
func replyKey(m bridgeevents.Message) string {
	wamid := m.WAMID
	if wamid == "" {
		wamid = m.ID
	}
	key := "reply-" + wamid
	if len(key) > 255 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		sum := sha256.Sum256([]byte(wamid))
		key = "reply-" + hex.EncodeToString(sum[:])
	}
	return key
}
