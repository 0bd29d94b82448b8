// Package tenantapi is the tenantapi function's handler: the SaaS backend's
// API under /v1, which creates a tenant's setup links and shows its
// connection, conversations, messages, contacts and events.
package tenantapi

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
	"github.com/kapso-bridge/kapso-bridge/shared/strictjson"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
)

// OnboardingStore is what the tenant API needs of the onboarding store
// (onboarding.Store): tenants' Kapso customers, their links and connections,
// and the tenant lists.
type OnboardingStore interface {
	onboarding.CustomerStore
	RecordLink(ctx context.Context, tenantID string, l onboarding.LinkDetails) (onboarding.Connection, error)
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
	ListTenants(ctx context.Context, q onboarding.TenantQuery) ([]onboarding.TenantItem, string, error)
}

// FeedReader is what the tenant API needs of the feed (eventing.Feed): its
// pages, read; the publisher appends.
type FeedReader interface {
	List(ctx context.Context, q eventing.FeedQuery) (eventing.FeedPage, error)
}

// KapsoClient is the part of the Platform API the tenant API calls
// (kapsoapi.Client), in onboarding's terms. Its failures carry errs codes
// (see onboarding's Customer), which kapsoError answers in the API's terms.
type KapsoClient interface {
	FindCustomerByExternalID(ctx context.Context, externalCustomerID string) (onboarding.Customer, bool, error)
	CreateCustomer(ctx context.Context, name, externalCustomerID string) (onboarding.Customer, error)
	CreateSetupLink(ctx context.Context, customerID string, o onboarding.SetupLinkOptions) (onboarding.SetupLink, error)
}

// API is the SaaS backend's API: create a tenant's setup link, read its
// connection and its messages. Every route needs a bearer token that
// grants its scope (routeScopes).
type API struct {
	Store    OnboardingStore
	Kapso    KapsoClient
	Messages messaging.Reader
	// Outbox and Outbound take the messages the tenant sends: stored as
	// queued, then handed to the sender.
	Outbox   messaging.Outbox
	Outbound messaging.OutboundQueue
	// Templates keeps the tenant's templates, read and created through
	// TemplateKapso (Kapso's Meta proxy).
	Templates     templates.Store
	TemplateKapso templates.Kapso
	// Feed is the events told, for GET /v1/events and a tenant's events.
	Feed FeedReader
	// Audit records every write that succeeded, and lists them for GET
	// /v1/audit; nil records nothing.
	Audit access.AuditLog
	// Erasures erases a person from a number, and shows how far it is;
	// nil answers those routes 404.
	Erasures *Erasures
	// MaxExportBytes bounds a person's export (DefaultMaxExportBytes when
	// zero).
	MaxExportBytes int
	// Objects is the media bucket: messages' stored media, linked by
	// presigned URLs valid MediaURLTTL (DefaultMediaURLTTL when zero), and
	// the files uploaded, which MediaSource (Kapso) takes once and Uploads
	// records.
	Objects     media.Objects
	MediaSource media.Source
	Uploads     media.Uploads
	MediaURLTTL time.Duration
	// MaxUploadBytes bounds an upload's file (MaxUploadBytes when zero).
	MaxUploadBytes int64
	// Token is the configured token (BRIDGE_API_TOKEN), which grants
	// admin; Tokens holds the named ones. With neither, every request is
	// refused.
	Token  string
	Tokens access.Store
	// PublicBaseURL is where browsers reach kapso-bridge; Kapso's redirects
	// go to routes.SuccessRedirectURL and routes.FailureRedirectURL of it.
	PublicBaseURL string
	Log           *slog.Logger
	Now           func() time.Time
	// Timeout bounds each request (DefaultTimeout when zero).
	Timeout time.Duration
	// Offboard runs tenants' offboardings; a DELETE works on one for
	// OffboardBudget (DefaultOffboardBudget when zero).
	Offboard       *offboarding.Runner
	OffboardBudget time.Duration

	// auth is Register's: one cache of tokens for every route.
	auth *authenticator
}

