package stack

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// connectionLoader reads a tenant's connection.
type connectionLoader interface {
	Load(ctx context.Context, tenantID string) (onboarding.Connection, bool, error)
}

// appPage stands in for the SaaS app's success and failure pages: it shows
// what the browser was told and what kapso-bridge knows, refreshing until the
// connection is confirmed.
func appPage(store connectionLoader, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		tenantID := q.Get("tenant_id")
		data := pageData{
			Landing:       r.URL.Path,
			TenantID:      tenantID,
			Status:        q.Get("status"),
			PhoneNumberID: q.Get("phone_number_id"),
			ErrorCode:     q.Get("error_code"),
		}
		if onboarding.ValidTenantID(tenantID) {
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			c, ok, err := store.Load(ctx, tenantID)
			if err != nil {
				log.Error("app page: load connection", "tenant_id", tenantID, "err", err)
			} else if ok {
				data.Found = true
				data.Connection = c
				data.TenantStatus = string(c.StatusAt(time.Now()))
			}
		}
		data.Refresh = data.TenantStatus != string(onboarding.TenantConnected) && data.ErrorCode == ""
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := pageTemplate.Execute(w, data); err != nil {
			log.Error("app page: render", "err", err)
		}
	})
}

type pageData struct {
	Landing, TenantID, Status, PhoneNumberID, ErrorCode string
	Found                                               bool
	TenantStatus                                        string
	Connection                                          onboarding.Connection
	Refresh                                             bool
}

var pageTemplate = template.Must(template.New("app").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Your app: WhatsApp connection</title>
{{if .Refresh}}<meta http-equiv="refresh" content="1">{{end}}
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.9rem}</style>
</head><body>
<h1>Your app</h1>
<p>The browser came back to <code>{{.Landing}}</code> with status <b>{{.Status}}</b>
{{if .PhoneNumberID}} for number <code>{{.PhoneNumberID}}</code>{{end}}
{{if .ErrorCode}} and error <code id="error-code">{{.ErrorCode}}</code>{{end}}.
That is only a hint; what kapso-bridge knows is below.</p>
{{if .Found}}
<h2>Tenant <code>{{.TenantID}}</code>: <span id="tenant-status">{{.TenantStatus}}</span></h2>
<p>Kapso customer <code>{{.Connection.Tenant.KapsoCustomerID}}</code></p>
<h3>Phone numbers</h3>
<table><tr><th>phone_number_id</th><th>display</th><th>WABA</th><th>type</th><th>status</th><th>webhook</th></tr>
{{range .Connection.PhoneNumbers}}<tr><td>{{.PhoneNumberID}}</td><td>{{.DisplayPhoneNumber}}</td><td>{{.BusinessAccountID}}</td><td>{{.ConnectionType}}</td><td>{{.Status}}</td><td class="webhook">{{if .WebhookRegistered}}registered{{else}}pending{{end}}</td></tr>{{end}}
</table>
<h3>Attempts</h3>
<table><tr><th>setup link</th><th>status</th><th>created</th><th>error</th><th>confirmed by</th></tr>
{{range .Connection.Attempts}}<tr><td>{{.SetupLinkID}}</td><td>{{.Status}}</td><td>{{.CreatedAt.Format "2006-01-02 15:04:05"}}</td><td>{{.ErrorCode}}</td><td>{{range .ConfirmedBy}}{{.}} {{end}}</td></tr>{{end}}
</table>
<h3>Timeline</h3>
<ol>{{range .Connection.Timeline}}<li>{{.At.Format "15:04:05.000"}} {{.Kind}} <small>{{.Source}}</small></li>{{end}}</ol>
{{else}}
<p>kapso-bridge has no tenant <code>{{.TenantID}}</code> yet.</p>
{{end}}
</body></html>`))
