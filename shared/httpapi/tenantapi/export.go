package tenantapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/apiview"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// DefaultMaxExportBytes bounds a person's export: a larger document is
// refused whole (ExportTooLarge), never answered in part, and stays under
// Lambda's 6 MB response.
const DefaultMaxExportBytes = 5 << 20

// ContactExport is the answer of GET …/contacts/{contact}/export:
// everything stored about one person on one number.
type ContactExport struct {
	ExportedAt time.Time   `json:"exported_at"`
	Contact    ContactView `json:"contact"`
	// Conversations are the person's conversations on the number, each
	// with every message, oldest first.
	Conversations []ExportConversation `json:"conversations"`
	// Sends are the messages sent to the person through the API, as
	// their conversations list them too.
	Sends []MessageDetail `json:"sends"`
	// Erasures are the person's erasures on the number, open or done.
	Erasures []ExportErasure `json:"erasures"`
}

// ExportConversation is one conversation of an export.
type ExportConversation struct {
	ID string `json:"id"`
	// Conversation is as GET …/conversations lists it; absent for an id
	// only messages name (one derived from the person's identity).
	Conversation *ConversationItem `json:"conversation,omitempty"`
	Messages     []MessageDetail   `json:"messages"`
}

// ExportErasure is an erasure of the person: its id and state only.
type ExportErasure struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// exportContact answers everything stored about the person the path
// names on the number, read through the read side's own lists: the
// tenant's conversations (those of the number the person is named in),
// the contact's latest one and the ids the person's identities derive.
func (a *API) exportContact(ctx context.Context, w http.ResponseWriter, r *http.Request, tenantID string, _ *slog.Logger) error {
	phoneNumberID, c, err := a.knownContact(ctx, r, tenantID)
	if err != nil {
		return err
	}
	x := &exporter{api: a, tenantID: tenantID, phoneNumberID: phoneNumberID, ids: erasure.IdentitiesOf(c), latest: c.ConversationID,
		limit: cmp.Or(a.MaxExportBytes, DefaultMaxExportBytes), seen: map[string]bool{}}
	doc := ContactExport{ExportedAt: a.now().UTC(), Contact: apiview.Contact(c), Conversations: []ExportConversation{},
		Sends: []MessageDetail{}, Erasures: []ExportErasure{}}
	if err := x.conversations(ctx, &doc); err != nil {
		return err
	}
	if doc.Erasures, err = x.erasures(ctx); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(doc); err != nil {
		return errs.E(errs.Internal, "could not write the export", fmt.Errorf("encode export: %w", err))
	}
	if body.Len() > x.limit {
		return x.tooLarge()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body.Bytes())
	return nil
}

// exporter gathers one person's export, counting its bytes as it goes so
// that a person with more than fits stops the reading early.
type exporter struct {
	api                     *API
	tenantID, phoneNumberID string
	ids                     erasure.Identities
	// latest is the conversation the contact was last seen in.
	latest      string
	limit, size int
	// seen are the messages already exported: a derived id that is an
	// alias lists the conversation it names again.
	seen map[string]bool
}

func (x *exporter) tooLarge() error {
	return errs.E(httpapi.ExportTooLarge, fmt.Sprintf("the export of this contact is over %d bytes; read it through the paged routes: "+
		"GET /v1/tenants/{tenant_id}/numbers/{phone_number_id}/contacts/{contact}, "+
		"GET /v1/tenants/{tenant_id}/conversations and GET /v1/tenants/{tenant_id}/conversations/{conversation_id}/messages", x.limit), nil)
}

// add counts v's bytes, and fails once the export is over the limit.
func (x *exporter) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.E(errs.Internal, "could not write the export", fmt.Errorf("encode export: %w", err))
	}
	if x.size += len(b); x.size > x.limit {
		return x.tooLarge()
	}
	return nil
}

// conversations fills doc's conversations and sends: the tenant's
// conversations on the number that name the person, then, when not among
// them, the one the contact was last seen in and the ids their identities
// derive.
func (x *exporter) conversations(ctx context.Context, doc *ContactExport) error {
	listed := map[string]bool{}
	page := messaging.Page{Limit: messaging.MaxPageLimit}
	for {
		convs, next, err := x.api.Messages.Conversations(ctx, x.tenantID, page)
		if err != nil {
			return readError(err, "list conversations")
		}
		for _, cv := range convs {
			if cv.PhoneNumberID != x.phoneNumberID || !x.ids.Names(cv.Person) && !x.ids.Names(cv.Contact.Person) || listed[cv.ID] {
				continue
			}
			listed[cv.ID] = true
			view := apiview.Conversation(cv)
			if err := x.add(view); err != nil {
				return err
			}
			if err := x.conversation(ctx, doc, cv.ID, &view); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	persons := make([]messaging.Person, 0, len(x.ids.BSUIDs)+1)
	for _, b := range x.ids.BSUIDs {
		persons = append(persons, messaging.Person{BSUID: b})
	}
	if x.ids.Phone != "" {
		persons = append(persons, messaging.Person{Phone: x.ids.Phone})
	}
	ids := []string{x.latest}
	for _, p := range persons {
		ids = append(ids, messaging.MetaConversationID(x.phoneNumberID, p))
	}
	for _, id := range ids {
		if id != "" && !listed[id] {
			listed[id] = true
			if err := x.conversation(ctx, doc, id, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// conversation adds the conversation id with every message not exported
// yet, oldest first; an id without a conversation item is added only when
// it lists such a message.
func (x *exporter) conversation(ctx context.Context, doc *ContactExport, id string, view *ConversationItem) error {
	out := ExportConversation{ID: id, Conversation: view, Messages: []MessageDetail{}}
	page := messaging.Page{Limit: messaging.MaxPageLimit}
	for {
		msgs, next, err := x.api.Messages.ConversationMessages(ctx, x.tenantID, id, page)
		if err != nil {
			return readError(err, "list conversation messages")
		}
		for _, m := range msgs {
			v, err := x.api.detail(ctx, x.tenantID, m)
			if err != nil {
				return err
			}
			if x.seen[v.ID] {
				continue
			}
			x.seen[v.ID] = true
			if err := x.add(v); err != nil {
				return err
			}
			out.Messages = append(out.Messages, v)
			if m.Outbound != nil {
				if err := x.add(v); err != nil {
					return err
				}
				doc.Sends = append(doc.Sends, v)
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if view != nil || len(out.Messages) > 0 {
		doc.Conversations = append(doc.Conversations, out)
	}
	return nil
}

// erasures are the person's erasures on the number, found by their
// identities' tombstones: an open erasure has them already.
func (x *exporter) erasures(ctx context.Context) ([]ExportErasure, error) {
	out := []ExportErasure{}
	e := x.api.Erasures
	if e == nil {
		return out, nil
	}
	stones, err := e.Tombstones.Tombstones(ctx, x.tenantID, x.phoneNumberID, e.Hasher.Hashes(x.tenantID, x.phoneNumberID, x.ids))
	if err != nil {
		return nil, errs.E(errs.Unavailable, "could not read erasures; try again", err)
	}
	seen := map[string]bool{}
	for _, t := range stones {
		if t.JobID == "" || seen[t.JobID] {
			continue
		}
		seen[t.JobID] = true
		j, ok, err := e.Jobs.Job(ctx, x.tenantID, t.JobID)
		if err != nil {
			return nil, errs.E(errs.Unavailable, "could not read erasures; try again", err)
		}
		if ok {
			out = append(out, ExportErasure{ID: j.ID, State: string(j.State)})
		}
	}
	return out, nil
}
