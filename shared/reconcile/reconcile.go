// Package reconcile makes stored state true when deliveries were missed:
// browser redirects kept while the lifecycle queue was down, setup links
// that expired or whose creation's answer was lost, connections no webhook
// confirmed, numbers Kapso changed or lists without kapso-bridge having
// heard of them, webhooks Kapso paused, and messages whose deliveries
// failed. It finds its work in the stores' bounded lists (index queries on
// the bridge table, never scans) and in the Platform API, and bounds each
// run in time and in Kapso calls, keeping its place between runs.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// Store is what the reconciler needs of the onboarding store (onboarding.Store).
type Store interface {
	ActiveLinksExpiredAt(ctx context.Context, now time.Time, limit int) ([]onboarding.LinkRef, error)
	ListTenants(ctx context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error)
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
	AppendFact(ctx context.Context, tenantID string, f onboarding.Fact) (onboarding.Connection, onboarding.Change, error)
	RecordLink(ctx context.Context, tenantID string, l onboarding.LinkDetails) (onboarding.Connection, error)
	CloseLink(ctx context.Context, setupLinkID string, status onboarding.AttemptStatus) error
}

// Checkpoints keep a sweep's position between runs, and the lease that
// keeps two runs apart (dynamo.Checkpoints).
type Checkpoints interface {
	Checkpoint(ctx context.Context, name string) (string, error)
	SaveCheckpoint(ctx context.Context, name, position string) error
	TakeLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// NumberList is what the reconciler needs of the number store
// (onboarding.NumberStore).
type NumberList interface {
	NumbersMissingWebhook(ctx context.Context, limit int) ([]onboarding.Number, error)
	TenantOfPhoneNumber(ctx context.Context, phoneNumberID string) (string, bool, error)
}

// KapsoClient is the part of the Platform API the reconciler calls
// (kapsoapi.Client), in the domains' terms. A call refused by the run's
// meter is errs.BudgetSpent; a rate limit that outlasts the run is
// errs.RateLimited.
type KapsoClient interface {
	ListPhoneNumbers(ctx context.Context, customerID string) ([]onboarding.KapsoNumber, error)
	ListSetupLinks(ctx context.Context, customerID, status string) ([]onboarding.SetupLink, error)
	RevokeSetupLink(ctx context.Context, customerID, setupLinkID string) (onboarding.SetupLink, error)
	ListMessages(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedMessage], error)
	ListConversations(ctx context.Context, phoneNumberID, after string, limit int) (messaging.ListedPage[messaging.ListedConversation], error)
	ListWebhookDeliveries(ctx context.Context, status, after string, limit int) (messaging.ListedPage[messaging.WebhookDelivery], error)
}

// Meters give each run the meter its Kapso calls go through (the Kapso
// client's, which the wiring adapts).
type Meters interface {
	// Start returns ctx carrying a new meter, which lets the calls made
	// with that context send at most budget requests (0: no limit), their
	// starts at least interval apart, and makes them all wait out a rate
	// limit any of them met.
	Start(ctx context.Context, budget int, interval time.Duration) (context.Context, CallMeter)
}

// CallMeter is one run's meter.
type CallMeter interface {
	// Spent reports whether the budget is used up.
	Spent() bool
	// Stats counts what the meter saw so far.
	Stats() CallStats
}

// CallStats counts what a run's meter saw.
type CallStats struct {
	Calls       int           // requests sent
	RateLimited int           // 429 answers seen
	Waits       int           // times a request waited for a 429's Retry-After
	Waited      time.Duration // total time spent in those waits
}

// Confirmer records API confirmations and registers webhooks the way the
// lifecycle worker does (*lifecycle.Worker).
type Confirmer interface {
	// ConfirmFromAPI records, as the reconciler's finding with reason,
	// that Kapso lists the number under the tenant's customer.
	ConfirmFromAPI(ctx context.Context, tenantID string, n onboarding.KapsoNumber, setupLinkID, reason string) error
	RegisterWebhook(ctx context.Context, tenantID, phoneNumberID string) error
	// CorrectNumber records what the Platform API shows of a number when the
	// stored state disagrees; changed says whether it did.
	CorrectNumber(ctx context.Context, tenantID, phoneNumberID string) (changed bool, err error)
	// RepairWebhook makes a registered webhook that Kapso lists inactive,
	// pointing elsewhere or not at all deliver again; repair is "" when
	// it was in order.
	RepairWebhook(ctx context.Context, tenantID, phoneNumberID string) (repair string, err error)
	// ApplyEvent applies an event as the lifecycle queue's worker does; one
	// that can never be applied is kept aside and is not an error.
	ApplyEvent(ctx context.Context, ev envelope.Event) error
}

