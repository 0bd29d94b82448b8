package tenantapi

import (
	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/routes"
)

// routeScopes is the scope each /v1 route needs: the one place it is said.
// A route without one is never served (route panics at Register).
var routeScopes = map[routes.Route]access.Scope{
	routes.ListTenants:              access.Read,
	routes.GetConnection:            access.Read,
	routes.ListConversations:        access.Read,
	routes.ListConversationMessages: access.Read,
	routes.GetMessage:               access.Read,
	routes.GetMessageMedia:          access.Read,
	routes.GetContact:               access.Read,
	routes.ExportContact:            access.Read,
	routes.ListTemplates:            access.Read,
	routes.ListEvents:               access.Read,
	routes.ListTenantEvents:         access.Read,

	routes.CreateSetupLink: access.Onboard,

	routes.SendMessage:    access.Send,
	routes.UploadMedia:    access.Send,
	routes.CreateTemplate: access.Send,
	routes.SyncTemplates:  access.Send,

	routes.DeleteTenant: access.Erase,
	routes.EraseContact: access.Erase,
	// An erasure's progress names the person's identities while it runs.
	routes.GetErasure: access.Erase,

	routes.ListAudit: access.Admin,
}

// ScopeOf is the scope a /v1 route needs, and whether it has one.
func ScopeOf(r routes.Route) (access.Scope, bool) {
	s, ok := routeScopes[r]
	return s, ok
}
