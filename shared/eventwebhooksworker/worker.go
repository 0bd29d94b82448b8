// Package eventwebhooksworker is the worker behind the event-webhooks
// queue: it POSTs each event to the SaaS's webhook URL, byte for byte as
// the publisher put it on the events topic (the queue's subscription
// delivers it raw), signed per Standard Webhooks. A failed POST is tried
// again under the same webhook-id, on a schedule that reaches past a day;
// then the queue's DLQ keeps the event for a redrive. Each event goes on
// its own: an endpoint that fails holds up only its own deliveries, and
// the topic's other subscribers and the feed never wait on it.
package eventwebhooksworker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/delivery"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdasqs"
)

// Queue is what the worker needs of its queue (sqsqueue.Visibility): to
// keep a message it received out of sight until its next attempt.
type Queue interface {
	Hold(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Worker handles event-webhooks queue batches.
type Worker struct {
	// URL is the SaaS's webhook endpoint, checked with CheckURL.
	URL string
	// Key is the signing secret's key (bridgeevents.Secret).
	Key   []byte
	Queue Queue
	// Rejects keeps a message that is not an event, with the reason
	// (dynamo.Rejects): no attempt would ever deliver it.
	Rejects envelope.RejectStore
	Log     *slog.Logger
	// Schedule is the waits between attempts; Retries() when nil.
	Schedule Schedule
	// MaxAttempts is the queue's maxReceiveCount: once that attempt
	// fails, the event goes to the DLQ, which is logged as an error.
	MaxAttempts int
	// Timeout bounds one POST until its status arrives (default 5 s).
	Timeout time.Duration
	// Concurrency bounds the POSTs of a batch in flight (default 10).
	Concurrency int
	// Transport carries the POSTs; http.DefaultTransport when nil.
	Transport http.RoundTripper
	Now       func() time.Time
}

// Defaults of the worker.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultConcurrency = 10
	// maxAnswerBytes is how much of an answer's body is read, so that its
	// connection can be used again; the body itself means nothing.
	maxAnswerBytes = 64 << 10
	// maxIDBytes bounds an event id sent as webhook-id.
	maxIDBytes = 256
)

// Schedule is the waits between a delivery's attempts: after its n-th
// attempt fails, an event comes back Schedule[n-1] later, and after any
// attempt past the last, the last wait later. SQS counts in whole
// seconds, up to 12 hours.
type Schedule []time.Duration

// Retries is the deployed schedule: 5 s, 30 s, 2 min, 10 min, 1 h, then
// hourly.
func Retries() Schedule {
	return Schedule{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}
}

// After is the wait after the attempt-th attempt (from 1) failed.
func (s Schedule) After(attempt int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(max(attempt, 1), len(s))-1]
}

// Attempts is how many attempts it takes for the last to start span or
// more after the first: the first, then one after each wait. The last
// wait must be positive.
func (s Schedule) Attempts(span time.Duration) int {
	n, at := 1, time.Duration(0)
	for at < span {
		at += s.After(n)
		n++
	}
	return n
}

// Handle delivers a batch's events concurrently, at most Concurrency at
// once, and reports those to deliver again.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	slots := make(chan struct{}, w.concurrency())
	return lambdasqs.Concurrently(ctx, batch, func(ctx context.Context, msg events.SQSMessage) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-slots }()
		return w.handle(ctx, msg)
	}, func(msg events.SQSMessage, err error) {
		w.log().Debug("event-webhooks message goes back to its queue", "message_id", msg.MessageId, "err", err.Error())
	}), nil
}

// handle delivers one event. An error leaves its message on the queue,
// held back for the schedule's wait.
func (w *Worker) handle(ctx context.Context, msg events.SQSMessage) error {
	body := []byte(msg.Body)
	ev, err := bridgeevents.Decode(body)
	if err == nil && !headerSafe(ev.ID) {
		err = fmt.Errorf("%w: its id is not 1 to %d printable ASCII characters", bridgeevents.ErrNotEvent, maxIDBytes)
	}
	if err != nil {
		// Only the publisher writes to the topic: this is no event, and no
		// attempt would make it one.
		return w.intake().KeepAside(ctx, "message#"+msg.MessageId, delivery.Unusable, err.Error(),
			envelope.SentAt(msg.Attributes), body)
	}
	attempt := lambdasqs.ReceiveCount(msg)
	log := w.log().With("event_id", ev.ID, "type", ev.Type, "attempt", attempt)
	status, err := w.post(ctx, ev.ID, body)
	if err == nil && status >= 200 && status < 300 {
		log.Info("event delivered", "status", status)
		return nil
	}
	if err == nil {
		err = fmt.Errorf("answered %d", status)
	}
	wait := w.schedule().After(attempt)
	if w.MaxAttempts > 0 && attempt >= w.MaxAttempts {
		log.Error("event not delivered on its last attempt: it goes to the DLQ", "status", status, "err", err.Error())
	} else {
		log.Warn("event not delivered", "status", status, "err", err.Error(), "next_attempt_in", wait.String())
	}
	if herr := w.Queue.Hold(ctx, msg.ReceiptHandle, wait); herr != nil {
		// It comes back after the queue's visibility timeout instead.
		log.Error("hold event back until its next attempt", "err", herr.Error())
	}
	return fmt.Errorf("deliver event %s, attempt %d: %w", ev.ID, attempt, err)
}

// errTimeout is a POST whose status did not come within the timeout.
var errTimeout = errors.New("no answer in time")

// post sends body to the webhook URL, signed under id at this attempt's
// time, and returns the answer's status. Redirects are not followed: the
// URL is the one the operator set, and a 3xx is a failure like any other.
func (w *Worker) post(ctx context.Context, id string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build the request: %w", err)
	}
	now := w.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kapso-bridge")
	req.Header.Set(bridgeevents.HeaderID, id)
	req.Header.Set(bridgeevents.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(bridgeevents.HeaderSignature, bridgeevents.Sign(w.Key, id, now, body))
	client := http.Client{Transport: w.Transport, CheckRedirect: noRedirects}
	res, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%w (%s)", errTimeout, w.timeout())
		}
		// The URL may carry a token in its query: keep it out of the logs.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswerBytes))
	return res.StatusCode, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// headerSafe: id can be sent as a header value and read back the same.
func headerSafe(id string) bool {
	if id == "" || len(id) > maxIDBytes {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// CheckURL checks a webhook URL: absolute and https, or http to a
// loopback address (a receiver on the machine that runs the local stack;
// a deployed function cannot reach one).
func CheckURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("not an absolute URL (https://host/path)")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("http to %s: the events go signed but in the clear; use https (http only to 127.0.0.1, ::1 or localhost, for the local stack)", u.Hostname())
	default:
		return fmt.Errorf("scheme %q: want https (http only to 127.0.0.1, ::1 or localhost, for the local stack)", u.Scheme)
	}
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (w *Worker) intake() delivery.Intake {
	return delivery.Intake{Rejects: w.Rejects, Log: w.log(), Level: slog.LevelError, Labelled: true}
}

func (w *Worker) schedule() Schedule {
	if w.Schedule != nil {
		return w.Schedule
	}
	return Retries()
}

func (w *Worker) timeout() time.Duration {
	if w.Timeout > 0 {
		return w.Timeout
	}
	return DefaultTimeout
}

func (w *Worker) concurrency() int {
	if w.Concurrency > 0 {
		return w.Concurrency
	}
	return DefaultConcurrency
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}