// MessageReader reads one stored message (messaging.Reader) or
// conversation (dynamo.Messages).
type MessageReader interface {
	Message(ctx context.Context, tenantID, wamid string) (messaging.StoredMessage, bool, error)
	Conversation(ctx context.Context, tenantID, id string) (messaging.Conversation, bool, error)
}

// DeadLetters reports the dead-letter queues' backlog (sqsqueue.DLQStats).
type DeadLetters interface {
	Stats(ctx context.Context) ([]DLQStat, error)
}

// DLQStat is one dead-letter queue's backlog.
type DLQStat struct {
	Queue string `json:"queue"`
	// Depth counts every message the queue holds, InFlight those of them
	// received and not yet visible again (a redrive's, another sample's).
	Depth    int `json:"depth"`
	InFlight int `json:"in_flight"`
	// OldestAgeSeconds is the age of the oldest message sampled (0 when empty).
	OldestAgeSeconds int64 `json:"oldest_age_seconds"`
}

// Reconciler runs one reconciliation pass per Run.
type Reconciler struct {
	Store   Store
	Numbers NumberList
	Kapso   KapsoClient
	// Meters, when set, meter each run's Kapso calls: the budget and pace
	// of Limits, and the counts of the report. Without, calls go unmetered.
	Meters    Meters
	Confirmer Confirmer
	// Hints, when set, are the redirects the lifecycle queue could not
	// take, replayed first.
	Hints onboarding.RedirectHints
	// Checkpoints keep where each sweep stopped, and the run lease (required).
	Checkpoints Checkpoints
	// Queue and MessagesQueueURL carry what the message catch-up finds to
	// the messages worker, which stores it as it stores webhook events.
	Queue            envelope.Enqueuer
	MessagesQueueURL string
	// Messages, when set, is read first, so that a listed message or
	// conversation already stored as Kapso lists it is not handed on again.
	Messages MessageReader
	// Outbox, when set, holds the sends to resolve; Outbound is the queue
	// a message left queued goes back on.
	Outbox   messaging.Outbox
	Outbound messaging.OutboundQueue
	// UnconfirmedAfter is how long an unknown send is looked for at Kapso
	// before it fails as unconfirmed (DefaultUnconfirmedAfter when zero);
	// ClaimTimeout is the sender's timeout (messaging.DefaultClaimTimeout
	// when zero).
	UnconfirmedAfter time.Duration
	ClaimTimeout     time.Duration
	// Media, when set with MediaQueue and Messages, are the messages whose
	// media copy failed: their event goes back to the media worker.
	Media      media.Store
	MediaQueue MediaQueue
	// Templates and TemplateKapso, when set, keep each connected WABA's
	// templates read no longer ago than TemplateSyncInterval
	// (DefaultTemplateSyncInterval when zero).
	Templates            templates.Store
	TemplateKapso        templates.Kapso
	TemplateSyncInterval time.Duration
	// Backfill, when set with a Retention, gives the items stored before
	// MESSAGE_RETENTION_DAYS was set, or under other days, the expiry of
	// Retention (retention.go).
	Backfill  messaging.RetentionBackfill
	Retention messaging.Retention
	// Offboard, when set, finishes the tenants' offboardings, first in each
	// run.
	Offboard *offboarding.Runner
	// Erasures and Eraser, when set, are the open erasures of people, each
	// advanced by a bounded number of pages a run.
	Erasures erasure.Jobs
	Eraser   erasure.Eraser
	// DeadLetters, when set, are reported in the summary.
	DeadLetters DeadLetters
	Log         *slog.Logger
	Now         func() time.Time
	Limits      Limits
}

