package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// NewMessages makes a fresh, empty messages store and its reader.
type NewMessages func(t *testing.T) (messaging.Store, MessagesReader)

// MessagesReader is the messages store's read side: the tenant API's
// reads, and one conversation by id, which the reconciler reads before
// handing a listed conversation on.
type MessagesReader interface {
	messaging.Reader
	Conversation(ctx context.Context, tenantID, id string) (messaging.Conversation, bool, error)
}

const (
	number   = "106540352242922"
	tenantA  = "acme"
	tenantB  = "globex"
	bsuidOld = "US.13491208655302741918"
	bsuidNew = "US.99887766554433221100"
	bsuid3   = "US.55544433322211100099"
	phoneAna = "16505551234"
)

var ana = messaging.Person{Phone: phoneAna, Name: "Ana"}

// at is a time of the suites' conversations, minutes after epoch.
func at(minutes int) time.Time { return epoch.Add(time.Duration(minutes) * time.Minute) }

func outbound(wamid, conv string, ts time.Time) messaging.Message {
	return messaging.Message{WAMID: wamid, PhoneNumberID: number, Direction: messaging.Outbound, Type: "text",
		Text: "hello " + wamid, Timestamp: ts, To: messaging.Person{BSUID: bsuidOld, Phone: phoneAna},
		ConversationID: conv}
}

func status(wamid string, s messaging.Status, ts time.Time) messaging.StatusUpdate {
	u := messaging.StatusUpdate{WAMID: wamid, PhoneNumberID: number, Status: s, At: ts,
		Recipient: messaging.Person{BSUID: bsuidOld}}
	if s == messaging.Failed {
		u.Error = &messaging.StatusError{Code: 131047, Title: "Re-engagement message", Message: "More than 24 hours",
			Details: "outside the window"}
	}
	return u
}

// fold is the Delivery the statuses give by the domain's Merge.
func fold(us ...messaging.StatusUpdate) messaging.Delivery {
	var d messaging.Delivery
	for _, u := range us {
		d, _ = messaging.Merge(d, u)
	}
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func message(t *testing.T, r messaging.Reader, tenant, wamid string) messaging.StoredMessage {
	t.Helper()
	m, ok, err := r.Message(context.Background(), tenant, wamid)
	if err != nil || !ok {
		t.Fatalf("message %s: ok %v err %v", wamid, ok, err)
	}
	return m
}

func contactOf(t *testing.T, r messaging.Reader, tenant, q string) messaging.Contact {
	t.Helper()
	c, ok, err := r.Contact(context.Background(), tenant, number, q)
	if err != nil || !ok {
		t.Fatalf("contact %s: ok %v err %v", q, ok, err)
	}
	return c
}

func conversationIDs(t *testing.T, r messaging.Reader, tenant string, limit int) []string {
	t.Helper()
	return pageIDs(t, "conversations", limit, func(cursor string) ([]string, string, error) {
		page, next, err := r.Conversations(context.Background(), tenant, messaging.Page{Limit: limit, Cursor: cursor})
		ids := make([]string, len(page))
		for i, c := range page {
			ids[i] = c.ID
		}
		return ids, next, err
	})
}

// conversationsSince lists the tenant's conversations last active since,
// in pages of limit.
func conversationsSince(t *testing.T, r messaging.Reader, tenant string, limit int, since time.Time) []string {
	t.Helper()
	return pageIDs(t, "conversations since", limit, func(cursor string) ([]string, string, error) {
		page, next, err := r.Conversations(context.Background(), tenant, messaging.Page{Limit: limit, Cursor: cursor, UpdatedSince: since})
		ids := make([]string, len(page))
		for i, c := range page {
			ids[i] = c.ID
		}
		return ids, next, err
	})
}

// newestMessages lists a conversation's messages newest first, in pages of
// limit.
func newestMessages(t *testing.T, r messaging.Reader, tenant, conv string, limit int) []string {
	t.Helper()
	return pageIDs(t, "messages newest first", limit, func(cursor string) ([]string, string, error) {
		page, next, err := r.ConversationMessages(context.Background(), tenant, conv, messaging.Page{Limit: limit, Cursor: cursor, Newest: true})
		ids := make([]string, len(page))
		for i, m := range page {
			ids[i] = m.WAMID
		}
		return ids, next, err
	})
}

// pageIDs reads a cursor-paged list to its end, holding each page to limit.
func pageIDs(t *testing.T, list string, limit int, next func(cursor string) ([]string, string, error)) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 20 {
		page, after, err := next(cursor)
		must(t, err)
		if len(page) > limit {
			t.Fatalf("%s: page of %d for limit %d", list, len(page), limit)
		}
		out = append(out, page...)
		if after == "" {
			return out
		}
		cursor = after
	}
	t.Fatalf("%s never end", list)
	return nil
}

func messageIDs(t *testing.T, r messaging.Reader, tenant, conv string, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 20 {
		page, next, err := r.ConversationMessages(context.Background(), tenant, conv, messaging.Page{Limit: limit, Cursor: cursor})
		must(t, err)
		if len(page) > limit {
			t.Fatalf("page of %d for limit %d", len(page), limit)
		}
		for _, m := range page {
			ids = append(ids, m.WAMID)
		}
		if next == "" {
			return ids
		}
		cursor = next
	}
	t.Fatal("messages never end")
	return nil
}

func badCursor(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, messaging.ErrBadCursor) || errs.CodeOf(err) != errs.Invalid {
		t.Errorf("%s: %v, want an invalid ErrBadCursor", what, err)
	}
}

// permutations of s, each a fresh slice.
func permutations[T any](s []T) [][]T {
	if len(s) <= 1 {
		return [][]T{slices.Clone(s)}
	}
	var out [][]T
	for i := range s {
		rest := append(slices.Clone(s[:i]), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{s[i]}, p...))
		}
	}
	return out
}

// sampleOrders is n orders of events, the first as given, the others drawn
// from a fixed seed, each a fresh slice.
func sampleOrders[T any](events []T, n int) [][]T {
	rng := rand.New(rand.NewPCG(1, 2))
	out := [][]T{slices.Clone(events)}
	for len(out) < n {
		o := slices.Clone(events)
		rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
		out = append(out, o)
	}
	return out
}