// Defaults of the tenant API.
const (
	DefaultTimeout        = 8 * time.Second
	MaxSetupLinkBodyBytes = 64 << 10
)

// Register adds the tenant routes to mux, each with the query parameters
// it takes: any other is refused, so that a misspelt filter is not
// silently ignored.
func (a *API) Register(mux *http.ServeMux) {
	if a.auth == nil {
		a.auth = newAuthenticator(a.Token, a.Tokens, a.now)
	}
	a.route(mux, routes.ListTenants, a.listTenants, "status", "needs_attention", "updated_since", "limit", "cursor")
	a.tenantRoute(mux, routes.CreateSetupLink, a.createSetupLink)
	a.tenantRoute(mux, routes.GetConnection, a.connection)
	a.tenantRoute(mux, routes.DeleteTenant, a.deleteTenant)
	a.tenantRoute(mux, routes.ListConversations, a.listConversations, "updated_since", "limit", "cursor")
	a.tenantRoute(mux, routes.ListConversationMessages, a.listConversationMessages, "order", "limit", "cursor")
	a.tenantRoute(mux, routes.GetMessage, a.getMessage)
	a.tenantRoute(mux, routes.GetMessageMedia, a.getMessageMedia)
	a.tenantRoute(mux, routes.UploadMedia, a.uploadMedia, routes.PhoneNumberID, "filename")
	a.tenantRoute(mux, routes.GetContact, a.getContact)
	a.tenantRoute(mux, routes.SendMessage, a.sendMessage)
	a.tenantRoute(mux, routes.ListTemplates, a.listTemplates, "status", "name", "limit", "cursor")
	a.tenantRoute(mux, routes.CreateTemplate, a.createTemplate)
	a.tenantRoute(mux, routes.SyncTemplates, a.syncTemplates)
	a.route(mux, routes.ListEvents, a.listEvents, "type", "limit", "cursor")
	a.tenantRoute(mux, routes.ListTenantEvents, a.listTenantEvents, "type", "limit", "cursor")
	a.tenantRoute(mux, routes.EraseContact, a.eraseContact)
	a.tenantRoute(mux, routes.ExportContact, a.exportContact)
	a.tenantRoute(mux, routes.GetErasure, a.getErasure)
	a.route(mux, routes.ListAudit, a.listAudit, "since", "limit", "cursor")
}

type handler func(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger) error

type tenantHandler func(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, log *slog.Logger) error

// route serves rt on mux with what every /v1 route shares: the token and
// its scope, the deadline, the query parameter check and the error mapping.
func (a *API) route(mux *http.ServeMux, rt routes.Route, h handler, params ...string) {
	scope, ok := ScopeOf(rt)
	if !ok {
		panic("tenantapi: no scope for " + rt.Pattern())
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := a.logger()
	mux.Handle(rt.Pattern(), requireBearer(a.auth, scope, base, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		tok, _ := access.FromContext(ctx)
		log := base.With("method", r.Method, "path", r.URL.Path, "token", tok.Name)
		a.audited(rt, log, func(ctx context.Context, w http.ResponseWriter) {
			err := checkQuery(r, params)
			if err == nil {
				err = h(ctx, w, r, log)
			}
			if err != nil {
				httpapi.WriteError(w, log, err)
			}
		})(ctx, w)
	})))
}

// tenantRoute is a route under /v1/tenants/{tenant_id}: the tenant id is
// checked before the handler runs.
func (a *API) tenantRoute(mux *http.ServeMux, rt routes.Route, h tenantHandler, params ...string) {
	a.route(mux, rt, func(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger) error {
		tenantID := r.PathValue(routes.TenantID)
		if !onboarding.ValidTenantID(tenantID) {
			return errs.E(errs.Invalid, fmt.Sprintf("tenant_id: must be 1 to %d characters of A-Z a-z 0-9 . _ : -, "+
				"the first a letter or digit", onboarding.MaxTenantIDChars), nil)
		}
		noteTenant(ctx, tenantID)
		return h(ctx, w, r, tenantID, log.With("tenant_id", tenantID))
	}, params...)
}

