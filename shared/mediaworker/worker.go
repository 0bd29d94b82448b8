// Package mediaworker is the worker behind the media queue: for each
// message.received event of a message with media, it copies the media's
// bytes from Kapso into kapso-bridge's bucket once, checks them against
// Kapso's sha256, and records the copy on the message. A failure that may
// pass is tried again through the queue (10 s, 1 min, 5 min, 15 min); on the
// message's last receive, or at once for one that cannot pass, the failure
// is recorded on the message, and the reconciler tries a retryable one again
// while Meta keeps the media.
package mediaworker

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/delivery"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/lambdasqs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
)

// Queue is what the worker needs of its queue (sqsqueue.Visibility): to
// keep a message it received out of sight until its next attempt.
type Queue interface {
	Hold(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Worker handles media queue batches.
type Worker struct {
	Source  media.Source
	Objects media.Objects
	Store   media.Store
	Queue   Queue
	// Rejects keeps a message that is no message.received event, with the
	// reason (dynamo.Rejects): no attempt would ever copy anything of it.
	Rejects envelope.RejectStore
	Log     *slog.Logger
	// Schedule is the waits between attempts; Retries() when nil.
	Schedule Schedule
	// MaxAttempts is the queue's maxReceiveCount: a failure on that
	// receive is recorded on the message and the message leaves the queue.
	MaxAttempts int
	// Concurrency bounds the copies of a batch in flight
	// (DefaultConcurrency when 0).
	Concurrency int
	// Timeouts of each call; the defaults when zero.
	MetadataTimeout time.Duration
	CopyTimeout     time.Duration
	StoreTimeout    time.Duration
	Now             func() time.Time
}

// Defaults of the worker. A copy streams through one part buffer of the
// bucket's adapter (8 MiB) whatever the media's size, so two copies at once
// keep a function under 64 MiB while one's wait on Kapso overlaps the
// other's transfer; and BatchSize messages, two at a time, each within its
// timeouts, end before the queue's consumer timeout.
const (
	DefaultConcurrency = 2
	// BatchSize is the most messages the queue hands the worker at once.
	BatchSize              = 4
	DefaultMetadataTimeout = 10 * time.Second
	// DefaultCopyTimeout bounds the download and the upload of one media
	// together: 100 MB (a document's limit) at under 1 MB/s.
	DefaultCopyTimeout  = 2 * time.Minute
	DefaultStoreTimeout = 5 * time.Second
)

// Schedule is the waits between a copy's attempts: after its n-th attempt
// fails, a message comes back Schedule[n-1] later, and after any attempt
// past the last, the last wait later.
type Schedule []time.Duration

// Retries is the deployed schedule: 10 s, 1 min, 5 min, 15 min; the
// queue's fifth receive is the last.
func Retries() Schedule {
	return Schedule{10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}
}

// After is the wait after the attempt-th attempt (from 1) failed.
func (s Schedule) After(attempt int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(max(attempt, 1), len(s))-1]
}

// outcome is what became of one message, for the batch's log line.
type outcome int

const (
	copied outcome = iota
	duplicate
	failed   // recorded failed: the message leaves the queue
	retrying // left on the queue for its next attempt
	dropped  // kept aside, or its message is gone
)

// tally counts a batch's outcomes.
type tally [dropped + 1]atomic.Int32

// Handle copies a batch's media, at most Concurrency at once, and reports
// the messages to receive again.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	slots := make(chan struct{}, w.concurrency())
	var t tally
	resp := lambdasqs.Concurrently(ctx, batch, func(ctx context.Context, msg events.SQSMessage) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-slots }()
		o, err := w.handle(ctx, msg)
		t[o].Add(1)
		return err
	}, func(msg events.SQSMessage, err error) {
		w.log().Debug("media message goes back to its queue", "message_id", msg.MessageId, "err", err.Error())
	})
	w.log().Info("media batch done", "messages", len(batch.Records), "stored", t[copied].Load(),
		"duplicates", t[duplicate].Load(), "failed", t[failed].Load(), "retrying", t[retrying].Load(),
		"dropped", t[dropped].Load())
	return resp, nil
}

// job is one message's media, as its event tells it.
type job struct {
	eventID, tenantID, phoneNumberID, wamid string
	messageType                             string
	mediaID, mimeType, filename             string
	// sha256 is the webhook's, when the event carries one.
	sha256 string
}