// Limits bound a run; zero fields take the defaults (see the arithmetic for
// 10,000 tenants in docs/operations.md).
type Limits struct {
	// Items is the most redirects, expired links and numbers missing a
	// webhook handled per run, each (default 100).
	Items int
	// OpenTenants is the most tenants with an open attempt checked per run
	// (default 500: 2,000 an hour at one run every 15 minutes).
	OpenTenants int
	// Numbers is the most connected numbers checked per run (default 250:
	// 10,000 in 40 runs, 10 hours).
	Numbers int
	// KapsoCalls is the most Platform API requests per run (default 2,400).
	KapsoCalls int
	// KapsoPerMinute paces the run's requests (default 300, under a third
	// of the smallest plan's 1,000 a minute that a SaaS at this size has).
	KapsoPerMinute int
	// MessagePages is the most pages of 100 messages (and of
	// conversations) read per number per run (default 5).
	MessagePages int
	// FailedDeliveryPages is the most pages of failed deliveries read per
	// run (default 5).
	FailedDeliveryPages int
	// TemplateTenants is the most tenants whose templates are looked at
	// per run (default 500); only those read longer ago than the interval
	// cost Kapso calls.
	TemplateTenants int
	// RetentionItems is the most items the retention backfill reads per
	// run (default DefaultRetentionItems).
	RetentionItems int
	// OffboardTime is the most time spent on one offboarding per run
	// (DefaultOffboardTime when zero); Items bounds how many are resumed.
	OffboardTime time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Items, 100)
	def(&l.OpenTenants, 500)
	def(&l.Numbers, 250)
	def(&l.KapsoCalls, 2400)
	def(&l.KapsoPerMinute, 300)
	def(&l.MessagePages, 5)
	def(&l.FailedDeliveryPages, 5)
	def(&l.TemplateTenants, 500)
	def(&l.RetentionItems, DefaultRetentionItems)
	if l.OffboardTime <= 0 {
		l.OffboardTime = DefaultOffboardTime
	}
	return l
}

// Counts are what a run did of one kind of work.
type Counts struct {
	Checked int `json:"checked"`
	Found   int `json:"found"`
	Fixed   int `json:"fixed"`
}

// KapsoUse is what a run asked of the Platform API.
type KapsoUse struct {
	Calls       int   `json:"calls"`
	Budget      int   `json:"budget"`
	RateLimited int   `json:"rate_limited"` // 429 answers
	Waits       int   `json:"waits"`        // calls that waited out a 429's Retry-After
	WaitedMS    int64 `json:"waited_ms"`
}

// Report is a run's summary: per kind of work, what it checked, found
// (disagreeing with the stored state) and fixed.
type Report struct {
	// Redirects: kept hints read, replayed.
	Redirects Counts `json:"redirects"`
	// ExpiredLinks: active links past their expiry, expired (or index
	// entries tidied).
	ExpiredLinks Counts `json:"expired_links"`
	// OpenTenants: tenants with an open attempt checked, numbers found
	// connected at Kapso, confirmed.
	OpenTenants Counts `json:"open_tenants"`
	// SetupLinks: tenants whose links were compared with Kapso's, links
	// Kapso has that the store disagrees with, adopted or revoked.
	SetupLinks Counts `json:"setup_links"`
	// MissingWebhooks: numbers without a recorded webhook, registered.
	MissingWebhooks Counts `json:"missing_webhooks"`
	// Numbers: connected numbers checked, whose state Kapso shows otherwise, corrected.
	Numbers Counts `json:"numbers"`
	// UnknownNumbers: tenants whose numbers were listed, numbers never
	// heard of, recorded and connected.
	UnknownNumbers Counts `json:"unknown_numbers"`
	// Webhooks: registered webhooks checked, inactive, elsewhere or gone, repaired.
	Webhooks Counts `json:"webhooks"`
	// Messages and Conversations: items listed by Kapso at or above the
	// number's high-water mark, not stored as listed, handed to the
	// messages worker.
	Messages      Counts `json:"messages"`
	Conversations Counts `json:"conversations"`
	// FailedDeliveries: Kapso's failed-delivery records read, new since the
	// last run, whose numbers were caught up.
	FailedDeliveries Counts `json:"failed_deliveries"`
	// Outbound: sends neither accepted nor failed checked; requeued, found
	// unknown, adopted from Kapso's list or failed as unconfirmed.
	Outbound Counts `json:"outbound"`
	// Media: failed media copies due again read, still failed, handed to
	// the media worker again.
	Media Counts `json:"media"`
	// Templates: WABAs whose templates were due and read, templates found
	// changed (new, a status, quality or content), stored.
	Templates Counts `json:"templates"`
	// Retention: items the backfill read, found without the current
	// retention's expiry, given it.
	Retention Counts `json:"retention"`
	// Erasures: open erasures read, advanced (not waiting for their final
	// sweep), finished.
	Erasures Counts `json:"erasures"`
	// Offboardings: unfinished offboardings worked on, finished.
	Offboardings Counts    `json:"offboardings"`
	DLQs         []DLQStat `json:"dlqs,omitempty"`
	Kapso        KapsoUse  `json:"kapso"`
	Errors       int       `json:"errors"`
	DurationMS   int64     `json:"duration_ms"`
	// Finished: the run went through every step; otherwise StoppedBy says
	// why it stopped (deadline, kapso_budget, kapso_rate_limit) and the
	// next run goes on from where it stopped.
	Finished  bool   `json:"finished"`
	StoppedBy string `json:"stopped_by,omitempty"`
	// Skipped: another run held the lease, so this one did nothing.
	Skipped bool `json:"skipped,omitempty"`
}

