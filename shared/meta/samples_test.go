package meta_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

const (
	pnid  = "106540352242922"
	waba  = "102290129340398"
	maria = "US.13491208655302741918"
	joao  = "BR.77210938475610293847"
)

type sampleCase struct {
	names []string
	check func(t *testing.T, items []meta.Item)
}

func decodeMessage(t *testing.T, it meta.Item) meta.MessageItem {
	t.Helper()
	m, err := meta.DecodeMessageItem(it.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func decodeStatus(t *testing.T, it meta.Item) meta.StatusItem {
	t.Helper()
	s, err := meta.DecodeStatusItem(it.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var metaCases = map[string]sampleCase{
	"meta/messages.multi-change.json": {
		names: []string{meta.NameMessage, meta.NameMessage, meta.NameMessage, meta.NameStatus, meta.NameStatus, meta.NameStatus},
		check: func(t *testing.T, items []meta.Item) {
			var senders []string
			for _, it := range items[:3] {
				m := decodeMessage(t, it)
				c, ok := m.Sender()
				if !ok || len(m.Contacts) != 2 {
					t.Fatalf("message %s: sender not found among %d contacts", m.Message.ID, len(m.Contacts))
				}
				senders = append(senders, c.UserID)
			}
			if !slices.Equal(senders, []string{maria, joao, maria}) {
				t.Errorf("senders %v", senders)
			}
			if r := decodeMessage(t, items[2]).Message.Reaction; r == nil || r.Emoji == nil || *r.Emoji == "" {
				t.Errorf("reaction %+v", r)
			}
			var states []string
			for _, it := range items[3:] {
				states = append(states, decodeStatus(t, it).Status.Status)
			}
			if !slices.Equal(states, []string{"sent", "delivered", "read"}) {
				t.Errorf("statuses %v", states)
			}
		},
	},
	"meta/messages.bsuid-only.json": {
		names: []string{meta.NameMessage},
		check: func(t *testing.T, items []meta.Item) {
			m := decodeMessage(t, items[0])
			c, ok := m.Sender()
			if !ok || c.WaID != "" || m.Message.From != "" || c.UserID != joao || m.Message.FromUserID != joao || c.Profile.Username != "@joao.bsb" {
				t.Errorf("contact %+v message %+v", c, m.Message)
			}
		},
	},
	"meta/statuses.failed.json": {
		names: []string{meta.NameStatus, meta.NameErrors},
		check: func(t *testing.T, items []meta.Item) {
			s := decodeStatus(t, items[0]).Status
			if s.Status != "failed" || s.RecipientID != "" || s.RecipientUserID != joao || len(s.Errors) != 1 || s.Errors[0].Code != 131047 {
				t.Errorf("status %+v", s)
			}
			e, err := meta.DecodeErrorsItem(items[1].Payload)
			if err != nil || len(e.Errors) != 1 || e.Errors[0].Code != 131000 {
				t.Errorf("errors %+v, %v", e, err)
			}
		},
	},
	"meta/messages.system.json": {
		names: []string{meta.NameMessage},
		check: func(t *testing.T, items []meta.Item) {
			m := decodeMessage(t, items[0])
			if _, ok := m.Sender(); ok || m.Message.Type != "system" || m.Message.System == nil || m.Message.System.NewWaID != "16505559876" {
				t.Errorf("system message %+v", m)
			}
			if strings.Contains(string(items[0].Payload), `"contacts"`) {
				t.Errorf("payload invents contacts: %s", items[0].Payload)
			}
		},
	},
	"meta/account_update.json": {
		names: []string{"meta.account_update", "meta.message_template_status_update"},
		check: func(t *testing.T, items []meta.Item) {
			for _, it := range items {
				c, err := meta.DecodeChangeItem(it.Payload)
				if err != nil || meta.NamePrefix+c.Field != it.Name || len(c.Value) == 0 || it.PhoneNumberID != "" {
					t.Errorf("%s: %+v, %v", it.Name, c, err)
				}
			}
		},
	},
}

// TestSamples splits every sample of the manifest as a Meta body: Meta
// samples into their items, Kapso samples (valid JSON objects with no entry)
// into none, and every bad body except the well-formed batch into ErrMalformed.
func TestSamples(t *testing.T) {
	samples, err := events.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range samples {
		t.Run(s.Path, func(t *testing.T) {
			items, err := meta.Split(s.Body)
			switch {
			case s.Route == events.RouteBad && s.Path != "bad/batch-non-array-data.json":
				if !errors.Is(err, meta.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			case s.Route != events.RouteMeta:
				if err != nil || len(items) != 0 {
					t.Fatalf("a non-Meta body gave %d items, err %v", len(items), err)
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
			for i, it := range items {
				names = append(names, it.Name)
				if it.WABAID != waba {
					t.Errorf("item %d: waba %q", i, it.WABAID)
				}
				if (it.Name == meta.NameMessage || it.Name == meta.NameStatus || it.Name == meta.NameErrors) && it.PhoneNumberID != pnid {
					t.Errorf("item %d: phone_number_id %q", i, it.PhoneNumberID)
				}
				if !json.Valid(it.Payload) {
					t.Errorf("item %d: payload is not JSON", i)
				}
			}
			if !slices.Equal(names, tc.names) {
				t.Fatalf("names %q, want %q", names, tc.names)
			}
			tc.check(t, items)
		})
	}
	if seen != len(metaCases) {
		t.Errorf("%d Meta samples checked, %d expectations", seen, len(metaCases))
	}
}

func FuzzSplit(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		f.Add(s.Body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := meta.Split(body)
		if err != nil {
			if !errors.Is(err, meta.ErrMalformed) || items != nil {
				t.Fatalf("items %v, err %v", items, err)
			}
			return
		}
		for i, it := range items {
			if !strings.HasPrefix(it.Name, meta.NamePrefix) {
				t.Fatalf("item %d name %q", i, it.Name)
			}
			if !json.Valid(it.Payload) {
				t.Fatalf("item %d payload %q is not valid JSON", i, it.Payload)
			}
		}
	})
}