// checkQuery refuses a query string that does not parse, and any parameter
// the route does not take.
func checkQuery(r *http.Request, allowed []string) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errs.E(errs.Invalid, "query string: not a valid query string", err)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(allowed, name) {
			return errs.E(errs.Invalid, fmt.Sprintf("unknown query parameter %q", name), nil)
		}
	}
	return nil
}

func (a *API) logger() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

type setupLinkView struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) createSetupLink(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, log *slog.Logger) error {
	req, err := readSetupLinkRequest(r)
	if err != nil {
		return err
	}
	// Kapso's customer needs a name; the tenant id stands in for an omitted one.
	name := req.Name()
	externalID, err := a.customerExternalID(ctx, tenantID)
	if err != nil {
		return err
	}
	customerID, err := onboarding.EnsureCustomer(ctx, a.Store, tenantID, name, func(ctx context.Context) (string, error) {
		id, err := a.findOrCreateCustomer(ctx, externalID, cmp.Or(name, tenantID))
		if err != nil {
			return "", fromKapso{err}
		}
		return id, nil
	})
	if err != nil {
		return kapsoError(err, "find or create the tenant's Kapso customer")
	}
	link, err := a.Kapso.CreateSetupLink(ctx, customerID, onboarding.SetupLinkOptions{
		SuccessRedirectURL:     routes.SuccessRedirectURL(a.PublicBaseURL),
		FailureRedirectURL:     routes.FailureRedirectURL(a.PublicBaseURL),
		AllowedConnectionTypes: req.AllowedConnectionTypes,
		ProvisionPhoneNumber:   req.ProvisionPhoneNumber,
		PhoneNumberAreaCode:    req.PhoneNumberAreaCode,
		PhoneNumberCountryISOs: req.PhoneNumberCountryISOs,
		Language:               req.Language,
		ThemeConfig:            req.ThemeConfig,
		ReconnectPhoneNumber:   req.ReconnectPhoneNumber,
	})
	if err != nil {
		// A timeout here leaves the outcome unknown: Kapso may have created
		// the link (and revoked the previous one). The caller retries, which
		// creates a newer link; the stray one is never handed out.
		return kapsoError(fromKapso{err}, "create setup link")
	}
	if link.CreatedAt.IsZero() {
		link.CreatedAt = a.now()
	}
	details := onboarding.LinkDetails{SetupLinkID: link.ID, URL: link.URL, CreatedAt: link.CreatedAt,
		ExpiresAt: link.ExpiresAt, AllowedConnectionTypes: onboarding.ConnectionTypes(link.AllowedConnectionTypes)}
	if tok, ok := access.FromContext(ctx); ok {
		details.CreatedBy = tok.Name
	}
	if _, err := a.Store.RecordLink(context.WithoutCancel(ctx), tenantID, details); err != nil {
		return storeError(err, "record setup link")
	}
	log.Info("setup link created", "setup_link_id", link.ID, "kapso_customer_id", customerID)
	noteResource(ctx, link.ID)
	httpapi.WriteJSON(w, http.StatusCreated, map[string]setupLinkView{"setup_link": {
		ID: link.ID, URL: link.URL, Status: string(onboarding.AttemptActive),
		CreatedAt: link.CreatedAt.UTC(), ExpiresAt: link.ExpiresAt.UTC(),
	}})
	return nil
}

// findOrCreateCustomer makes customer creation idempotent at Kapso: find by
// external id, create, and find again if the create was refused as a
// duplicate (a concurrent or earlier lost create).
func (a *API) findOrCreateCustomer(ctx context.Context, externalID, name string) (string, error) {
	c, found, err := a.Kapso.FindCustomerByExternalID(ctx, externalID)
	if err != nil {
		return "", err
	}
	if found {
		return c.ID, nil
	}
	c, err = a.Kapso.CreateCustomer(ctx, name, externalID)
	if err == nil {
		return c.ID, nil
	}
	if errs.Is(err, errs.Unprocessable) || errs.Is(err, errs.Conflict) {
		if again, ok, ferr := a.Kapso.FindCustomerByExternalID(ctx, externalID); ferr == nil && ok {
			return again.ID, nil
		}
	}
	return "", err
}