// received is the part of a message.received event's data the worker
// reads beyond bridgeevents' records: the webhook's sha256 of the media,
// when the event carries it.
type received struct {
	Message struct {
		Media *struct {
			SHA256 string `json:"sha256"`
		} `json:"media"`
	} `json:"message"`
}

// parse reads the job of a queue message: a message.received event naming
// a tenant and a message.
func parse(body []byte) (job, error) {
	ev, err := bridgeevents.Decode(body)
	if err != nil {
		return job{}, err
	}
	if ev.Type != bridgeevents.MessageReceived {
		return job{}, fmt.Errorf("%w: a %s event on the media queue", bridgeevents.ErrNotEvent, ev.Type)
	}
	rec, err := ev.Record()
	if err != nil {
		return job{}, err
	}
	m := rec.(*bridgeevents.MessageReceivedData).Message
	j := job{eventID: ev.ID, tenantID: ev.TenantID, phoneNumberID: m.PhoneNumberID, wamid: m.WAMID}
	if j.wamid == "" {
		j.wamid = m.ID
	}
	if j.tenantID == "" || j.wamid == "" || j.phoneNumberID == "" {
		return job{}, fmt.Errorf("%w: a message.received event without tenant, message id or phone number id",
			bridgeevents.ErrNotEvent)
	}
	if m.MessageContent != nil {
		j.messageType = m.Type
		if md := m.Media; md != nil {
			j.mediaID, j.mimeType, j.filename = md.ID, md.MIMEType, md.Filename
		}
	}
	var extra received
	if json.Unmarshal(ev.Data, &extra) == nil && extra.Message.Media != nil {
		j.sha256 = extra.Message.Media.SHA256
	}
	return j, nil
}

// failure is a copy that failed: reason is a media reason code, final
// whether another attempt from this message could pass.
type failure struct {
	reason string
	final  bool
	// wait, when longer than the schedule's, is how long the cause asked
	// to be left alone (a rate limit).
	wait time.Duration
	err  error
}