// Why a run stopped early.
const (
	StoppedByDeadline       = "deadline"
	StoppedByKapsoBudget    = "kapso_budget"
	StoppedByKapsoRateLimit = "kapso_rate_limit"
)

const leaseName = "reconcile"

// Run does one pass. Failures of single items are logged and counted, and
// the pass goes on; the error reports only a pass that could not read its
// work lists. It stops early, with what it did so far and its place kept,
// when ctx is about to end or the run's Kapso budget is spent, and does
// nothing while another run holds the lease.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	start := time.Now()
	lim := r.Limits.withDefaults()
	var rep Report
	holder, err := r.takeLease(ctx)
	if err != nil {
		return rep, err
	}
	if holder == "" {
		rep.Skipped = true
		r.logger().Warn("reconciliation skipped: another run holds the lease")
		return rep, nil
	}
	defer r.releaseLease(ctx, holder)

	interval := time.Duration(0)
	if lim.KapsoPerMinute > 0 {
		interval = time.Minute / time.Duration(lim.KapsoPerMinute)
	}
	var meter CallMeter = unmetered{}
	if r.Meters != nil {
		ctx, meter = r.Meters.Start(ctx, lim.KapsoCalls, interval)
	}
	run := &run{Reconciler: r, lim: lim, rep: &rep, meter: meter, now: r.now()}

	var errList []error
	// Offboardings first: nothing else should work on a tenant being
	// deleted. Outbound before the catch-up: the message catch-up would otherwise store an unknown
	// send's message before the send is adopted, listing it twice meanwhile.
	// The backfill costs no Kapso call: before the steps that may spend
	// the budget.
	steps := []func(context.Context) error{run.offboardings, run.replayRedirects, run.erasures, run.expireLinks, run.backfillRetention, run.mediaRetries, run.outbound, run.failedDeliveries,
		run.openTenants, run.registerWebhooks, run.connectedNumbers, run.syncTemplates}
	for _, step := range steps {
		if run.stopping(ctx) {
			break
		}
		if err := step(ctx); err != nil {
			errList = append(errList, err)
		}
	}
	if r.DeadLetters != nil {
		// Asked even of a run out of Kapso budget: it costs no Kapso call.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		stats, err := r.DeadLetters.Stats(dctx)
		cancel()
		if err != nil {
			errList = append(errList, fmt.Errorf("read dead-letter queues: %w", err))
		}
		rep.DLQs = stats
	}
	st := meter.Stats()
	rep.Kapso = KapsoUse{Calls: st.Calls, Budget: lim.KapsoCalls, RateLimited: st.RateLimited, Waits: st.Waits,
		WaitedMS: st.Waited.Milliseconds()}
	rep.Finished = rep.StoppedBy == ""
	rep.DurationMS = time.Since(start).Milliseconds()
	r.logger().Info("reconciliation done", "summary", rep)
	return rep, errors.Join(errList...)
}

// takeLease makes this run the only one until its deadline (or 15 minutes
// without one, the schedule's period); "" means another run holds it.
func (r *Reconciler) takeLease(ctx context.Context) (string, error) {
	if r.Checkpoints == nil {
		return "run", nil
	}
	now := r.now()
	until := now.Add(15 * time.Minute)
	if d, ok := ctx.Deadline(); ok {
		until = d.Add(time.Minute)
	}
	holder := fmt.Sprintf("run-%d", now.UnixNano())
	ok, err := r.Checkpoints.TakeLease(ctx, leaseName, holder, now, until)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", nil
	}
	return holder, nil
}

