package messaging

import (
	"testing"

	"github.com/kapso-bridge/kapso-bridge/events"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
)

// FuzzNormalise splits random Kapso and Meta bodies as the workers do and
// normalises every event: errors, never a panic; what normalises has the
// identity fields the stores key on.
func FuzzNormalise(f *testing.F) {
	samples, err := events.Manifest()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range samples {
		if len(s.Body) < 8<<10 {
			f.Add(s.Event, s.Body, s.Route == events.RouteMeta)
		}
	}
	f.Fuzz(func(t *testing.T, event string, body []byte, isMeta bool) {
		if len(body) > 1<<20 {
			t.Skip()
		}
		const number = "106540352242922"
		if isMeta {
			evs, err := meta.Split(body)
			if err != nil {
				return
			}
			for _, e := range evs {
				switch e.Kind {
				case meta.KindMessage:
					if p, err := meta.DecodeMessage(e); err == nil {
						p.Metadata.PhoneNumberID = number
						if m, err := FromMetaMessage(p); err == nil {
							if m.WAMID == "" || m.PhoneNumberID != number {
								t.Fatalf("message %+v", m)
							}
							_ = MetaConversation(m)
							IdentityChangeOf(m, p)
						}
					}
				case meta.KindStatus:
					if p, err := meta.DecodeStatus(e); err == nil {
						p.Metadata.PhoneNumberID = number
						if u, err := FromMetaStatus(p); err == nil && u.WAMID == "" {
							t.Fatalf("status %+v", u)
						}
					}
				case meta.KindErrors:
					_, _ = meta.DecodeErrors(e)
				case meta.KindChange:
					_, _ = FromMetaUserIDUpdate(e.Raw, number)
				}
			}
			return
		}
		items, err := kapso.Split(event, body)
		if err != nil {
			return
		}
		for _, it := range items {
			if p, err := kapso.DecodeMessageEvent(it.Payload); err == nil {
				if km, err := FromKapsoMessage(it.Name, p); err == nil && km.Message.WAMID == "" {
					t.Fatalf("message %+v", km.Message)
				}
			}
			if p, err := kapso.DecodeConversationEvent(it.Payload); err == nil {
				if c, err := FromKapsoConversation(it.Name, p); err == nil && c.ID == "" {
					t.Fatalf("conversation %+v", c)
				}
			}
			if p, err := kapso.DecodeContactIdentityChanged(it.Payload); err == nil {
				_, _ = FromKapsoIdentityChange(p)
			}
			if p, err := kapso.DecodeMarketingPreferenceChanged(it.Payload); err == nil {
				_, _ = FromKapsoMarketingPreference(p)
			}
		}
	})
}