func (f *failure) Error() string { return f.reason + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func permanent(reason string, err error) *failure {
	return &failure{reason: reason, final: true, err: err}
}
func transient(reason string, err error) *failure { return &failure{reason: reason, err: err} }

// handle copies one message's media. An error leaves its message on the
// queue, held back for the schedule's wait.
func (w *Worker) handle(ctx context.Context, msg events.SQSMessage) (outcome, error) {
	j, err := parse([]byte(msg.Body))
	if err != nil {
		// Only the publisher writes to the topic: this is no event the
		// worker can act on, and no attempt would make it one.
		return dropped, w.intake().KeepAside(ctx, "message#"+msg.MessageId, delivery.Unusable, err.Error(),
			envelope.SentAt(msg.Attributes), []byte(msg.Body))
	}
	attempt := lambdasqs.ReceiveCount(msg)
	log := w.log().With("event_id", j.eventID, "tenant_id", j.tenantID, "wamid", j.wamid, "type", j.messageType,
		"attempt", attempt)

	sctx, cancel := context.WithTimeout(ctx, w.storeTimeout())
	info, found, err := w.Store.MediaState(sctx, j.tenantID, j.wamid)
	cancel()
	switch {
	case err != nil:
		return w.retry(ctx, log, msg, attempt, 0, fmt.Errorf("read media state of %s: %w", j.wamid, err))
	case !found:
		// The message is gone (erased, or its tenant): nothing to copy it
		// for, and an object an earlier attempt left goes too.
		return w.gone(ctx, log, msg, attempt, j)
	case info.State == media.Stored:
		log.Info("media already stored: nothing fetched", "key", info.Key)
		return duplicate, nil
	}

	stored, ferr := w.copyMedia(ctx, log, j, attempt)
	if ferr == nil {
		sctx, cancel := context.WithTimeout(ctx, w.storeTimeout())
		err := w.Store.SetMedia(sctx, j.tenantID, j.wamid, stored, time.Time{})
		cancel()
		if errs.CodeOf(err) == errs.NotFound {
			return w.gone(ctx, log, msg, attempt, j) // erased while it was copied
		}
		if err != nil {
			// The object stays: the next attempt puts the same bytes under
			// the same key and records them.
			return w.retry(ctx, log, msg, attempt, 0, fmt.Errorf("record media of %s stored: %w", j.wamid, err))
		}
		log.Info("media stored", "key", stored.Key, "size", stored.Size, "mime_type", stored.MIMEType)
		return copied, nil
	}
	if !ferr.final && (w.MaxAttempts <= 0 || attempt < w.MaxAttempts) {
		return w.retry(ctx, log, msg, attempt, ferr.wait, fmt.Errorf("copy media of %s: %w", j.wamid, ferr))
	}
	// Final, or the last receive: record it; the reconciler takes over a
	// retryable one.
	now := w.now()
	rec := media.Info{State: media.Failed, MIMEType: j.mimeType, Error: media.Failure(ferr.reason, clip(ferr.err.Error())),
		At: now, Attempts: info.Attempts + 1}
	next := now.Add(media.RetryEvery)
	sctx, cancel = context.WithTimeout(ctx, w.storeTimeout())
	err = w.Store.SetMedia(sctx, j.tenantID, j.wamid, rec, next)
	cancel()
	if errs.CodeOf(err) == errs.NotFound {
		return w.gone(ctx, log, msg, attempt, j)
	}
	if err != nil {
		return w.retry(ctx, log, msg, attempt, 0, fmt.Errorf("record media of %s failed (%s): %w", j.wamid, ferr, err))
	}
	if media.Retryable(rec.Error) {
		log.Warn("media not copied: recorded failed, the reconciler tries again", "reason", ferr.reason,
			"err", ferr.err.Error(), "next_attempt_at", next.Format(time.RFC3339))
	} else {
		log.Warn("media not copied: recorded failed for good", "reason", ferr.reason, "err", ferr.err.Error())
	}
	return failed, nil
}

// gone ends the copy of a message not stored, or erased since its state
// was read: the store makes no message again, and no object of its media
// may outlive it, so its key is deleted (a missing key is no error) and the
// queue message dropped. A delete that fails leaves the message on its
// queue for another try.
func (w *Worker) gone(ctx context.Context, log *slog.Logger, msg events.SQSMessage, attempt int, j job) (outcome, error) {
	if j.mediaID != "" {
		key := media.ObjectKey(j.tenantID, j.phoneNumberID, j.mediaID)
		dctx, cancel := context.WithTimeout(ctx, w.storeTimeout())
		err := w.Objects.Delete(dctx, key)
		cancel()
		if err != nil {
			return w.retry(ctx, log, msg, attempt, 0, fmt.Errorf("delete media %s of a message not stored: %w", key, err))
		}
	}
	log.Warn("media of a message not stored (erased): nothing kept")
	return dropped, nil
}

// retry leaves the message on the queue, held back for the schedule's
// wait, or wait when longer.
func (w *Worker) retry(ctx context.Context, log *slog.Logger, msg events.SQSMessage, attempt int, wait time.Duration,
	err error) (outcome, error) {
	wait = max(wait, w.schedule().After(attempt))
	if w.MaxAttempts > 0 && attempt >= w.MaxAttempts {
		log.Error("media message failed on its last attempt: it goes to the DLQ", "err", err.Error())
	} else {
		log.Warn("media not copied yet", "err", err.Error(), "next_attempt_in", wait.String())
	}
	if herr := w.Queue.Hold(ctx, msg.ReceiptHandle, wait); herr != nil {
		// It comes back after the queue's visibility timeout instead.
		log.Error("hold media message back until its next attempt", "err", herr.Error())
	}
	return retrying, err
}

// copyMedia copies the job's media into the bucket and answers what to
// record as stored.
func (w *Worker) copyMedia(ctx context.Context, log *slog.Logger, j job, attempt int) (media.Info, *failure) {
	limit, ok := media.MaxBytes(j.messageType)
	switch {
	case !ok:
		return media.Info{}, permanent(media.ReasonUnsupported, fmt.Errorf("a %q message carries no media", j.messageType))
	case j.mediaID == "":
		return media.Info{}, permanent(media.ReasonNoMediaID, errors.New("the message names no media id"))
	}
	// Metadata is read anew on every attempt: its URLs expire in minutes.
	mctx, cancel := context.WithTimeout(ctx, w.metadataTimeout())
	meta, err := w.Source.Metadata(mctx, j.phoneNumberID, j.mediaID)
	cancel()
	if err != nil {
		return media.Info{}, kapsoFailure("read media metadata", err)
	}
	if meta.FileSize > limit {
		return media.Info{}, permanent(media.ReasonTooLarge,
			fmt.Errorf("%d bytes by Kapso's metadata, more than the %d of a %s", meta.FileSize, limit, j.messageType))
	}
	want, werr := wantSHA256(meta.SHA256, j.sha256)
	mimeType := cmpOr(meta.MIMEType, j.mimeType, "application/octet-stream")
	key := media.ObjectKey(j.tenantID, j.phoneNumberID, j.mediaID)

	cctx, cancel := context.WithTimeout(ctx, w.copyTimeout())
	defer cancel()
	body, err := w.Source.Open(cctx, meta)
	if err != nil {
		// An expired URL too: the next attempt reads fresh metadata.
		return media.Info{}, transient(media.ReasonUnavailable, fmt.Errorf("download media: %w", err))
	}
	put, err := w.Objects.Put(cctx, key, mimeType, body, limit)
	_ = body.Close()
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return media.Info{}, permanent(media.ReasonTooLarge, fmt.Errorf("more than the %d bytes of a %s", limit, j.messageType))
	case err != nil:
		return media.Info{}, transient(media.ReasonUnavailable, fmt.Errorf("copy media into the bucket: %w", err))
	}
	if werr != nil || (want != "" && put.SHA256 != want) {
		if werr == nil {
			werr = fmt.Errorf("the bytes' sha256 is %s, Kapso's %s", put.SHA256, want)
		}
		dctx, cancel := context.WithTimeout(ctx, w.storeTimeout())
		derr := w.Objects.Delete(dctx, key)
		cancel()
		if derr != nil {
			// Not recorded as stored, so never served; the next copy
			// replaces it.
			log.Error("delete media whose sha256 does not match", "key", key, "err", derr.Error())
		}
		// Once may be a transfer gone wrong; twice, Kapso's bytes are not
		// the media it describes.
		f := transient(media.ReasonChecksum, werr)
		f.final = attempt > 1
		return media.Info{}, f
	}
	return media.Info{State: media.Stored, MIMEType: mimeType, Size: put.Size, SHA256: put.SHA256, Key: key,
		At: w.now()}, nil
}