// readSetupLinkRequest reads the optional body: nothing (or only white
// space), or one JSON object read strictly (strictjson), then validated
// field by field.
func readSetupLinkRequest(r *http.Request) (onboarding.SetupLinkRequest, error) {
	var req onboarding.SetupLinkRequest
	body, err := readBody(r, MaxSetupLinkBodyBytes)
	if err != nil {
		return req, err
	}
	if trimmed := bytes.Trim(body, " \t\r\n"); len(trimmed) > 0 {
		if err := strictjson.Decode(trimmed, &req, strictjson.Options{}); err != nil {
			return req, errs.E(errs.Invalid, setupLinkBodyProblem(err), err)
		}
	}
	if err := req.Validate(); err != nil {
		// An *errs.FieldError: "<field>: <message>", safe to show.
		return req, errs.E(errs.Invalid, err.Error(), err)
	}
	return req, nil
}

// setupLinkBodyProblem words a refused setup-link body; a value of the
// wrong type is named by its Go type, as encoding/json names it.
func setupLinkBodyProblem(err error) string {
	var e *strictjson.Error
	switch {
	case !errors.As(err, &e):
		return "body must be a JSON object"
	case e.Kind == strictjson.Type:
		return fmt.Sprintf("%s: must be %s", e.Path, e.GoType)
	}
	return e.Error()
}

// readBody reads a /v1 request's body whole, at most limit bytes (else 413).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := strictjson.Read(r.Body, limit)
	var e *strictjson.Error
	switch {
	case errors.As(err, &e):
		return nil, errs.E(errs.TooLarge, e.Error(), err)
	case err != nil:
		return nil, errs.E(errs.Invalid, "could not read body", err)
	}
	return body, nil
}

// kapsoError classifies a failure for the caller. A call to Kapso's
// (fromKapso) is answered by the code the client gave it: Kapso's
// validation text is safe to pass on; everything else is a generic 502 with
// the detail in the logs. Any other failure is the store's (storeError).
func kapsoError(err error, doing string) error {
	if !errors.As(err, new(fromKapso)) {
		return storeError(err, doing)
	}
	cause := fmt.Errorf("%s: %w", doing, err)
	switch e, _ := errs.As(err); errs.CodeOf(err) {
	case errs.Unprocessable:
		return errs.E(errs.Unprocessable, e.Message, cause)
	case errs.Unauthorized:
		return errs.E(errs.BadGateway, "Kapso refused the request; see the service logs", cause)
	case errs.RateLimited:
		return &errs.Error{Code: errs.BadGateway, Message: "Kapso is rate limiting; retry later",
			RetryAfter: e.RetryAfter, Err: cause}
	case errs.BadGateway, errs.Internal:
		// An answer the client could not use (malformed, oversized, a link
		// without an id or a usable url): Kapso's fault, not the store's.
		return errs.E(errs.BadGateway, "Kapso answered with something kapso-bridge cannot use; retry", cause)
	}
	// Kapso not reached, timed out or failing, or refusing the request
	// otherwise. A bare deadline is the store's, which is ours: 503.
	return errs.E(errs.BadGateway, "Kapso is unavailable; retry", cause)
}

// fromKapso marks the error of a Kapso call, so that an unusable answer is
// a 502 while a failure of the store around it stays a 503.
type fromKapso struct{ error }

func (e fromKapso) Unwrap() error { return e.error }

// storeError keeps a classified error and makes anything else a 503.
func storeError(err error, doing string) error {
	if _, ok := errs.As(err); ok {
		return err
	}
	return errs.E(errs.Unavailable, "try again", fmt.Errorf("%s: %w", doing, err))
}
