// Package redirect is the redirect function's handler: the browser coming
// back from Kapso's setup page, recorded as a hint and sent on to the app.
package redirect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// LinkLookup finds the tenant of a setup link and reads its connection
// (onboarding.Store).
type LinkLookup interface {
	TenantOfLink(ctx context.Context, setupLinkID string) (string, bool, error)
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
}

// HintKeeper keeps a redirect's queue message for the reconciler to replay
// (onboarding.RedirectHints): the handler only ever adds one.
type HintKeeper interface {
	KeepRedirect(ctx context.Context, id string, receivedAt time.Time, raw []byte) error
}

// Handler receives the browser coming back from Kapso's setup page. The
// query is unsigned, so it is only a hint: it is validated, queued for the
// lifecycle worker (which checks it against the Platform API) and the
// person is sent on to the SaaS app. Nothing here marks a tenant connected.
type Handler struct {
	Store             LinkLookup
	Queue             envelope.Enqueuer
	LifecycleQueueURL string
	// Hints, when set, keeps the redirect's message when the queue fails,
	// for the reconciler to replay: the person is then answered as if it
	// were queued.
	Hints HintKeeper
	// AppSuccessURL and AppFailureURL are the SaaS app's pages. They come
	// from configuration only: the query never chooses where the browser goes.
	// A redirect through a superseded link goes to AppSuccessURL with
	// status=superseded, whatever Kapso said: the tenant has a newer link,
	// which the app shows instead of a failure.
	AppSuccessURL, AppFailureURL string
	Log                          *slog.Logger
	Now                          func() time.Time
	// Timeout bounds each request (DefaultTimeout when zero).
	Timeout time.Duration
}

// Redirect constants: the outcome statuses the app sees, and limits.
const (
	DefaultTimeout   = 5 * time.Second
	maxRedirectQuery = 4096
	// keepTimeout bounds keeping a redirect the queue refused.
	keepTimeout = 2 * time.Second
	// Error codes kapso-bridge adds to the app's failure URL.
	CodeUnknownSetupLink = onboarding.CodeUnknownSetupLink
	// StatusSuperseded is the status the app gets for a superseded link.
	StatusSuperseded = "superseded"
)

var (
	reLinkID    = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	reMetaID    = regexp.MustCompile(`^[0-9]{1,32}$`)
	reKapsoID   = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	reErrorCode = regexp.MustCompile(`^[a-z_]{1,64}$`)
	reStatus    = regexp.MustCompile(`^[a-z_]{1,32}$`)
	reE164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Register adds the redirect routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc(routes.ConnectSuccess.Pattern(), func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, true) })
	mux.HandleFunc(routes.ConnectFailure.Pattern(), func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, false) })
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, success bool) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	log := h.logger().With("path", r.URL.Path)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")

	p, dropped := h.parse(r, success)
	if len(dropped) > 0 {
		log.Warn("redirect parameters dropped as malformed", "params", dropped)
	}
	if p.SetupLinkID == "" {
		log.Warn("redirect without a valid setup link id")
		h.send(w, r, false, url.Values{"error_code": {CodeUnknownSetupLink}})
		return
	}
	log = log.With("setup_link_id", p.SetupLinkID)
	tenantID, found, err := h.Store.TenantOfLink(ctx, p.SetupLinkID)
	if err == nil && !found {
		log.Warn("redirect for an unknown setup link")
		h.send(w, r, false, url.Values{"error_code": {CodeUnknownSetupLink}})
		return
	}
	superseded := false
	if err == nil {
		p.TenantID = tenantID
		superseded = h.superseded(ctx, tenantID, p.SetupLinkID, log)
		// Recorded all the same: a late redirect stays in the attempt's
		// history, and the domain keeps the attempt superseded.
		d, body := redirectDelivery(p, success)
		if err = h.Queue.Send(ctx, h.LifecycleQueueURL, d, body, false); err != nil {
			err = h.keep(ctx, d, body, err, log)
		}
	}
	if superseded {
		if err != nil {
			log.Error("redirect not recorded", "err", err.Error())
		}
		log.Info("redirect through a superseded link", "tenant_id", tenantID, "success", success,
			"error_code", p.ErrorCode)
		h.send(w, r, true, url.Values{"status": {StatusSuperseded}, "tenant_id": {tenantID},
			"setup_link_id": {p.SetupLinkID}})
		return
	}
	if err != nil {
		// The person still gets a page. A success goes to the success page as
		// "pending": Kapso has most likely connected the number, and its
		// webhook or the reconciler will confirm it, so sending the person to
		// a failure page would only make them sign up again. A failure goes to
		// the failure page with Kapso's code; only its record is lost.
		log.Error("redirect not recorded", "err", err.Error())
		q := url.Values{"status": {"pending"}}
		if !success {
			q = url.Values{"status": {"failed"}, "error_code": {p.ErrorCode}}
		}
		if tenantID != "" {
			q.Set("tenant_id", tenantID)
			q.Set("setup_link_id", p.SetupLinkID)
		}
		h.send(w, r, success, q)
		return
	}
	log.Info("redirect received", "tenant_id", tenantID, "success", success, "phone_number_id", p.PhoneNumberID,
		"error_code", p.ErrorCode)
	q := url.Values{"tenant_id": {tenantID}, "setup_link_id": {p.SetupLinkID}}
	if success {
		q.Set("status", "completed")
		q.Set("phone_number_id", p.PhoneNumberID)
	} else {
		q.Set("status", "failed")
		q.Set("error_code", p.ErrorCode)
	}
	h.send(w, r, success, q)
}