func (r *Reconciler) releaseLease(ctx context.Context, holder string) {
	if r.Checkpoints == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.Checkpoints.ReleaseLease(ctx, leaseName, holder); err != nil {
		// It ends by itself at its time.
		r.logger().Warn("release the reconciler's lease", "err", err.Error())
	}
}

// run is one pass's state.
type run struct {
	*Reconciler
	lim   Limits
	rep   *Report
	meter CallMeter
	now   time.Time
	// sentPages are the pages of Kapso's message lists the adoption of
	// unknown sends read this run, by number and cursor: two unknown sends
	// of one number cost one read.
	sentPages map[string]messaging.ListedPage[messaging.ListedMessage]
}

// unmetered is the meter of a reconciler without Meters: never spent,
// counting nothing.
type unmetered struct{}

func (unmetered) Spent() bool      { return false }
func (unmetered) Stats() CallStats { return CallStats{} }

// stopping reports whether the run must stop: its deadline is near, or its
// Kapso budget is spent, or Kapso's rate limit outlasts the deadline.
func (r *run) stopping(ctx context.Context) bool {
	if r.rep.StoppedBy != "" {
		return true
	}
	if outOfTime(ctx) {
		r.rep.StoppedBy = StoppedByDeadline
		return true
	}
	if r.meter.Spent() {
		r.rep.StoppedBy = StoppedByKapsoBudget
		return true
	}
	return false
}

// outOfTime leaves a margin so a started item can finish before the deadline.
func outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 2*time.Second
}

// itemFailed counts and logs an item's failure, unless the failure is the
// run's own limit (budget, rate limit, deadline), which stops the run
// instead, leaving the item to the next run.
func (r *run) itemFailed(ctx context.Context, msg string, err error, attrs ...any) {
	switch {
	case errs.Is(err, errs.BudgetSpent):
		r.rep.StoppedBy = StoppedByKapsoBudget
		return
	case errs.Is(err, errs.RateLimited):
		r.rep.StoppedBy = StoppedByKapsoRateLimit
		return
	case outOfTime(ctx):
		r.rep.StoppedBy = StoppedByDeadline
		return
	}
	r.rep.Errors++
	r.logger().Error(msg, append(attrs, "err", err.Error())...)
}

// sweep visits the tenants of each status page by page from where the
// last run stopped (a checkpoint per status), so that every tenant's turn
// comes when a run reaches only budget of them; a sweep that reaches the
// end starts over on the next run. visit returns what the tenant cost of
// the budget. A run that stops in the middle of a tenant keeps the
// checkpoint before it, so the next run begins with that tenant.
func (r *run) sweep(ctx context.Context, sweep string, statuses []onboarding.TenantStatus, budget int,
	visit func(ctx context.Context, t onboarding.TenantItem) int) error {
	var errList []error
	for _, status := range statuses {
		name := sweep + ":" + string(status)
		cursor, err := r.Checkpoints.Checkpoint(ctx, name)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		for budget > 0 && !r.stopping(ctx) {
			q := onboarding.TenantQuery{Status: status, Now: r.now, Limit: budget, Cursor: cursor}
			tenants, next, err := r.Store.ListTenants(ctx, q)
			if err != nil {
				errList = append(errList, err)
				break
			}
			for _, t := range tenants {
				if budget <= 0 || r.stopping(ctx) {
					break
				}
				budget -= visit(ctx, t)
				if r.rep.StoppedBy != "" {
					break // the tenant in hand is the next run's first
				}
				cursor = q.CursorAfter(t)
			}
			if budget > 0 && r.rep.StoppedBy == "" && (next == "" || len(tenants) == 0) {
				cursor = "" // the end: the next sweep starts over
				break
			}
			if budget > 0 && r.rep.StoppedBy == "" {
				cursor = next
			}
		}
		if err := r.Checkpoints.SaveCheckpoint(ctx, name, cursor); err != nil {
			errList = append(errList, err)
		}
		if budget <= 0 || r.rep.StoppedBy != "" {
			break
		}
	}
	return errors.Join(errList...)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
