package meta_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

const (
	pnid  = "106540352242922"
	waba  = "102290129340398"
	maria = "US.13491208655302741918"
	joao  = "BR.77210938475610293847"
)

type sampleCase struct {
	names []string
	check func(t *testing.T, events []meta.Event)
}

func decodeMessage(t *testing.T, e meta.Event) meta.MessageEvent {
	t.Helper()
	m, err := meta.DecodeMessage(e)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func decodeStatus(t *testing.T, e meta.Event) meta.StatusEvent {
	t.Helper()
	s, err := meta.DecodeStatus(e)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// repeat is n copies of name.
func repeat(name string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = name
	}
	return names
}

var metaCases = map[string]sampleCase{
	"meta/messages.multi-change.json": {
		names: []string{meta.NameMessage, meta.NameMessage, meta.NameMessage, meta.NameStatus, meta.NameStatus, meta.NameStatus},
		check: func(t *testing.T, events []meta.Event) {
			var senders []string
			for _, e := range events[:3] {
				m := decodeMessage(t, e)
				if m.Contact == nil {
					t.Fatalf("message %s: sender not found", m.Message.ID)
				}
				senders = append(senders, m.Contact.UserID)
			}
			if !slices.Equal(senders, []string{maria, joao, maria}) {
				t.Errorf("senders %v", senders)
			}
			if r := decodeMessage(t, events[2]).Message.Reaction; r == nil || r.Emoji == nil || *r.Emoji == "" {
				t.Errorf("reaction %+v", r)
			}
			var states []string
			for _, e := range events[3:] {
				states = append(states, decodeStatus(t, e).Status.Status)
			}
			if !slices.Equal(states, []string{"sent", "delivered", "read"}) {
				t.Errorf("statuses %v", states)
			}
		},
	},
	"meta/messages.bsuid-only.json": {
		names: []string{meta.NameMessage},
		check: func(t *testing.T, events []meta.Event) {
			m := decodeMessage(t, events[0])
			c := m.Contact
			if c == nil || c.WaID != "" || m.Message.From != "" || c.UserID != joao || m.Message.FromUserID != joao || c.Profile.Username != "@joao.bsb" {
				t.Errorf("contact %+v message %+v", c, m.Message)
			}
		},
	},
	"meta/statuses.failed.json": {
		names: []string{meta.NameStatus, meta.NameErrors},
		check: func(t *testing.T, events []meta.Event) {
			s := decodeStatus(t, events[0]).Status
			if s.Status != "failed" || s.RecipientID != "" || s.RecipientUserID != joao || len(s.Errors) != 1 || s.Errors[0].Code != 131047 {
				t.Errorf("status %+v", s)
			}
			e, err := meta.DecodeErrors(events[1])
			if err != nil || len(e) != 1 || e[0].Code != 131000 {
				t.Errorf("errors %+v, %v", e, err)
			}
		},
	},
	"meta/messages.system.json": {
		names: []string{meta.NameMessage},
		check: func(t *testing.T, events []meta.Event) {
			m := decodeMessage(t, events[0])
			if m.Contact != nil || events[0].Contact != nil || m.Message.Type != "system" || m.Message.System == nil || m.Message.System.NewWaID != "16505559876" {
				t.Errorf("system message %+v", m)
			}
		},
	},
	"meta/messages.system.user_changed_user_id.json": {
		names: []string{meta.NameMessage},
		check: func(t *testing.T, events []meta.Event) {
			m := decodeMessage(t, events[0])
			s := m.Message.System
			if m.Contact != nil || s == nil || s.Type != "user_changed_user_id" || s.UserID != "US.13491208655302741918" ||
				s.PreviousUserID != "US.10293847561029384756" || s.ParentUserID != "US.ENT.11815799212886844830" ||
				s.PreviousParentUserID != "US.ENT.11815799212886844830" || m.Message.From != "" {
				t.Errorf("identity change %+v %+v", m.Message, s)
			}
		},
	},
	"meta/account_update.json": {
		names: []string{"meta.account_update", "meta.message_template_status_update"},
		check: func(t *testing.T, events []meta.Event) {
			for _, e := range events {
				if meta.NamePrefix+e.Field != e.Name() || e.WABAID != waba || len(e.Raw) == 0 || !rawjson.Valid(e.Raw) || e.PhoneNumberID != "" || e.Kind != meta.KindChange {
					t.Errorf("%s: %+v", e.Name(), e)
				}
			}
		},
	},
	"bench/meta-mixed-50.json": {
		names: slices.Concat(repeat(meta.NameMessage, 17), repeat(meta.NameMessage, 17), repeat(meta.NameMessage, 16), repeat(meta.NameStatus, 50)),
		check: func(t *testing.T, events []meta.Event) {
			for _, e := range events[:50] {
				m := decodeMessage(t, e)
				if m.Contact == nil || m.Contact.UserID != m.Message.FromUserID || m.Contact.WaID != m.Message.From {
					t.Errorf("message %s from %q/%q: contact %+v", m.Message.ID, m.Message.From, m.Message.FromUserID, m.Contact)
				}
			}
			for _, e := range events[50:] {
				if s := decodeStatus(t, e); s.Status.ID == "" || s.Status.Status == "" {
					t.Errorf("status %+v", s)
				}
			}
		},
	},
	"bench/meta-statuses-1000.json": {
		names: repeat(meta.NameStatus, 1000),
		check: func(t *testing.T, events []meta.Event) {
			for _, e := range events {
				if s := decodeStatus(t, e); s.Status.ID == "" || s.Status.Status == "" {
					t.Errorf("status %+v", s)
				}
			}
		},
	},
}

// TestSamples splits every sample of the manifest as a Meta body: Meta
// samples into their events, Kapso samples (valid JSON objects with no entry)
// into none, and every bad body except the well-formed batch into ErrMalformed.
func TestSamples(t *testing.T) {
	samples, err := events.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range samples {
		t.Run(s.Path, func(t *testing.T) {
			split, err := meta.Split(s.Body)
			switch {
			case s.Route == events.RouteBad && s.Path != "bad/batch-non-array-data.json":
				if !errors.Is(err, meta.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			case s.Route != events.RouteMeta:
				if err != nil || len(split) != 0 {
					t.Fatalf("a non-Meta body gave %d events, err %v", len(split), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc, ok := metaCases[s.Path]
			if !ok {
				t.Fatal("no expectation for this sample")
			}
			seen++
			var names []string
			for i, e := range split {
				names = append(names, e.Name())
				if e.WABAID != waba {
					t.Errorf("event %d: waba %q", i, e.WABAID)
				}
				if e.Kind != meta.KindChange && e.PhoneNumberID != pnid {
					t.Errorf("event %d: phone_number_id %q", i, e.PhoneNumberID)
				}
				if !json.Valid(e.Raw) {
					t.Errorf("event %d: raw is not JSON", i)
				}
			}
			if !slices.Equal(names, tc.names) {
				t.Fatalf("names %q, want %q", names, tc.names)
			}
			tc.check(t, split)
		})
	}
	if seen != len(metaCases) {
		t.Errorf("%d Meta samples checked, %d expectations", seen, len(metaCases))
	}
}