// kapsoFailure classifies a failed call to Kapso: a media Kapso or Meta
// does not have (any more) cannot be copied from this message; anything
// else may pass.
func kapsoFailure(doing string, err error) *failure {
	err = fmt.Errorf("%s: %w", doing, err)
	switch errs.CodeOf(err) {
	case errs.NotFound, errs.Invalid, errs.Unprocessable:
		return permanent(media.ReasonNotFound, err)
	case errs.RateLimited:
		f := transient(media.ReasonUnavailable, err)
		if e, ok := errs.As(err); ok {
			f.wait = e.RetryAfter
		}
		return f
	}
	return transient(media.ReasonUnavailable, err)
}

// wantSHA256 is the sha256 (hex) the bytes must have: Kapso's metadata's,
// else the webhook's; "" when neither gave one. Meta gives it in hex or in
// base64 of the digest; anything else is an error.
func wantSHA256(fromMetadata, fromWebhook string) (string, error) {
	given := strings.TrimSpace(cmpOr(fromMetadata, fromWebhook))
	if given == "" {
		return "", nil
	}
	if len(given) == 2*sha256.Size {
		if b, err := hex.DecodeString(given); err == nil {
			return hex.EncodeToString(b), nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(given); err == nil && len(b) == sha256.Size {
			return hex.EncodeToString(b), nil
		}
	}
	return "", fmt.Errorf("the sha256 %q Kapso gave is neither hex nor base64 of a digest", clip(given))
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxErrorText bounds the text of a failure kept on the message.
const maxErrorText = 200

// clip cuts s to maxErrorText bytes, on a character boundary.
func clip(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	n := maxErrorText
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
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

func (w *Worker) concurrency() int {
	if w.Concurrency > 0 {
		return w.Concurrency
	}
	return DefaultConcurrency
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (w *Worker) metadataTimeout() time.Duration {
	return orDefault(w.MetadataTimeout, DefaultMetadataTimeout)
}
func (w *Worker) copyTimeout() time.Duration  { return orDefault(w.CopyTimeout, DefaultCopyTimeout) }
func (w *Worker) storeTimeout() time.Duration { return orDefault(w.StoreTimeout, DefaultStoreTimeout) }

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}
