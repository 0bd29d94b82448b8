package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
)

// EventList is the answer of GET /v1/events and GET
// /v1/tenants/{tenant_id}/events. Unlike the other lists' answers it
// always has a next_cursor: the place to go on from, also after the last
// page, where the events appended later will come.
type EventList struct {
	Events     []bridgeevents.Event `json:"events"`
	NextCursor string               `json:"next_cursor"`
}

func (a *API) listEvents(ctx context.Context, w http.ResponseWriter, r *http.Request, _ *slog.Logger) error {
	return a.events(ctx, w, r, "")
}

func (a *API) listTenantEvents(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	return a.events(ctx, w, r, tenantID)
}

// events serves a feed: the whole stack's when tenantID is "".
func (a *API) events(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string) error {
	page, err := readPage(r)
	if err != nil {
		return err
	}
	types, err := readEventTypes(r)
	if err != nil {
		return err
	}
	p, err := a.Feed.List(ctx, eventing.FeedQuery{TenantID: tenantID, Types: types, Cursor: page.Cursor, Limit: page.Limit})
	if err != nil {
		if errors.Is(err, eventing.ErrBadCursor) {
			return badCursor(err)
		}
		return storeError(err, "list events")
	}
	out := EventList{Events: p.Events, NextCursor: p.Cursor}
	if out.Events == nil {
		out.Events = []bridgeevents.Event{}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// readEventTypes reads type: event types, each parameter one or several
// separated by commas; none is every type.
func readEventTypes(r *http.Request) ([]string, error) {
	var types []string
	for _, v := range r.URL.Query()["type"] {
		for _, t := range strings.Split(v, ",") {
			if !slices.Contains(bridgeevents.Types, t) {
				return nil, errs.E(errs.Invalid, fmt.Sprintf("type: %q is not one of %s", t, strings.Join(bridgeevents.Types, ", ")), nil)
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return types, nil
}