// keep records a redirect the queue refused as a hint the reconciler
// replays, and returns nil once it is durable; otherwise the queue's error,
// joined with the store's.
func (h *Handler) keep(ctx context.Context, d envelope.Delivery, body []byte, sendErr error, log *slog.Logger) error {
	if h.Hints == nil {
		return sendErr
	}
	// A hanging SQS spends the request's deadline: the hint gets its own
	// short one, still well inside the function's timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keepTimeout)
	defer cancel()
	msg, err := envelope.Encode(d, body)
	if err == nil {
		err = h.Hints.KeepRedirect(ctx, d.Key, d.ReceivedAt, []byte(msg))
	}
	if err != nil {
		return errors.Join(sendErr, err)
	}
	log.Warn("redirect kept in DynamoDB; the reconciler replays it", "key", d.Key, "queue_err", sendErr.Error())
	return nil
}

// superseded reports whether the link's attempt is superseded. The
// connection is read only to choose the page: when it cannot be read, the
// person goes where the redirect itself says.
func (h *Handler) superseded(ctx context.Context, tenantID, setupLinkID string, log *slog.Logger) bool {
	conn, found, err := h.Store.Load(ctx, tenantID)
	if err != nil {
		log.Warn("connection not read to choose the app page", "tenant_id", tenantID, "err", err.Error())
		return false
	}
	if !found {
		return false
	}
	a, ok := conn.Attempt(setupLinkID)
	return ok && a.Status == onboarding.AttemptSuperseded
}

// parse keeps each parameter only if it is well formed, and names the ones
// it dropped. A malformed setup_link_id leaves it empty.
func (h *Handler) parse(r *http.Request, success bool) (onboarding.Redirect, []string) {
	var dropped []string
	if len(r.URL.RawQuery) > maxRedirectQuery {
		return onboarding.Redirect{}, []string{"query too long"}
	}
	q := r.URL.Query()
	get := func(name string, re *regexp.Regexp) string {
		vs, ok := q[name]
		if !ok {
			return ""
		}
		if len(vs) != 1 || !re.MatchString(vs[0]) {
			dropped = append(dropped, name)
			return ""
		}
		return vs[0]
	}
	p := onboarding.Redirect{SetupLinkID: get("setup_link_id", reLinkID), ReceivedAt: h.now().UTC()}
	if !success {
		p.ErrorCode = get("error_code", reErrorCode)
		if p.ErrorCode == "" {
			p.ErrorCode = onboarding.CodeUnknown
		}
		return p, dropped
	}
	p.Status = get("status", reStatus)
	p.PhoneNumberID = get("phone_number_id", reMetaID)
	p.BusinessAccountID = get("business_account_id", reMetaID)
	p.ProvisionedPhoneNumberID = get("provisioned_phone_number_id", reKapsoID)
	p.WhatsAppConfigID = get("whatsapp_config_id", reKapsoID)
	// An unencoded "+" arrives as a space; the number is still E.164.
	if vs := q["display_phone_number"]; len(vs) == 1 && strings.HasPrefix(vs[0], " ") {
		q["display_phone_number"] = []string{"+" + vs[0][1:]}
	}
	p.DisplayPhoneNumber = get("display_phone_number", reE164)
	return p, dropped
}

// redirectDelivery builds the lifecycle queue's one-event delivery. Its key
// digests the parameters without the time, so a double-click or a reload is
// one event.
func redirectDelivery(p onboarding.Redirect, success bool) (envelope.Delivery, []byte) {
	name := onboarding.EventRedirectFailure
	if success {
		name = onboarding.EventRedirectSuccess
	}
	identity := p
	identity.ReceivedAt = time.Time{}
	idJSON, _ := json.Marshal(identity) // a struct of strings always marshals
	sum := sha256.Sum256(append([]byte(name+"\x00"), idJSON...))
	body, _ := json.Marshal(p)
	return envelope.Delivery{Source: envelope.SourceRedirect, Key: "redirect#" + hex.EncodeToString(sum[:16]),
		Event: name, ReceivedAt: p.ReceivedAt}, body
}

// send answers 302 to the configured app page with params added to its own query.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, success bool, params url.Values) {
	target := h.AppFailureURL
	if success {
		target = h.AppSuccessURL
	}
	u, err := url.Parse(target)
	if err != nil || target == "" {
		h.logger().Error("app redirect URL is not configured or invalid", "success", success)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("Thank you. You can close this page.\n"))
		return
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (h *Handler) logger() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