// RunMessages holds a messages store and its reader to their contract.
func RunMessages(t *testing.T, newStore NewMessages) {
	ctx := context.Background()
	cases := map[string]func(t *testing.T, s messaging.Store, r MessagesReader){
		"messages round trip whole": func(t *testing.T, s messaging.Store, r MessagesReader) {
			from := messaging.Person{BSUID: bsuidOld, ParentBSUID: "US.ENT.11815799212886844830", Username: "@ana",
				Phone: phoneAna, Name: "Ana"}
			to := messaging.Person{Phone: "15550001111"}
			msgs := []messaging.Message{
				{WAMID: "wamid.text", PhoneNumberID: number, Direction: messaging.Inbound, Type: "text", Text: "hi",
					ReplyTo: "wamid.earlier", Timestamp: at(1), From: from, To: to, ConversationID: "conv-1"},
				{WAMID: "wamid.image", PhoneNumberID: number, Direction: messaging.Inbound, Type: "image", Text: "a cat",
					Media:     &messaging.Media{ID: "m-1", URL: "https://x/y", MIMEType: "image/jpeg", Caption: "a cat", Filename: "cat.jpg"},
					Timestamp: at(2), From: from, ConversationID: "conv-1"},
				{WAMID: "wamid.unreact", PhoneNumberID: number, Direction: messaging.Inbound, Type: "reaction",
					Reaction: &messaging.Reaction{MessageID: "wamid.text", Removed: true}, Timestamp: at(3), From: from},
				{WAMID: "wamid.react", PhoneNumberID: number, Direction: messaging.Inbound, Type: "reaction", Text: "👍",
					Reaction: &messaging.Reaction{MessageID: "wamid.text", Emoji: "👍"}, Timestamp: at(3), From: from},
				{WAMID: "wamid.kapso", PhoneNumberID: number, Direction: messaging.Outbound, Type: "audio", Text: "[audio]",
					Timestamp: at(4), To: from, ConversationID: "conv-1",
					Kapso: &messaging.KapsoContent{Content: "voice note", Origin: "business_app", HasMedia: true,
						MediaURL: "https://api.kapso.ai/media/1", Transcript: "see you"}},
				{WAMID: "wamid.bare", Type: "unsupported"},
			}
			for _, m := range msgs {
				must(t, s.PutMessage(ctx, tenantA, m, nil))
			}
			for _, m := range msgs {
				got := message(t, r, tenantA, m.WAMID)
				equal(t, m.WAMID, got, messaging.StoredMessage{Message: m, Known: true})
			}
			if _, ok, err := r.Message(ctx, tenantA, "wamid.never"); ok || err != nil {
				t.Errorf("unknown message: ok %v err %v", ok, err)
			}
		},
		"the same message twice is one message": func(t *testing.T, s messaging.Store, r MessagesReader) {
			m := outbound("wamid.1", "conv-1", at(1))
			sent := status("wamid.1", messaging.Sent, at(1))
			for range 2 {
				must(t, s.PutMessage(ctx, tenantA, m, []messaging.StatusUpdate{sent}))
			}
			equal(t, "message", message(t, r, tenantA, "wamid.1"),
				messaging.StoredMessage{Message: m, Known: true, Delivery: fold(sent)})
			equal(t, "conversation", messageIDs(t, r, tenantA, "conv-1", 10), []string{"wamid.1"})
		},
		"every order of statuses ends in the same delivery": func(t *testing.T, s messaging.Store, r MessagesReader) {
			all := []messaging.Status{messaging.Sent, messaging.Delivered, messaging.Read, messaging.Failed}
			perms := permutations(all)
			if len(perms) != 24 {
				t.Fatalf("%d permutations", len(perms))
			}
			for i, order := range perms {
				wamid := fmt.Sprintf("wamid.p%02d", i)
				var us []messaging.StatusUpdate
				for j, st := range all {
					us = append(us, status(wamid, st, at(j+1)))
				}
				for _, st := range order {
					u := us[slices.Index(all, st)]
					must(t, s.ApplyStatus(ctx, tenantA, u))
					if i%5 == 0 {
						must(t, s.ApplyStatus(ctx, tenantA, u)) // a redelivery
					}
				}
				d := message(t, r, tenantA, wamid).Delivery
				equal(t, fmt.Sprintf("order %v", order), d, fold(us...))
				if d.Status != messaging.Read || d.Error == nil || d.Error.Code != 131047 || len(d.History) != 4 {
					t.Errorf("order %v: %+v", order, d)
				}
			}
		},
		"a late sent after failed leaves failed": func(t *testing.T, s messaging.Store, r MessagesReader) {
			failed, sent := status("wamid.1", messaging.Failed, at(2)), status("wamid.1", messaging.Sent, at(1))
			must(t, s.PutMessage(ctx, tenantA, outbound("wamid.1", "conv-1", at(1)), nil))
			must(t, s.ApplyStatus(ctx, tenantA, failed))
			must(t, s.ApplyStatus(ctx, tenantA, sent))
			d := message(t, r, tenantA, "wamid.1").Delivery
			if d.Status != messaging.Failed || !reflect.DeepEqual(d.Error, failed.Error) || len(d.History) != 2 || !d.At.Equal(at(2)) {
				t.Errorf("delivery %+v", d)
			}
		},
		"statuses before their message are kept and shown with it": func(t *testing.T, s messaging.Store, r MessagesReader) {
			delivered, sent := status("wamid.1", messaging.Delivered, at(2)), status("wamid.1", messaging.Sent, at(1))
			must(t, s.ApplyStatus(ctx, tenantA, delivered))
			must(t, s.ApplyStatus(ctx, tenantA, sent))
			equal(t, "status only", message(t, r, tenantA, "wamid.1"), messaging.StoredMessage{
				Message:  messaging.Message{WAMID: "wamid.1", PhoneNumberID: number, Direction: messaging.Outbound},
				Delivery: fold(delivered, sent)})
			if ids := messageIDs(t, r, tenantA, "conv-1", 10); len(ids) != 0 {
				t.Errorf("a message not stored yet is listed: %v", ids)
			}
			m := outbound("wamid.1", "conv-1", at(1))
			must(t, s.PutMessage(ctx, tenantA, m, []messaging.StatusUpdate{sent}))
			equal(t, "completed", message(t, r, tenantA, "wamid.1"),
				messaging.StoredMessage{Message: m, Known: true, Delivery: fold(sent, delivered)})
			equal(t, "listed", messageIDs(t, r, tenantA, "conv-1", 10), []string{"wamid.1"})
			// A status carried by the message event, stronger than the stored one.
			read := status("wamid.1", messaging.Read, at(3))
			must(t, s.PutMessage(ctx, tenantA, m, []messaging.StatusUpdate{read}))
			if d := message(t, r, tenantA, "wamid.1").Delivery; d.Status != messaging.Read || len(d.History) != 3 {
				t.Errorf("read with the message: %+v", d)
			}
		},
		"a Meta copy fills a Kapso copy and never erases it": func(t *testing.T, s messaging.Store, r MessagesReader) {
			kapsoCopy := outbound("wamid.1", "kapso-conv", at(1))
			kapsoCopy.Kapso = &messaging.KapsoContent{Content: "hello", Origin: "cloud_api"}
			metaCopy := outbound("wamid.1", "meta:abc", at(1))
			metaCopy.Text, metaCopy.ReplyTo = "hello (meta)", "wamid.0"
			want := kapsoCopy
			want.ReplyTo = "wamid.0"
			for i, order := range [][]messaging.Message{{kapsoCopy, metaCopy}, {metaCopy, kapsoCopy}} {
				wamid := fmt.Sprintf("wamid.%d", i)
				for _, m := range order {
					m.WAMID = wamid
					must(t, s.PutMessage(ctx, tenantA, m, nil))
				}
				w := want
				w.WAMID = wamid
				equal(t, fmt.Sprintf("order %d", i), message(t, r, tenantA, wamid).Message, w)
			}
			equal(t, "kapso conversation", messageIDs(t, r, tenantA, "kapso-conv", 10), []string{"wamid.0", "wamid.1"})
			// The derived id of the Meta copy stands for Kapso's conversation.
			equal(t, "meta conversation", messageIDs(t, r, tenantA, "meta:abc", 10), []string{"wamid.0", "wamid.1"})
		},
		"a derived conversation id lists the conversation Kapso named": func(t *testing.T, s messaging.Store, r MessagesReader) {
			derived := func(i int) string {
				return messaging.MetaConversationID(number, messaging.Person{Phone: fmt.Sprint(phoneAna, i)})
			}
			for i, order := range []string{"derived first", "kapso first"} {
				d, k := derived(i), "kapso-"+order
				metaCopy := outbound("wamid."+order, d, at(1))
				kapsoCopy := outbound("wamid."+order, k, at(1))
				kapsoCopy.Kapso = &messaging.KapsoContent{Content: "hello"}
				copies := []messaging.Message{metaCopy, kapsoCopy}
				if order == "kapso first" {
					copies = []messaging.Message{kapsoCopy, metaCopy}
				}
				for _, m := range copies {
					must(t, s.PutMessage(ctx, tenantA, m, nil))
				}
				must(t, s.PutMessage(ctx, tenantA, outbound("wamid.reply-"+order, k, at(2)), nil))
				want := []string{"wamid." + order, "wamid.reply-" + order}
				equal(t, order+": Kapso's id", messageIDs(t, r, tenantA, k, 10), want)
				equal(t, order+": the derived id", messageIDs(t, r, tenantA, d, 10), want)
				equal(t, order+": the derived id in pages of one", messageIDs(t, r, tenantA, d, 1), want)
				equal(t, order+": another tenant", messageIDs(t, r, tenantB, d, 10), []string(nil))
			}
			// The first alias stays: the id keeps listing the same conversation.
			d := derived(0)
			later := outbound("wamid.later", d, at(3))
			must(t, s.PutMessage(ctx, tenantA, later, nil))
			later.ConversationID, later.Kapso = "kapso-other", &messaging.KapsoContent{Content: "hello"}
			must(t, s.PutMessage(ctx, tenantA, later, nil))
			equal(t, "after a second conversation", messageIDs(t, r, tenantA, d, 10),
				[]string{"wamid.derived first", "wamid.reply-derived first"})
			// Meta-format traffic alone keeps its derived id; Kapso ids are never aliases.
			alone := derived(2)
			must(t, s.PutMessage(ctx, tenantA, outbound("wamid.alone", alone, at(4)), nil))
			equal(t, "a derived id without an alias", messageIDs(t, r, tenantA, alone, 10), []string{"wamid.alone"})
			moved := outbound("wamid.moved", "conv-a", at(5))
			moved.Kapso = &messaging.KapsoContent{Content: "hello"}
			must(t, s.PutMessage(ctx, tenantA, moved, nil))
			moved.ConversationID = "conv-b"
			must(t, s.PutMessage(ctx, tenantA, moved, nil))
			equal(t, "a Kapso id replaced by another", messageIDs(t, r, tenantA, "conv-a", 10), []string(nil))
			// A derived id that is a conversation of its own (Meta-format
			// traffic) lists its own messages, alias or not.
			own := derived(3)
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: own, PhoneNumberID: number,
				Person: messaging.Person{Phone: phoneAna}, Status: messaging.ConversationActive, LastActiveAt: at(6)}))
			must(t, s.PutMessage(ctx, tenantA, outbound("wamid.own", own, at(6)), nil))
			both := outbound("wamid.both", own, at(7))
			must(t, s.PutMessage(ctx, tenantA, both, nil))
			both.ConversationID, both.Kapso = "kapso-own", &messaging.KapsoContent{Content: "hello"}
			must(t, s.PutMessage(ctx, tenantA, both, nil))
			equal(t, "a derived conversation of its own", messageIDs(t, r, tenantA, own, 10), []string{"wamid.own"})
		},
		"conversations list newest first, page by page": func(t *testing.T, s messaging.Store, r MessagesReader) {
			for i, id := range []string{"conv-b", "conv-c", "conv-a"} {
				must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: id, PhoneNumberID: number,
					Person: messaging.Person{Phone: fmt.Sprintf("1555000%04d", i)}, Status: messaging.ConversationActive,
					LastActiveAt: at(10 * (i + 1))}))
			}
			want := []string{"conv-a", "conv-c", "conv-b"}
			equal(t, "one page", conversationIDs(t, r, tenantA, 10), want)
			equal(t, "pages of one", conversationIDs(t, r, tenantA, 1), want)
			equal(t, "pages of two", conversationIDs(t, r, tenantA, 2), want)
			page, _, err := r.Conversations(ctx, tenantA, messaging.Page{})
			must(t, err)
			if len(page) != 3 || page[0].Status != messaging.ConversationActive || !page[0].LastActiveAt.Equal(at(30)) ||
				page[0].PhoneNumberID != number || page[0].Contact.Person.Phone != "15550000002" || page[0].Contact.PhoneNumberID != number {
				t.Errorf("first conversation %+v", page[0])
			}
			// New activity moves a conversation to the top.
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-b", LastActiveAt: at(40)}))
			equal(t, "after activity", conversationIDs(t, r, tenantA, 1), []string{"conv-b", "conv-a", "conv-c"})
		},
		"an older conversation event only fills": func(t *testing.T, s messaging.Store, r MessagesReader) {
			newer := messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: messaging.Person{Phone: phoneAna},
				Status: messaging.ConversationActive, LastActiveAt: at(20)}
			older := messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: messaging.Person{Phone: phoneAna, Name: "Ana"},
				Status: messaging.ConversationEnded, LastActiveAt: at(10), InactivityMinutes: 30}
			undated := messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded}
			must(t, s.PutConversation(ctx, tenantA, newer))
			must(t, s.PutConversation(ctx, tenantA, older))
			must(t, s.PutConversation(ctx, tenantA, undated))
			page, _, err := r.Conversations(ctx, tenantA, messaging.Page{})
			must(t, err)
			want := newer
			want.Person.Name, want.InactivityMinutes = "Ana", 30
			if len(page) != 1 {
				t.Fatalf("conversations %+v", page)
			}
			equal(t, "conversation", page[0].Conversation, want)
		},
		"a conversation reads back as stored, for its tenant only": func(t *testing.T, s messaging.Store, r MessagesReader) {
			active := messaging.Conversation{ID: "conv-1", PhoneNumberID: number,
				Person: messaging.Person{BSUID: bsuidOld, Phone: phoneAna}, Status: messaging.ConversationActive,
				LastActiveAt: at(10).Add(123456789 * time.Nanosecond)}
			ended := messaging.Conversation{ID: "conv-1", Status: messaging.ConversationEnded, LastActiveAt: active.LastActiveAt,
				InactivityMinutes: 30}
			must(t, s.PutConversation(ctx, tenantA, active))
			must(t, s.PutConversation(ctx, tenantA, ended))
			got, ok, err := r.Conversation(ctx, tenantA, "conv-1")
			if err != nil || !ok {
				t.Fatalf("conversation: ok %v err %v", ok, err)
			}
			want := active
			want.Status, want.InactivityMinutes = messaging.ConversationEnded, 30
			equal(t, "conversation", got, want)
			for _, q := range [][2]string{{tenantB, "conv-1"}, {tenantA, "conv-2"}, {tenantA, ""}, {"", "conv-1"}} {
				if c, ok, err := r.Conversation(ctx, q[0], q[1]); ok || err != nil {
					t.Errorf("conversation %q of %q: %+v %v %v", q[1], q[0], c, ok, err)
				}
			}
		},
		"a last activity before 1970 is kept as given": func(t *testing.T, s messaging.Store, r MessagesReader) {
			// Such a time sorts with the zero time, but reads back as given.
			early := time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-1", Status: messaging.ConversationActive}))
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-1", Status: messaging.ConversationActive,
				PhoneNumberID: number, LastActiveAt: early}))
			got, ok, err := r.Conversation(ctx, tenantA, "conv-1")
			if err != nil || !ok {
				t.Fatalf("conversation: ok %v err %v", ok, err)
			}
			equal(t, "conversation", got, messaging.Conversation{ID: "conv-1", PhoneNumberID: number,
				Status: messaging.ConversationActive, LastActiveAt: early})
		},
		"at the same time ended beats active": func(t *testing.T, s messaging.Store, r MessagesReader) {
			active := messaging.Conversation{PhoneNumberID: number, Status: messaging.ConversationActive, LastActiveAt: at(10)}
			ended := active
			ended.Status = messaging.ConversationEnded
			for i, order := range [][]messaging.Conversation{{active, ended}, {ended, active}} {
				for _, c := range order {
					c.ID = fmt.Sprintf("conv-%d", i)
					must(t, s.PutConversation(ctx, tenantA, c))
				}
			}
			page, _, err := r.Conversations(ctx, tenantA, messaging.Page{})
			must(t, err)
			for _, c := range page {
				if c.Status != messaging.ConversationEnded {
					t.Errorf("%s is %s", c.ID, c.Status)
				}
			}
		},
		"an inactivity report holds until newer activity, in any order": func(t *testing.T, s messaging.Store, r MessagesReader) {
			active := func(at time.Time) messaging.Conversation {
				return messaging.Conversation{PhoneNumberID: number, Status: messaging.ConversationActive, LastActiveAt: at}
			}
			inactive := func(at time.Time) messaging.Conversation {
				c := active(at)
				c.InactiveSince, c.InactivityMinutes = at, 60
				return c
			}
			ended := active(at(2))
			ended.Status = messaging.ConversationEnded
			for i, tc := range []struct {
				events   []messaging.Conversation
				inactive bool
				since    time.Time
			}{
				{[]messaging.Conversation{active(at(1)), inactive(at(1))}, true, at(1)},
				{[]messaging.Conversation{inactive(at(1)), active(at(1))}, true, at(1)},
				{[]messaging.Conversation{inactive(at(1)), active(at(2))}, false, at(1)},
				{[]messaging.Conversation{active(at(2)), inactive(at(1))}, false, at(1)},
				{[]messaging.Conversation{inactive(at(2)), inactive(at(1))}, true, at(2)},
				{[]messaging.Conversation{active(at(2)), inactive(at(1)), inactive(at(2))}, true, at(2)},
				// Active at the time it ended stays ended; its report still counts.
				{[]messaging.Conversation{ended, inactive(at(1)), inactive(at(2))}, false, at(2)},
			} {
				id := fmt.Sprintf("conv-%d", i)
				for _, c := range tc.events {
					c.ID = id
					must(t, s.PutConversation(ctx, tenantA, c))
				}
				got, ok, err := r.Conversation(ctx, tenantA, id)
				if err != nil || !ok {
					t.Fatalf("%s: ok %v err %v", id, ok, err)
				}
				if got.Inactive() != tc.inactive || !got.InactiveSince.Equal(tc.since) {
					t.Errorf("%s %+v: inactive %v since %v, want %v since %v", id, tc.events, got.Inactive(), got.InactiveSince,
						tc.inactive, tc.since)
				}
			}
		},
		"messages list in conversation order, page by page": func(t *testing.T, s messaging.Store, r MessagesReader) {
			for _, m := range []messaging.Message{
				outbound("wamid.c", "conv-1", at(3)),
				outbound("wamid.a", "conv-1", at(1)),
				outbound("wamid.b2", "conv-1", at(2)),
				outbound("wamid.b1", "conv-1", at(2)), // same second: by WAMID
				outbound("wamid.other", "conv-2", at(2)),
			} {
				must(t, s.PutMessage(ctx, tenantA, m, nil))
			}
			must(t, s.ApplyStatus(ctx, tenantA, status("wamid.d", messaging.Sent, at(4))))
			want := []string{"wamid.a", "wamid.b1", "wamid.b2", "wamid.c"}
			equal(t, "one page", messageIDs(t, r, tenantA, "conv-1", 50), want)
			equal(t, "pages of one", messageIDs(t, r, tenantA, "conv-1", 1), want)
			equal(t, "pages of three", messageIDs(t, r, tenantA, "conv-1", 3), want)
			equal(t, "unknown conversation", messageIDs(t, r, tenantA, "conv-none", 3), []string(nil))
			page, _, err := r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1})
			must(t, err)
			equal(t, "listed whole", page[0], messaging.StoredMessage{Message: outbound("wamid.a", "conv-1", at(1)), Known: true})
		},
		"messages list newest first, page by page": func(t *testing.T, s messaging.Store, r MessagesReader) {
			for _, m := range []messaging.Message{
				outbound("wamid.c", "conv-1", at(3)),
				outbound("wamid.a", "conv-1", at(1)),
				outbound("wamid.b2", "conv-1", at(2)),
				outbound("wamid.b1", "conv-1", at(2)),
				outbound("wamid.other", "conv-2", at(2)),
			} {
				must(t, s.PutMessage(ctx, tenantA, m, nil))
			}
			want := []string{"wamid.c", "wamid.b2", "wamid.b1", "wamid.a"}
			for _, limit := range []int{1, 3, 50} {
				equal(t, fmt.Sprintf("pages of %d", limit), newestMessages(t, r, tenantA, "conv-1", limit), want)
			}
			equal(t, "unknown conversation", newestMessages(t, r, tenantA, "conv-none", 3), []string(nil))
			// Each order's cursors are its own.
			_, newest, err := r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1, Newest: true})
			must(t, err)
			_, oldest, err := r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1})
			must(t, err)
			_, _, err = r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1, Cursor: newest})
			badCursor(t, "a newest-first cursor, oldest first", err)
			_, _, err = r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1, Cursor: oldest, Newest: true})
			badCursor(t, "an oldest-first cursor, newest first", err)
			_, _, err = r.ConversationMessages(ctx, tenantB, "conv-1", messaging.Page{Limit: 1, Cursor: newest, Newest: true})
			badCursor(t, "a newest-first cursor of another tenant", err)
		},
		"conversations updated since, newest first": func(t *testing.T, s messaging.Store, r MessagesReader) {
			for i := 1; i <= 5; i++ {
				must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: fmt.Sprintf("conv-%d", i), PhoneNumberID: number,
					Person: ana, Status: messaging.ConversationActive, LastActiveAt: at(i)}))
			}
			for _, limit := range []int{1, 2, 50} {
				equal(t, fmt.Sprintf("since 3, pages of %d", limit), conversationsSince(t, r, tenantA, limit, at(3)),
					[]string{"conv-5", "conv-4", "conv-3"})
			}
			equal(t, "since just after 3", conversationsSince(t, r, tenantA, 50, at(3).Add(time.Nanosecond)), []string{"conv-5", "conv-4"})
			equal(t, "since 6", conversationsSince(t, r, tenantA, 50, at(6)), []string(nil))
			equal(t, "since the zero time", conversationsSince(t, r, tenantA, 50, time.Time{}),
				[]string{"conv-5", "conv-4", "conv-3", "conv-2", "conv-1"})
			equal(t, "another tenant", conversationsSince(t, r, tenantB, 50, at(1)), []string(nil))
			// A cursor of the whole list goes on under the bound, to its end.
			_, whole, err := r.Conversations(ctx, tenantA, messaging.Page{Limit: 1})
			must(t, err)
			page, next, err := r.Conversations(ctx, tenantA, messaging.Page{Limit: 1, Cursor: whole, UpdatedSince: at(3)})
			must(t, err)
			if len(page) != 1 || page[0].ID != "conv-4" || next == "" {
				t.Fatalf("after conv-5: %+v %q", page, next)
			}
			page, next, err = r.Conversations(ctx, tenantA, messaging.Page{Limit: 5, Cursor: next, UpdatedSince: at(3)})
			must(t, err)
			if len(page) != 1 || page[0].ID != "conv-3" || next != "" {
				t.Fatalf("after conv-4: %+v %q", page, next)
			}
			// A cursor already below the bound is at its end.
			_, low, err := r.Conversations(ctx, tenantA, messaging.Page{Limit: 4})
			must(t, err)
			if page, next, err := r.Conversations(ctx, tenantA, messaging.Page{Cursor: low, UpdatedSince: at(3)}); len(page) != 0 || next != "" || err != nil {
				t.Errorf("below the bound: %+v %q %v", page, next, err)
			}
			// New activity brings a conversation into the bound.
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-1", PhoneNumberID: number, Person: ana,
				Status: messaging.ConversationActive, LastActiveAt: at(7)}))
			equal(t, "since 6, after new activity", conversationsSince(t, r, tenantA, 50, at(6)), []string{"conv-1"})
		},
		"tenants never see each other": func(t *testing.T, s messaging.Store, r MessagesReader) {
			for i := range 3 {
				conv := fmt.Sprintf("conv-%d", i)
				must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: conv, PhoneNumberID: number,
					Person: ana, LastActiveAt: at(i)}))
				must(t, s.PutMessage(ctx, tenantA, outbound(fmt.Sprintf("wamid.%d", i), "conv-0", at(i)), nil))
			}
			must(t, s.PutContact(ctx, tenantA, number, ana, seenAt(1)))
			if _, ok, err := r.Message(ctx, tenantB, "wamid.0"); ok || err != nil {
				t.Errorf("B reads A's message: ok %v err %v", ok, err)
			}
			if _, ok, err := r.Contact(ctx, tenantB, number, phoneAna); ok || err != nil {
				t.Errorf("B reads A's contact: ok %v err %v", ok, err)
			}
			if page, next, err := r.ConversationMessages(ctx, tenantB, "conv-0", messaging.Page{}); len(page) != 0 || next != "" || err != nil {
				t.Errorf("B lists A's conversation: %v %q %v", page, next, err)
			}
			if page, next, err := r.Conversations(ctx, tenantB, messaging.Page{}); len(page) != 0 || next != "" || err != nil {
				t.Errorf("B lists A's conversations: %v %q %v", page, next, err)
			}
			_, convCursor, err := r.Conversations(ctx, tenantA, messaging.Page{Limit: 1})
			must(t, err)
			_, msgCursor, err := r.ConversationMessages(ctx, tenantA, "conv-0", messaging.Page{Limit: 1})
			must(t, err)
			if convCursor == "" || msgCursor == "" {
				t.Fatalf("no cursors: %q %q", convCursor, msgCursor)
			}
			_, _, err = r.Conversations(ctx, tenantB, messaging.Page{Limit: 1, Cursor: convCursor})
			badCursor(t, "A's conversations cursor used by B", err)
			_, _, err = r.ConversationMessages(ctx, tenantB, "conv-0", messaging.Page{Limit: 1, Cursor: msgCursor})
			badCursor(t, "A's messages cursor used by B", err)
			_, _, err = r.ConversationMessages(ctx, tenantA, "conv-0", messaging.Page{Limit: 1, Cursor: convCursor})
			badCursor(t, "a conversations cursor used for messages", err)
			_, _, err = r.ConversationMessages(ctx, tenantA, "conv-1", messaging.Page{Limit: 1, Cursor: msgCursor})
			badCursor(t, "a cursor of another conversation", err)
			_, _, err = r.Conversations(ctx, tenantA, messaging.Page{Limit: 1, Cursor: msgCursor})
			badCursor(t, "a messages cursor used for conversations", err)
			for _, garbage := range []string{"!!", "bm90IGpzb24", base64.RawURLEncoding.EncodeToString([]byte(`{"l":"conversations"}`)),
				convCursor[:len(convCursor)-3], convCursor + "A"} {
				_, _, err = r.Conversations(ctx, tenantA, messaging.Page{Limit: 1, Cursor: garbage})
				badCursor(t, "cursor "+garbage, err)
			}
		},
		"a contact known by phone merges into its BSUID": func(t *testing.T, s messaging.Store, r MessagesReader) {
			must(t, s.PutContact(ctx, tenantA, number, ana, seenAt(1)))
			if c := contactOf(t, r, tenantA, phoneAna); !reflect.DeepEqual(c.Person, ana) || !c.LastSeenAt.Equal(at(1)) {
				t.Errorf("phone contact %+v", c)
			}
			both := messaging.Person{BSUID: bsuidOld, Phone: phoneAna}
			must(t, s.PutContact(ctx, tenantA, number, both, seenAt(2)))
			want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuidOld, Phone: phoneAna, Name: "Ana"},
				LastSeenAt: at(2)}
			equal(t, "by phone", contactOf(t, r, tenantA, phoneAna), want)
			equal(t, "by +phone", contactOf(t, r, tenantA, "+1 650-555-1234"), want)
			equal(t, "by BSUID", contactOf(t, r, tenantA, bsuidOld), want)
			// A late phone-only sighting lands on the merged contact.
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{Phone: phoneAna, Name: "Ana Old"}, seenAt(1)))
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{Phone: phoneAna, Name: "Ana B."}, seenAt(3)))
			want.Person.Name, want.LastSeenAt = "Ana B.", at(3)
			equal(t, "after phone-only sightings", contactOf(t, r, tenantA, bsuidOld), want)
			equal(t, "by phone after", contactOf(t, r, tenantA, phoneAna), want)
			if _, ok, err := r.Contact(ctx, tenantA, number, "15559999999"); ok || err != nil {
				t.Errorf("unknown phone: %v %v", ok, err)
			}
			if _, ok, err := r.Contact(ctx, tenantA, "other-number", phoneAna); ok || err != nil {
				t.Errorf("another number's contact: %v %v", ok, err)
			}
		},
		"a phone-only sighting after the merge is redirected": func(t *testing.T, s messaging.Store, r MessagesReader) {
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld, Phone: phoneAna}, seenAt(2)))
			must(t, s.PutContact(ctx, tenantA, number, ana, seenAt(1)))
			want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuidOld, Phone: phoneAna, Name: "Ana"},
				LastSeenAt: at(2)}
			equal(t, "by phone", contactOf(t, r, tenantA, phoneAna), want)
			equal(t, "by BSUID", contactOf(t, r, tenantA, bsuidOld), want)
		},
		"an identity change moves the contact": func(t *testing.T, s messaging.Store, r MessagesReader) {
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld, Phone: phoneAna, Name: "Ana"}, seenAt(1)))
			pref := messaging.MarketingPreference{Status: "opted_in", Sequence: 4, OccurredAt: at(1)}
			must(t, s.SetMarketingPreference(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld}, pref))
			for range 2 { // the same change twice
				must(t, s.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld},
					messaging.Person{BSUID: bsuidNew}, at(2)))
			}
			want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuidNew, Phone: phoneAna, Name: "Ana"},
				PreviousBSUIDs: []string{bsuidOld}, Marketing: &pref, LastSeenAt: at(2)}
			equal(t, "by old BSUID", contactOf(t, r, tenantA, bsuidOld), want)
			equal(t, "by new BSUID", contactOf(t, r, tenantA, bsuidNew), want)
			equal(t, "by phone", contactOf(t, r, tenantA, phoneAna), want)
			// A late sighting under the old BSUID lands on the new contact.
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld, Username: "@ana"}, seenAt(1)))
			want.Person.Username = "@ana"
			equal(t, "after a late sighting", contactOf(t, r, tenantA, bsuidNew), want)
		},
		"a later sighting under a previous BSUID never brings it back": func(t *testing.T, s messaging.Store, r MessagesReader) {
			// A conversation event still names the BSUID the person had
			// when it began.
			late := messaging.Person{BSUID: bsuidOld, ParentBSUID: "US.ENT.11815799212886844830", Username: "@ana"}
			for i, tenant := range []string{tenantA, tenantB} {
				writes := []func(){
					func() {
						must(t, s.ChangeIdentity(ctx, tenant, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(2)))
					},
					func() {
						must(t, s.PutContact(ctx, tenant, number, late, messaging.Sighting{At: at(3), ConversationID: "conv-1"}))
					},
				}
				if i == 1 {
					writes[0], writes[1] = writes[1], writes[0]
				}
				must(t, s.PutContact(ctx, tenant, number, messaging.Person{BSUID: bsuidOld, Name: "Ana"}, seenAt(1)))
				for _, w := range writes {
					w()
				}
				want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuidNew, Username: "@ana", Name: "Ana"},
					PreviousBSUIDs: []string{bsuidOld}, LastSeenAt: at(3), ConversationID: "conv-1"}
				for _, q := range []string{bsuidOld, bsuidNew} {
					equal(t, tenant+" by "+q, contactOf(t, r, tenant, q), want)
				}
			}
		},
		"two contacts of a person merge to the newest one's fields, in either order": func(t *testing.T, s messaging.Store, r MessagesReader) {
			// A: the phone contact was seen last; B: the previous BSUID's
			// contact was (a sighting under it after the change, taken
			// without the BSUID).
			type run struct {
				name   string
				writes []func(tenant string)
				want   messaging.Person
				by     []string
			}
			phoneNewest := []func(tenant string){
				func(tenant string) {
					must(t, s.PutContact(ctx, tenant, number, messaging.Person{Phone: phoneAna, Name: "Ana B"}, seenAt(5)))
				},
				func(tenant string) {
					must(t, s.PutContact(ctx, tenant, number, messaging.Person{BSUID: bsuidOld, Phone: phoneAna, Name: "Ana"}, seenAt(3)))
				},
			}
			oldNewest := []func(tenant string){
				func(tenant string) {
					must(t, s.PutContact(ctx, tenant, number, messaging.Person{BSUID: bsuidOld, Name: "Ana B", Username: "@anab"}, seenAt(5)))
				},
				func(tenant string) {
					must(t, s.PutContact(ctx, tenant, number, messaging.Person{BSUID: bsuidNew, Name: "Ana", Username: "@ana"}, seenAt(3)))
				},
				func(tenant string) {
					must(t, s.ChangeIdentity(ctx, tenant, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(2)))
				},
			}
			for _, rn := range []run{
				{"phone", phoneNewest, messaging.Person{BSUID: bsuidOld, Phone: phoneAna, Name: "Ana B"}, []string{bsuidOld, phoneAna}},
				{"identity", oldNewest, messaging.Person{BSUID: bsuidNew, Name: "Ana B", Username: "@anab"}, []string{bsuidOld, bsuidNew}},
			} {
				for i, order := range permutations(rn.writes) {
					tenant := fmt.Sprintf("%s-%s-%d", tenantA, rn.name, i)
					for _, w := range order {
						w(tenant)
					}
					for _, q := range rn.by {
						equal(t, fmt.Sprintf("%s, order %d, by %s", rn.name, i, q), contactOf(t, r, tenant, q).Person, rn.want)
					}
				}
			}
		},
		"identity changes in either order end the same": func(t *testing.T, s messaging.Store, r MessagesReader) {
			first := func(tenant string) {
				must(t, s.ChangeIdentity(ctx, tenant, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(2)))
			}
			second := func(tenant string) {
				must(t, s.ChangeIdentity(ctx, tenant, number, messaging.Person{BSUID: bsuidNew}, messaging.Person{BSUID: bsuid3}, at(3)))
			}
			for _, tenant := range []string{tenantA, tenantB} {
				must(t, s.PutContact(ctx, tenant, number, messaging.Person{BSUID: bsuidOld, Name: "Ana"}, seenAt(1)))
			}
			first(tenantA)
			second(tenantA)
			second(tenantB)
			first(tenantB)
			want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuid3, Name: "Ana"},
				PreviousBSUIDs: []string{bsuidOld, bsuidNew}, LastSeenAt: at(3)}
			for _, tenant := range []string{tenantA, tenantB} {
				for _, q := range []string{bsuidOld, bsuidNew, bsuid3} {
					equal(t, tenant+" by "+q, contactOf(t, r, tenant, q), want)
				}
			}
		},
		"an identity change delivered again keeps the previous BSUIDs in order": func(t *testing.T, s messaging.Store, r MessagesReader) {
			change := func(from, to string, minutes int) {
				must(t, s.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: from}, messaging.Person{BSUID: to}, at(minutes)))
			}
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld, Name: "Ana"}, seenAt(1)))
			change(bsuidNew, bsuid3, 3)
			change(bsuidOld, bsuidNew, 2)
			change(bsuidNew, bsuid3, 3) // SQS delivers it again
			for _, q := range []string{bsuidOld, bsuidNew, bsuid3} {
				equal(t, "by "+q, contactOf(t, r, tenantA, q).PreviousBSUIDs, []string{bsuidOld, bsuidNew})
			}
		},
		"a person going back to an earlier BSUID": func(t *testing.T, s messaging.Store, r MessagesReader) {
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld, Name: "Ana"}, seenAt(1)))
			must(t, s.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(2)))
			must(t, s.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: bsuidNew}, messaging.Person{BSUID: bsuidOld}, at(3)))
			for _, q := range []string{bsuidOld, bsuidNew} {
				c := contactOf(t, r, tenantA, q)
				if c.Person.BSUID != bsuidOld || c.Person.Name != "Ana" || !slices.Equal(c.PreviousBSUIDs, []string{bsuidNew}) {
					t.Errorf("by %s: %+v", q, c)
				}
			}
		},
		"the highest marketing sequence wins": func(t *testing.T, s messaging.Store, r MessagesReader) {
			p := messaging.Person{BSUID: bsuidOld, Phone: phoneAna}
			set := func(status string, seq int64) {
				t.Helper()
				must(t, s.SetMarketingPreference(ctx, tenantA, number, p,
					messaging.MarketingPreference{Status: status, Sequence: seq, OccurredAt: at(int(seq))}))
			}
			set("opted_out", 2)
			set("opted_in", 1)
			set("opted_in", 2)
			c := contactOf(t, r, tenantA, bsuidOld)
			equal(t, "after a lower sequence", c.Marketing, &messaging.MarketingPreference{Status: "opted_out", Sequence: 2, OccurredAt: at(2)})
			equal(t, "person", c.Person, p)
			set("opted_in", 3)
			c = contactOf(t, r, tenantA, bsuidOld)
			equal(t, "after a higher sequence", c.Marketing, &messaging.MarketingPreference{Status: "opted_in", Sequence: 3, OccurredAt: at(3)})
		},
		"a phone contact's higher marketing sequence outlives its merge": func(t *testing.T, s messaging.Store, r MessagesReader) {
			byPhone := messaging.MarketingPreference{Status: "opted_out", Sequence: 2, OccurredAt: at(2)}
			byBSUID := messaging.MarketingPreference{Status: "opted_in", Sequence: 1, OccurredAt: at(1)}
			both := messaging.Person{BSUID: bsuidOld, Phone: phoneAna}
			for i, tenant := range []string{tenantA, tenantB} {
				writes := []func(){
					func() {
						must(t, s.SetMarketingPreference(ctx, tenant, number, messaging.Person{Phone: phoneAna}, byPhone))
					},
					func() {
						must(t, s.SetMarketingPreference(ctx, tenant, number, messaging.Person{BSUID: bsuidOld}, byBSUID))
					},
					func() { must(t, s.PutContact(ctx, tenant, number, both, seenAt(3))) },
				}
				if i == 1 { // the merge first
					writes[0], writes[2] = writes[2], writes[0]
				}
				for _, w := range writes {
					w()
				}
				for _, q := range []string{bsuidOld, phoneAna} {
					equal(t, tenant+" by "+q, contactOf(t, r, tenant, q).Marketing, &byPhone)
				}
			}
		},
		"a conversation shows its contact as it is now": func(t *testing.T, s messaging.Store, r MessagesReader) {
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-bsuid", PhoneNumberID: number,
				Person: messaging.Person{BSUID: bsuidOld}, LastActiveAt: at(3)}))
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-phone", PhoneNumberID: number,
				Person: messaging.Person{Phone: phoneAna}, LastActiveAt: at(2)}))
			stranger := messaging.Person{Phone: "15557770000", Name: "Stranger"}
			must(t, s.PutConversation(ctx, tenantA, messaging.Conversation{ID: "conv-stranger", PhoneNumberID: number,
				Person: stranger, LastActiveAt: at(1)}))
			must(t, s.PutContact(ctx, tenantA, number, ana, seenAt(1)))
			must(t, s.PutContact(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld, Phone: phoneAna}, seenAt(2)))
			must(t, s.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(3)))
			want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuidNew, Phone: phoneAna, Name: "Ana"},
				PreviousBSUIDs: []string{bsuidOld}, LastSeenAt: at(3)}
			for _, limit := range []int{1, 10} {
				var views []messaging.ConversationView
				cursor := ""
				for {
					page, next, err := r.Conversations(ctx, tenantA, messaging.Page{Limit: limit, Cursor: cursor})
					must(t, err)
					views = append(views, page...)
					if cursor = next; next == "" {
						break
					}
				}
				if len(views) != 3 {
					t.Fatalf("views %+v", views)
				}
				equal(t, "by old BSUID", views[0].Contact, want)
				equal(t, "by phone", views[1].Contact, want)
				equal(t, "without a contact", views[2].Contact, messaging.Contact{PhoneNumberID: number, Person: stranger})
			}
		},
		"the newest inbound sighting and conversation win, in any order": func(t *testing.T, s messaging.Store, r MessagesReader) {
			sightings := []messaging.Sighting{
				{At: at(1), Inbound: true, ConversationID: "conv-a"},
				{At: at(2), Inbound: true},
				{At: at(3), ConversationID: "conv-b"},
				{At: at(4)},
			}
			for i, order := range permutations(sightings) {
				p := messaging.Person{Phone: fmt.Sprintf("1555100%04d", i)}
				for _, sg := range order {
					must(t, s.PutContact(ctx, tenantA, number, p, sg))
				}
				c := contactOf(t, r, tenantA, p.Phone)
				if !c.LastSeenAt.Equal(at(4)) || !c.LastInboundAt.Equal(at(2)) || c.ConversationID != "conv-b" {
					t.Errorf("order %v: seen %v inbound %v conversation %q", order, c.LastSeenAt, c.LastInboundAt, c.ConversationID)
				}
			}
			// Never inbound: the window never opened.
			must(t, s.PutContact(ctx, tenantA, number, ana, messaging.Sighting{At: at(5), ConversationID: "conv-c"}))
			equal(t, "never wrote", contactOf(t, r, tenantA, phoneAna), messaging.Contact{PhoneNumberID: number, Person: ana,
				LastSeenAt: at(5), ConversationID: "conv-c"})
		},
		"a merge and an identity change keep the newest inbound time and conversation": func(t *testing.T, s messaging.Store, r MessagesReader) {
			both := messaging.Person{BSUID: bsuidOld, Phone: phoneAna}
			// A: the phone contact saw more recent traffic than the sighting
			// that merges it.
			must(t, s.PutContact(ctx, tenantA, number, ana, messaging.Sighting{At: at(5), Inbound: true, ConversationID: "conv-phone"}))
			must(t, s.PutContact(ctx, tenantA, number, both, messaging.Sighting{At: at(3), Inbound: true, ConversationID: "conv-bsuid"}))
			want := messaging.Contact{PhoneNumberID: number, Person: messaging.Person{BSUID: bsuidOld, Phone: phoneAna, Name: "Ana"},
				LastSeenAt: at(5), LastInboundAt: at(5), ConversationID: "conv-phone"}
			equal(t, "A merged, by BSUID", contactOf(t, r, tenantA, bsuidOld), want)
			equal(t, "A merged, by phone", contactOf(t, r, tenantA, phoneAna), want)
			must(t, s.ChangeIdentity(ctx, tenantA, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(6)))
			want.Person.BSUID, want.PreviousBSUIDs, want.LastSeenAt = bsuidNew, []string{bsuidOld}, at(6)
			equal(t, "A after the identity change", contactOf(t, r, tenantA, bsuidNew), want)
			// B: the merging sighting is the newest; the new BSUID's own
			// contact is newer than the old one.
			must(t, s.PutContact(ctx, tenantB, number, ana, messaging.Sighting{At: at(1), Inbound: true, ConversationID: "conv-phone"}))
			must(t, s.PutContact(ctx, tenantB, number, both, messaging.Sighting{At: at(3), ConversationID: "conv-bsuid"}))
			c := contactOf(t, r, tenantB, phoneAna)
			if !c.LastSeenAt.Equal(at(3)) || !c.LastInboundAt.Equal(at(1)) || c.ConversationID != "conv-bsuid" {
				t.Errorf("B merged: %+v", c)
			}
			must(t, s.PutContact(ctx, tenantB, number, messaging.Person{BSUID: bsuidNew},
				messaging.Sighting{At: at(7), Inbound: true, ConversationID: "conv-new"}))
			must(t, s.ChangeIdentity(ctx, tenantB, number, messaging.Person{BSUID: bsuidOld}, messaging.Person{BSUID: bsuidNew}, at(6)))
			c = contactOf(t, r, tenantB, bsuidOld)
			if c.Person.BSUID != bsuidNew || c.Person.Phone != phoneAna || !c.LastSeenAt.Equal(at(7)) ||
				!c.LastInboundAt.Equal(at(7)) || c.ConversationID != "conv-new" {
				t.Errorf("B after the identity change: %+v", c)
			}
			// The old contact's inbound time, newer than the target's, moves too.
			must(t, s.PutContact(ctx, tenantB, number, messaging.Person{BSUID: bsuid3}, messaging.Sighting{At: at(2)}))
			must(t, s.ChangeIdentity(ctx, tenantB, number, messaging.Person{BSUID: bsuidNew}, messaging.Person{BSUID: bsuid3}, at(8)))
			c = contactOf(t, r, tenantB, bsuid3)
			if !c.LastSeenAt.Equal(at(8)) || !c.LastInboundAt.Equal(at(7)) || c.ConversationID != "conv-new" {
				t.Errorf("B after the second identity change: %+v", c)
			}
		},
		"every order of a conversation's events ends as the domain merges them": func(t *testing.T, s messaging.Store, r MessagesReader) {
			ana := messaging.Person{BSUID: bsuidOld, Phone: phoneAna}
			events := []messaging.Conversation{
				{PhoneNumberID: number, Person: ana, Status: messaging.ConversationActive, LastActiveAt: at(1)},
				{Person: messaging.Person{Name: "Ana", Username: "@ana"}, Status: messaging.ConversationActive, LastActiveAt: at(2)},
				{Status: messaging.ConversationEnded, LastActiveAt: at(3), InactivityMinutes: 30},
				{Person: messaging.Person{Name: "Ana B"}, Status: messaging.ConversationEnded, LastActiveAt: at(3)},
				{Status: messaging.ConversationActive, LastActiveAt: at(3)},
				{Person: messaging.Person{ParentBSUID: "US.ENT.11815799212886844830"}, Status: messaging.ConversationActive},
			}
			for i, order := range sampleOrders(events, 12) {
				id := fmt.Sprintf("conv-%d", i)
				var want messaging.Conversation
				for _, c := range order {
					c.ID = id
					must(t, s.PutConversation(ctx, tenantA, c))
					want, _ = messaging.MergeConversation(want, c)
				}
				got, ok, err := r.Conversation(ctx, tenantA, id)
				if err != nil || !ok {
					t.Fatalf("conversation %s: ok %v err %v", id, ok, err)
				}
				equal(t, fmt.Sprintf("order %d", i), got, want)
				if want.Status != messaging.ConversationEnded || want.Person.Name != "Ana B" || want.InactivityMinutes != 30 {
					t.Errorf("order %d: %+v", i, want)
				}
			}
		},
		"every order of a person's events ends as the domain's contact rules say": func(t *testing.T, s messaging.Store, r MessagesReader) {
			events := personEvents()
			for i, order := range sampleOrders(events, 10) {
				tenant := fmt.Sprintf("%s-%d", tenantA, i)
				want := messaging.ContactMap{}
				for _, e := range order {
					must(t, e.store(s, tenant))
					e.apply(want)
				}
				wantContact, _ := messaging.LookupContact(want, messaging.Person{BSUID: bsuid3}.Key())
				if wantContact.Person.BSUID != bsuid3 || len(wantContact.PreviousBSUIDs) != 2 || wantContact.Marketing == nil {
					t.Fatalf("the domain's contact: %+v", wantContact)
				}
				for _, q := range []string{bsuidOld, bsuidNew, bsuid3, phoneAna} {
					equal(t, fmt.Sprintf("order %d by %s", i, q), contactOf(t, r, tenant, q), wantContact)
				}
			}
		},
		"sightings written at once end as written one by one": func(t *testing.T, s messaging.Store, r MessagesReader) {
			var sightings []personEvent
			for i := range 16 {
				p := []messaging.Person{{Phone: phoneAna}, {BSUID: bsuidOld, Phone: phoneAna}, {BSUID: bsuidOld}}[i%3]
				if i%4 == 0 {
					p.Name = "Ana"
				}
				sg := messaging.Sighting{At: at(16 - i), Inbound: i%2 == 0}
				if i%3 != 1 {
					sg.ConversationID = fmt.Sprint("conv-", i)
				}
				sightings = append(sightings, personEvent{
					store: func(s messaging.Store, tenant string) error { return s.PutContact(ctx, tenant, number, p, sg) },
					apply: func(b messaging.ContactBook) { messaging.SightContact(b, number, p, sg) },
				})
			}
			want := messaging.ContactMap{}
			for _, e := range sightings {
				e.apply(want)
			}
			wantContact, _ := messaging.LookupContact(want, messaging.Person{BSUID: bsuidOld}.Key())
			for round := range 3 {
				tenant := fmt.Sprintf("%s-%d", tenantA, round)
				var wg sync.WaitGroup
				for _, e := range sightings {
					wg.Go(func() {
						if err := e.store(s, tenant); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				for _, q := range []string{bsuidOld, phoneAna} {
					equal(t, fmt.Sprintf("round %d by %s", round, q), contactOf(t, r, tenant, q), wantContact)
				}
			}
		},
		"malformed writes are refused": func(t *testing.T, s messaging.Store, r MessagesReader) {
			for name, err := range map[string]error{
				"unknown status":     s.ApplyStatus(ctx, tenantA, messaging.StatusUpdate{WAMID: "wamid.1", Status: "deleted"}),
				"status of nothing":  s.ApplyStatus(ctx, tenantA, messaging.StatusUpdate{Status: messaging.Sent}),
				"message of nothing": s.PutMessage(ctx, tenantA, messaging.Message{}, nil),
				"foreign status": s.PutMessage(ctx, tenantA, outbound("wamid.1", "", at(1)),
					[]messaging.StatusUpdate{status("wamid.2", messaging.Sent, at(1))}),
				"contact of nobody":      s.PutContact(ctx, tenantA, number, messaging.Person{Name: "?"}, seenAt(1)),
				"conversation of no id":  s.PutConversation(ctx, tenantA, messaging.Conversation{}),
				"identity of no one":     s.ChangeIdentity(ctx, tenantA, number, messaging.Person{}, messaging.Person{BSUID: bsuidNew}, at(1)),
				"preference of nobody":   s.SetMarketingPreference(ctx, tenantA, number, messaging.Person{}, messaging.MarketingPreference{}),
				"message without tenant": s.PutMessage(ctx, "", outbound("wamid.1", "", at(1)), nil),
			} {
				if errs.CodeOf(err) != errs.Invalid {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, ok, err := r.Message(ctx, tenantA, "wamid.1"); ok || err != nil {
				t.Errorf("a refused write was stored: %v %v", ok, err)
			}
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, r := newStore(t)
			c(t, s, r)
		})
	}
}

// personEvent is one contact write, to a store and to a
// messaging.ContactBook: what the domain's contact rules make of it, for
// the store to be held to.
type personEvent struct {
	store func(s messaging.Store, tenant string) error
	apply func(b messaging.ContactBook)
}

// personEvents are the events of one person who had the BSUIDs bsuidOld,
// bsuidNew and bsuid3 and the phone phoneAna: sightings under each (some
// after the BSUID was retired), preferences under several, and the two
// identity changes, one dated and one not (as Kapso sends them).
func personEvents() []personEvent {
	ctx := context.Background()
	sight := func(p messaging.Person, sg messaging.Sighting) personEvent {
		return personEvent{
			store: func(s messaging.Store, tenant string) error { return s.PutContact(ctx, tenant, number, p, sg) },
			apply: func(b messaging.ContactBook) { messaging.SightContact(b, number, p, sg) },
		}
	}
	prefer := func(p messaging.Person, seq int64) personEvent {
		pref := messaging.MarketingPreference{Status: fmt.Sprint("status-", seq), Sequence: seq, OccurredAt: at(int(seq))}
		return personEvent{
			store: func(s messaging.Store, tenant string) error {
				return s.SetMarketingPreference(ctx, tenant, number, p, pref)
			},
			apply: func(b messaging.ContactBook) { messaging.PreferContact(b, number, p, pref) },
		}
	}
	change := func(from, to string, when time.Time) personEvent {
		prev, cur := messaging.Person{BSUID: from}, messaging.Person{BSUID: to}
		return personEvent{
			store: func(s messaging.Store, tenant string) error {
				return s.ChangeIdentity(ctx, tenant, number, prev, cur, when)
			},
			apply: func(b messaging.ContactBook) { messaging.ChangeContactIdentity(b, number, prev, cur, when) },
		}
	}
	return []personEvent{
		sight(messaging.Person{Phone: phoneAna, Name: "Ana"}, messaging.Sighting{At: at(1), Inbound: true, ConversationID: "conv-1"}),
		sight(messaging.Person{BSUID: bsuidOld, Phone: phoneAna}, messaging.Sighting{At: at(2), ConversationID: "conv-2"}),
		change(bsuidOld, bsuidNew, at(3)),
		sight(messaging.Person{BSUID: bsuidNew, Username: "@ana"}, messaging.Sighting{At: at(4), Inbound: true}),
		sight(messaging.Person{BSUID: bsuidOld, ParentBSUID: "US.ENT.11815799212886844830"}, messaging.Sighting{At: at(6), ConversationID: "conv-2"}),
		change(bsuidNew, bsuid3, time.Time{}),
		prefer(messaging.Person{Phone: phoneAna}, 3),
		prefer(messaging.Person{BSUID: bsuidOld}, 2),
		prefer(messaging.Person{BSUID: bsuid3}, 1),
	}
}

// seenAt is a sighting at at(minutes) that is not inbound and names no
// conversation.
func seenAt(minutes int) messaging.Sighting { return messaging.Sighting{At: at(minutes)} }
